/**
 * The `trainer` section of a client config: which Trainer the CLI builds. Kinds:
 * `linear-csv` (below), `demand` (below) and `module`, the shop's own JavaScript Trainer
 * (trainer-module.ts).
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
 *
 *   "trainer": {
 *     "kind": "demand",            the TF.js demand model of @tally/demand; the task declares its products
 *     "sales": "data/sales.csv",   the shop's sales export: CSV with a header row; relative to the config file
 *     "columns": { "date": "date", "product": "product", "units": "units",
 *                  "price": "price", "promo": "promo" },   header names; price and promo optional
 *     "delimiter": "auto",         optional: "auto" (default; from the header line), ",", ";", "\t" or "|"
 *     "dateFormat": "auto",        optional: "auto" (default: YYYY-MM-DD or DD.MM.YYYY), "YYYY-MM-DD",
 *                                  "DD.MM.YYYY", "DD/MM/YYYY" or "MM/DD/YYYY"
 *     "epochs": 2,                 optional, default 2: local epochs per round
 *     "batchSize": 64,             optional, default 64
 *     "learningRate": 0.002,       optional, default 0.002 (Adam)
 *     "seed": 11                   optional, default 11: the batch order (not secret)
 *   }
 *
 * The demand kind loads TensorFlow.js (through demand-trainer.ts, imported on use),
 * so commands and configs that do not train it never load it.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, type Trainer } from '@tally/client';
import { CsvError, parseNumericCsv } from './csv.ts';
import type { DateFormat, Delimiter, SalesColumns } from '@tally/demand/spec';
import { LINEAR_DEFAULTS, createLinearTrainer, datasetFromTable, type Dataset } from './linear-trainer.ts';
import { writeWeightsFolder, type ModelInfo } from './model-files.ts';
import { loadModuleTrainer, parseModuleTrainerConfig, type ModuleTrainerConfig } from './trainer-module.ts';

function describeKind(modelSpec: string): string {
  try {
    return JSON.stringify((JSON.parse(modelSpec) as { kind?: unknown }).kind ?? 'unnamed');
  } catch {
    return 'malformed';
  }
}

export const TRAINER_KINDS = ['linear-csv', 'demand', 'module'] as const;

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

export interface DemandConfig {
  readonly kind: 'demand';
  /** Absolute path of the sales export. */
  readonly sales: string;
  readonly columns: SalesColumns;
  readonly delimiter: Delimiter | 'auto';
  readonly dateFormat: DateFormat;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
}

export type TrainerConfig = LinearCsvConfig | DemandConfig | ModuleTrainerConfig;

const LINEAR_KEYS = ['kind', 'data', 'target', 'epochs', 'lr', 'batchSize', 'seed'];
const DEMAND_KEYS = ['kind', 'sales', 'columns', 'delimiter', 'dateFormat', 'epochs', 'batchSize', 'learningRate', 'seed'];
const COLUMN_KEYS = ['date', 'product', 'units', 'price', 'promo'];
/** Defaults of the demand kind (DEMAND_TRAINING_DEFAULTS in @tally/demand, repeated so parsing loads no TF.js). */
export const DEMAND_DEFAULTS = Object.freeze({ epochs: 2, batchSize: 64, learningRate: 0.002, seed: 11 });
const DELIMITER_CHOICES = ['auto', ',', ';', '\t', '|'] as const;
const DATE_FORMAT_CHOICES = ['auto', 'YYYY-MM-DD', 'DD.MM.YYYY', 'DD/MM/YYYY', 'MM/DD/YYYY'] as const;

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
  const keys = o['kind'] === 'demand' ? DEMAND_KEYS : LINEAR_KEYS;
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new ConfigError(`${field}.${k}`, `unknown field for kind ${JSON.stringify(o['kind'])}; expected one of ${keys.join(', ')}`);
  }
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || v === '') throw new ConfigError(`${field}.${k}`, `expected a non-empty string, got ${JSON.stringify(v) ?? 'nothing'}`);
    return v;
  };
  const defaults: Readonly<Record<string, number>> = o['kind'] === 'demand' ? DEMAND_DEFAULTS : LINEAR_DEFAULTS;
  /** `min` for integers; `null` for a real number > 0. */
  const num = (k: 'epochs' | 'lr' | 'learningRate' | 'batchSize' | 'seed', min: number | null): number => {
    const v = o[k];
    if (v === undefined) return defaults[k]!;
    const ok = typeof v === 'number' && Number.isFinite(v) && (min === null ? v > 0 : Number.isSafeInteger(v) && v >= min);
    if (!ok) {
      const what = min === null ? 'a number > 0' : `an integer ≥ ${min}`;
      throw new ConfigError(`${field}.${k}`, `expected ${what}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (o['kind'] === 'demand') {
    const c = o['columns'];
    if (typeof c !== 'object' || c === null || Array.isArray(c)) {
      throw new ConfigError(`${field}.columns`, `expected the header names of your export, e.g. {"date": "Datum", "product": "Artikel", "units": "Menge"}, got ${JSON.stringify(c) ?? 'nothing'}`);
    }
    const cols = c as Record<string, unknown>;
    for (const k of Object.keys(cols)) {
      if (!COLUMN_KEYS.includes(k)) throw new ConfigError(`${field}.columns.${k}`, `unknown column role; expected one of ${COLUMN_KEYS.join(', ')}`);
    }
    const col = (k: string, required: boolean): { [key: string]: string } => {
      const v = cols[k];
      if (v === undefined && !required) return {};
      if (typeof v !== 'string' || v === '') throw new ConfigError(`${field}.columns.${k}`, `expected the header name of the ${k} column, got ${JSON.stringify(v) ?? 'nothing'}`);
      return { [k]: v };
    };
    const choice = <T extends string>(k: string, choices: readonly T[]): T => {
      const v = o[k] ?? 'auto';
      if (!choices.includes(v as T)) throw new ConfigError(`${field}.${k}`, `expected one of ${choices.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`);
      return v as T;
    };
    const delimiter = choice('delimiter', DELIMITER_CHOICES);
    return {
      kind: 'demand',
      sales: resolve(baseDir, str('sales')),
      columns: { ...col('date', true), ...col('product', true), ...col('units', true), ...col('price', false), ...col('promo', false) } as unknown as SalesColumns,
      delimiter,
      dateFormat: choice('dateFormat', DATE_FORMAT_CHOICES),
      epochs: num('epochs', 1),
      batchSize: num('batchSize', 1),
      learningRate: num('learningRate', null),
      seed: num('seed', -(2 ** 31)),
    };
  }
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
  /** Weights the trainer needs, when the local data fixes it (linear-csv); the demand kind learns it from the task. */
  readonly modelLength: number | null;
  /** Lines to log as warnings at start (problems in the data, each with its line number). */
  readonly warnings: readonly string[];
  /** Saves a received global model in `dir` (model-files.ts says the formats). */
  /** Resolves to a line to log when there is more to say (the demand kind: the shop's own model, chosen when a task ends). */
  saveModel(dir: string, weights: Float32Array, info: ModelInfo): Promise<string | void>;
}

/** Loads the data and builds the Trainer. Data problems are ConfigErrors on the data fields. */
export async function buildTrainer(
  config: TrainerConfig,
  field = 'trainer',
  warn: (line: string) => void = () => {},
  configDir = process.cwd(),
  /** The client's state folder: where a demand shop keeps its own head when a task federates only the body. */
  stateDir?: string,
): Promise<BuiltTrainer> {
  if (config.kind === 'module') {
    return {
      trainer: await loadModuleTrainer(config, configDir, field),
      description: `module ${config.module}`,
      modelLength: null,
      warnings: [],
      saveModel: (dir, weights, info) => writeWeightsFolder(dir, weights, info, { trainer: 'module' }),
    };
  }
  if (config.kind === 'demand') {
    const { buildDemandTrainer } = await import('./demand-trainer.ts');
    return buildDemandTrainer(config, field, warn, stateDir);
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
    trainer: {
      train: (input) => trainer.train(input),
      checkOffer: (offer) =>
        offer.modelSpec === undefined
          ? null
          : `task ${offer.taskId} declares a ${describeKind(offer.modelSpec)} model, but this shop's trainer is "linear-csv": set trainer.kind in this shop's config to the task's kind`,
    },
    warnings: [],
    saveModel: (dir, weights, info) => writeWeightsFolder(dir, weights, info, { trainer: 'linear-csv', features: data.features, target: config.target }),
    modelLength: data.features.length + 1,
    description: `linear-csv on ${data.rows} rows of ${config.data}: predicts ${config.target} from ${data.features.join(', ')} (modelLength ${data.features.length + 1}); epochs ${config.epochs}, lr ${config.lr}, batch ${config.batchSize}`,
  };
}
