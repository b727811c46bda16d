/**
 * The neural arms besides FedAvg, all with the same model, loss, optimiser, batch size
 * and learning rate as the federated rounds, and all stopped the same way:
 *
 * - local-only: each shop trains its own model on its own fit rows alone, from the same
 *   initial weights (what a shop could do without Tally);
 * - centralised: one model on all shops' fit rows pooled (what pooling the raw data
 *   would give);
 * - (personalise.ts) fine-tuning a shop's copy of the global model on its fit rows.
 *
 * Stopping: train up to `maxEpochs`; after every epoch compute the WAPE in units on the
 * validation rows (the latest training days, rows.ts); stop after `patience` epochs
 * without a better one; keep the weights of the best epoch (the starting weights count
 * as epoch 0). The test weeks are never looked at.
 */
import { TfjsTrainer, predictRows, setFlatWeights, type LayersModel } from '@tally/ml';
import { concatSplits, fitWithStopping as demandFitWithStopping } from '@tally/demand';
import type { PreparedShops } from './prepare.ts';
import { mixSeed } from './rng.ts';
import type { PreparedShop, Rows } from './rows.ts';

export interface EarlyStopping {
  /** Upper bound on epochs. */
  readonly maxEpochs: number;
  /** Epochs without a better validation WAPE before stopping. */
  readonly patience: number;
}

export const DEFAULT_EARLY_STOPPING: EarlyStopping = Object.freeze({ maxEpochs: 40, patience: 4 });

export interface BaselineOptions {
  readonly earlyStopping?: Partial<EarlyStopping>;
  /** Called after each shop (local-only) with the epochs chosen and the seconds it took. */
  readonly onShop?: (shopIndex: number, epochs: number, seconds: number) => void;
}

export interface BaselineResult {
  /** The weights of the best validation epoch. */
  readonly weights: Float32Array;
  /** Epochs of the kept weights (0: the starting weights). */
  readonly epochs: number;
  /** Their validation WAPE (pooled over the shops validated on). */
  readonly validationWape: number;
}

/** Σ|units − forecast| and Σ units over some rows of one shop under `weights`. */
export function absErrors(model: LayersModel, weights: Float32Array, shop: PreparedShop, rows: Rows): { err: number; units: number } {
  if (rows.rows === 0) return { err: 0, units: 0 };
  setFlatWeights(model, weights);
  const pred = predictRows(model, rows.x, shop.inputs, 1);
  let err = 0;
  let units = 0;
  for (let i = 0; i < pred.length; i++) {
    const f = Math.max(0, pred[i] as number) * (shop.scale[rows.product[i] as number] as number);
    err += Math.abs((rows.units[i] as number) - f);
    units += rows.units[i] as number;
  }
  return { err, units };
}

/** WAPE over the validation rows of `shops` pooled (Σ errors / Σ units), each shop with its own weights. */
export function validationWape(model: LayersModel, shops: readonly PreparedShop[], weightsOf: (i: number) => Float32Array): number {
  let err = 0;
  let units = 0;
  shops.forEach((shop, i) => {
    const e = absErrors(model, weightsOf(i), shop, shop.validation);
    err += e.err;
    units += e.units;
  });
  return units === 0 ? (err === 0 ? 0 : Number.POSITIVE_INFINITY) : err / units;
}

/** Trains `trainer` from `start` with the stopping rule above (@tally/demand's, which a shop's personalisation uses too). */
export const fitWithStopping: (
  trainer: TfjsTrainer,
  start: Float32Array,
  score: (weights: Float32Array) => number,
  es: EarlyStopping,
  round?: number,
) => Promise<BaselineResult> = demandFitWithStopping;

export async function trainLocalOnly(prepared: PreparedShops, options: BaselineOptions = {}): Promise<BaselineResult[]> {
  const es = { ...prepared.config.baselines, ...options.earlyStopping };
  const scratch = prepared.createModel();
  const out: BaselineResult[] = [];
  try {
    for (const [i, shop] of prepared.shops.entries()) {
      const started = performance.now();
      const trainer = prepared.trainers[i];
      if (trainer === undefined) throw new Error(`trainLocalOnly: no trainer for shop ${i}`);
      const r = await fitWithStopping(trainer, prepared.initialWeights, (w) => validationWape(scratch, [shop], () => w), es);
      out.push(r);
      options.onShop?.(i, r.epochs, (performance.now() - started) / 1000);
    }
  } finally {
    scratch.dispose();
  }
  return out;
}

export async function trainCentralised(prepared: PreparedShops, options: BaselineOptions = {}): Promise<BaselineResult> {
  const es = { ...prepared.config.baselines, ...options.earlyStopping };
  const fit = concatSplits(
    prepared.shops.map((s) => s.fit),
    prepared.inputs,
  );
  const t = prepared.config.training;
  const trainer = new TfjsTrainer({
    createModel: prepared.createModel,
    data: { x: fit.x, y: fit.y },
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    optimizer: t.optimizer,
    loss: t.loss,
    seed: mixSeed(t.seed, 0xc0ffee),
  });
  const scratch = prepared.createModel();
  try {
    return await fitWithStopping(trainer, prepared.initialWeights, (w) => validationWape(scratch, prepared.shops, () => w), es);
  } finally {
    scratch.dispose();
    trainer.dispose();
  }
}
