import { createCipheriv } from 'node:crypto';
import { planDp, planEpsilon, rotationSeed, type RandomSource } from '@tally/secagg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemandConfigInput } from './config.ts';
import { dpAggregate, runDpFedAvg } from './dp-fedavg.ts';
import { studyMinSurvivors, studyPlan, studyTable, type DpStudyCell } from './dp-study.ts';
import { TASK_ID } from './federated.ts';
import { prepareShops, type PreparedShops } from './prepare.ts';

/** A reproducible byte source (AES-256-CTR keystream under a fixed key): tests only. */
function seededRandom(seed: number): RandomSource {
  const key = new Uint8Array(32);
  new DataView(key.buffer).setUint32(0, seed);
  const cipher = createCipheriv('aes-256-ctr', key, new Uint8Array(16));
  return (n) => new Uint8Array(cipher.update(new Uint8Array(n)));
}

/** Deltas with entries N(0, scale²)-ish from a small LCG; reproducible. */
function randomDeltas(count: number, m: number, seed: number, scale: number): Float32Array[] {
  let s = seed >>> 0;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return Array.from({ length: count }, () =>
    Float32Array.from({ length: m }, () => scale * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())),
  );
}

/** Σ min(1, C/‖δ‖)·δ / count in float64: the plain mean of the clipped updates. */
function plainClippedMean(deltas: readonly Float32Array[], clipNorm: number): Float64Array {
  const m = deltas[0]!.length;
  const out = new Float64Array(m);
  for (const d of deltas) {
    let sq = 0;
    for (let i = 0; i < m; i++) sq += d[i]! * d[i]!;
    const f = Math.min(1, clipNorm / Math.sqrt(sq));
    for (let i = 0; i < m; i++) out[i] = out[i]! + (f * d[i]!) / deltas.length;
  }
  return out;
}

const session = new Uint8Array(32).fill(7);

describe('dpAggregate (encode per shop, sum modulo 2^32, decode)', () => {
  it('without noise, equals the plain mean of the clipped updates within the rounding bound', () => {
    const m = 1000;
    const n = 6;
    const C = 0.5;
    const plan = planDp({ clipNorm: C, cohortSize: n, minSurvivors: 4, noiseMultiplier: 0 }, m);
    // Norms ≈ 0.05·√1000 ≈ 1.6 > C: every update is clipped.
    const deltas = randomDeltas(n, m, 1, 0.05);
    const agg = dpAggregate(plan, deltas, rotationSeed(session, 1), seededRandom(1));
    expect(agg.contributors).toBe(n);
    expect(agg.clipped).toBe(n);
    expect(agg.meanNoiseStd).toBe(0);
    const plain = plainClippedMean(deltas, C);
    // Each shop's randomized rounding moves each rotated lane by < 1 lattice unit, so the
    // rounding error of the sum has L2 norm < n·√D; unrotating keeps L2 norms; divided by
    // scale and n: < √D/scale. Plus float32 rounding of the mean (|entries| ≤ C).
    const bound = Math.sqrt(plan.paddedLength) / plan.scale + m * C * 2 ** -23;
    let sq = 0;
    for (let i = 0; i < m; i++) sq += (agg.meanDelta[i]! - plain[i]!) ** 2;
    expect(Math.sqrt(sq)).toBeLessThan(bound);
    // The clipping is visible: the unclipped mean is far from it.
    let far = 0;
    for (let i = 0; i < m; i++) {
      let raw = 0;
      for (const d of deltas) raw += d[i]! / n;
      far += (raw - agg.meanDelta[i]!) ** 2;
    }
    expect(Math.sqrt(far)).toBeGreaterThan(100 * bound);
  });

  it("with noise, the decoded mean's per-lane spread around the plain mean matches the plan's σ", () => {
    const m = 4096; // a power of two: no padded lanes
    const n = 8;
    const C = 1;
    const plan = planDp({ clipNorm: C, cohortSize: n, minSurvivors: 5, noiseMultiplier: 0.8 }, m);
    expect(plan.localSigma2).toBeGreaterThan(100);
    const deltas = randomDeltas(n, m, 2, 0.01);
    const agg = dpAggregate(plan, deltas, rotationSeed(session, 2), seededRandom(2));
    const expected = Math.sqrt(n * plan.localSigma2) / plan.scale / n;
    expect(agg.meanNoiseStd).toBeCloseTo(expected, 12);
    // σ of the sum = √(n/t)·z·Δ2 in lattice units, i.e. ≈ √(n/t)·z·C/n per coordinate of the mean.
    expect(expected).toBeGreaterThan(((Math.sqrt(n / 5) * 0.8 * C) / n) * 0.99);
    const plain = plainClippedMean(deltas, C);
    let s = 0;
    let sq = 0;
    for (let i = 0; i < m; i++) {
      const e = agg.meanDelta[i]! - plain[i]!;
      s += e;
      sq += e * e;
    }
    const mean = s / m;
    const sd = Math.sqrt(sq / m - mean * mean);
    // The unrotated noise is n·σ² per coordinate (orthonormal rotation of independent lanes);
    // the sample sd of 4096 lanes has relative sd ≈ 1/√(2·4096) ≈ 1.1 %: a ±8 % band is ~7 sd.
    expect(sd / expected).toBeGreaterThan(0.92);
    expect(sd / expected).toBeLessThan(1.08);
    expect(Math.abs(mean)).toBeLessThan((7 * expected) / Math.sqrt(m));
  });
});

describe('studyPlan', () => {
  it('sizes the noise for the coordinator threshold and meets the target ε over the rounds', () => {
    expect(studyMinSurvivors(16)).toBe(9);
    expect(studyMinSurvivors(64)).toBe(34);
    const s = { clipNorm: 0.5, delta: 1e-5, rounds: 8 };
    const none = studyPlan(16, 1633, Infinity, s);
    expect(none.localSigma2).toBe(0);
    for (const epsilon of [8, 1]) {
      const plan = studyPlan(16, 1633, epsilon, s);
      expect(plan.minSurvivors).toBe(9);
      const spent = planEpsilon(plan, s.delta, s.rounds);
      expect(spent).toBeLessThanOrEqual(epsilon);
      expect(spent).toBeGreaterThan(0.95 * epsilon);
      // More survivors than t only add noise: less ε.
      expect(planEpsilon(plan, s.delta, s.rounds, 16)).toBeLessThan(spent);
    }
  });
});

describe('studyTable', () => {
  it('groups cells by (shops, ε), ∞ first, and averages the seeds', () => {
    const cell = (shops: number, epsilon: number | null, seed: number, federated: number): DpStudyCell => ({
      shops, seed, epsilon, delta: 1e-5, rounds: 5, minSurvivors: studyMinSurvivors(shops), clipNorm: 0.5, noiseMultiplier: epsilon === null ? 0 : 1,
      localSigma: 0, localSigmaUpdateUnits: 0, stepNoiseStd: 0, bitsNeeded: 29, l2Sensitivity: 1, paddedLength: 2048, epsilonAllSurvive: null,
      medianWape: { federated, local: 0.6 }, pooledWape: { federated }, history: [], seconds: 10 * seed,
    });
    const table = studyTable([cell(64, 8, 1, 0.6), cell(16, 8, 1, 0.6), cell(16, 8, 2, 0.7), cell(16, null, 1, 0.5)]);
    const rows = table.trim().split('\n').slice(2);
    expect(rows.map((r) => r.split('|').slice(1, 4).map((x) => x.trim()))).toEqual([
      ['16 (9)', '∞', '1'],
      ['16 (9)', '8', '1,2'],
      ['64 (34)', '8', '1'],
    ]);
    // Mean ± sample sd over seeds 1 and 2: 65.0 ± 7.1; seconds 15 ± 7.
    expect(rows[1]).toContain('| 65.0 ± 7.1 |');
    expect(rows[1]).toContain('| 15 ± 7 |');
  });
});

const TINY: DemandConfigInput = {
  data: { seed: 4, shops: 3, products: 4, days: 200, minHistoryDays: 100 },
  features: { testDays: 14 },
  training: { rounds: 2, epochsPerRound: 1, batchSize: 32, learningRate: 0.005 },
  baselines: { maxEpochs: 4, patience: 2 },
  backend: 'wasm',
};

describe('runDpFedAvg', () => {
  let prepared: PreparedShops;
  beforeAll(async () => {
    prepared = await prepareShops(TINY, { logger: { info: () => {}, warn: () => {} } });
  });
  afterAll(() => prepared.dispose());

  it('without noise, round 1 moves the global model by the unweighted mean of the clipped trainer deltas', async () => {
    const C = 0.05;
    const plan = planDp({ clipNorm: C, cohortSize: 3, minSurvivors: 2, noiseMultiplier: 0 }, prepared.weightCount);
    const r = await runDpFedAvg(prepared, plan, { rounds: 1, session, random: seededRandom(3) });
    expect(r.history).toHaveLength(1);
    expect(r.history[0]!.contributors).toBe(3);
    // Training is deterministic per (seed, round): recompute the shops' deltas.
    const deltas = [];
    for (const t of prepared.trainers) deltas.push((await t.train({ taskId: TASK_ID, round: 1, weights: prepared.initialWeights })).delta);
    const plain = plainClippedMean(deltas, C);
    const m = prepared.weightCount;
    let sq = 0;
    for (let i = 0; i < m; i++) sq += (r.weights[i]! - prepared.initialWeights[i]! - plain[i]!) ** 2;
    // Rounding bound as above, plus float32 rounding of the weights (|w| < 4).
    expect(Math.sqrt(sq)).toBeLessThan(Math.sqrt(plan.paddedLength) / plan.scale + Math.sqrt(m) * 4 * 2 ** -23);
    expect(r.history[0]!.clipped).toBe(deltas.filter((d) => Math.hypot(...d) > C).length);
  });

  it('with noise, the global model moves away from the noiseless one by about the plan’s σ', async () => {
    const plan = planDp({ clipNorm: 0.05, cohortSize: 3, minSurvivors: 2, noiseMultiplier: 2 }, prepared.weightCount);
    const quiet = planDp({ clipNorm: 0.05, cohortSize: 3, minSurvivors: 2, noiseMultiplier: 0 }, prepared.weightCount);
    const a = await runDpFedAvg(prepared, plan, { rounds: 1, session, random: seededRandom(4) });
    const b = await runDpFedAvg(prepared, quiet, { rounds: 1, session, random: seededRandom(4) });
    const m = prepared.weightCount;
    let sq = 0;
    for (let i = 0; i < m; i++) sq += (a.weights[i]! - b.weights[i]!) ** 2;
    const sd = Math.sqrt(sq / m);
    const expected = a.history[0]!.meanNoiseStd;
    expect(expected).toBeGreaterThan(0);
    // m ≈ 700 lanes: relative sd of the sample sd ≈ 2.7 %; ±20 % is > 7 sd.
    expect(sd / expected).toBeGreaterThan(0.8);
    expect(sd / expected).toBeLessThan(1.2);
  });
});
