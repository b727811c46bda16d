/**
 * The shared demand model: a small MLP on the features of features.ts,
 * inputs → 32 (relu) → 16 (relu) → 1 (linear), trained with mean squared error on
 * normalised targets (units / the shop's own mean). Built through @tally/ml, the
 * workspace's only tfjs user. Seeded Glorot-uniform kernels and zero biases, so the
 * round-0 global model is repeatable.
 */
import { flattenWeights, tfl, type LayersModel } from '@tally/ml';

export interface ModelConfig {
  /** Hidden layer widths. Default [32, 16]. */
  readonly hidden: readonly number[];
  /** Seed of the initial weights. Default 7. */
  readonly seed: number;
}

export const DEFAULT_MODEL: ModelConfig = Object.freeze({ hidden: [32, 16], seed: 7 });

export function createDemandModel(inputs: number, config: Partial<ModelConfig> = {}): LayersModel {
  const { hidden, seed } = { ...DEFAULT_MODEL, ...config };
  if (!Number.isInteger(inputs) || inputs < 1) throw new RangeError(`createDemandModel: expected inputs >= 1, got ${inputs}`);
  const layers = hidden.map((units, i) =>
    tfl.layers.dense({
      ...(i === 0 ? { inputShape: [inputs] } : {}),
      units,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
      biasInitializer: 'zeros',
    }),
  );
  layers.push(
    tfl.layers.dense({
      ...(hidden.length === 0 ? { inputShape: [inputs] } : {}),
      units: 1,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + hidden.length }),
      biasInitializer: 'zeros',
    }),
  );
  return tfl.sequential({ layers });
}

/** The initial (round-0) weights as a flat vector. */
export function initialWeights(inputs: number, config: Partial<ModelConfig> = {}): Float32Array {
  const model = createDemandModel(inputs, config);
  try {
    return flattenWeights(model);
  } finally {
    model.dispose();
  }
}
