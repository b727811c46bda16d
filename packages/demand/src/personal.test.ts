import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forecastShop } from './forecast.ts';
import { PERSONAL_DIR, PERSONAL_FILE, readPersonalChoice, splitByDate, validationWindow, type PersonalChoice } from './personal.ts';
import { parseSalesCsv } from './sales-csv.ts';
import { demandWeightCount, parseDemandSpec, specJson } from './spec.ts';
import { DemandShopTrainer, writeDemandModel } from './trainer.ts';
import { initialWeights } from './model.ts';
import { demandInputs } from './spec.ts';

const CSV = { columns: { date: 'date', product: 'product', units: 'units' }, delimiter: ';', dateFormat: 'YYYY-MM-DD' } as const;
const spec = parseDemandSpec({ kind: 'demand', products: ['bread', 'milk'], hidden: [8], holidays: [] });
const offer = { taskId: 'shop-task', modelSpec: specJson(spec), modelLength: demandWeightCount(spec) };

/** 160 days: bread with a weekly pattern, milk steady with noise (deterministic). */
function salesText(): string {
  const lines = ['date;product;units'];
  for (let d = 0; d < 160; d++) {
    const iso = new Date(Date.UTC(2025, 0, 1 + d)).toISOString().slice(0, 10);
    lines.push(`${iso};bread;${10 + (d % 7 === 5 ? 12 : 0) + ((d * 7) % 5)}`);
    lines.push(`${iso};milk;${4 + ((d * 13) % 4)}`);
  }
  return lines.join('\n');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-personal-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the validation split', () => {
  it('holds out the latest days: 28, or a quarter of a young shop’s days, at least 7', () => {
    expect(validationWindow(400, 28)).toBe(28);
    expect(validationWindow(60, 28)).toBe(15);
    expect(validationWindow(20, 28)).toBe(7);
    expect(() => validationWindow(7, 28)).toThrow(/too few/);
  });
});

describe("a shop's own model at the end of a task", () => {
  it('trains local-only and fine-tuned models on fit days, chooses on the held-out days, saves the choice; a later global model removes it', async () => {
    const table = parseSalesCsv(salesText(), { ...CSV, source: 'shop.csv' });
    const lines: string[] = [];
    const trainer = new DemandShopTrainer(table, CSV, {}, () => {}, (_c, why) => lines.push(why));
    expect(trainer.checkOffer(offer)).toBeNull();
    // The federated rounds train on the fit days only: the latest 28 days (2 products a day) are held out, 21 more than with 7.
    const week = new DemandShopTrainer(table, CSV, { validationDays: 7 });
    week.checkOffer(offer);
    expect(week.rows - trainer.rows).toBe(2 * 21);
    week.dispose();
    const global = initialWeights(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed });
    const out = await trainer.train({ taskId: offer.taskId, round: 1, weights: global });
    const shared = global.map((w, i) => w + (out.delta[i] as number));
    await trainer.saveModel(dir, shared, { taskId: offer.taskId, round: 1, final: true });
    const c = (await readPersonalChoice(dir)) as PersonalChoice;
    expect(c).toMatchObject({ taskId: offer.taskId, round: 1, validationDays: 28 });
    // Chosen on validation only: never worse there than the shop's model alone, nor than the best single model when the blend moved off ½.
    expect(c.validation.used).toBeLessThanOrEqual(c.validation.local + 1e-6);
    expect(c.validation.finetuned).toBeLessThanOrEqual(c.validation.global);
    expect([1, 0.75, 0.5, 0.25, 0]).toContain(c.weightOnLocal);
    expect((await stat(join(dir, PERSONAL_DIR, 'local', 'model.json'))).isFile()).toBe(true);
    expect((await stat(join(dir, PERSONAL_DIR, 'finetuned', 'model.json'))).isFile()).toBe(true);
    expect(lines.at(-1)).toMatch(/^your own model: .*chosen on your last 28 days of sales/);
    // tally forecast uses it and says so.
    const f = await forecastShop({ modelDir: dir, sales: { text: salesText(), source: 'shop.csv' }, days: 3 });
    expect(f.used.choice).toEqual(c);
    expect(f.used.line).toMatch(/^your own model/);
    // A non-final global model of a later round replaces the choice: forecasts fall back to the shared model.
    await trainer.saveModel(dir, shared, { taskId: offer.taskId, round: 2, final: false });
    expect(await readPersonalChoice(dir)).toBeNull();
    const g = await forecastShop({ modelDir: dir, sales: { text: salesText(), source: 'shop.csv' }, days: 3 });
    expect(g.used).toEqual({ choice: null, line: expect.stringMatching(/^the shared model \(no choice/) });
    trainer.dispose();
  });

  it('forecasts a blend as the weighted sum of its models, and ignores a choice that belongs to another model', async () => {
    // Two linear models of yesterday's relative demand (lag_1 is column 11): 0.4× and 0.8×.
    const lin = parseDemandSpec({ kind: 'demand', products: ['bread'], hidden: [], holidays: [] });
    const w = (k: number): Float32Array => {
      const a = new Float32Array(demandWeightCount(lin));
      a[11] = k;
      return a;
    };
    const d = join(dir, 'blend');
    const info = { taskId: 't', round: 4, final: true };
    await writeDemandModel(d, lin, w(0.4), info);
    await writeDemandModel(join(d, PERSONAL_DIR, 'local'), lin, w(0.8), info);
    await writeDemandModel(join(d, PERSONAL_DIR, 'finetuned'), lin, w(0), info);
    const sales = ['date;product;units', ...Array.from({ length: 40 }, (_, i) => `${new Date(Date.UTC(2025, 2, 1 + i)).toISOString().slice(0, 10)};bread;${i === 39 ? 20 : 8}`)].join('\n');
    const table = parseSalesCsv(sales, { ...CSV, source: 's.csv' });
    const t = new DemandShopTrainer(table, CSV);
    t.checkOffer({ taskId: 't', modelSpec: specJson(lin), modelLength: demandWeightCount(lin) });
    // saveModel writes the global model (the choice matches task and round only) and the normalisation; the choice is written by hand.
    await t.saveModel(d, w(0.4), { ...info, final: false });
    t.dispose();
    const choice: PersonalChoice = {
      format: 'tally-demand-personal/1',
      taskId: 't',
      round: 4,
      final: 'blend',
      shared: 'global',
      weightOnLocal: 0.25,
      validationDays: 7,
      validation: { global: 0.3, finetuned: 0.3, local: 0.3, used: 0.2 },
      epochs: { local: 1, finetuned: 0 },
    };
    await writeFile(join(d, PERSONAL_FILE), JSON.stringify(choice));
    const scale = JSON.parse(await readFile(join(d, 'normalisation.json'), 'utf8')) as { scale: number[] };
    const f = await forecastShop({ modelDir: d, sales: { text: sales, source: 's.csv' }, days: 1 });
    // Day 1 from the last day's 20 units: 0.25 · 0.8 · 20 + 0.75 · 0.4 · 20 = 10, whatever the scale.
    expect(scale.scale[0]).toBeGreaterThan(0);
    expect(f.products[0]!.forecast[0]).toBeCloseTo(10, 3);
    expect(f.used.line).toMatch(/a blend: 0\.25 × a model trained on your sales alone \+ 0\.75 × the shared model/);
    // The same choice saved for round 3 belongs to another global model: ignored, and said so.
    await writeFile(join(d, PERSONAL_FILE), JSON.stringify({ ...choice, round: 3 }));
    const g = await forecastShop({ modelDir: d, sales: { text: sales, source: 's.csv' }, days: 1 });
    expect(g.products[0]!.forecast[0]).toBeCloseTo(8, 3);
    expect(g.used.line).toMatch(/belongs to task t round 3, not to this model/);
    // A malformed choice names its field.
    await writeFile(join(d, PERSONAL_FILE), JSON.stringify({ ...choice, weightOnLocal: 2 }));
    await expect(readPersonalChoice(d)).rejects.toThrow(/weightOnLocal: expected a number in \[0, 1\], found 2/);
  });

  it('splits by date: every fit day before every validation day', () => {
    const rows = { rows: 4, x: new Float32Array(4), y: new Float32Array(4), day: Int32Array.from([0, 10, 20, 39]), product: new Int32Array(4), units: new Float32Array(4), naive: new Float32Array(4) };
    const s = splitByDate(rows, 1, 28);
    // 40 days: a quarter (10) held out, days 30–39.
    expect(s.validationDays).toBe(10);
    expect(Array.from(s.fit.day)).toEqual([0, 10, 20]);
    expect(Array.from(s.validation.day)).toEqual([39]);
  });
});
