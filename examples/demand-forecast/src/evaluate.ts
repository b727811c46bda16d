/**
 * Forecast accuracy on each shop's held-out last weeks, in units (de-normalised):
 *
 * - MAE  = mean |actual − forecast| over the shop's test rows (product-days).
 * - WAPE = Σ |actual − forecast| / Σ actual over the same rows (0.25 = 25 % of the
 *   units sold). Undefined (NaN) when nothing was sold.
 *
 * Methods: `federated` (the given global model), `local` (each shop's model trained on
 * its own data alone), `naive` (seasonal naive: same weekday last week), `centralised`
 * (one model trained on all shops' pooled rows). Model forecasts are
 * `max(0, prediction) · m_{s,p}` (see features.ts).
 */
import { predictRows, setFlatWeights, type LayersModel } from '@tally/ml';
import type { ShopDataset, Split } from '@tally/demand';

export const METHODS = ['federated', 'local', 'naive', 'centralised'] as const;
export type Method = (typeof METHODS)[number];

export interface ErrorMetrics {
  readonly mae: number;
  readonly wape: number;
}

export function mae(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  assertSameLength(actual, forecast);
  if (actual.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += Math.abs((actual[i] as number) - (forecast[i] as number));
  return s / actual.length;
}

export function wape(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  assertSameLength(actual, forecast);
  let err = 0;
  let total = 0;
  for (let i = 0; i < actual.length; i++) {
    err += Math.abs((actual[i] as number) - (forecast[i] as number));
    total += Math.abs(actual[i] as number);
  }
  return total === 0 ? Number.NaN : err / total;
}

export function errorMetrics(actual: ArrayLike<number>, forecast: ArrayLike<number>): ErrorMetrics {
  return { mae: mae(actual, forecast), wape: wape(actual, forecast) };
}

/** Units from normalised model outputs: max(0, prediction) · m of the row's product. */
export function denormalise(prediction: Float32Array, split: Pick<Split, 'product'>, scale: Float32Array): Float32Array {
  if (prediction.length !== split.product.length) {
    throw new RangeError(`denormalise: expected ${split.product.length} predictions, got ${prediction.length}`);
  }
  const out = new Float32Array(prediction.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.max(0, prediction[i] as number) * (scale[split.product[i] as number] as number);
  }
  return out;
}

/** Median of the finite values (NaN when there are none). */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

export interface ModelWeights {
  /** The federated global model. */
  readonly federated?: Float32Array;
  /** One model per shop, in shop order. */
  readonly local?: readonly Float32Array[];
  readonly centralised?: Float32Array;
}

export interface ShopEvaluation {
  readonly shopId: string;
  readonly historyDays: number;
  readonly trainRows: number;
  /** Mean units sold per day in the test weeks (all products). */
  readonly testUnitsPerDay: number;
  readonly metrics: Partial<Record<Method, ErrorMetrics>>;
  /** Test rows (see features.ts Split): day index, product index and units sold. */
  readonly day: Int32Array;
  readonly product: Int32Array;
  readonly actual: Float32Array;
  /** Forecast in units per test row, per method evaluated. */
  readonly forecasts: Partial<Record<Method, Float32Array>>;
}

export interface EvaluationSummary {
  readonly methods: readonly Method[];
  /** Median over shops of each shop's WAPE. */
  readonly medianWape: Partial<Record<Method, number>>;
  readonly medianMae: Partial<Record<Method, number>>;
  /** WAPE over all shops' test rows together (volume-weighted). */
  readonly pooledWape: Partial<Record<Method, number>>;
  /** Shops where the federated model's WAPE is below the local-only model's. */
  readonly federatedBeatsLocal?: number;
  /** Shops where the federated model's WAPE is below seasonal naive. */
  readonly federatedBeatsNaive?: number;
}

export interface EvaluationReport {
  readonly shops: readonly ShopEvaluation[];
  readonly summary: EvaluationSummary;
}

/**
 * Evaluates every method whose weights are given (seasonal naive always) on every
 * shop's test rows. `createModel` builds the architecture the weights belong to.
 */
export function evaluateAll(
  shops: readonly ShopDataset[],
  createModel: () => LayersModel,
  weights: ModelWeights,
): EvaluationReport {
  if (weights.local !== undefined && weights.local.length !== shops.length) {
    throw new RangeError(`evaluateAll: expected ${shops.length} local models, got ${weights.local.length}`);
  }
  const methods = METHODS.filter((m) => m === 'naive' || (m === 'local' ? weights.local : weights[m]) !== undefined);
  const model = createModel();
  try {
    const evaluations = shops.map((shop, i): ShopEvaluation => {
      const test = shop.test;
      const forecasts: Partial<Record<Method, Float32Array>> = {};
      const metrics: Partial<Record<Method, ErrorMetrics>> = {};
      for (const m of methods) {
        const w = m === 'local' ? weights.local?.[i] : m === 'naive' ? undefined : weights[m];
        let f: Float32Array;
        if (m === 'naive') {
          f = test.naive;
        } else {
          if (w === undefined) throw new Error(`evaluateAll: missing ${m} weights`);
          setFlatWeights(model, w);
          f = denormalise(predictRows(model, test.x, shop.inputs, 1), test, shop.scale);
        }
        forecasts[m] = f;
        metrics[m] = errorMetrics(test.units, f);
      }
      const testDays = new Set(test.day).size;
      return {
        shopId: shop.shopId,
        historyDays: shop.historyDays,
        trainRows: shop.train.rows,
        testUnitsPerDay: test.units.reduce((a, b) => a + b, 0) / Math.max(1, testDays),
        day: test.day,
        product: test.product,
        actual: test.units,
        metrics,
        forecasts,
      };
    });
    return { shops: evaluations, summary: summarise(evaluations, methods) };
  } finally {
    model.dispose();
  }
}

export function summarise(shops: readonly ShopEvaluation[], methods: readonly Method[]): EvaluationSummary {
  const medianWape: Partial<Record<Method, number>> = {};
  const medianMae: Partial<Record<Method, number>> = {};
  const pooledWape: Partial<Record<Method, number>> = {};
  for (const m of methods) {
    medianWape[m] = median(shops.map((s) => s.metrics[m]?.wape ?? Number.NaN));
    medianMae[m] = median(shops.map((s) => s.metrics[m]?.mae ?? Number.NaN));
    let err = 0;
    let total = 0;
    for (const s of shops) {
      const f = s.forecasts[m];
      if (f === undefined) continue;
      for (let i = 0; i < s.actual.length; i++) {
        err += Math.abs((s.actual[i] as number) - (f[i] as number));
        total += s.actual[i] as number;
      }
    }
    pooledWape[m] = total === 0 ? Number.NaN : err / total;
  }
  const count = (a: Method, b: Method): number | undefined =>
    methods.includes(a) && methods.includes(b)
      ? shops.filter((s) => (s.metrics[a]?.wape ?? Infinity) < (s.metrics[b]?.wape ?? -Infinity)).length
      : undefined;
  const beatsLocal = count('federated', 'local');
  const beatsNaive = count('federated', 'naive');
  return {
    methods,
    medianWape,
    medianMae,
    pooledWape,
    ...(beatsLocal !== undefined ? { federatedBeatsLocal: beatsLocal } : {}),
    ...(beatsNaive !== undefined ? { federatedBeatsNaive: beatsNaive } : {}),
  };
}

function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`expected forecasts for ${a.length} rows, got ${b.length}`);
}
