import { describe, expect, it } from 'vitest';
import { seededRandom } from './_test-random.ts';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import { decodeDpSum, encodeDpUpdate, planDp, planDpForTarget, planEpsilon, roundedL2Bound } from './dp-mechanism.ts';
import type { DpConfig } from './dp-mechanism.ts';
import { rotationSeed, rotationSigns, rotate } from './dp-rotation.ts';
import { simulateRound } from './simulation.ts';

function seededDelta(seed: string, m: number, amplitude: number): Float32Array {
  const bytes = seededRandom(seed)(4 * m);
  const view = new DataView(bytes.buffer);
  return Float32Array.from({ length: m }, (_, i) => amplitude * (view.getUint32(4 * i, true) / 2 ** 32 - 0.5));
}

function addInto(acc: Uint32Array, lanes: Uint32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + lanes[i]!) >>> 0;
}

function expectConfigError(f: () => unknown, ...patterns: RegExp[]): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SecAggError);
    expect((e as SecAggError).code).toBe(SecAggErrorCode.BadConfig);
    for (const p of patterns) expect((e as SecAggError).message).toMatch(p);
    return;
  }
  throw new Error('expected a BadConfig error');
}

/** The clipped update, as the mechanism sees it. */
function clipped(delta: Float32Array, C: number): Float64Array {
  let sq = 0;
  for (const v of delta) sq += v * v;
  const k = Math.min(1, C / Math.sqrt(sq));
  return Float64Array.from(delta, (v) => v * k);
}

const session = new Uint8Array(16).fill(7);

describe('planDp: the bit budget, checked up front', () => {
  it('sizes the lattice to the ring and reports the bits used', () => {
    const plan = planDp({ clipNorm: 1, cohortSize: 16, minSurvivors: 8, noiseMultiplier: 1 }, 1000);
    expect(plan.paddedLength).toBe(1024);
    expect(plan.vectorLength).toBe(1025);
    expect(plan.countLane).toBe(1024);
    expect(plan.bitsNeeded).toBeLessThanOrEqual(32);
    expect(plan.l2Sensitivity).toBeCloseTo(roundedL2Bound(plan.latticeClip, 1024, plan.beta), 9);
    // t·σ² carries the target: t·σ² ≥ z²·Δ2².
    expect(8 * plan.localSigma2).toBeGreaterThanOrEqual(plan.l2Sensitivity ** 2);
  });

  it('refuses a plan the ring cannot hold, naming the knobs', () => {
    // A huge noise multiplier on a large model: the lattice becomes so coarse that
    // rounding would dominate the sensitivity.
    expectConfigError(() => planDp({ clipNorm: 1, cohortSize: 1000, minSurvivors: 2, noiseMultiplier: 5000 }, 1 << 24), /noiseMultiplier \(5000\)/, /cohortSize \(1000\)/, /minSurvivors \(2\)/);
    expectConfigError(() => planDp({ clipNorm: 1, cohortSize: 4, minSurvivors: 5, noiseMultiplier: 1 }, 10), /minSurvivors/, /got 5/);
    expectConfigError(() => planDp({ clipNorm: 0, cohortSize: 4, minSurvivors: 2, noiseMultiplier: 1 }, 10), /clipNorm/);
    expectConfigError(() => planDp({ clipNorm: 1, cohortSize: 4, minSurvivors: 2, noiseMultiplier: -1 }, 10), /noiseMultiplier/);
  });

  it('planDpForTarget meets (ε, δ) over the rounds with only t survivors, and reports more privacy with more', () => {
    const plan = planDpForTarget({ clipNorm: 0.5, cohortSize: 16, minSurvivors: 8 }, 5000, { epsilon: 4, delta: 1e-5, rounds: 20 });
    expect(planEpsilon(plan, 1e-5, 20)).toBeLessThanOrEqual(4);
    expect(planEpsilon(plan, 1e-5, 20)).toBeGreaterThan(3.99);
    expect(planEpsilon(plan, 1e-5, 20, 16)).toBeLessThan(planEpsilon(plan, 1e-5, 20, 8) / 1.3);
  });
});

describe('encodeDpUpdate / decodeDpSum', () => {
  it('conditional rounding: every encoded vector is within Δ2 (noiseless, 40 draws)', () => {
    const plan = planDp({ clipNorm: 1, cohortSize: 4, minSurvivors: 2, noiseMultiplier: 0 }, 200);
    for (let r = 0; r < 40; r++) {
      const { lanes } = encodeDpUpdate(plan, seededDelta(`norm-${r}`, 200, 10), rotationSeed(session, r), seededRandom(`nr-${r}`));
      let sq = 0;
      for (let i = 0; i < plan.paddedLength; i++) sq += (lanes[i]! | 0) ** 2;
      expect(Math.sqrt(sq)).toBeLessThanOrEqual(plan.l2Sensitivity);
    }
  });

  it('noiseless path, end to end through real secure aggregation: the unmasked sum is exactly the sum of encodings, and decodes to Σ clip(δ) within rounding', () => {
    const m = 300;
    const plan = planDp({ clipNorm: 1, cohortSize: 5, minSurvivors: 3, noiseMultiplier: 0 }, m);
    const seed = rotationSeed(session, 4);
    const deltas = Array.from({ length: 5 }, (_, u) => seededDelta(`e2e-${u}`, m, u === 0 ? 1 : 0.05)); // shop 0 is clipped
    const inputs = deltas.map((d, u) => encodeDpUpdate(plan, d, seed, seededRandom(`e2e-r-${u}`)).lanes);
    const dropAt = new Map([[5, 'MaskedInput' as const]]); // client ids are 1-based: inputs[4] drops
    const r = simulateRound({ inputs, threshold: 3, dropAt, session, round: 4, random: seededRandom('e2e-sim') });
    expect(r.sum).toBeDefined();
    expect(r.sum).toEqual(r.plainSum);
    const expectedLanes = new Uint32Array(plan.vectorLength);
    for (let u = 0; u < 4; u++) addInto(expectedLanes, inputs[u]!);
    expect(r.sum).toEqual(expectedLanes);
    const dec = decodeDpSum(plan, r.sum!, seed);
    expect(dec.contributors).toBe(4);
    expect(dec.noiseStd).toBe(0);
    // Rounding error: < 1 lattice unit per lane per shop; in update units < 4·√D/scale in norm.
    let err = 0;
    const truth = new Float64Array(m);
    for (let u = 0; u < 4; u++) {
      const c = clipped(deltas[u]!, 1);
      for (let i = 0; i < m; i++) truth[i] = truth[i]! + c[i]!;
    }
    for (let i = 0; i < m; i++) err += (dec.sumDelta[i]! - truth[i]!) ** 2;
    expect(Math.sqrt(err)).toBeLessThan((4 * Math.sqrt(plan.paddedLength)) / plan.scale);
    expect(Math.sqrt(err)).toBeLessThan(1e-4);
    for (let i = 0; i < m; i++) expect(dec.meanDelta[i]).toBeCloseTo(truth[i]! / 4, 4);
  });

  it('decodes the noiseless sum of rotated, rounded lanes exactly (decode ∘ sum = inverse rotation of the integer sum)', () => {
    const m = 64;
    const plan = planDp({ clipNorm: 1, cohortSize: 3, minSurvivors: 2, noiseMultiplier: 0 }, m);
    const seed = rotationSeed(session, 9);
    const sum = new Uint32Array(plan.vectorLength);
    for (let u = 0; u < 3; u++) addInto(sum, encodeDpUpdate(plan, seededDelta(`x-${u}`, m, 0.1), seed, seededRandom(`xr-${u}`)).lanes);
    const dec = decodeDpSum(plan, sum, seed);
    // Rotating the decoded sum back gives integers: the lanes, exactly.
    const back = Float64Array.from(dec.sumDelta, (v) => v * plan.scale);
    rotate(back, rotationSigns(seed, plan.paddedLength));
    for (let i = 0; i < plan.paddedLength; i++) expect(Math.round(back[i]!)).toBe(sum[i]! | 0);
  });

  it('the decoded noisy sum has the planned variance: within its 1e-4 confidence band over 60 seeded rounds', () => {
    // n = 5 shops, noise for t = 3: each coordinate of the decoded sum minus the truth
    // has variance 5·σ²/scale² (+ rounding < 5/4 lattice units², negligible at σ² ≥ 1e6).
    const m = 256;
    const plan = planDp({ clipNorm: 1, cohortSize: 5, minSurvivors: 3, noiseMultiplier: 0.8 }, m);
    expect(plan.localSigma2).toBeGreaterThan(1e6);
    const expectedVar = (5 * plan.localSigma2) / plan.scale ** 2;
    let sq = 0;
    let count = 0;
    for (let r = 0; r < 60; r++) {
      const seed = rotationSeed(session, 100 + r);
      const deltas = Array.from({ length: 5 }, (_, u) => seededDelta(`v-${r}-${u}`, m, 0.08));
      const sum = new Uint32Array(plan.vectorLength);
      for (let u = 0; u < 5; u++) addInto(sum, encodeDpUpdate(plan, deltas[u]!, seed, seededRandom(`vr-${r}-${u}`)).lanes);
      const dec = decodeDpSum(plan, sum, seed);
      expect(dec.noiseStd ** 2).toBeCloseTo(expectedVar, 9);
      const truth = new Float64Array(m);
      for (const d of deltas) {
        const c = clipped(d, 1);
        for (let i = 0; i < m; i++) truth[i] = truth[i]! + c[i]!;
      }
      for (let i = 0; i < m; i++) {
        sq += (dec.sumDelta[i]! - truth[i]!) ** 2;
        count++;
      }
    }
    // Sample variance of N = 15360 near-Gaussian errors: relative s.e. √(2/N); band ±3.89 s.e.
    const ratio = sq / count / expectedVar;
    expect(Math.abs(ratio - 1)).toBeLessThan(3.89 * Math.sqrt(2 / count));
  });

  it('with noise, through real secure aggregation and a dropout, still decodes near Σ clip(δ)', () => {
    const m = 100;
    const plan = planDp({ clipNorm: 1, cohortSize: 4, minSurvivors: 2, noiseMultiplier: 0.5 }, m);
    const seed = rotationSeed(session, 11);
    const deltas = Array.from({ length: 4 }, (_, u) => seededDelta(`n-${u}`, m, 0.1));
    const inputs = deltas.map((d, u) => encodeDpUpdate(plan, d, seed, seededRandom(`n-r-${u}`)).lanes);
    const r = simulateRound({ inputs, threshold: 2, dropAt: new Map([[2, 'MaskedInput' as const]]), session, round: 11, random: seededRandom('n-sim') });
    expect(r.sum).toEqual(r.plainSum);
    const dec = decodeDpSum(plan, r.sum!, seed);
    expect(dec.contributors).toBe(3);
    let err = 0;
    for (let i = 0; i < m; i++) {
      const t = clipped(deltas[0]!, 1)[i]! + clipped(deltas[2]!, 1)[i]! + clipped(deltas[3]!, 1)[i]!;
      err += (dec.sumDelta[i]! - t) ** 2;
    }
    // Client 2 (inputs[1]) dropped. ‖noise‖² ≈ m·noiseStd²: within a factor 2 (χ²_100 is within [0.5, 1.6]·100 except w.p. < 1e-6).
    expect(err / (m * dec.noiseStd ** 2)).toBeGreaterThan(0.5);
    expect(err / (m * dec.noiseStd ** 2)).toBeLessThan(1.6);
  });

  it('refuses bad input on both sides', () => {
    const plan = planDp({ clipNorm: 1, cohortSize: 4, minSurvivors: 2, noiseMultiplier: 0.5 }, 10);
    const seed = rotationSeed(session, 1);
    const bad = (f: () => unknown): void => {
      expect(f).toThrow(SecAggError);
    };
    bad(() => encodeDpUpdate(plan, new Float32Array(9), seed));
    bad(() => encodeDpUpdate(plan, Float32Array.from({ length: 10 }, (_, i) => (i === 3 ? Number.NaN : 0)), seed));
    bad(() => decodeDpSum(plan, new Uint32Array(10), seed));
    const sum = new Uint32Array(plan.vectorLength);
    sum[plan.countLane] = 5;
    bad(() => decodeDpSum(plan, sum, seed));
  });

  it('each shop draws fresh noise from its random source (two encodings differ; the CSPRNG is the default)', () => {
    const plan = planDp({ clipNorm: 1, cohortSize: 4, minSurvivors: 2, noiseMultiplier: 0.5 }, 32);
    const seed = rotationSeed(session, 1);
    const d = seededDelta('fresh', 32, 0.1);
    expect(encodeDpUpdate(plan, d, seed).lanes).not.toEqual(encodeDpUpdate(plan, d, seed).lanes);
  });
});

const _typecheck: DpConfig = { clipNorm: 1, cohortSize: 1, minSurvivors: 1, noiseMultiplier: 0 };
void _typecheck;
