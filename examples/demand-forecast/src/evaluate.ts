/**
 * Forecast accuracy on each shop's held-out last weeks, in units (de-normalised):
 *
 * - MAE  = mean |actual − forecast| over the shop's test rows (product-days).
 * - WAPE = Σ |actual − forecast| / Σ actual over the same rows (0.25 = 25 % of the
 *   units sold). Undefined (NaN) when nothing was sold.
 * - MASE = MAE / the shop's mean |units_t − units_{t−7}| over its training rows
 *   (Hyndman & Koehler 2006; rows.ts): below 1 beats the in-sample seasonal naive.
 *
 * Methods: `personalised` (each shop's own forecast: global, fine-tuned, local or a blend
 * of local with a shared model, chosen on validation; personalise.ts), `federated` (the shared global model), `local` (each
 * shop's model trained on its own data alone), `centralised` (one model trained on all
 * shops' pooled rows), `glm` (each shop's Poisson GLM, glm.ts), `snaive4` (mean of the
 * last four same weekdays), `naive` (seasonal naive: same weekday last week), `oracle`
 * (the generator's own expected sales: the noise floor no forecast can be expected to
 * beat). Model forecasts are `max(0, prediction) · m_{s,p}` (see features.ts).
 */
import { predictRows, setFlatWeights, type LayersModel } from '@tally/ml';
import type { Split } from '@tally/demand';
import type { PreparedShop } from './rows.ts';

export const METHODS = ['personalised', 'federated', 'local', 'centralised', 'glm', 'snaive4', 'naive', 'oracle'] as const;
export type Method = (typeof METHODS)[number];

/** Methods computed from the rows alone, always evaluated. */
const RULES: readonly Method[] = ['snaive4', 'naive', 'oracle'];

export interface ErrorMetrics {
  readonly mae: number;
  readonly wape: number;
  readonly mase: number;
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

/** MAE, WAPE and MASE (MAE / `maseScale`; NaN when no scale is given). */
export function errorMetrics(actual: ArrayLike<number>, forecast: ArrayLike<number>, maseScale = Number.NaN): ErrorMetrics {
  const m = mae(actual, forecast);
  return { mae: m, wape: wape(actual, forecast), mase: m / maseScale };
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
  /** Each shop's chosen model, in shop order. */
  readonly personalised?: readonly Float32Array[];
  /** Each shop's forecast recipe (personalise.ts), in shop order; when given, `personalised` is scored by it. */
  readonly personalisedMix?: readonly (readonly { readonly weights: Float32Array; readonly share: number }[])[];
  readonly centralised?: Float32Array;
  /** Forecasts in units of each shop's test rows, in shop order (the GLM baseline). */
  readonly glm?: readonly Float32Array[];
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
  readonly medianMase: Partial<Record<Method, number>>;
  /** WAPE over all shops' test rows together (volume-weighted). */
  readonly pooledWape: Partial<Record<Method, number>>;
  /** The largest shop WAPE. */
  readonly worstWape: Partial<Record<Method, number>>;
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
  shops: readonly PreparedShop[],
  createModel: () => LayersModel,
  weights: ModelWeights,
): EvaluationReport {
  for (const key of ['local', 'personalised', 'personalisedMix', 'glm'] as const) {
    const list = weights[key];
    if (list !== undefined && list.length !== shops.length) {
      throw new RangeError(`evaluateAll: expected ${shops.length} ${key} models, got ${list.length}`);
    }
  }
  const methods = METHODS.filter((m) => RULES.includes(m) || weights[m as keyof ModelWeights] !== undefined);
  const model = createModel();
  try {
    const evaluations = shops.map((shop, i): ShopEvaluation => {
      const test = shop.test;
      const forecasts: Partial<Record<Method, Float32Array>> = {};
      const metrics: Partial<Record<Method, ErrorMetrics>> = {};
      for (const m of methods) {
        let f: Float32Array;
        if (m === 'naive' || m === 'snaive4' || m === 'oracle') {
          f = test[m];
        } else if (m === 'glm') {
          f = weights.glm?.[i] as Float32Array;
        } else if (m === 'personalised' && weights.personalisedMix !== undefined) {
          f = new Float32Array(test.rows);
          for (const part of weights.personalisedMix[i] ?? []) {
            setFlatWeights(model, part.weights);
            const g = denormalise(predictRows(model, test.x, shop.inputs, 1), test, shop.scale);
            for (let r = 0; r < f.length; r++) f[r] = (f[r] as number) + part.share * (g[r] as number);
          }
        } else {
          const w = m === 'local' || m === 'personalised' ? weights[m]?.[i] : weights[m];
          if (w === undefined) throw new Error(`evaluateAll: missing ${m} weights`);
          setFlatWeights(model, w);
          f = denormalise(predictRows(model, test.x, shop.inputs, 1), test, shop.scale);
        }
        if (f.length !== test.rows) throw new RangeError(`evaluateAll: ${m} has ${f.length} forecasts for ${test.rows} test rows of ${shop.shopId}`);
        forecasts[m] = f;
        metrics[m] = errorMetrics(test.units, f, shop.maseScale);
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

/** WAPE over every shop's test days pooled: Σ|actual − forecast| / Σ actual (NaN with no actual units). */
export function pooledWapeOf(shops: readonly ShopEvaluation[], m: Method): number {
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
  return total === 0 ? Number.NaN : err / total;
}

export function summarise(shops: readonly ShopEvaluation[], methods: readonly Method[]): EvaluationSummary {
  const medianWape: Partial<Record<Method, number>> = {};
  const medianMae: Partial<Record<Method, number>> = {};
  const medianMase: Partial<Record<Method, number>> = {};
  const pooledWape: Partial<Record<Method, number>> = {};
  const worstWape: Partial<Record<Method, number>> = {};
  for (const m of methods) {
    medianWape[m] = median(shops.map((s) => s.metrics[m]?.wape ?? Number.NaN));
    medianMae[m] = median(shops.map((s) => s.metrics[m]?.mae ?? Number.NaN));
    medianMase[m] = median(shops.map((s) => s.metrics[m]?.mase ?? Number.NaN));
    const finite = shops.map((s) => s.metrics[m]?.wape ?? Number.NaN).filter(Number.isFinite);
    worstWape[m] = finite.length === 0 ? Number.NaN : Math.max(...finite);
    pooledWape[m] = pooledWapeOf(shops, m);
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
    medianMase,
    pooledWape,
    worstWape,
    ...(beatsLocal !== undefined ? { federatedBeatsLocal: beatsLocal } : {}),
    ...(beatsNaive !== undefined ? { federatedBeatsNaive: beatsNaive } : {}),
  };
}

function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`expected forecasts for ${a.length} rows, got ${b.length}`);
}
