/** The arm "body + local head" (federated-body.ts): only the body is averaged; each shop's head moves by its own update alone. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { trainLocalOnly, validationWape } from './baselines.ts';
import type { DemandConfigInput } from './config.ts';
import { TASK_ID } from './federated.ts';
import { headLength, runFedAvgBody } from './federated-body.ts';
import { personalise } from './personalise.ts';
import { prepareShops, type PreparedShops } from './prepare.ts';

const SMALL: DemandConfigInput = {
  data: { seed: 4, shops: 3, products: 4, days: 200, minHistoryDays: 100 },
  features: { testDays: 14 },
  model: { hidden: [6, 4] },
  training: { rounds: 1, epochsPerRound: 1, batchSize: 32, learningRate: 0.005 },
  backend: 'wasm',
};

let prepared: PreparedShops;
beforeAll(async () => {
  prepared = await prepareShops(SMALL, { logger: { info: () => {}, warn: () => {} } });
});
afterAll(() => {
  prepared.dispose();
});

it('averages the body weighted by sample count and keeps each shop its own head', async () => {
  const r = await runFedAvgBody(prepared, { rounds: 1, patience: 0 });
  const b = prepared.weightCount - headLength(prepared);
  expect(headLength(prepared)).toBe(5);
  expect(r.bodyLength).toBe(b);
  expect(r.validation).toHaveLength(1);
  // Round 1 by hand (training is deterministic per seed and round).
  const w0 = prepared.initialWeights;
  const outs: Awaited<ReturnType<(typeof prepared.trainers)[number]['train']>>[] = [];
  for (const t of prepared.trainers) outs.push(await t.train({ taskId: TASK_ID, round: 1, weights: w0 }));
  const total = outs.reduce((n, o) => n + o.weight, 0);
  const body = Float32Array.from({ length: b }, (_, k) => (w0[k] as number) + outs.reduce((s, o) => s + o.weight * (o.delta[k] as number), 0) / total);
  r.last.forEach((w, i) => {
    for (let k = 0; k < b; k += 7) expect(w[k]).toBeCloseTo(body[k] as number, 5);
    const ownHead = Array.from(w0.subarray(b), (v, k) => v + (outs[i]!.delta[b + k] as number));
    expect(Array.from(w.subarray(b))).toEqual(ownHead.map((v) => Math.fround(v)));
  });
  // Heads differ between shops; bodies are one.
  expect(Array.from(r.last[0]!.subarray(b))).not.toEqual(Array.from(r.last[1]!.subarray(b)));
  expect(Array.from(r.last[0]!.subarray(0, b))).toEqual(Array.from(r.last[1]!.subarray(0, b)));
  // The kept models are the last round's or, when round 1 was no better on validation, the initial ones.
  expect(r.weights).toEqual(r.bestRound === 1 ? r.last : r.last.map(() => w0));
});

it('each shop personalises from the shared body with its own head, and never validates worse than its local-only model', async () => {
  const r = await runFedAvgBody(prepared, { rounds: 1, patience: 0 });
  const local = await trainLocalOnly(prepared, { earlyStopping: { maxEpochs: 2, patience: 1 } });
  const choices = await personalise(prepared, r.weights, local, { earlyStopping: { maxEpochs: 2, patience: 1 } });
  expect(choices).toHaveLength(prepared.shops.length);
  const scratch = prepared.createModel();
  choices.forEach((c, i) => {
    // The shared candidate ("global") is this shop's own body ‖ head.
    expect(c.validation.global).toBe(validationWape(scratch, [prepared.shops[i]!], () => r.weights[i]!));
    expect(c.blend.validationWape).toBeLessThanOrEqual(c.validation.local * (1 + 1e-6));
  });
  scratch.dispose();
});
