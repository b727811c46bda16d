/**
 * personal.json on disk: replaced atomically (a crash leaves the old choice or the new
 * one), and a torn or hand-edited file stops `tally forecast` with a message that names
 * the file and says what to do, instead of a bare JSON parse error.
 */
import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forecastShop } from './forecast.ts';
import { PERSONAL_FILE, readPersonalChoice, writePersonalChoice, type PersonalChoice } from './personal.ts';
import { parseSalesCsv } from './sales-csv.ts';
import { demandWeightCount, parseDemandSpec, specJson } from './spec.ts';
import { DemandShopTrainer } from './trainer.ts';

const choice: PersonalChoice = {
  format: 'tally-demand-personal/1',
  taskId: 't',
  round: 4,
  final: 'local',
  shared: 'global',
  weightOnLocal: 1,
  validationDays: 7,
  validation: { global: 0.3, finetuned: 0.3, local: 0.2, used: 0.2 },
  epochs: { local: 1, finetuned: 0 },
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-personal-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('replaces personal.json by rename: a reader of the old file still reads all of it, and no temp file is left', async () => {
  const d = join(dir, 'atomic');
  await mkdir(d);
  await writePersonalChoice(d, choice);
  const file = join(d, PERSONAL_FILE);
  const before = await stat(file);
  const old = await open(file, 'r');
  try {
    await writePersonalChoice(d, { ...choice, round: 5 });
    // A write in place (truncate, then write) would show the reader the new bytes; a rename leaves the old file whole.
    const seen = JSON.parse(await old.readFile('utf8')) as PersonalChoice;
    expect(seen.round).toBe(4);
  } finally {
    await old.close();
  }
  expect((await stat(file)).ino).not.toBe(before.ino);
  expect((await readPersonalChoice(d))?.round).toBe(5);
  expect(await readdir(d)).toEqual([PERSONAL_FILE]);
});

it('a torn personal.json is an error naming the file and what to do, in readPersonalChoice and in the forecast', async () => {
  const d = join(dir, 'torn');
  const spec = parseDemandSpec({ kind: 'demand', products: ['bread'], hidden: [], holidays: [] });
  const csv = { columns: { date: 'date', product: 'product', units: 'units' }, delimiter: ';', dateFormat: 'YYYY-MM-DD' } as const;
  const sales = ['date;product;units', ...Array.from({ length: 40 }, (_, i) => `${new Date(Date.UTC(2025, 2, 1 + i)).toISOString().slice(0, 10)};bread;8`)].join('\n');
  const t = new DemandShopTrainer(parseSalesCsv(sales, { ...csv, source: 's.csv' }), csv);
  expect(t.checkOffer({ taskId: 't', modelSpec: specJson(spec), modelLength: demandWeightCount(spec) })).toBeNull();
  await t.saveModel(d, new Float32Array(demandWeightCount(spec)), { taskId: 't', round: 4, final: false });
  t.dispose();
  const file = join(d, PERSONAL_FILE);
  const text = `${JSON.stringify(choice, null, 2)}\n`;
  // Cut off halfway, as a crash during a plain write would leave it.
  await writeFile(file, text.slice(0, Math.floor(text.length / 2)));
  const expected = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON .*: delete .*personal\\.json \\(forecasts then use the shared model\\) or let the shop's client save the task's final model again$`);
  await expect(readPersonalChoice(d)).rejects.toThrow(expected);
  await expect(forecastShop({ modelDir: d, sales: { text: sales, source: 's.csv' }, days: 1 })).rejects.toThrow(expected);
  // Valid JSON but not an object, and a bad field: both name the file and the remedy.
  await writeFile(file, '[]');
  await expect(readPersonalChoice(d)).rejects.toThrow(/personal\.json: expected a JSON object, found \[\]: delete /);
  await writeFile(file, JSON.stringify({ ...choice, final: 'best' }));
  await expect(readPersonalChoice(d)).rejects.toThrow(/personal\.json: final: expected global \| finetuned \| local \| blend, found "best": delete /);
  // Deleting it, as the message says, brings the shared model back.
  await rm(file);
  const f = await forecastShop({ modelDir: d, sales: { text: sales, source: 's.csv' }, days: 1 });
  expect(f.used.choice).toBeNull();
});
