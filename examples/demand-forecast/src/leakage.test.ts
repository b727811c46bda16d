/**
 * The short CI version of the experiment (issue #11): no path from the test weeks into
 * anything chosen or learnt, and personalisation never loses to local-only on the data
 * a shop can see.
 *
 * The whole pipeline (FedAvg with round selection, local-only and centralised with
 * early stopping, fine-tuning, the choice, the GLM with its ridge) runs twice on the
 * same data, once with the test weeks' sales replaced by garbage. Everything before the
 * final evaluation must come out bit-identical; only the test scores may differ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArms, type ArmsResult } from './arms.ts';
import type { DemandConfigInput } from './config.ts';
import { generateSales, type SalesData } from './data.ts';
import { runFedAvg, type FedAvgResult } from './federated.ts';
import { prepareShops, type PreparedShops } from './prepare.ts';
import { CANDIDATES } from './personalise.ts';
import { BLEND_MARGIN } from '@tally/demand';

const CONFIG: DemandConfigInput = {
  data: { seed: 6, shops: 4, products: 5, days: 220, minHistoryDays: 100 },
  features: { testDays: 14 },
  training: { rounds: 3, roundPatience: 0, batchSize: 64, learningRate: 0.005 },
  baselines: { maxEpochs: 5, patience: 2 },
  backend: 'wasm',
};
const TEST_DAYS = 14;

/** The same data with every sale in the test weeks replaced (and the generator's expectation with it). */
function withTestWeeksChanged(d: SalesData): SalesData {
  const from = d.dates.length - TEST_DAYS;
  return {
    ...d,
    shops: d.shops.map((s) => ({
      ...s,
      units: s.units.map((u, p) => {
        const c = u.slice();
        for (let t = from; t < c.length; t++) c[t] = ((t * 7 + p * 13) % 23) * 3;
        return c;
      }),
    })),
  };
}

interface Run {
  readonly prepared: PreparedShops;
  readonly fed: FedAvgResult;
  readonly arms: ArmsResult;
}

async function runAll(data: SalesData): Promise<Run> {
  const prepared = await prepareShops(CONFIG, { data, logger: { info: () => {}, warn: () => {} } });
  const fed = await runFedAvg(prepared);
  const arms = await runArms(prepared, fed.weights);
  return { prepared, fed, arms };
}

let a: Run;
let b: Run;
beforeAll(async () => {
  const data = generateSales(CONFIG.data);
  a = await runAll(data);
  b = await runAll(withTestWeeksChanged(data));
  // Two whole pipelines: a hang limit, not a speed target (shared machines).
}, 300_000);
afterAll(() => {
  a?.prepared.dispose();
  b?.prepared.dispose();
});

const bits = (w: Float32Array): Uint32Array => new Uint32Array(w.buffer, w.byteOffset, w.length);

describe('no leakage from the test weeks', () => {
  it('splits by date: fit days < validation days < test days, the validation window is the latest training days', () => {
    for (const s of a.prepared.shops) {
      const maxFit = Math.max(...s.fit.day);
      const minVal = Math.min(...s.validation.day);
      const maxVal = Math.max(...s.validation.day);
      const minTest = Math.min(...s.test.day);
      expect(maxFit).toBeLessThan(minVal);
      expect(maxVal).toBeLessThan(minTest);
      expect(maxVal - minVal + 1).toBe(s.validationDays);
      expect(s.fit.rows + s.validation.rows).toBe(s.train.rows);
    }
  });

  it('normalises on training days only: scales, reference prices, MASE scales and training rows ignore the test weeks', () => {
    a.prepared.shops.forEach((s, i) => {
      const o = b.prepared.shops[i]!;
      expect(o.scale).toEqual(s.scale);
      expect(o.refPrice).toEqual(s.refPrice);
      expect(o.maseScale).toBe(s.maseScale);
      expect(o.fit.x).toEqual(s.fit.x);
      expect(o.fit.y).toEqual(s.fit.y);
      expect(o.validation.x).toEqual(s.validation.x);
      expect(o.validation.y).toEqual(s.validation.y);
      // The test rows themselves did change (the check can fail).
      expect(o.test.units).not.toEqual(s.test.units);
    });
  });

  it('stops and chooses on training days only: rounds, epochs, ridge, choices and every model are identical', () => {
    expect(b.fed.bestRound).toBe(a.fed.bestRound);
    expect(bits(b.fed.weights)).toEqual(bits(a.fed.weights));
    expect(b.fed.history.map((r) => r.validationWape)).toEqual(a.fed.history.map((r) => r.validationWape));
    expect(b.arms.local.map((r) => r.epochs)).toEqual(a.arms.local.map((r) => r.epochs));
    a.arms.local.forEach((r, i) => expect(bits(b.arms.local[i]!.weights)).toEqual(bits(r.weights)));
    expect(b.arms.centralised.epochs).toBe(a.arms.centralised.epochs);
    expect(bits(b.arms.centralised.weights)).toEqual(bits(a.arms.centralised.weights));
    expect(b.arms.glm.map((g) => [g.ridge, Array.from(g.beta)])).toEqual(a.arms.glm.map((g) => [g.ridge, Array.from(g.beta)]));
    expect(b.arms.choices.map((c) => [c.choice, c.final, c.blend, c.finetuneEpochs, c.validation])).toEqual(a.arms.choices.map((c) => [c.choice, c.final, c.blend, c.finetuneEpochs, c.validation]));
    a.arms.choices.forEach((c, i) => expect(bits(b.arms.choices[i]!.weights)).toEqual(bits(c.weights)));
    // Only the test scores move.
    expect(b.arms.evaluation.summary.medianWape.personalised).not.toBe(a.arms.evaluation.summary.medianWape.personalised);
  });
});

describe('personalisation', () => {
  it("never loses to local-only on the shop's validation days, and picks the lowest validation WAPE", () => {
    for (const c of a.arms.choices) {
      expect(c.validation[c.choice]).toBeLessThanOrEqual(c.validation.local);
      for (const k of CANDIDATES) expect(c.validation[c.choice]).toBeLessThanOrEqual(c.validation[k]);
      // Fine-tuning starts from the global model, which counts as epoch 0: it never ends worse on validation.
      expect(c.validation.finetuned).toBeLessThanOrEqual(c.validation.global);
      // The forecast used is never worse on validation than local alone, and at most BLEND_MARGIN worse than the best single model (it moves off ½ only for more).
      expect(c.blend.validationWape).toBeLessThanOrEqual(c.validation.local * (1 + 1e-6));
      expect(c.blend.validationWape).toBeLessThanOrEqual(c.validation[c.choice] + BLEND_MARGIN + 1e-6);
      expect(c.mix.reduce((a, p) => a + p.share, 0)).toBeCloseTo(1, 12);
    }
  });

  it('gives every shop a model of its own that the evaluation scores', () => {
    const e = a.arms.evaluation;
    expect(e.summary.methods).toEqual(['personalised', 'federated', 'local', 'centralised', 'glm', 'snaive4', 'naive', 'oracle']);
    for (const s of e.shops) expect(Number.isFinite(s.metrics.personalised?.wape)).toBe(true);
  });
});
