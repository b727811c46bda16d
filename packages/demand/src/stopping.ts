/**
 * Early stopping on a validation window, shared by the shop's personalisation
 * (personal.ts) and the simulation's arms (examples/demand-forecast): train up to
 * `maxEpochs`; after every epoch score the weights on validation (lower is better);
 * stop after `patience` epochs without a better score; keep the best epoch's weights
 * (the starting weights count as epoch 0, so training is only kept when it helps).
 */
import type { TfjsTrainer } from '@tally/ml';

export interface EarlyStoppingRule {
  /** Upper bound on epochs. */
  readonly maxEpochs: number;
  /** Epochs without a better validation score before stopping. */
  readonly patience: number;
}

export interface StoppedFit {
  /** The weights of the best validation epoch. */
  readonly weights: Float32Array;
  /** Epochs of the kept weights (0: the starting weights). */
  readonly epochs: number;
  /** Their validation score. */
  readonly validationWape: number;
}

/** Trains `trainer` from `start` with the rule above; `score` is the validation WAPE of some weights; `round` seeds the batch order. */
export async function fitWithStopping(
  trainer: TfjsTrainer,
  start: Float32Array,
  score: (weights: Float32Array) => number,
  es: EarlyStoppingRule,
  round = 0,
): Promise<StoppedFit> {
  let best = score(start);
  let bestWeights = start;
  let bestEpoch = 0;
  await trainer.fit(start, {
    epochs: es.maxEpochs,
    round,
    onEpochEnd: (epoch, weights) => {
      const v = score(weights);
      if (v < best) {
        best = v;
        bestWeights = weights;
        bestEpoch = epoch;
      }
      return epoch - bestEpoch >= es.patience;
    },
  });
  return { weights: bestWeights, epochs: bestEpoch, validationWape: best };
}
