/**
 * The distributed discrete Gaussian mechanism (Kairouz, Liu, Steinke, ICML 2021,
 * arXiv:2102.06387, Algorithms 1-2) in the ring Z_2^32 of secure aggregation.
 *
 * Client (encodeDpUpdate), per round:
 *   1. clip δ to L2 norm C (quantize.ts `_clipScale`);
 *   2. scale to the lattice: x = δ·(c/C), so ‖x‖ ≤ c lattice units (c = plan.latticeClip);
 *   3. pad to D = 2^⌈log2 m⌉ and rotate: x ← H·S·x/√D (dp-rotation.ts), public signs;
 *   4. conditional randomized rounding (KLS21 §4.1): round every lane up with
 *      probability equal to its fractional part, and redraw the whole vector until
 *      ‖round(x)‖₂ ≤ Δ2 (the bound below), so the sensitivity holds with certainty;
 *   5. add N_Z(0, σ²) to every lane (dp-noise.ts, exact), wrap into Z_2^32;
 *   6. append a count lane (1 per shop), as in the plain layout.
 * Server (decodeDpSum), after unmasking: read lanes as int32 (modular centring to
 * [-2^31, 2^31)), rotate back, divide by c/C: Σ clip(δ) + noise, in update units.
 *
 * Vector layout: lanes 0..D-1 the rotated noisy update, lane D the contributor count.
 * There are no weight, clipped or metric lanes: each would reveal a shop's value without
 * noise. In DP mode shops weigh equally and report no metrics through the sum.
 *
 * Noise and dropouts: σ² is set so that the threshold t (the fewest shops whose sum
 * the coordinator can ever unmask) already carries the target: t·σ² = z²·Δ2². More
 * survivors add more noise (the accountant reports the level actually reached); fewer
 * than t cannot be unmasked at all.
 */
import { fail, SecAggErrorCode } from './errors.ts';
import { _clipScale, MAX_VECTOR_LENGTH, RING_BITS } from './quantize.ts';
import type { RandomSource } from './random.ts';
import { osRandom } from './random.ts';
import { UniformStream } from './dp-random.ts';
import { discreteGaussian, type DiscreteGaussian } from './dp-noise.ts';
import { paddedLength, rotate, rotationSigns, unrotate } from './dp-rotation.ts';
import { DP_ORDERS, ddgRdpCurve, epsilonFromRdp, noiseMultiplierFor, type DdgRound } from './dp-accountant.ts';

export interface DpConfig {
  /** L2 bound C on one shop's update, in update units. */
  readonly clipNorm: number;
  /** Max number n of shops whose vectors are summed. */
  readonly cohortSize: number;
  /** t: the secure-aggregation threshold, the fewest survivors whose sum can be unmasked. */
  readonly minSurvivors: number;
  /**
   * z ≥ 0: the noise in a sum of exactly t shops has standard deviation z·Δ2 per lane
   * (Δ2 the rounded norm bound). 0 is the noiseless path (rounding only).
   */
  readonly noiseMultiplier: number;
  /** β of conditional rounding (KLS21 Thm. 2): Δ2 holds on a first draw with probability ≥ 1-β. Default e^-3. */
  readonly beta?: number;
  /** Bound on the probability that any lane of an honest sum wraps modulo 2^32 in a round. Default 1e-9. */
  readonly wrapProbability?: number;
}

export interface DpPlan {
  readonly clipNorm: number;
  readonly cohortSize: number;
  readonly minSurvivors: number;
  readonly noiseMultiplier: number;
  readonly beta: number;
  readonly wrapProbability: number;
  readonly modelLength: number;
  /** D: modelLength padded to a power of two (the rotation's size). */
  readonly paddedLength: number;
  /** D + 1. */
  readonly vectorLength: number;
  readonly countLane: number;
  /** c: the clip norm in lattice units. */
  readonly latticeClip: number;
  /** Lattice units per update unit: c / C (1/γ in KLS21). */
  readonly scale: number;
  /** Δ2: L2 sensitivity after rounding, in lattice units (KLS21 Thm. 2 with β). */
  readonly l2Sensitivity: number;
  /** Δ1 ≤ min(Δ2², √D·Δ2) for an integer vector. */
  readonly l1Sensitivity: number;
  /** σ² of each shop's noise per lane, an integer (0 on the noiseless path). */
  readonly localSigma2: number;
  /** k: lanes are sized for k sub-Gaussian standard deviations. */
  readonly tailStdDevs: number;
  /** Bits the widest lane of an honest sum needs (sign included), at most 32. */
  readonly bitsNeeded: number;
  readonly headroomBits: number;
}

export const DEFAULT_BETA = Math.exp(-3);
export const DEFAULT_WRAP_PROBABILITY = 1e-9;
/** Largest lattice clip: rounded lanes stay below 2^25, their squares below 2^50 (exact in float64). */
const MAX_LATTICE_CLIP = 2 ** 24;
/** Largest per-shop σ: the sampler's limit (dp-noise.ts MAX_SIGMA2 = 2^44). */
const MAX_LOCAL_SIGMA = 2 ** 22;
/** Refuse plans whose rounding inflates the sensitivity by more than this fraction. */
export const MAX_ROUNDING_INFLATION = 0.05;
/** Redraws of conditional rounding before giving up (each succeeds with probability ≥ 1-β). */
const MAX_ROUNDING_ATTEMPTS = 64;
const MAX_SIGNED = 2 ** 31 - 1;

const BadConfig = SecAggErrorCode.BadConfig;
const BadMessage = SecAggErrorCode.BadMessage;

function bitsFor(maxAbs: number): number {
  return maxAbs === 0 ? 1 : Math.ceil(Math.log2(maxAbs + 1)) + 1;
}

/**
 * KLS21 Theorem 2 (conditional randomized rounding): for ‖x‖₂ ≤ c in R^D, randomized
 * rounding gives ‖round(x)‖₂ ≤ min(c + √D, √(c² + D/4 + √(2 ln(1/β))·(c + √D/2)))
 * with probability ≥ 1 − β (the first term always).
 */
export function roundedL2Bound(c: number, dimension: number, beta: number): number {
  const always = c + Math.sqrt(dimension);
  if (beta <= 0) return always;
  const likely = Math.sqrt(c * c + dimension / 4 + Math.sqrt(2 * Math.log(1 / beta)) * (c + Math.sqrt(dimension) / 2));
  return Math.min(always, likely);
}

function need(ok: boolean, message: string): void {
  if (!ok) fail(BadConfig, `dp plan: ${message}`);
}

/**
 * Validate a DP configuration and size the lattice. Picks the largest lattice clip c
 * (finest grid, least rounding error) for which an honest sum of n shops stays inside
 * (-2^31, 2^31) on every lane except with probability wrapProbability:
 *   k·n·c/√D + n + k·√(n·σ²) ≤ 2^31 − 1,  k = √(2 ln(4D/p)),
 * (each rotated lane of the signal sum is sub-Gaussian with variance proxy ‖Σx‖²/D ≤
 * n²c²/D, rounding adds < 1 per shop, the noise sum is nσ²-sub-Gaussian; a union bound
 * over 2D tails). Refuses (BadConfig, naming the knob) a plan whose rounding would
 * inflate the sensitivity by more than MAX_ROUNDING_INFLATION.
 */
export function planDp(config: DpConfig, modelLength: number): DpPlan {
  if (typeof config !== 'object' || config === null) fail(BadConfig, `dp plan: expected a config object, got ${String(config)}`);
  const { clipNorm, cohortSize: n, minSurvivors: t, noiseMultiplier: z } = config;
  const beta = config.beta ?? DEFAULT_BETA;
  const p = config.wrapProbability ?? DEFAULT_WRAP_PROBABILITY;
  need(typeof clipNorm === 'number' && Number.isFinite(clipNorm) && clipNorm > 0, `expected clipNorm to be a finite number > 0, got ${String(clipNorm)}`);
  need(Number.isInteger(n) && n >= 1 && n <= 2 ** 20, `expected cohortSize to be an integer in [1, 2^20], got ${String(n)}`);
  need(Number.isInteger(t) && t >= 1 && t <= n, `expected minSurvivors to be an integer in [1, cohortSize = ${n}], got ${String(t)}`);
  need(typeof z === 'number' && Number.isFinite(z) && z >= 0, `expected noiseMultiplier to be a finite number ≥ 0, got ${String(z)}`);
  need(typeof beta === 'number' && beta > 0 && beta < 1, `expected beta in (0, 1), got ${String(beta)}`);
  need(typeof p === 'number' && p > 0 && p < 1, `expected wrapProbability in (0, 1), got ${String(p)}`);
  need(Number.isInteger(modelLength) && modelLength >= 1 && modelLength <= MAX_VECTOR_LENGTH / 2, `expected modelLength to be an integer in [1, 2^27], got ${String(modelLength)}`);

  const D = paddedLength(modelLength);
  const k = Math.sqrt(2 * Math.log((4 * D) / p));
  const sigma2For = (c: number): number => {
    if (z === 0) return 0;
    const s = (z * roundedL2Bound(c, D, beta)) / Math.sqrt(t);
    return Math.max(1, Math.ceil(s * s));
  };
  const laneBound = (c: number): number => (k * n * c) / Math.sqrt(D) + n + k * Math.sqrt(n * sigma2For(c));
  const fits = (c: number): boolean => laneBound(c) <= MAX_SIGNED && sigma2For(c) <= MAX_LOCAL_SIGMA * MAX_LOCAL_SIGMA;

  const knobs = `lower noiseMultiplier (${z}) or cohortSize (${n}), raise minSurvivors (${t}), or shrink the model (${modelLength} parameters, padded to ${D})`;
  need(fits(1e-9), `even the coarsest lattice does not fit the ${RING_BITS}-bit ring (noise alone needs ${bitsFor(laneBound(1e-9))} bits): ${knobs}`);
  let lo = 1e-9;
  let hi = MAX_LATTICE_CLIP;
  if (fits(hi)) lo = hi;
  else {
    for (let i = 0; i < 200 && hi - lo > lo * 1e-12; i++) {
      const mid = (lo + hi) / 2;
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
  }
  const c = lo;
  const l2 = roundedL2Bound(c, D, beta);
  const inflation = l2 / c - 1;
  need(
    inflation <= MAX_ROUNDING_INFLATION,
    `the ${RING_BITS}-bit ring leaves a lattice clip of only ${c.toPrecision(4)} units for ${D} rotated lanes, so rounding would inflate the sensitivity by ${(100 * inflation).toFixed(1)}% (limit ${100 * MAX_ROUNDING_INFLATION}%): ${knobs}`,
  );
  const sigma2 = sigma2For(c);
  const bitsNeeded = bitsFor(laneBound(c));
  return Object.freeze({
    clipNorm,
    cohortSize: n,
    minSurvivors: t,
    noiseMultiplier: z,
    beta,
    wrapProbability: p,
    modelLength,
    paddedLength: D,
    vectorLength: D + 1,
    countLane: D,
    latticeClip: c,
    scale: c / clipNorm,
    l2Sensitivity: l2,
    l1Sensitivity: Math.min(l2 * l2, Math.sqrt(D) * l2),
    localSigma2: sigma2,
    tailStdDevs: k,
    bitsNeeded,
    headroomBits: RING_BITS - bitsNeeded,
  });
}

/** The accountant's view of one round of `plan` whose sum carries `noisyShops` shops' noise. */
export function dpRound(plan: DpPlan, noisyShops: number = plan.minSurvivors): DdgRound {
  return {
    l2Sensitivity: plan.l2Sensitivity,
    l1Sensitivity: plan.l1Sensitivity,
    localSigma2: plan.localSigma2,
    noisyShops,
    dimension: plan.paddedLength,
  };
}

export interface DpTarget {
  readonly epsilon: number;
  readonly delta: number;
  readonly rounds: number;
}

/**
 * A plan that meets (ε, δ) over `rounds` rounds even if every round has only t survivors:
 * z from the Gaussian curve, then checked (and raised by 0.1% steps if needed) against the
 * full KLS21 curve with the integer σ² actually used.
 */
export function planDpForTarget(config: Omit<DpConfig, 'noiseMultiplier'>, modelLength: number, target: DpTarget): DpPlan {
  let z = noiseMultiplierFor(target.epsilon, target.delta, target.rounds);
  for (let i = 0; i < 100; i++) {
    const plan = planDp({ ...config, noiseMultiplier: z }, modelLength);
    if (planEpsilon(plan, target.delta, target.rounds) <= target.epsilon) return plan;
    z *= 1.001;
  }
  return fail(BadConfig, `dp plan: no noise multiplier near ${z} meets ε = ${target.epsilon} over ${target.rounds} rounds`);
}

/** ε over `rounds` rounds of `plan`, each with `noisyShops` shops' noise in the sum (default t). */
export function planEpsilon(plan: DpPlan, delta: number, rounds: number, noisyShops: number = plan.minSurvivors): number {
  const curve = ddgRdpCurve(dpRound(plan, noisyShops));
  for (let i = 0; i < curve.length; i++) curve[i] = curve[i]! * rounds;
  return epsilonFromRdp(DP_ORDERS, curve, delta).epsilon;
}

const samplers = new Map<number, DiscreteGaussian>();
function samplerFor(sigma2: number): DiscreteGaussian {
  let g = samplers.get(sigma2);
  if (g === undefined) {
    if (samplers.size >= 8) samplers.clear(); // bound the cached tables
    g = discreteGaussian(sigma2);
    samplers.set(sigma2, g);
  }
  return g;
}

export interface DpEncoded {
  readonly lanes: Uint32Array;
  readonly clipped: boolean;
  /** How many roundings were drawn before one met Δ2 (≥ 1). */
  readonly roundingAttempts: number;
}

/**
 * Steps 1-6 above for one shop. `seed` is the round's public rotation seed
 * (dp-rotation.ts rotationSeed). Refuses (BadMessage) a delta of the wrong length or
 * with NaN/±Infinity. All randomness (rounding and noise) comes from `random`, through
 * one AES-CTR stream keyed by 32 fresh bytes of it.
 */
export function encodeDpUpdate(plan: DpPlan, delta: Float32Array, seed: Uint8Array, random: RandomSource = osRandom): DpEncoded {
  const m = plan.modelLength;
  const D = plan.paddedLength;
  if (!(delta instanceof Float32Array)) fail(BadMessage, `encodeDpUpdate: expected delta to be a Float32Array, got ${typeof delta}`);
  if (delta.length !== m) fail(BadMessage, `encodeDpUpdate: expected delta of length ${m} (the model's), got ${delta.length}`);
  for (let i = 0; i < m; i++) {
    if (!Number.isFinite(delta[i]!)) fail(BadMessage, `encodeDpUpdate: expected a finite delta, got ${delta[i]} at index ${i}: the local training diverged; lower the learning rate or skip this round`);
  }
  const { scale: clipScale, clipped } = _clipScale(delta, plan.clipNorm);
  const x = new Float64Array(D);
  const factor = clipScale * plan.scale;
  for (let i = 0; i < m; i++) x[i] = delta[i]! * factor;
  rotate(x, rotationSigns(seed, D));

  const stream = new UniformStream(random);
  const rounded = new Int32Array(D);
  // Σ r² of integers below 2^50 each, summed in float64: relative error ≤ D·2^-53 ≤ 2^-25,
  // so accepting sums ≤ Δ2²·(1 − 2^-24) guarantees the exact sum is ≤ Δ2².
  const limit = plan.l2Sensitivity * plan.l2Sensitivity * (1 - 2 ** -24);
  let attempts = 0;
  for (;;) {
    attempts++;
    let sumSq = 0;
    for (let i = 0; i < D; i++) {
      // Randomized rounding as quantize.ts _stochasticRound (up iff u < frac·2^32), inlined.
      const v = x[i]!;
      const f = Math.floor(v);
      const r = stream.next32() < (v - f) * 4294967296 ? f + 1 : f;
      rounded[i] = r;
      sumSq += r * r;
    }
    if (sumSq <= limit) break;
    if (attempts >= MAX_ROUNDING_ATTEMPTS) {
      fail(BadMessage, `encodeDpUpdate: ${attempts} randomized roundings all exceeded the norm bound ${plan.l2Sensitivity}: raise beta in the plan`);
    }
  }

  const lanes = new Uint32Array(plan.vectorLength);
  if (plan.localSigma2 > 0) {
    const g = samplerFor(plan.localSigma2);
    for (let i = 0; i < D; i++) lanes[i] = (rounded[i]! + g.sample(stream)) >>> 0;
  } else {
    for (let i = 0; i < D; i++) lanes[i] = rounded[i]! >>> 0;
  }
  lanes[plan.countLane] = 1;
  return { lanes, clipped, roundingAttempts: attempts };
}

export interface DpDecoded {
  /** Σ over contributors of clip(δ), plus the noise, in update units (float64). */
  readonly sumDelta: Float64Array;
  /** sumDelta / contributors (unweighted mean); zeros when nobody contributed. */
  readonly meanDelta: Float32Array;
  readonly contributors: number;
  /** Standard deviation of the noise on each coordinate of sumDelta, in update units. */
  readonly noiseStd: number;
}

/**
 * The server side: modular centring, inverse rotation, de-scaling. Refuses
 * (BadMessage) a sum of the wrong length or a contributor count outside [0, cohortSize].
 */
export function decodeDpSum(plan: DpPlan, sum: Uint32Array, seed: Uint8Array): DpDecoded {
  if (!(sum instanceof Uint32Array)) fail(BadMessage, `decodeDpSum: expected a Uint32Array, got ${typeof sum}`);
  if (sum.length !== plan.vectorLength) fail(BadMessage, `decodeDpSum: expected ${plan.vectorLength} lanes (the plan's vectorLength), got ${sum.length}`);
  const contributors = sum[plan.countLane]! | 0;
  if (contributors < 0 || contributors > plan.cohortSize) {
    fail(BadMessage, `decodeDpSum: expected a contributor count in [0, ${plan.cohortSize}], got ${contributors}`);
  }
  const D = plan.paddedLength;
  const y = new Float64Array(D);
  for (let i = 0; i < D; i++) y[i] = sum[i]! | 0; // centre Z_2^32 onto [-2^31, 2^31)
  unrotate(y, rotationSigns(seed, D));
  const m = plan.modelLength;
  const sumDelta = new Float64Array(m);
  const meanDelta = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    const v = y[i]! / plan.scale;
    sumDelta[i] = v;
    meanDelta[i] = contributors === 0 ? 0 : v / contributors;
  }
  return { sumDelta, meanDelta, contributors, noiseStd: Math.sqrt(contributors * plan.localSigma2) / plan.scale };
}
