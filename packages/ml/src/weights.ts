/**
 * A model's weights as one Float32Array, in `model.getWeights()` order (trainable
 * weights, then non-trainable), each tensor row-major. This is the vector that is
 * trained, quantised, masked and summed; both directions copy bits exactly.
 */
import { tf, type LayersModel } from './tf.ts';

export interface WeightShape {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
}

/** The name, shape and length of each weight, in flattening order. */
export function weightShapes(model: LayersModel): WeightShape[] {
  return model.weights.map((w) => {
    const shape = [...w.shape].map((d) => {
      if (d === null) throw new RangeError(`weight ${w.name} has an undefined dimension`);
      return d;
    });
    return { name: w.name, shape, size: shape.reduce((a, b) => a * b, 1) };
  });
}

/** Number of floats in the flat vector (all weights, trainable or not). */
export function countWeights(model: LayersModel): number {
  return weightShapes(model).reduce((n, s) => n + s.size, 0);
}

/** Copies every weight into one new Float32Array (bit-exact). */
export function flattenWeights(model: LayersModel): Float32Array {
  const tensors = model.getWeights();
  let total = 0;
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new TypeError(`flattenWeights: expected float32 weights, got ${t.dtype}`);
    total += t.size;
  }
  const flat = new Float32Array(total);
  let offset = 0;
  for (const t of tensors) {
    const values = t.dataSync() as Float32Array;
    flat.set(values, offset);
    offset += values.length;
  }
  return flat;
}

/**
 * Writes `flat` into the model's weights (bit-exact). Throws a RangeError naming
 * the expected layout when the length does not match, before changing anything.
 */
export function setFlatWeights(model: LayersModel, flat: Float32Array): void {
  if (!(flat instanceof Float32Array)) {
    throw new TypeError(`setFlatWeights: expected a Float32Array, got ${describe(flat)}`);
  }
  const shapes = weightShapes(model);
  const expected = shapes.reduce((n, s) => n + s.size, 0);
  if (flat.length !== expected) {
    const layout = shapes.map((s) => `${s.name}[${s.shape.join('x')}]`).join(', ');
    throw new RangeError(`setFlatWeights: expected ${expected} floats (${layout}), got ${flat.length}`);
  }
  const tensors: tf.Tensor[] = [];
  let offset = 0;
  for (const s of shapes) {
    // slice() copies: the tensor must not alias the caller's buffer.
    tensors.push(tf.tensor(flat.slice(offset, offset + s.size), [...s.shape], 'float32'));
    offset += s.size;
  }
  try {
    model.setWeights(tensors);
  } finally {
    for (const t of tensors) t.dispose();
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
