/**
 * Refusing an unmasked aggregate that honest clients cannot produce (issue 8).
 * Secure aggregation hides each input, so the coordinator can only check the sum.
 * Every honest client's encoding (secagg quantize.ts, encodeUpdate) has count lane 1,
 * weight w ∈ [MIN_HONEST_WEIGHT, weightBound], and update lanes round(w·clip(δ)·2^f)
 * with ‖clip(δ)‖ ≤ clipNorm and less than one unit of rounding per lane. Hence, over
 * S survivors:
 *   contributors = S;  S·MIN_HONEST_WEIGHT ≤ Σw ≤ S·weightBound;
 *   ‖Σ lanes‖ / 2^f ≤ Σw·clipNorm + √m·S·2^-f (+ a float tolerance).
 * A sum outside these is refused with a reason code; the round aborts, nothing is
 * applied. Inside them a dishonest client can still bias the mean: any weight in
 * [0, weightBound] and any update of norm ≤ clipNorm (or, by cancelling against the
 * honest sum, a net aggregate anywhere within the bounds). Checking each input
 * needs zero-knowledge proofs on masked inputs, which Tally does not have.
 */
import type { DecodedSum, DpPlan, QuantPlan } from '@tally/secagg';

/** Smallest weight encodeUpdate accepts from an honest client (0: contributes nothing). */
export const MIN_HONEST_WEIGHT = 0;
/** Relative tolerance for float rounding in clipping (clip scale and products in doubles). */
const FLOAT_TOLERANCE = 1e-6;

export const AGGREGATE_REFUSALS = ['AGG_CONTRIBUTORS', 'AGG_WEIGHT', 'AGG_NORM'] as const;
export type AggregateRefusalCode = (typeof AGGREGATE_REFUSALS)[number];

export interface AggregateRefusal {
  readonly code: AggregateRefusalCode;
  /** For the coordinator's audit log only (it names aggregate values). */
  readonly detail: string;
}

/** Null when the aggregate is possible for `survivors` honest clients, else why not. */
export function checkAggregate(plan: QuantPlan, sum: Uint32Array, decoded: DecodedSum, survivors: number): AggregateRefusal | null {
  if (decoded.contributors !== survivors) {
    return { code: 'AGG_CONTRIBUTORS', detail: `count lane says ${decoded.contributors} contributors, but ${survivors} inputs are in the sum` };
  }
  const lo = survivors * MIN_HONEST_WEIGHT;
  const hi = survivors * plan.weightBound;
  if (decoded.totalWeight < lo || decoded.totalWeight > hi) {
    return { code: 'AGG_WEIGHT', detail: `total weight ${decoded.totalWeight} is outside [${lo}, ${hi}] for ${survivors} survivors` };
  }
  let sq = 0;
  for (let i = 0; i < plan.modelLength; i++) {
    const v = (sum[i]! | 0) / plan.scale;
    sq += v * v;
  }
  const norm = Math.sqrt(sq);
  const bound = decoded.totalWeight * plan.clipNorm * (1 + FLOAT_TOLERANCE) + (Math.sqrt(plan.modelLength) * survivors) / plan.scale;
  if (norm > bound) {
    return { code: 'AGG_NORM', detail: `‖Σ w·δ‖ = ${norm.toPrecision(6)} exceeds Σw·clipNorm + rounding slack = ${bound.toPrecision(6)}` };
  }
  return null;
}

/**
 * The same refusal for a distributed-DP sum (secagg dp-mechanism.ts), whose lanes carry
 * noise and no weight: each honest shop's lanes are its rounded, rotated update r_u with
 * ‖r_u‖₂ ≤ Δ2 (conditional rounding guarantees it, KLS21 §4.1) plus N_Z(0, σ²) per lane,
 * and a count lane of 1. Over S survivors:
 *   contributors = S;
 *   ‖Σ lanes‖₂ ≤ S·Δ2 + ‖noise‖₂, the noise sum being (S·σ²)-sub-Gaussian per lane (the
 *   discrete Gaussian N_Z(0, σ²) is σ²-sub-Gaussian: Canonne, Kamath, Steinke 2020), so
 *   ‖noise‖₂² ≤ S·σ²·(D + 2√(D·L) + 2L) except with probability e^-L (Hsu, Kakade,
 *   Zhang 2012, Thm. 1), L = ln(1/wrapProbability).
 * The norm is taken on the centred lanes before the inverse rotation (the rotation is
 * orthogonal, so it is the same norm). An honest sum is refused with probability at most
 * wrapProbability per round; the check bounds the magnitude a dishonest shop adds to
 * S·Δ2 plus the noise's slack, it cannot see the direction.
 */
export function checkDpAggregate(plan: DpPlan, sum: Uint32Array, contributors: number, survivors: number): AggregateRefusal | null {
  if (contributors !== survivors) {
    return { code: 'AGG_CONTRIBUTORS', detail: `count lane says ${contributors} contributors, but ${survivors} inputs are in the sum` };
  }
  const D = plan.paddedLength;
  let sq = 0;
  for (let i = 0; i < D; i++) {
    const v = sum[i]! | 0;
    sq += v * v;
  }
  const norm = Math.sqrt(sq);
  const L = Math.log(1 / plan.wrapProbability);
  const noise = Math.sqrt(survivors * plan.localSigma2 * (D + 2 * Math.sqrt(D * L) + 2 * L));
  const bound = (survivors * plan.l2Sensitivity + noise) * (1 + FLOAT_TOLERANCE);
  if (norm > bound) {
    return { code: 'AGG_NORM', detail: `‖Σ lanes‖ = ${norm.toPrecision(6)} lattice units exceeds S·Δ2 + the noise's tail bound = ${bound.toPrecision(6)}` };
  }
  return null;
}
