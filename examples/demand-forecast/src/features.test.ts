import { describe, expect, it } from 'vitest';
import { generateSales, type SalesData } from './data.ts';
import { BASE_FEATURES, LAG_WINDOW, buildShopDataset, featureNames } from '@tally/demand';

const data = generateSales({ seed: 9, shops: 3, products: 2, days: 200, minHistoryDays: 90 });

/** A copy of the data with one shop's units replaced from `fromDay` on. */
function withFutureChanged(d: SalesData, shop: number, fromDay: number): SalesData {
  return {
    ...d,
    shops: d.shops.map((s, i) =>
      i !== shop
        ? s
        : {
            ...s,
            units: s.units.map((u) => {
              const c = u.slice();
              for (let t = fromDay; t < c.length; t++) c[t] = (c[t] as number) * 3 + 17;
              return c;
            }),
          },
    ),
  };
}

function rowsUpTo(x: Float32Array, days: Int32Array, inputs: number, lastDay: number): Float32Array {
  let n = 0;
  while (n < days.length && (days[n] as number) <= lastDay) n++;
  return x.slice(0, n * inputs);
}

describe('buildShopDataset', () => {
  it('splits by date: training strictly before the test weeks, the same test dates for every shop', () => {
    for (let s = 0; s < data.shops.length; s++) {
      const ds = buildShopDataset(data, s, { testDays: 14 });
      const shop = data.shops[s];
      expect(ds.inputs).toBe(BASE_FEATURES + 2);
      expect(featureNames(2)).toHaveLength(ds.inputs);
      expect(ds.train.day[0]).toBe((shop?.firstDay ?? 0) + LAG_WINDOW);
      expect(Math.max(...ds.train.day)).toBe(200 - 14 - 1);
      expect(Math.min(...ds.test.day)).toBe(200 - 14);
      expect(Math.max(...ds.test.day)).toBe(199);
      expect(ds.test.rows).toBe(14 * 2);
      expect(ds.train.rows).toBe((200 - 14 - (shop?.firstDay ?? 0) - LAG_WINDOW) * 2);
    }
  });

  it('builds lags from the past only: changing sales from day d on leaves every row up to day d unchanged', () => {
    const base = buildShopDataset(data, 1, { testDays: 14 });
    for (const d of [186, 190, 199]) {
      const changed = buildShopDataset(withFutureChanged(data, 1, d), 1, { testDays: 14 });
      // Training rows and normalisers never see the test weeks.
      expect(changed.train.x).toEqual(base.train.x);
      expect(changed.train.y).toEqual(base.train.y);
      expect(changed.scale).toEqual(base.scale);
      // Test rows up to and including day d have the same features (their targets may differ).
      expect(rowsUpTo(changed.test.x, changed.test.day, base.inputs, d)).toEqual(rowsUpTo(base.test.x, base.test.day, base.inputs, d));
      expect(changed.test.naive.subarray(0, 2 * (d - 186 + 1))).toEqual(base.test.naive.subarray(0, 2 * (d - 186 + 1)));
    }
    // And a change on day d does reach the rows of day d + 1 (the lag really is t − 1).
    const changed = buildShopDataset(withFutureChanged(data, 1, 190), 1, { testDays: 14 });
    expect(rowsUpTo(changed.test.x, changed.test.day, base.inputs, 191)).not.toEqual(rowsUpTo(base.test.x, base.test.day, base.inputs, 191));
  });

  it('normalises by the shop\'s own training-period mean and encodes the table of columns', () => {
    const s = 0;
    const ds = buildShopDataset(data, s, { testDays: 14 });
    const shop = data.shops[s];
    if (shop === undefined) throw new Error('no shop');
    for (let p = 0; p < 2; p++) {
      const u = shop.units[p] as Int32Array;
      let sum = 0;
      for (let t = shop.firstDay; t < 186; t++) sum += u[t] as number;
      expect(ds.scale[p]).toBeCloseTo(Math.max(0.5, sum / (186 - shop.firstDay)), 4);
    }
    const inputs = ds.inputs;
    for (const r of [0, 7, ds.train.rows - 1]) {
      const t = ds.train.day[r] as number;
      const p = ds.train.product[r] as number;
      const m = ds.scale[p] as number;
      const u = shop.units[p] as Int32Array;
      const row = ds.train.x.subarray(r * inputs, (r + 1) * inputs);
      expect(Array.from(row.subarray(0, 7)).indexOf(1)).toBe(data.dayOfWeek[t]);
      expect(row.subarray(0, 7).reduce((a, b) => a + b, 0)).toBe(1);
      expect(row[9]).toBe(data.holiday[t]);
      expect((row[11] as number) * m).toBeCloseTo(u[t - 1] as number, 3);
      expect((row[12] as number) * m).toBeCloseTo(u[t - 7] as number, 3);
      expect((row[13] as number) * m).toBeCloseTo(u[t - 14] as number, 3);
      let mean28 = 0;
      for (let k = 1; k <= 28; k++) mean28 += u[t - k] as number;
      expect((row[14] as number) * m).toBeCloseTo(mean28 / 28, 3);
      expect(row[16]).toBe(shop.promo[p]?.[t]);
      expect(row[BASE_FEATURES + p]).toBe(1);
      expect((ds.train.y[r] as number) * m).toBeCloseTo(u[t] as number, 3);
      expect(ds.train.units[r]).toBe(u[t]);
      expect(ds.train.naive[r]).toBe(u[t - 7]);
    }
  });

  it('refuses a shop with too little history', () => {
    const tiny = generateSales({ seed: 1, shops: 2, products: 1, days: 100, minHistoryDays: 40 });
    const newest = tiny.shops.findIndex((s) => s.firstDay === 60);
    expect(() => buildShopDataset(tiny, newest, { testDays: 14 })).toThrow(/needs more than 42/);
  });
});
