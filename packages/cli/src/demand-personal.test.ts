/**
 * The CLI's demand trainer ends a task with the shop's own model (issue #11): the final
 * save chooses it on the shop's held-out days and returns the line the client logs;
 * `tally forecast` then uses that choice and says so.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forecastCommand } from './commands/forecast.ts';
import type { Io } from './io.ts';
import { buildTrainer, parseTrainerConfig } from './trainer-config.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-cli-personal-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function salesCsv(): string {
  const lines = ['day,item,qty'];
  for (let d = 0; d < 150; d++) {
    const iso = new Date(Date.UTC(2025, 0, 1 + d)).toISOString().slice(0, 10);
    lines.push(`${iso},bread,${12 + (d % 7 === 5 ? 10 : 0) + ((d * 7) % 5)}`, `${iso},milk,${3 + ((d * 11) % 4)}`);
  }
  return `${lines.join('\n')}\n`;
}

it('a demand client saves its own model with the final global model, logs which, and tally forecast uses it', async () => {
  const sales = join(dir, 'shop.csv');
  await writeFile(sales, salesCsv());
  const config = parseTrainerConfig({ kind: 'demand', sales: 'shop.csv', columns: { date: 'day', product: 'item', units: 'qty' } }, dir);
  const built = await buildTrainer(config, 'trainer', () => {}, dir);
  expect(built.description).toMatch(/absolute-error loss/);
  const { demandWeightCount, parseDemandSpec, specJson, initialWeights, demandInputs } = await import('@tally/demand');
  const spec = parseDemandSpec({ kind: 'demand', products: ['bread', 'milk'], hidden: [8], holidays: [] });
  const trainer = built.trainer as unknown as { checkOffer(o: unknown): string | null; dispose(): void };
  expect(trainer.checkOffer({ taskId: 'shops', modelSpec: specJson(spec), modelLength: demandWeightCount(spec) })).toBeNull();
  const global = initialWeights(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed });
  const out = await built.trainer.train({ taskId: 'shops', round: 1, weights: global });
  const final = global.map((w, i) => w + (out.delta[i] as number));
  const modelDir = join(dir, 'model');
  // A round's model: nothing chosen yet.
  expect(await built.saveModel(modelDir, final, { taskId: 'shops', round: 1, final: false })).toBeUndefined();
  const note = await built.saveModel(modelDir, final, { taskId: 'shops', round: 2, final: true });
  expect(note).toMatch(/^your own model: .* chosen on your last 28 days of sales/);
  const choice = JSON.parse(await readFile(join(modelDir, 'personal.json'), 'utf8')) as { round: number; final: string };
  expect(choice.round).toBe(2);
  const lines: string[] = [];
  const io: Io = { out: (t) => lines.push(t), err: () => {}, onInterrupt: () => () => {} };
  await forecastCommand({ model: modelDir, sales, days: '3', out: join(dir, 'f.csv') }, io);
  expect(lines[0]).toMatch(/^forecast for 2025-05-31 to 2025-06-02, units per day, from your own model: .*; global model of task shops after round 2 \(final\):$/);
  trainer.dispose();
});
