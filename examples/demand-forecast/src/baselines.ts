/**
 * The two non-federated baselines, with the same model, optimizer, batch size and
 * learning rate as the federated rounds:
 *
 * - local-only: each shop trains its own model on its own rows alone, from the same
 *   initial weights (what a shop could do without Tally);
 * - centralised: one model on all shops' rows pooled (what pooling the raw data would
 *   give; the reference the federated model is measured against).
 *
 * Both pick their number of epochs by early stopping, so that neither is handicapped by
 * a fixed count that suits one data size and not another (a small shop's model overfits
 * within a few epochs, a pooled model needs many): hold out the last
 * `validationFraction` of each shop's training days (at least 7 days), train on the
 * rest up to `maxEpochs`, stop after `patience` epochs without a better validation MSE,
 * then retrain from the initial weights on all training rows for the best epoch count.
 * The test weeks are never looked at.
 */
import { TfjsTrainer, predictRows, setFlatWeights, type LayersModel } from '@tally/ml';
import { concatSplits, type Split } from '@tally/demand';
import type { PreparedShops } from './prepare.ts';
import { mixSeed } from './rng.ts';

export interface EarlyStopping {
  /** Upper bound on epochs. */
  readonly maxEpochs: number;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** Share of each shop's training days (the latest) held out for validation. */
  readonly validationFraction: number;
}

export const DEFAULT_EARLY_STOPPING: EarlyStopping = Object.freeze({ maxEpochs: 60, patience: 5, validationFraction: 0.2 });

/** Smallest validation window, in days. */
const MIN_VALIDATION_DAYS = 7;

export interface BaselineOptions {
  readonly earlyStopping?: Partial<EarlyStopping>;
  /** Called after each shop (local-only) with the epochs chosen and the seconds it took. */
  readonly onShop?: (shopIndex: number, epochs: number, seconds: number) => void;
}

export interface BaselineResult {
  readonly weights: Float32Array;
  /** Epochs chosen by early stopping. */
  readonly epochs: number;
}

type Rows = Pick<Split, 'x' | 'y'> & { readonly rows: number };

export async function trainLocalOnly(prepared: PreparedShops, options: BaselineOptions = {}): Promise<BaselineResult[]> {
  const es = { ...prepared.config.baselines, ...options.earlyStopping };
  const out: BaselineResult[] = [];
  for (const [i, shop] of prepared.shops.entries()) {
    const started = performance.now();
    const { fit, validation } = holdOut(shop.train, prepared.inputs, es.validationFraction);
    const epochs = await bestEpochs(prepared, fit, validation, es, mixSeed(prepared.config.training.seed, shop.shopIndex, 1));
    const trainer = prepared.trainers[i];
    if (trainer === undefined) throw new Error(`trainLocalOnly: no trainer for shop ${i}`);
    const r = await trainer.fit(prepared.initialWeights, { epochs, round: 0 });
    out.push({ weights: r.weights, epochs });
    options.onShop?.(i, epochs, (performance.now() - started) / 1000);
  }
  return out;
}

export async function trainCentralised(prepared: PreparedShops, options: BaselineOptions = {}): Promise<BaselineResult> {
  const es = { ...prepared.config.baselines, ...options.earlyStopping };
  const parts = prepared.shops.map((s) => holdOut(s.train, prepared.inputs, es.validationFraction));
  const fit = concatSplits(
    parts.map((p) => p.fit),
    prepared.inputs,
  );
  const validation = concatSplits(
    parts.map((p) => p.validation),
    prepared.inputs,
  );
  const seed = mixSeed(prepared.config.training.seed, 0xc0ffee);
  const epochs = await bestEpochs(prepared, fit, validation, es, seed);
  const all = concatSplits(
    prepared.shops.map((s) => s.train),
    prepared.inputs,
  );
  const trainer = newTrainer(prepared, all, seed);
  try {
    return { weights: (await trainer.fit(prepared.initialWeights, { epochs })).weights, epochs };
  } finally {
    trainer.dispose();
  }
}

/** Splits a shop's training rows (ordered by day) into earlier days to fit and the latest days to validate. */
export function holdOut(split: Split, inputs: number, fraction: number): { fit: Rows; validation: Rows } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`holdOut: expected 0 < fraction < 1, got ${fraction}`);
  const first = split.day[0] ?? 0;
  const days = (split.day[split.rows - 1] ?? first) - first + 1;
  const valDays = Math.min(days - 1, Math.max(MIN_VALIDATION_DAYS, Math.round(days * fraction)));
  if (valDays < 1) throw new RangeError(`holdOut: ${days} training day(s) are too few to hold any out`);
  const cutoff = first + days - valDays;
  let cut = 0;
  while (cut < split.rows && (split.day[cut] as number) < cutoff) cut++;
  return {
    fit: { rows: cut, x: split.x.subarray(0, cut * inputs), y: split.y.subarray(0, cut) },
    validation: { rows: split.rows - cut, x: split.x.subarray(cut * inputs), y: split.y.subarray(cut) },
  };
}

async function bestEpochs(prepared: PreparedShops, fit: Rows, validation: Rows, es: EarlyStopping, seed: number): Promise<number> {
  const trainer = newTrainer(prepared, fit, seed);
  const scratch = prepared.createModel();
  let best = Infinity;
  let bestEpoch = 1;
  try {
    await trainer.fit(prepared.initialWeights, {
      epochs: es.maxEpochs,
      onEpochEnd: (epoch, weights) => {
        const loss = mse(scratch, weights, validation, prepared.inputs);
        if (loss < best) {
          best = loss;
          bestEpoch = epoch;
        }
        return epoch - bestEpoch >= es.patience;
      },
    });
  } finally {
    scratch.dispose();
    trainer.dispose();
  }
  return bestEpoch;
}

function newTrainer(prepared: PreparedShops, data: Rows, seed: number): TfjsTrainer {
  const t = prepared.config.training;
  return new TfjsTrainer({
    createModel: prepared.createModel,
    data: { x: data.x, y: data.y },
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    optimizer: t.optimizer,
    seed,
  });
}

function mse(model: LayersModel, weights: Float32Array, rows: Rows, inputs: number): number {
  setFlatWeights(model, weights);
  const pred = predictRows(model, rows.x, inputs, 1);
  let s = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = (pred[i] as number) - (rows.y[i] as number);
    s += d * d;
  }
  return s / Math.max(1, pred.length);
}
