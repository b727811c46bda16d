/**
 * The demo's whole configuration in one object, with the tuned defaults.
 *
 * Tuned on a 2-core machine with the wasm backend so that the full experiment
 * (local-only for every shop + centralised + the federated rounds + evaluation)
 * takes well under three minutes; see the README table for the figures.
 */
import type { BackendPreference, OptimizerName } from '@tally/ml';
import { DEFAULT_EARLY_STOPPING, type EarlyStopping } from './baselines.ts';
import { DEFAULT_GENERATOR, type GeneratorConfig } from './data.ts';
import { DEFAULT_FEATURES, type FeatureConfig } from '@tally/demand';
import { DEFAULT_MODEL, type ModelConfig } from '@tally/demand';

export interface TrainingConfig {
  /** Federated rounds. */
  readonly rounds: number;
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
  epochsPerRound: 2,
  batchSize: 64,
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
    ['baselines.maxEpochs', c.baselines.maxEpochs],
    ['baselines.patience', c.baselines.patience],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || (v === 0 && name !== 'rounds')) {
      throw new RangeError(`config: expected ${name.includes('.') ? name : `training.${name}`} to be a ${name === 'rounds' ? 'non-negative' : 'positive'} integer, got ${v}`);
    }
  }
  return c;
}
