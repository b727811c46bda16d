import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forecastCsv, forecastShop, forecastTable } from './forecast.ts';
import { forecastSvg } from './forecast-svg.ts';
import { saveNormalisation } from './normalisation.ts';
import { demandWeightCount, parseDemandSpec } from './spec.ts';
import { writeDemandModel } from './trainer.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-forecast-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 40 days of bread; the last day sold 20. Tea is in the task but never sold here. */
function salesText(): string {
  const lines = ['date;product;units'];
  for (let d = 0; d < 40; d++) {
    const iso = new Date(Date.UTC(2025, 2, 1 + d)).toISOString().slice(0, 10);
    lines.push(`${iso};bread;${d === 39 ? 20 : 8}`);
  }
  return lines.join('\n');
}

it('forecasts recursively from the saved model and the shop’s own scale, leaving out products it never sold', async () => {
  // A linear model (no hidden layer) that predicts 0.4 × yesterday's relative demand: lag_1 is column 11.
  const spec = parseDemandSpec({ kind: 'demand', products: ['bread', 'tea'], hidden: [], holidays: [] });
  const weights = new Float32Array(demandWeightCount(spec));
  weights[11] = 0.4;
  await writeDemandModel(dir, spec, weights, { taskId: 't', round: 3, final: true });
  await saveNormalisation(dir, {
    source: 'shop.csv',
    firstDate: '2025-03-01',
    lastDate: '2025-04-09',
    products: spec.products,
    scale: [8.3, 0.5],
    refPrice: [1, 1],
    carried: [true, false],
    csv: { columns: { date: 'date', product: 'product', units: 'units' }, delimiter: ';', dateFormat: 'YYYY-MM-DD' },
  });
  const f = await forecastShop({ modelDir: dir, sales: { text: salesText(), source: 'shop.csv' }, days: 4 });
  expect(f.dates).toEqual(['2025-04-10', '2025-04-11', '2025-04-12', '2025-04-13']);
  expect(f.info).toMatchObject({ taskId: 't', round: 3, final: true });
  expect(f.products.map((p) => p.product)).toEqual(['bread']);
  const bread = f.products[0]!;
  // 20 → 8 → 3.2 → 1.2 (lags are whole units: round(3.2) = 3) → 0.4 (round(1.2) = 1), whatever the scale.
  [8, 3.2, 1.2, 0.4].forEach((v, i) => expect(bread.forecast[i]).toBeCloseTo(v, 4));
  expect(bread.recent).toHaveLength(28);
  expect(bread.recent.at(-1)).toBe(20);
  expect(forecastCsv(f).split('\n').slice(0, 3)).toEqual(['date,product,units', '2025-04-10,bread,8.0', '2025-04-11,bread,3.2']);
  expect(forecastTable(f).split('\n')[0]).toMatch(/^date\s+bread$/);
  expect(forecastSvg(f, 'T & <x>')).toContain('T &amp; &lt;x&gt;');
});

it('refuses a folder without the shop’s normalisation, saying where it comes from', async () => {
  const empty = join(dir, 'empty');
  const spec = parseDemandSpec({ kind: 'demand', products: ['bread'], hidden: [] });
  await writeDemandModel(empty, spec, new Float32Array(demandWeightCount(spec)), { taskId: 't', round: 1, final: false });
  await expect(forecastShop({ modelDir: empty, sales: { text: salesText(), source: 's' }, days: 1 })).rejects.toThrow(/normalisation\.json.*once its client has received a model/);
});
