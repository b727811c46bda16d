import { describe, expect, it } from 'vitest';
import { HOLIDAYS, NO_RECORD, generateSales, isHolidayEve, type SalesData } from './data.ts';

const small = { seed: 5, shops: 4, products: 3, days: 400, minHistoryDays: 120 };

function meanWhere(data: SalesData, keep: (s: number, p: number, t: number) => boolean): number {
  let sum = 0;
  let n = 0;
  data.shops.forEach((shop, s) => {
    shop.units.forEach((u, p) => {
      for (let t = shop.firstDay; t < u.length; t++) {
        if (!keep(s, p, t)) continue;
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

  it('is non-IID: sizes and history lengths differ, small shops are new', () => {
    const d = generateSales({ ...small, shops: 8 });
    const histories = d.shops.map((s) => d.dates.length - s.firstDay);
    expect(Math.min(...histories)).toBe(120);
    expect(Math.max(...histories)).toBe(400);
    const bySize = [...d.shops].sort((a, b) => a.scale - b.scale);
    expect(bySize[0]?.firstDay).toBe(400 - 120);
    expect(bySize.at(-1)?.firstDay).toBe(0);
    expect((bySize.at(-1)?.scale ?? 0) / (bySize[0]?.scale ?? 1)).toBeGreaterThan(2);
    for (const shop of d.shops) {
      for (const u of shop.units) {
        expect(u.subarray(0, shop.firstDay).every((v) => v === NO_RECORD)).toBe(true);
        expect(u.subarray(shop.firstDay).every((v) => v >= 0 && Number.isInteger(v))).toBe(true);
      }
    }
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

  it('scales demand by (price / base price)^elasticity', () => {
    // Same seed, same draws: only the elasticity differs, so λ differs by exactly the price term.
    const flat = generateSales({ ...small, elasticity: [0, 0] });
    const elastic = generateSales({ ...small, elasticity: [-1.5, -1.5] });
    let checked = 0;
    let dearer = 0;
    elastic.shops.forEach((shop, s) => {
      shop.price.forEach((price, p) => {
        const base = elastic.products[p]?.basePrice as number;
        for (let t = shop.firstDay; t < price.length; t++) {
          const ratio = (shop.expected[p]?.[t] as number) / (flat.shops[s]?.expected[p]?.[t] as number);
          expect(ratio).toBeCloseTo(Math.pow((price[t] as number) / base, -1.5), 4);
          if ((price[t] as number) > base) dearer += ratio < 1 ? 1 : 0;
          checked++;
        }
      });
    });
    expect(checked).toBeGreaterThan(1000);
    expect(dearer).toBeGreaterThan(0);
  });

  it('refuses bad configs', () => {
    expect(() => generateSales({ shops: 0 })).toThrow(/shops/);
    expect(() => generateSales({ days: 100, minHistoryDays: 200 })).toThrow(/minHistoryDays/);
    expect(() => generateSales({ startDate: '2023-13-45' })).toThrow(/startDate/);
  });
});
