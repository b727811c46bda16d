import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { flattenWeights, loadModel } from '@tally/ml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainCentralised, trainLocalOnly } from './baselines.ts';
import type { DemandConfigInput } from './config.ts';
import { evaluateAll } from './evaluate.ts';
import { TASK_ID, globalTrainingLoss, runFedAvg } from './federated.ts';
import { prepareShops, type PreparedShops } from './prepare.ts';
import { writeReport } from './report.ts';

const SMALL: DemandConfigInput = {
  data: { seed: 4, shops: 3, products: 4, days: 200, minHistoryDays: 100 },
  features: { testDays: 14 },
  training: { rounds: 3, epochsPerRound: 1, batchSize: 32, learningRate: 0.005 },
  baselines: { maxEpochs: 6, patience: 2 },
  backend: 'wasm',
};

let prepared: PreparedShops;
let dir = '';
beforeAll(async () => {
  prepared = await prepareShops(SMALL, { logger: { info: () => {}, warn: () => {} } });
  dir = await mkdtemp(path.join(tmpdir(), 'tally-demand-'));
});
afterAll(async () => {
  prepared.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('runFedAvg', () => {
  it('averages the deltas weighted by sample count', async () => {
    const one = await runFedAvg(prepared, { rounds: 1 });
    // Recompute round 1 by hand: training is deterministic per (seed, round).
    const global = prepared.initialWeights;
    const outs = [];
    for (const t of prepared.trainers) outs.push(await t.train({ taskId: TASK_ID, round: 1, weights: global }));
    const total = outs.reduce((n, o) => n + o.weight, 0);
    // Shops train on their fit rows only: the validation days are held out to choose the round.
    expect(total).toBe(prepared.shops.reduce((n, s) => n + s.fit.rows, 0));
    const expected = new Float32Array(global.length);
    for (let i = 0; i < expected.length; i++) {
      let s = 0;
      for (const o of outs) s += o.weight * (o.delta[i] as number);
      expected[i] = (global[i] as number) + s / total;
    }
    expect(one.weights).toEqual(expected);
    const r = one.history[0];
    expect(r?.totalWeight).toBe(total);
    expect(r?.lossBefore).toBeCloseTo(outs.reduce((n, o) => n + o.weight * (o.metrics[0] as number), 0) / total, 10);
    expect(r?.lossBefore).toBeCloseTo(globalTrainingLoss(prepared, global), 5);
  });

  it('improves over round 0', async () => {
    const seen: number[] = [];
    const res = await runFedAvg(prepared, { trackTestWape: true, onRound: (r) => seen.push(r.round) });
    expect(seen).toEqual([1, 2, 3]);
    const initial = globalTrainingLoss(prepared, prepared.initialWeights);
    const final = globalTrainingLoss(prepared, res.weights);
    expect(final).toBeLessThan(initial * 0.8);
    expect(res.history.at(-1)?.lossBefore).toBeLessThan(res.history[0]?.lossBefore ?? 0);
    expect(res.history.every((r) => r.testWape !== undefined && r.testWape > 0)).toBe(true);
    // The kept model is the round with the lowest validation WAPE, whatever the (diagnostic) test WAPE says.
    const vals = res.history.map((r) => r.validationWape as number);
    const argmin = vals.indexOf(Math.min(...vals)) + 1;
    expect(res.bestRound).toBe(argmin);
    expect(res.history.map((r) => r.round)).toContain(res.bestRound);

    // The rest of the pipeline on the same small setup: baselines, evaluation, report.
    const local = await trainLocalOnly(prepared);
    expect(local.every((l) => l.epochs >= 0 && l.epochs <= 6)).toBe(true);
    const central = await trainCentralised(prepared);
    const evaluation = evaluateAll(prepared.shops, prepared.createModel, {
      federated: res.weights,
      local: local.map((l) => l.weights),
      centralised: central.weights,
    });
    expect(evaluation.shops).toHaveLength(3);
    expect(evaluation.summary.medianWape.federated).toBeLessThan(1);

    const written = await writeReport(dir, { prepared, evaluation, history: res.history, federatedWeights: res.weights });
    expect(written).toEqual(['report.json', 'report.md', 'loss.svg', 'forecast.svg', 'model/']);
    expect((await readdir(dir)).sort()).toEqual(['forecast.svg', 'loss.svg', 'model', 'report.json', 'report.md']);
    const json = JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as { summary: { methods: string[] }; history: unknown[] };
    expect(json.summary.methods).toEqual(['federated', 'local', 'centralised', 'snaive4', 'naive', 'oracle']);
    expect(json.history).toHaveLength(3);
    const md = await readFile(path.join(dir, 'report.md'), 'utf8');
    expect(md).toContain('| median shop WAPE |');
    for (const svg of ['loss.svg', 'forecast.svg']) {
      const text = await readFile(path.join(dir, svg), 'utf8');
      expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(text.trimEnd().endsWith('</svg>')).toBe(true);
      expect(text).not.toContain('NaN');
    }
    const loaded = await loadModel(path.join(dir, 'model'));
    expect(flattenWeights(loaded)).toEqual(res.weights);
    loaded.dispose();
  });
});
