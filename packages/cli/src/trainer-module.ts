/**
 * `trainer.kind: "module"`: the shop's own Trainer, as a JavaScript module.
 *
 *   "trainer": {
 *     "kind": "module",
 *     "module": "./my-trainer.mjs",   relative to the config file; plain JavaScript (ESM or CommonJS)
 *     "options": { "data": "sales.csv" }   optional, any JSON: handed to the factory as is
 *   }
 *
 * The module exports a factory, `createTrainer` (or its default export):
 *
 *   export function createTrainer(options, { configDir }) { return { async train({ weights }) { ... } } }
 *
 * returning a Trainer (or a promise of one); see `Trainer` in @tally/client for the
 * contract of `train`. Problems loading it are config errors on `trainer.module`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, type Trainer } from '@tally/client';

export interface ModuleTrainerConfig {
  readonly kind: 'module';
  /** Absolute path of the module. */
  readonly module: string;
  /** `trainer.options` as written (undefined when absent). */
  readonly options: unknown;
}

export interface TrainerFactoryContext {
  /** The folder of the client config file: resolve the trainer's own relative paths against it. */
  readonly configDir: string;
}

/** What a `kind: "module"` trainer module exports as `createTrainer` (or default). */
export type TrainerFactory = (options: unknown, context: TrainerFactoryContext) => Trainer | Promise<Trainer>;

export const MODULE_KEYS = ['kind', 'module', 'options'] as const;

/** Validates a `kind: "module"` section (`o.kind` already checked). Throws ConfigError. */
export function parseModuleTrainerConfig(o: Record<string, unknown>, baseDir: string, field: string): ModuleTrainerConfig {
  for (const k of Object.keys(o)) {
    if (!(MODULE_KEYS as readonly string[]).includes(k)) throw new ConfigError(`${field}.${k}`, `unknown field; expected one of ${MODULE_KEYS.join(', ')}`);
  }
  const m = o['module'];
  if (typeof m !== 'string' || m === '') {
    throw new ConfigError(`${field}.module`, `expected the path of a JavaScript module exporting createTrainer (e.g. "./my-trainer.mjs"), got ${JSON.stringify(m) ?? 'nothing'}`);
  }
  return { kind: 'module', module: resolve(baseDir, m), options: o['options'] };
}

/** Imports the module and calls its factory. Throws ConfigError on `<field>.module`. */
export async function loadModuleTrainer(config: ModuleTrainerConfig, configDir: string, field = 'trainer'): Promise<Trainer> {
  const where = `${field}.module`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(config.module).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = /\.[cm]?tsx?$/.test(config.module) ? ' (Node runs JavaScript: compile the trainer to .js or .mjs first)' : '';
    throw new ConfigError(where, `cannot load ${config.module}: ${e.code === 'ERR_MODULE_NOT_FOUND' ? 'no such module' : e.message}${hint}`);
  }
  const factory = typeof mod['createTrainer'] === 'function' ? mod['createTrainer'] : mod['default'];
  if (typeof factory !== 'function') {
    throw new ConfigError(where, `${config.module} must export a function createTrainer(options, context) (or a default export) that returns a Trainer; it exports ${Object.keys(mod).join(', ') || 'nothing'}`);
  }
  let trainer: unknown;
  try {
    trainer = await (factory as TrainerFactory)(config.options, { configDir });
  } catch (err) {
    throw new ConfigError(where, `createTrainer in ${config.module} threw: ${(err as Error).message ?? String(err)}`);
  }
  if (typeof trainer !== 'object' || trainer === null || typeof (trainer as { train?: unknown }).train !== 'function') {
    throw new ConfigError(where, `createTrainer in ${config.module} must return an object with a train(input) method, got ${trainer === null ? 'null' : typeof trainer}`);
  }
  return trainer as Trainer;
}
