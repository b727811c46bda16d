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
import type { DecodedSum, QuantPlan } from '@tally/secagg';

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
