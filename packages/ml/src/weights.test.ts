import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.ts';
import { collectingLogger, tinyModel } from './_test-util.ts';
import { countWeights, flattenWeights, setFlatWeights, weightShapes } from './weights.ts';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', logger: collectingLogger() });
});

/** Finite float32 values from fixed bit patterns, with −0, subnormals, extremes. */
function awkwardFloats(n: number): Float32Array {
  const bits = new Uint32Array(n);
  let s = 0x2545f491;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    // Keep the exponent below all-ones: finite values only (NaN payloads are not promised).
    bits[i] = (s & 0x7f000000) === 0x7f000000 ? s & 0xfeffffff : s;
  }
  const specials = [0x80000000, 0x00000001, 0x807fffff, 0x7f7fffff, 0xff7fffff, 0x00800000];
  specials.forEach((b, i) => {
    if (i < n) bits[i] = b;
  });
  return new Float32Array(bits.buffer);
}

describe('flattenWeights / setFlatWeights', () => {
  it('lays weights out in getWeights() order with their shapes', () => {
    const model = tinyModel(3, 4);
    expect(weightShapes(model).map((s) => [s.shape, s.size])).toEqual([
      [[3, 4], 12],
      [[4], 4],
      [[4, 1], 4],
      [[1], 1],
    ]);
    expect(countWeights(model)).toBe(21);
    const flat = flattenWeights(model);
    const kernel0 = model.getWeights()[0]?.dataSync();
    expect(Array.from(flat.subarray(0, 12))).toEqual(Array.from(kernel0 ?? []));
    model.dispose();
  });

  it('round-trips bit-exactly', () => {
    const model = tinyModel(5, 7);
    const flat = awkwardFloats(countWeights(model));
    setFlatWeights(model, flat);
    const back = flattenWeights(model);
    expect(new Uint32Array(back.buffer)).toEqual(new Uint32Array(flat.buffer));
    // The model does not alias the caller's buffer.
    flat[0] = 42;
    expect(flattenWeights(model)[0]).not.toBe(42);
    model.dispose();
  });

  it('refuses a wrong length with the expected layout, changing nothing', () => {
    const model = tinyModel(3, 4);
    const before = flattenWeights(model);
    expect(() => setFlatWeights(model, new Float32Array(20))).toThrow(RangeError);
    expect(() => setFlatWeights(model, new Float32Array(22))).toThrow(/expected 21 floats \(.*\[3x4\].*\), got 22/);
    expect(flattenWeights(model)).toEqual(before);
    model.dispose();
  });

  it('refuses a non-Float32Array', () => {
    const model = tinyModel(3, 4);
    expect(() => setFlatWeights(model, new Float64Array(21) as unknown as Float32Array)).toThrow(
      /expected a Float32Array, got Float64Array/,
    );
    model.dispose();
  });
});
