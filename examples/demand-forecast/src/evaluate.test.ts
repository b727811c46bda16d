import { initBackend } from '@tally/ml';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSales } from './data.ts';
import { denormalise, errorMetrics, evaluateAll, mae, median, wape } from './evaluate.ts';
import { createDemandModel } from '@tally/demand';
import { prepareShop } from './rows.ts';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', logger: { info: () => {}, warn: () => {} } });
});

describe('metrics', () => {
  it('computes MAE and WAPE on hand-worked cases', () => {
    // |10−8| + |0−1| + |5−5| = 3 over 3 rows; 3 / (10 + 0 + 5) = 0.2.
    expect(mae([10, 0, 5], [8, 1, 5])).toBe(1);
    expect(wape([10, 0, 5], [8, 1, 5])).toBeCloseTo(0.2, 12);
    // A perfect forecast, and the all-zero forecast (WAPE = 1 exactly).
    expect(errorMetrics([3, 4], [3, 4], 2)).toEqual({ mae: 0, wape: 0, mase: 0 });
    expect(errorMetrics([3, 4, 0], [0, 0, 0], 7 / 6)).toEqual({ mae: 7 / 3, wape: 1, mase: 2 });
    expect(errorMetrics([1], [0]).mase).toBeNaN();
    // Over-forecasting counts the same as under-forecasting.
    expect(wape([4, 4], [6, 2])).toBe(0.5);
    expect(wape([0, 0], [1, 2])).toBeNaN();
    expect(mae([], [])).toBeNaN();
    expect(() => mae([1, 2], [1])).toThrow(RangeError);
  });

  it('takes the median of finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('de-normalises with the product scale and clips negatives to zero', () => {
    const out = denormalise(Float32Array.from([1.5, -0.2, 2]), { product: Int32Array.from([0, 1, 1]) }, Float32Array.from([4, 10]));
    expect(Array.from(out)).toEqual([6, 0, 20]);
  });
});

describe('evaluateAll', () => {
  it('scores every method on every shop and summarises the medians', () => {
    const data = generateSales({ seed: 2, shops: 3, products: 2, days: 150, minHistoryDays: 80 });
    const shops = data.shops.map((_, i) => prepareShop(data, i, { testDays: 14 }, 14));
    const inputs = shops[0]?.inputs ?? 0;
    const createModel = () => createDemandModel(inputs);
    const probe = createModel();
    const zero = new Float32Array(probe.countParams());
    probe.dispose();
    const report = evaluateAll(shops, createModel, { federated: zero, local: shops.map(() => zero), centralised: zero });
    expect(report.summary.methods).toEqual(['federated', 'local', 'centralised', 'snaive4', 'naive', 'oracle']);
    report.shops.forEach((e, i) => {
      const test = shops[i]?.test;
      if (test === undefined) throw new Error('no test split');
      // All-zero weights forecast 0 units: WAPE 1, MAE = mean units sold.
      expect(e.metrics.federated?.wape).toBe(1);
      expect(e.metrics.federated?.mae).toBeCloseTo(test.units.reduce((a, b) => a + b, 0) / test.rows, 6);
      expect(e.metrics.naive).toEqual(errorMetrics(test.units, test.naive, shops[i]!.maseScale));
      expect(e.metrics.snaive4?.wape).toBe(wape(test.units, test.snaive4));
      expect(e.metrics.oracle?.wape).toBe(wape(test.units, test.oracle));
      expect(e.metrics.federated?.mase).toBeCloseTo((e.metrics.federated?.mae ?? 0) / shops[i]!.maseScale, 9);
    });
    expect(report.summary.medianWape.local).toBe(1);
    expect(report.summary.worstWape.naive).toBe(Math.max(...report.shops.map((s) => s.metrics.naive?.wape ?? Number.NaN)));
    expect(report.summary.medianWape.naive).toBe(median(report.shops.map((s) => s.metrics.naive?.wape ?? Number.NaN)));
    expect(report.summary.federatedBeatsNaive).toBe(report.shops.filter((s) => (s.metrics.naive?.wape ?? 0) > 1).length);

    const naiveOnly = evaluateAll(shops, createModel, {});
    expect(naiveOnly.summary.methods).toEqual(['snaive4', 'naive', 'oracle']);
    expect(naiveOnly.summary.federatedBeatsLocal).toBeUndefined();
    expect(() => evaluateAll(shops, createModel, { local: [zero] })).toThrow(/expected 3 local models, got 1/);
  });
});
