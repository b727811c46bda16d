/**
 * Features for next-day demand: one row per (day t, product p) of one shop, the
 * target being the units sold on day t.
 *
 * | columns | feature | known when |
 * | --- | --- | --- |
 * | 0–6 | day of week one-hot (Monday first) | calendar |
 * | 7, 8 | sin, cos of 2π·dayOfYear/365.25 | calendar |
 * | 9 | holiday flag of day t | calendar |
 * | 10 | holiday eve flag (day t+1 is a holiday) | calendar |
 * | 11 | units on t−1 / m | end of t−1 |
 * | 12 | units on t−7 / m | past |
 * | 13 | units on t−14 / m | past |
 * | 14 | mean units over t−28 … t−1 / m | end of t−1 |
 * | 15 | log(price_t / reference price) | planned ahead (shelf price) |
 * | 16 | promotion flag of day t | planned ahead |
 * | 17 … 17+P−1 | product one-hot | — |
 *
 * Target: units_t / m. Sales enter only through lags of strictly earlier days.
 *
 * Normalisation is per shop and local: m = m_{s,p} is the shop's own mean daily units
 * of product p over its training period (never the test weeks), and the reference
 * price is the shop's mean price of p over the same days. The shared model thus sees
 * demand relative to the shop's own level and never absolute volumes; per product
 * rather than one scalar per shop, because shops' product mixes differ. De-normalise a
 * prediction with `units = max(0, prediction) · m`.
 *
 * Split: the last `testDays` days of the calendar (the same dates for every shop) are
 * the test set; the training rows are the days from firstDay + LAG_WINDOW (so every
 * lag is a real record) up to the day before the test period.
 */
import { NO_RECORD, type Calendar } from './calendar.ts';
import { BASE_FEATURES, LAG_WINDOW } from './feature-layout.ts';

/** One shop's daily series, per product (index = the model's product order). */
export interface ShopSeries {
  readonly id: string;
  /** First day (index) with a record; earlier entries of `units` are NO_RECORD. */
  readonly firstDay: number;
  /** Per product, per day: units sold (or NO_RECORD). */
  readonly units: readonly Int32Array[];
  /** Per product, per day: shelf price. */
  readonly price: readonly Float32Array[];
  /** Per product, per day: 1 on promotion days. */
  readonly promo: readonly Uint8Array[];
}

/** What the features read: a calendar, the product list (its length), and the shops' series. */
export interface SalesData extends Calendar {
  readonly products: readonly unknown[];
  readonly shops: readonly ShopSeries[];
}

export { BASE_FEATURES, LAG_WINDOW };
/** Smallest normaliser: keeps a product a shop barely sells from dividing by ~0. */
export const MIN_SCALE = 0.5;

export function featureNames(products: number): string[] {
  const names = ['dow_mon', 'dow_tue', 'dow_wed', 'dow_thu', 'dow_fri', 'dow_sat', 'dow_sun'];
  names.push('doy_sin', 'doy_cos', 'holiday', 'holiday_eve', 'lag_1', 'lag_7', 'lag_14', 'mean_28', 'log_price_ratio', 'promo');
  for (let p = 0; p < products; p++) names.push(`product_${p + 1}`);
  return names;
}

export interface FeatureConfig {
  /** Days at the end of the calendar held out for testing. Default 28 (four weeks); 0 trains on every day (a shop's own model). */
  readonly testDays: number;
}

export const DEFAULT_FEATURES: FeatureConfig = Object.freeze({ testDays: 28 });

/** Rows of one split: x is rows × inputs, y rows × 1 (normalised). */
export interface Split {
  readonly rows: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Day index of each row. */
  readonly day: Int32Array;
  /** Product index of each row. */
  readonly product: Int32Array;
  /** Units actually sold, per row. */
  readonly units: Float32Array;
  /** Seasonal-naive forecast per row: units of the same weekday last week (t − 7). */
  readonly naive: Float32Array;
}

export interface ShopDataset {
  readonly shopId: string;
  readonly shopIndex: number;
  /** Days with records (calendar length − firstDay). */
  readonly historyDays: number;
  readonly inputs: number;
  /** m_{s,p}: the per-product normaliser (mean daily units over the training period). */
  readonly scale: Float32Array;
  /** The per-product reference price (mean shelf price over the training period). */
  readonly refPrice: Float64Array;
  readonly train: Split;
  readonly test: Split;
}

/** Builds one shop's training and test rows, using only that shop's data (runs "on the shop"). */
export function buildShopDataset(data: SalesData, shopIndex: number, config: Partial<FeatureConfig> = {}): ShopDataset {
  const { testDays } = { ...DEFAULT_FEATURES, ...config };
  const shop = data.shops[shopIndex];
  if (shop === undefined) throw new RangeError(`buildShopDataset: no shop ${shopIndex} (have ${data.shops.length})`);
  const days = data.dates.length;
  const P = data.products.length;
  if (!Number.isInteger(testDays) || testDays < 0 || testDays >= days) {
    throw new RangeError(`buildShopDataset: expected 0 <= testDays < ${days}, got ${testDays}`);
  }
  const testStart = days - testDays;
  const trainStart = shop.firstDay + LAG_WINDOW;
  if (trainStart >= testStart) {
    throw new RangeError(
      `buildShopDataset: ${shop.id} has ${days - shop.firstDay} days of history; it needs more than ${LAG_WINDOW + testDays} (lags + test)`,
    );
  }

  // Local normalisers from the training period only (firstDay … testStart−1).
  const scale = new Float32Array(P);
  const refPrice = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    const u = shop.units[p] as Int32Array;
    const pz = shop.price[p] as Float32Array;
    let sum = 0;
    let psum = 0;
    for (let t = shop.firstDay; t < testStart; t++) {
      sum += u[t] as number;
      psum += pz[t] as number;
    }
    const n = testStart - shop.firstDay;
    scale[p] = Math.max(MIN_SCALE, sum / n);
    refPrice[p] = psum / n;
  }

  const ctx: RowContext = { data, shop, scale, refPrice, inputs: BASE_FEATURES + P };
  return {
    shopId: shop.id,
    shopIndex,
    historyDays: days - shop.firstDay,
    inputs: ctx.inputs,
    scale,
    refPrice,
    train: buildSplit(ctx, trainStart, testStart),
    test: buildSplit(ctx, testStart, days),
  };
}

export interface RowContext {
  readonly data: SalesData;
  readonly shop: ShopSeries;
  readonly scale: Float32Array;
  readonly refPrice: Float64Array;
  readonly inputs: number;
}

/** The feature rows of days [from, to) for every product; every lag must be a record. */
export function buildSplit(ctx: RowContext, from: number, to: number): Split {
  const { data, shop, scale, refPrice, inputs } = ctx;
  const P = data.products.length;
  const rows = (to - from) * P;
  const x = new Float32Array(rows * inputs);
  const y = new Float32Array(rows);
  const day = new Int32Array(rows);
  const product = new Int32Array(rows);
  const units = new Float32Array(rows);
  const naive = new Float32Array(rows);
  let r = 0;
  for (let t = from; t < to; t++) {
    const eve = data.holidayEve[t] as number;
    const angle = (2 * Math.PI * (data.dayOfYear[t] as number)) / 365.25;
    for (let p = 0; p < P; p++, r++) {
      const u = shop.units[p] as Int32Array;
      const m = scale[p] as number;
      const past = (k: number): number => {
        const v = u[t - k];
        if (v === undefined || v === NO_RECORD) throw new RangeError(`features: ${shop.id} has no record ${k} days before day ${t}`);
        return v;
      };
      const o = r * inputs;
      x[o + (data.dayOfWeek[t] as number)] = 1;
      x[o + 7] = Math.sin(angle);
      x[o + 8] = Math.cos(angle);
      x[o + 9] = data.holiday[t] as number;
      x[o + 10] = eve;
      x[o + 11] = past(1) / m;
      x[o + 12] = past(7) / m;
      x[o + 13] = past(14) / m;
      let sum = 0;
      for (let k = 1; k <= LAG_WINDOW; k++) sum += past(k);
      x[o + 14] = sum / LAG_WINDOW / m;
      x[o + 15] = Math.log((shop.price[p]?.[t] as number) / (refPrice[p] as number));
      x[o + 16] = shop.promo[p]?.[t] as number;
      x[o + BASE_FEATURES + p] = 1;
      const actual = u[t] as number;
      if (actual === NO_RECORD) throw new RangeError(`features: ${shop.id} has no record on day ${t}`);
      y[r] = actual / m;
      day[r] = t;
      product[r] = p;
      units[r] = actual;
      naive[r] = past(7);
    }
  }
  return { rows, x, y, day, product, units, naive };
}

/** Concatenates splits (for centralised training on pooled, already-normalised rows). */
export function concatSplits(splits: readonly Pick<Split, 'rows' | 'x' | 'y'>[], inputs: number): Pick<Split, 'rows' | 'x' | 'y'> {
  const rows = splits.reduce((n, s) => n + s.rows, 0);
  const x = new Float32Array(rows * inputs);
  const y = new Float32Array(rows);
  let r = 0;
  for (const s of splits) {
    x.set(s.x, r * inputs);
    y.set(s.y, r);
    r += s.rows;
  }
  return { rows, x, y };
}
