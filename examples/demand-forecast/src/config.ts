/**
 * The demo's whole configuration in one object, with its defaults. These were NOT
 * tuned on the test weeks: rounds and epochs are chosen per run on the validation
 * window; the learning rate, batch size and widths are fixed, the same for every arm,
 * and sized so that the full experiment
 * (every arm, personalisation and evaluation) stays within a few minutes on a 2-core
 * machine; see the README for the figures.
 */
import type { BackendPreference, LossName, OptimizerName } from '@tally/ml';
import { DEFAULT_EARLY_STOPPING, type EarlyStopping } from './baselines.ts';
import { DEFAULT_GENERATOR, type GeneratorConfig } from './data.ts';
import { DEFAULT_FEATURES, type FeatureConfig } from '@tally/demand';
import { DEFAULT_MODEL, type ModelConfig } from '@tally/demand';

export interface TrainingConfig {
  /** Federated rounds at most; the global model kept is the one with the best validation WAPE. */
  readonly rounds: number;
  /** Rounds without a better validation WAPE before the in-process loop stops (0: run them all). */
  readonly roundPatience: number;
  /** Loss every neural arm trains on ('mae': absolute error, whose minimiser is the median WAPE rewards). */
  readonly loss: LossName;
  /** Latest training days held out (per shop) to stop, select and personalise on; fewer for young shops (rows.ts). */
  readonly validationDays: number;
  /** Local epochs per shop per round. */
  readonly epochsPerRound: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly optimizer: OptimizerName;
  /** FedProx μ for the federated rounds (0 = FedAvg). */
  readonly proximalMu: number;
  /** Seed of the batch order (mixed with the shop index). */
  readonly seed: number;
}

export const DEFAULT_TRAINING: TrainingConfig = Object.freeze({
  rounds: 15,
  roundPatience: 4,
  loss: 'mae',
  validationDays: 28,
  epochsPerRound: 2,
  batchSize: 128,
  learningRate: 0.002,
  optimizer: 'adam',
  proximalMu: 0,
  seed: 11,
});

export interface DemandConfig {
  readonly data: GeneratorConfig;
  readonly features: FeatureConfig;
  readonly model: ModelConfig;
  readonly training: TrainingConfig;
  /** Early stopping of the local-only and centralised baselines (baselines.ts). */
  readonly baselines: EarlyStopping;
  readonly backend: BackendPreference;
}

export const DEFAULT_CONFIG: DemandConfig = Object.freeze({
  data: DEFAULT_GENERATOR,
  features: DEFAULT_FEATURES,
  model: DEFAULT_MODEL,
  training: DEFAULT_TRAINING,
  baselines: DEFAULT_EARLY_STOPPING,
  backend: 'auto',
});

/** Partial overrides of each section. */
export interface DemandConfigInput {
  readonly data?: Partial<GeneratorConfig>;
  readonly features?: Partial<FeatureConfig>;
  readonly model?: Partial<ModelConfig>;
  readonly training?: Partial<TrainingConfig>;
  readonly baselines?: Partial<EarlyStopping>;
  readonly backend?: BackendPreference;
}

export function resolveConfig(input: DemandConfigInput = {}): DemandConfig {
  const c: DemandConfig = {
    data: { ...DEFAULT_GENERATOR, ...input.data },
    features: { ...DEFAULT_FEATURES, ...input.features },
    model: { ...DEFAULT_MODEL, ...input.model },
    training: { ...DEFAULT_TRAINING, ...input.training },
    baselines: { ...DEFAULT_EARLY_STOPPING, ...input.baselines },
    backend: input.backend ?? DEFAULT_CONFIG.backend,
  };
  const t = c.training;
  for (const [name, v] of [
    ['rounds', t.rounds],
    ['epochsPerRound', t.epochsPerRound],
    ['batchSize', t.batchSize],
    ['validationDays', t.validationDays],
    ['baselines.maxEpochs', c.baselines.maxEpochs],
    ['baselines.patience', c.baselines.patience],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || (v === 0 && name !== 'rounds')) {
      throw new RangeError(`config: expected ${name.includes('.') ? name : `training.${name}`} to be a ${name === 'rounds' ? 'non-negative' : 'positive'} integer, got ${v}`);
    }
  }
  return c;
}
