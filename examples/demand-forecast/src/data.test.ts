import { describe, expect, it } from 'vitest';
import { DEFAULT_GENERATOR, HOLIDAYS, NO_RECORD, generateSales, intermittency, isHolidayEve, type SalesData } from './data.ts';

const small = { seed: 5, shops: 4, products: 3, days: 400, minHistoryDays: 120 };

function meanWhere(data: SalesData, keep: (s: number, p: number, t: number) => boolean): number {
  let sum = 0;
  let n = 0;
  data.shops.forEach((shop, s) => {
    shop.units.forEach((u, p) => {
      for (let t = shop.firstDay; t < u.length; t++) {
        if (!keep(s, p, t) || shop.listed[p]?.[t] !== 1 || shop.open[t] !== 1) continue;
        // Relative to the expected level without the effect under test is not needed:
        // promotions and holidays are drawn independently of everything else.
        sum += (u[t] as number) / shop.scale;
        n++;
      }
    });
  });
  return sum / n;
}

describe('generateSales', () => {
  it('is deterministic per seed', () => {
    const a = generateSales(small);
    const b = generateSales(small);
    const c = generateSales({ ...small, seed: 6 });
    expect(a.shops.map((s) => s.units)).toEqual(b.shops.map((s) => s.units));
    expect(a.shops.map((s) => s.price)).toEqual(b.shops.map((s) => s.price));
    expect(a.shops.map((s) => s.promo)).toEqual(b.shops.map((s) => s.promo));
    expect(a.products).toEqual(b.products);
    expect(c.shops.map((s) => s.units)).not.toEqual(a.shops.map((s) => s.units));
  });

  it('has the calendar it claims', () => {
    const d = generateSales(small);
    expect(d.dates[0]).toBe('2023-01-02');
    expect(d.dayOfWeek[0]).toBe(0); // a Monday
    expect(d.dates[364]).toBe('2024-01-01');
    expect(d.dayOfYear[364]).toBe(0);
    expect(d.holiday[364]).toBe(1);
    const holidayDates = d.dates.filter((_, t) => d.holiday[t] === 1).map((iso) => iso.slice(5));
    expect(new Set(holidayDates)).toEqual(new Set(HOLIDAYS.map((h) => h.monthDay)));
    expect(isHolidayEve(d, 363)).toBe(true); // 2023-12-31
    expect(isHolidayEve(d, 362)).toBe(false);
  });

  it('is non-IID: sizes and history lengths differ, and size is drawn independently of age', () => {
    const d = generateSales({ ...small, shops: 8 });
    const histories = d.shops.map((s) => d.dates.length - s.firstDay);
    expect(Math.min(...histories)).toBe(120);
    expect(Math.max(...histories)).toBe(400);
    for (const shop of d.shops) {
      for (const u of shop.units) {
        expect(u.subarray(0, shop.firstDay).every((v) => v === NO_RECORD)).toBe(true);
        expect(u.subarray(shop.firstDay).every((v) => v >= 0 && Number.isInteger(v))).toBe(true);
      }
    }
    // Over many shops and seeds, the rank correlation of size and age is near 0 (it was 1 in the old generator).
    const rho: number[] = [];
    for (const seed of [1, 2, 3, 4]) {
      const many = generateSales({ seed, shops: 40, products: 1, days: 200, minHistoryDays: 60 });
      rho.push(spearman(many.shops.map((s) => s.scale), many.shops.map((s) => -s.firstDay)));
    }
    expect(Math.abs(rho.reduce((a, b) => a + b, 0) / rho.length)).toBeLessThan(0.25);
    const sizes = generateSales({ seed: 1, shops: 40, products: 1, days: 200, minHistoryDays: 60 }).shops.map((s) => s.scale);
    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(5);
  });

  it('is intermittent with a long tail, assortments that differ, products that come and go, stockouts and closures', () => {
    const d = generateSales({ seed: 3, shops: 8, days: 400, minHistoryDays: 200 });
    const stats = intermittency(d);
    // Slow movers: most listed open product-days sell nothing.
    expect(stats.slowZeroShare).toBeGreaterThan(0.5);
    expect(stats.fastZeroShare).toBeLessThan(stats.slowZeroShare);
    // Dozens of products per shop, not the same ones everywhere.
    expect(stats.productsPerShop[0]).toBeGreaterThanOrEqual(12);
    const sets = d.shops.map((s) => s.listed.map((l) => l.some((v) => v === 1)).join());
    expect(new Set(sets).size).toBeGreaterThan(1);
    // Some products are launched or delisted inside a shop's history.
    let changes = 0;
    for (const shop of d.shops) {
      for (const l of shop.listed) {
        for (let t = shop.firstDay + 1; t < l.length; t++) if (l[t] !== l[t - 1]) changes++;
      }
    }
    expect(changes).toBeGreaterThan(5);
    // Stockouts near the configured rate (Gruen et al. 2002: 8.3 %), and nothing sells out of stock, closed or unlisted.
    expect(stats.stockoutShare).toBeGreaterThan(DEFAULT_GENERATOR.stockoutRate * 0.6);
    expect(stats.stockoutShare).toBeLessThan(DEFAULT_GENERATOR.stockoutRate * 1.4);
    let closed = 0;
    for (const shop of d.shops) {
      for (let p = 0; p < d.products.length; p++) {
        for (let t = shop.firstDay; t < d.dates.length; t++) {
          if (shop.stockout[p]?.[t] === 1 || shop.open[t] === 0 || shop.listed[p]?.[t] === 0) expect(shop.units[p]?.[t]).toBe(0);
        }
      }
      for (let t = shop.firstDay; t < d.dates.length; t++) closed += shop.open[t] === 0 ? 1 : 0;
    }
    expect(closed).toBeGreaterThan(0);
  });

  it('shows a weekly pattern', () => {
    const d = generateSales(small);
    const byDay = Array.from({ length: 7 }, (_, dow) => meanWhere(d, (_s, _p, t) => d.dayOfWeek[t] === dow && d.holiday[t] === 0));
    expect(Math.max(...byDay) / Math.min(...byDay)).toBeGreaterThan(1.2);
  });

  it('lifts demand on promotion days and drops it on holidays', () => {
    const d = generateSales(small);
    const promo = (s: number, p: number, t: number): boolean => d.shops[s]?.promo[p]?.[t] === 1;
    const onPromo = meanWhere(d, (s, p, t) => promo(s, p, t) && d.holiday[t] === 0);
    const offPromo = meanWhere(d, (s, p, t) => !promo(s, p, t) && d.holiday[t] === 0);
    expect(onPromo / offPromo).toBeGreaterThan(1.25);
    const holiday = meanWhere(d, (_s, _p, t) => d.holiday[t] === 1);
    expect(holiday / offPromo).toBeLessThan(0.7);
    // Promotions cover roughly promoRate of the days.
    const share = d.shops.flatMap((s) => s.promo.map((p) => p.reduce((a, b) => a + b, 0) / p.length));
    const mean = share.reduce((a, b) => a + b, 0) / share.length;
    expect(mean).toBeGreaterThan(0.03);
    expect(mean).toBeLessThan(0.1);
  });

  it("scales demand by (price / base price)^elasticity, with each shop's own elasticity", () => {
    // Same seed, same draws: only the elasticity differs, so λ differs by exactly the price term.
    const flat = generateSales({ ...small, elasticity: [0, 0] });
    const elastic = generateSales({ ...small, elasticity: [-1.5, -1.5] });
    let checked = 0;
    let dearer = 0;
    const exponents = new Set<string>();
    elastic.shops.forEach((shop, s) => {
      shop.price.forEach((price, p) => {
        const base = elastic.products[p]?.basePrice as number;
        let k: number | null = null;
        for (let t = shop.firstDay; t < price.length; t++) {
          const e = shop.expected[p]?.[t] as number;
          const f = flat.shops[s]?.expected[p]?.[t] as number;
          if (!(f > 0) || Math.abs((price[t] as number) / base - 1) < 0.02) continue;
          const ratio = e / f;
          const kt = Math.log(ratio) / Math.log((price[t] as number) / base);
          if (k === null) k = kt;
          expect(kt).toBeCloseTo(k, 2);
          if ((price[t] as number) > base) dearer += ratio < 1 ? 1 : 0;
          checked++;
        }
        if (k !== null) {
          expect(k).toBeLessThan(0);
          exponents.add(k.toFixed(2));
        }
      });
    });
    expect(checked).toBeGreaterThan(1000);
    expect(dearer).toBeGreaterThan(0);
    expect(exponents.size).toBeGreaterThan(2);
  });

  it('refuses bad configs', () => {
    expect(() => generateSales({ shops: 0 })).toThrow(/shops/);
    expect(() => generateSales({ days: 100, minHistoryDays: 200 })).toThrow(/minHistoryDays/);
    expect(() => generateSales({ startDate: '2023-13-45' })).toThrow(/startDate/);
  });
});

function spearman(a: readonly number[], b: readonly number[]): number {
  const rank = (v: readonly number[]): number[] => {
    const order = v.map((x, i) => [x, i] as const).sort((x, y) => x[0] - y[0]);
    const r = new Array<number>(v.length).fill(0);
    order.forEach(([, i], k) => {
      r[i] = k;
    });
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const n = a.length;
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += ((ra[i] as number) - (rb[i] as number)) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}
