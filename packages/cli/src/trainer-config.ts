/**
 * The `trainer` section of a client config: which Trainer the CLI builds. Kinds:
 * `linear-csv` (below) and `module`, the shop's own JavaScript Trainer (trainer-module.ts).
 *
 *   "trainer": {
 *     "kind": "linear-csv",
 *     "data": "data/shop-a.csv",   CSV with a header row, numeric columns; relative to the config file
 *     "target": "demand",          the column to predict; every other column is a feature
 *     "epochs": 5,                 optional, default 5
 *     "lr": 0.05,                  optional, default 0.05
 *     "batchSize": 32,             optional, default 32
 *     "seed": 1                    optional, default 1: the row shuffle (not secret)
 *   }
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, type Trainer } from '@tally/client';
import { CsvError, parseNumericCsv } from './csv.ts';
import { LINEAR_DEFAULTS, createLinearTrainer, datasetFromTable, type Dataset } from './linear-trainer.ts';
import { loadModuleTrainer, parseModuleTrainerConfig, type ModuleTrainerConfig } from './trainer-module.ts';

export const TRAINER_KINDS = ['linear-csv', 'module'] as const;

export interface LinearCsvConfig {
  readonly kind: 'linear-csv';
  /** Absolute path of the CSV file. */
  readonly data: string;
  readonly target: string;
  readonly epochs: number;
  readonly lr: number;
  readonly batchSize: number;
  readonly seed: number;
}

export type TrainerConfig = LinearCsvConfig | ModuleTrainerConfig;

const LINEAR_KEYS = ['kind', 'data', 'target', 'epochs', 'lr', 'batchSize', 'seed'];

/** Validates the section; `field` is its path in the file (`trainer`). Throws ConfigError. */
export function parseTrainerConfig(u: unknown, baseDir: string, field = 'trainer'): TrainerConfig {
  if (u === undefined) {
    throw new ConfigError(field, `missing: the tally client needs a trainer, e.g. {"kind": "linear-csv", "data": "shop.csv", "target": "demand"}`);
  }
  if (typeof u !== 'object' || u === null || Array.isArray(u)) throw new ConfigError(field, 'expected an object');
  const o = u as Record<string, unknown>;
  if (!TRAINER_KINDS.includes(o['kind'] as (typeof TRAINER_KINDS)[number])) {
    throw new ConfigError(`${field}.kind`, `expected one of ${TRAINER_KINDS.join(', ')}, got ${JSON.stringify(o['kind']) ?? 'nothing'}`);
  }
  if (o['kind'] === 'module') return parseModuleTrainerConfig(o, baseDir, field);
  for (const k of Object.keys(o)) {
    if (!LINEAR_KEYS.includes(k)) throw new ConfigError(`${field}.${k}`, `unknown field; expected one of ${LINEAR_KEYS.join(', ')}`);
  }
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || v === '') throw new ConfigError(`${field}.${k}`, `expected a non-empty string, got ${JSON.stringify(v) ?? 'nothing'}`);
    return v;
  };
  /** `min` for integers; `null` for a real number > 0. */
  const num = (k: 'epochs' | 'lr' | 'batchSize' | 'seed', min: number | null): number => {
    const v = o[k];
    if (v === undefined) return LINEAR_DEFAULTS[k];
    const ok = typeof v === 'number' && Number.isFinite(v) && (min === null ? v > 0 : Number.isSafeInteger(v) && v >= min);
    if (!ok) {
      const what = min === null ? 'a number > 0' : `an integer ≥ ${min}`;
      throw new ConfigError(`${field}.${k}`, `expected ${what}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return {
    kind: 'linear-csv',
    data: resolve(baseDir, str('data')),
    target: str('target'),
    epochs: num('epochs', 1),
    lr: num('lr', null),
    batchSize: num('batchSize', 1),
    seed: num('seed', -(2 ** 31)),
  };
}

export interface BuiltTrainer {
  readonly trainer: Trainer;
  /** One line for the start-up log. */
  readonly description: string;
  /** The model length the trainer expects, where it knows one. */
  readonly modelLength?: number;
}

/** Loads the data and builds the Trainer. Data problems are ConfigErrors on `trainer.data` / `trainer.target`. */
export async function buildTrainer(config: TrainerConfig, field = 'trainer', configDir = process.cwd()): Promise<BuiltTrainer> {
  if (config.kind === 'module') {
    return { trainer: await loadModuleTrainer(config, configDir, field), description: `module ${config.module}` };
  }
  let text: string;
  try {
    text = await readFile(config.data, 'utf8');
  } catch (err) {
    throw new ConfigError(`${field}.data`, `cannot read ${config.data}: ${(err as Error).message}`);
  }
  let data: Dataset;
  try {
    data = datasetFromTable(parseNumericCsv(text, config.data), config.target, config.data);
  } catch (err) {
    const f = err instanceof CsvError ? `${field}.data` : `${field}.target`;
    throw new ConfigError(f, (err as Error).message);
  }
  const trainer = createLinearTrainer(data, { epochs: config.epochs, lr: config.lr, batchSize: config.batchSize, seed: config.seed });
  return {
    trainer,
    modelLength: data.features.length + 1,
    description: `linear-csv on ${data.rows} rows of ${config.data}: predicts ${config.target} from ${data.features.join(', ')} (modelLength ${data.features.length + 1}); epochs ${config.epochs}, lr ${config.lr}, batch ${config.batchSize}`,
  };
}
