/**
 * One shop's rows as the experiment uses them, built from `buildShopDataset`
 * (@tally/demand: features and normalisation from the shop's own data):
 *
 * - only the rows a shop would forecast: days the product is on its shelf and the shop
 *   is open (a shop knows its assortment and its closing days; closed or unlisted days
 *   still enter the lags, as zeros);
 * - two more forecasts per row, for the baselines and the noise floor: the mean of the
 *   last four same weekdays (t−7, t−14, t−21, t−28) and the generator's expected sales;
 * - the training days split by date into `fit` (earlier) and `validation` (the latest
 *   `validationDays`, fewer for a young shop: a quarter of its training days, at least
 *   7). Every arm trains on `fit` and stops, or chooses, on `validation`; the test weeks
 *   are never looked at before the final evaluation.
 * - the MASE scale: the mean |units_t − units_{t−7}| over the shop's training rows
 *   (Hyndman & Koehler 2006, IJF 22:679–688, with the seasonal naive as the in-sample
 *   benchmark).
 */
import { LAG_WINDOW, buildShopDataset, validationWindow, type FeatureConfig, type ShopDataset, type Split } from '@tally/demand';
import type { SalesData } from './data.ts';

export interface Rows extends Split {
  /** Mean of units on t−7, t−14, t−21, t−28. */
  readonly snaive4: Float32Array;
  /** The generator's expected sales (the noise floor's forecast). */
  readonly oracle: Float32Array;
}

export interface PreparedShop extends ShopDataset {
  /** All training rows (fit + validation). */
  readonly train: Rows;
  readonly fit: Rows;
  readonly validation: Rows;
  readonly test: Rows;
  /** Days in the validation window. */
  readonly validationDays: number;
  /** MASE denominator: mean |units_t − units_{t−7}| over the training rows (≥ a small floor). */
  readonly maseScale: number;
}

/** Validation window: `days` (default 28) or a quarter of a young shop's training days, at least 7 (the shop's own rule in @tally/demand). */
export { validationWindow };

export function prepareShop(data: SalesData, shopIndex: number, features: Partial<FeatureConfig>, validationDays: number): PreparedShop {
  const ds = buildShopDataset(data, shopIndex, features);
  const shop = data.shops[shopIndex];
  if (shop === undefined) throw new RangeError(`prepareShop: no shop ${shopIndex}`);
  const keep = (t: number, p: number): boolean => shop.listed[p]?.[t] === 1 && shop.open[t] === 1;
  const train = rowsOf(ds.train, ds.inputs, data, shopIndex, keep);
  const test = rowsOf(ds.test, ds.inputs, data, shopIndex, keep);
  const first = ds.train.day[0] ?? 0;
  const last = ds.train.day[ds.train.rows - 1] ?? first;
  const v = validationWindow(last - first + 1, validationDays);
  const cutoff = last - v + 1;
  const fit = select(train, ds.inputs, (r) => (train.day[r] as number) < cutoff);
  const validation = select(train, ds.inputs, (r) => (train.day[r] as number) >= cutoff);
  let abs = 0;
  for (let r = 0; r < train.rows; r++) abs += Math.abs((train.units[r] as number) - (train.naive[r] as number));
  return { ...ds, train, fit, validation, test, validationDays: v, maseScale: Math.max(1e-3, abs / Math.max(1, train.rows)) };
}

function rowsOf(split: Split, inputs: number, data: SalesData, s: number, keep: (t: number, p: number) => boolean): Rows {
  const shop = data.shops[s]!;
  const n = split.rows;
  const snaive4 = new Float32Array(n);
  const oracle = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    const t = split.day[r] as number;
    const p = split.product[r] as number;
    const u = shop.units[p] as Int32Array;
    let sum = 0;
    for (let k = 7; k <= LAG_WINDOW; k += 7) sum += u[t - k] as number;
    snaive4[r] = sum / (LAG_WINDOW / 7);
    oracle[r] = shop.expected[p]?.[t] as number;
  }
  return select({ ...split, snaive4, oracle }, inputs, (r) => keep(split.day[r] as number, split.product[r] as number));
}

/** The rows for which `keep(row)` holds, in order. */
export function select(rows: Rows, inputs: number, keep: (row: number) => boolean): Rows {
  const idx: number[] = [];
  for (let r = 0; r < rows.rows; r++) if (keep(r)) idx.push(r);
  const x = new Float32Array(idx.length * inputs);
  idx.forEach((r, i) => x.set(rows.x.subarray(r * inputs, (r + 1) * inputs), i * inputs));
  const pick = <T extends Float32Array | Int32Array>(a: T, make: (n: number) => T): T => {
    const out = make(idx.length);
    idx.forEach((r, i) => {
      out[i] = a[r] as number;
    });
    return out;
  };
  const f = (n: number): Float32Array => new Float32Array(n);
  const i32 = (n: number): Int32Array => new Int32Array(n);
  return {
    rows: idx.length,
    x,
    y: pick(rows.y, f),
    day: pick(rows.day, i32),
    product: pick(rows.product, i32),
    units: pick(rows.units, f),
    naive: pick(rows.naive, f),
    snaive4: pick(rows.snaive4, f),
    oracle: pick(rows.oracle, f),
  };
}
