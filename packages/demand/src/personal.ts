/**
 * A shop's own model at the end of a task (issue #11), chosen on its own validation
 * window only, the same way as the simulation (examples/demand-forecast personalise.ts):
 *
 * 1. the shop's training days split by date: the latest `validationWindow` days are
 *    validation, the rest fit (the federated rounds train on fit only, trainer.ts);
 * 2. local-only: a model trained from the task's initial weights on the fit rows alone;
 *    fine-tuned: the final global model trained further on the fit rows; both stopped
 *    on validation WAPE (stopping.ts);
 * 3. the forecast used: a · local + (1 − a) · shared, shared the better of global and
 *    fine-tuned on validation, a chosen by `personalBlend` (blend.ts): from ½, moved
 *    only on a clear validation gain, never worse than local alone on validation.
 *
 * Written beside the global model: personal/local and personal/finetuned (TF.js layers
 * folders) and personal.json (the choice, its validation WAPEs, the task and round it
 * belongs to). `tally forecast` reads it (forecast.ts) and says which model it used.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readTextIfExists } from '@tally/wire';
import { TfjsTrainer, predictRows, setFlatWeights, writeFileAtomic, type LayersModel, type LossName, type OptimizerName } from '@tally/ml';
import { personalBlend } from './blend.ts';
import type { Split } from './features.ts';
import { createDemandModel, initialWeights } from './model.ts';
import { demandInputs, type DemandSpec } from './spec.ts';
import { fitWithStopping, type EarlyStoppingRule } from './stopping.ts';

export const PERSONAL_FILE = 'personal.json';
export const PERSONAL_DIR = 'personal';
export const PERSONAL_FORMAT = 'tally-demand-personal/1';
/** Validation days at most; a young shop gets a quarter of its training days, at least 7. */
export const DEFAULT_VALIDATION_DAYS = 28;
export const DEFAULT_PERSONAL_STOPPING: EarlyStoppingRule = Object.freeze({ maxEpochs: 40, patience: 4 });

export const PERSONAL_CHOICES = ['global', 'finetuned', 'local', 'blend'] as const;
export type PersonalFinal = (typeof PERSONAL_CHOICES)[number];

export interface PersonalChoice {
  readonly format: typeof PERSONAL_FORMAT;
  /** The task and round of the global model this choice was made with. */
  readonly taskId: string;
  readonly round: number;
  readonly final: PersonalFinal;
  /** The shared model in the blend (the better of global and fine-tuned on validation). */
  readonly shared: 'global' | 'finetuned';
  /** Weight on the local-only forecast (1 − it on the shared one). */
  readonly weightOnLocal: number;
  readonly validationDays: number;
  /** Validation WAPE of each model and of the forecast used. */
  readonly validation: { readonly global: number; readonly finetuned: number; readonly local: number; readonly used: number };
  /** Epochs kept by early stopping. */
  readonly epochs: { readonly local: number; readonly finetuned: number };
}

export interface PersonalModels {
  readonly choice: PersonalChoice;
  readonly local: Float32Array;
  readonly finetuned: Float32Array;
}

/** Validation window: `days` or a quarter of a young shop's training days, at least 7 (and fewer than the training days). */
export function validationWindow(trainingDays: number, days: number): number {
  const v = Math.min(days, Math.max(7, Math.floor(trainingDays / 4)));
  if (v >= trainingDays) throw new RangeError(`validationWindow: ${trainingDays} training day(s) are too few for a ${v}-day validation window`);
  return v;
}

/** The rows of `split` for which `keep(row)` holds, in order. */
export function selectSplit(split: Split, inputs: number, keep: (row: number) => boolean): Split {
  const idx: number[] = [];
  for (let r = 0; r < split.rows; r++) if (keep(r)) idx.push(r);
  const x = new Float32Array(idx.length * inputs);
  idx.forEach((r, i) => x.set(split.x.subarray(r * inputs, (r + 1) * inputs), i * inputs));
  const f = (a: Float32Array): Float32Array => Float32Array.from(idx, (r) => a[r] as number);
  const n = (a: Int32Array): Int32Array => Int32Array.from(idx, (r) => a[r] as number);
  return { rows: idx.length, x, y: f(split.y), day: n(split.day), product: n(split.product), units: f(split.units), naive: f(split.naive) };
}

/** A shop's training rows split by date into fit and validation (the latest `validationWindow` days). */
export function splitByDate(train: Split, inputs: number, validationDays = DEFAULT_VALIDATION_DAYS): { fit: Split; validation: Split; validationDays: number } {
  if (train.rows === 0) throw new RangeError('splitByDate: no training rows');
  const first = train.day[0] as number;
  const last = train.day[train.rows - 1] as number;
  const v = validationWindow(last - first + 1, validationDays);
  const cutoff = last - v + 1;
  return {
    fit: selectSplit(train, inputs, (r) => (train.day[r] as number) < cutoff),
    validation: selectSplit(train, inputs, (r) => (train.day[r] as number) >= cutoff),
    validationDays: v,
  };
}

/** Forecasts in units: max(0, prediction) · scale of the row's product. */
export function unitsForecast(model: LayersModel, weights: Float32Array, rows: Split, scale: Float32Array, inputs: number): Float32Array {
  if (rows.rows === 0) return new Float32Array(0);
  setFlatWeights(model, weights);
  const pred = predictRows(model, rows.x, inputs, 1);
  return Float32Array.from(pred, (p, i) => Math.max(0, p) * (scale[rows.product[i] as number] as number));
}

function wapeOf(units: Float32Array, f: Float32Array): number {
  let e = 0;
  let u = 0;
  for (let i = 0; i < units.length; i++) {
    e += Math.abs((units[i] as number) - (f[i] as number));
    u += units[i] as number;
  }
  return u === 0 ? (e === 0 ? 0 : Number.POSITIVE_INFINITY) : e / u;
}

export interface PersonaliseInput {
  readonly spec: DemandSpec;
  readonly fit: Split;
  readonly validation: Split;
  readonly validationDays: number;
  readonly scale: Float32Array;
  readonly global: Float32Array;
  readonly taskId: string;
  readonly round: number;
  readonly training: {
    readonly batchSize: number;
    readonly learningRate: number;
    readonly optimizer: OptimizerName;
    readonly loss: LossName;
    readonly seed: number;
  };
  readonly stopping?: EarlyStoppingRule;
}

/** Trains the local-only and fine-tuned models and chooses the shop's forecast (steps 2–3 above). */
export async function personaliseShop(input: PersonaliseInput): Promise<PersonalModels> {
  const { spec, fit, validation, scale } = input;
  const inputs = demandInputs(spec);
  const create = (): LayersModel => createDemandModel(inputs, { hidden: spec.hidden, seed: spec.seed });
  const es = input.stopping ?? DEFAULT_PERSONAL_STOPPING;
  const t = input.training;
  const trainer = new TfjsTrainer({
    createModel: create,
    data: { x: fit.x, y: fit.y },
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    optimizer: t.optimizer,
    loss: t.loss,
    seed: t.seed,
  });
  const scratch = create();
  try {
    const forecast = (w: Float32Array): Float32Array => unitsForecast(scratch, w, validation, scale, inputs);
    const score = (w: Float32Array): number => wapeOf(validation.units, forecast(w));
    const local = await fitWithStopping(trainer, initialWeights(inputs, { hidden: spec.hidden, seed: spec.seed }), score, es, 0);
    // Round label 0x9e5 seeds the fine-tuning batch order apart from the local model's, as in the simulation.
    const finetuned = await fitWithStopping(trainer, input.global, score, es, 0x9e5);
    const v = { global: score(input.global), finetuned: finetuned.validationWape, local: local.validationWape };
    const shared = v.finetuned <= v.global ? 'finetuned' : 'global';
    const b = personalBlend(validation.units, forecast(local.weights), forecast(shared === 'finetuned' ? finetuned.weights : input.global));
    const final: PersonalFinal = b.weight === 1 ? 'local' : b.weight === 0 ? shared : 'blend';
    return {
      choice: {
        format: PERSONAL_FORMAT,
        taskId: input.taskId,
        round: input.round,
        final,
        shared,
        weightOnLocal: b.weight,
        validationDays: input.validationDays,
        validation: { ...v, used: b.wape },
        epochs: { local: local.epochs, finetuned: finetuned.epochs },
      },
      local: local.weights,
      finetuned: finetuned.weights,
    };
  } finally {
    scratch.dispose();
    trainer.dispose();
  }
}

/** The parts of a saved choice: model folders (relative to the model folder) and their shares. */
export function personalParts(choice: Pick<PersonalChoice, 'shared' | 'weightOnLocal'>): { readonly folder: string; readonly model: 'global' | 'finetuned' | 'local'; readonly share: number }[] {
  const folderOf = (m: 'global' | 'finetuned' | 'local'): string => (m === 'global' ? '.' : join(PERSONAL_DIR, m));
  const parts = [
    { folder: folderOf('local'), model: 'local' as const, share: choice.weightOnLocal },
    { folder: folderOf(choice.shared), model: choice.shared, share: 1 - choice.weightOnLocal },
  ];
  return parts.filter((p) => p.share > 0);
}

/** Written atomically (temp file, fsync, rename): a crash leaves the old choice or the new one, never a torn file. */
export async function writePersonalChoice(dir: string, choice: PersonalChoice): Promise<void> {
  await writeFileAtomic(join(dir, PERSONAL_FILE), `${JSON.stringify(choice, null, 2)}\n`);
}

/** Removes a previous choice (a new global model arrived: the old choice no longer belongs to it). */
export async function removePersonalChoice(dir: string): Promise<void> {
  await rm(join(dir, PERSONAL_FILE), { force: true });
}

/** The saved choice, or null when there is none; a malformed file is an error naming the field. */
export async function readPersonalChoice(dir: string): Promise<PersonalChoice | null> {
  const file = join(dir, PERSONAL_FILE);
  const text = await readTextIfExists(file);
  if (text === null) return null;
  // What to do about a damaged file: the choice can be made again, or left out.
  const remedy = `delete ${file} (forecasts then use the shared model) or let the shop's client save the task's final model again`;
  let u: Record<string, unknown>;
  try {
    u = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); the file was cut off or edited: ${remedy}`);
  }
  if (typeof u !== 'object' || u === null || Array.isArray(u)) throw new Error(`${file}: expected a JSON object, found ${JSON.stringify(u)}: ${remedy}`);
  const bad = (field: string, expected: string): never => {
    throw new Error(`${file}: ${field}: expected ${expected}, found ${JSON.stringify(u[field])}: ${remedy}`);
  };
  if (u['format'] !== PERSONAL_FORMAT) bad('format', JSON.stringify(PERSONAL_FORMAT));
  if (typeof u['taskId'] !== 'string') bad('taskId', 'a string');
  if (!Number.isInteger(u['round'])) bad('round', 'an integer');
  if (!PERSONAL_CHOICES.includes(u['final'] as PersonalFinal)) bad('final', PERSONAL_CHOICES.join(' | '));
  if (u['shared'] !== 'global' && u['shared'] !== 'finetuned') bad('shared', '"global" | "finetuned"');
  const w = u['weightOnLocal'];
  if (typeof w !== 'number' || !(w >= 0 && w <= 1)) bad('weightOnLocal', 'a number in [0, 1]');
  return u as unknown as PersonalChoice;
}
