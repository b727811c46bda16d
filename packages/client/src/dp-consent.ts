/**
 * A shop's consent to differential privacy, checked by the shop itself (DESIGN.md,
 * "Trust that participants can check"). Pure: the caller hands in the offer and what
 * the shop has spent (dp-budget-store.ts).
 *
 * The coordinator's declared ε is never charged. From the offer's public parameters
 * the client re-derives the plan itself (secagg planDp: lattice, σ², the rounded norm
 * bound Δ2) and the round's RDP curve with its own accountant (Kairouz, Liu, Steinke,
 * ICML 2021, Prop. 14), charged for t = dp.minSurvivors shops' noise: the fewest whose
 * sum can be unmasked, so the level the round reaches at worst.
 *
 * What it refuses, and why:
 * - no DP while policy.requireDp: the shop wants its contribution noised;
 * - offer.threshold ≠ dp.minSurvivors: the noise is sized for t = minSurvivors
 *   survivors; a round unmasked with fewer would carry less noise than accounted;
 * - offer.cohortSize > dp.cohortSize: the ring was sized for dp.cohortSize shops
 *   (wrap-around, i.e. utility, not privacy; refused as inconsistent all the same);
 * - parameters planDp refuses (they would not fit the ring, or are out of range);
 * - zero noise while policy.requireDp;
 * - a round whose ε, composed with what was spent, exceeds policy.maxEpsilon at
 *   policy.delta (DECLINE_DP_BUDGET).
 */
import { DP_ORDERS, composeRdp, ddgRdpCurve, dpRound, epsilonFromRdp, planDp, planEpsilon, type DpPlan } from '@tally/secagg';
import { DeclineReason, type DpParams } from '@tally/wire';
import type { DpSpent } from './dp-budget-store.ts';
import type { Policy } from './policy.ts';

/** A DP round the shop can afford, with what it costs. */
export interface DpCost {
  readonly plan: DpPlan;
  /** This round's RDP curve on DP_ORDERS, for t shops' noise. */
  readonly curve: Float64Array;
  /** δ the budget is counted at: policy.delta, else the task's declared δ. */
  readonly delta: number;
  /** ε of this round alone at δ. */
  readonly epsilonRound: number;
  /** ε spent before this round, and after it, at δ. */
  readonly epsilonBefore: number;
  readonly epsilonAfter: number;
  /** The coordinator's declared ε over its rounds, and this client's own figure for the same rounds. */
  readonly declared: { readonly epsilon: number; readonly rounds: number; readonly computed: number };
}

export interface DpRefusal {
  readonly reason: DeclineReason;
  /** For the shop's log (may name numbers; never sent). */
  readonly message: string;
  /** Not even a fresh budget admits one round of this task: retrying cannot help (exit 2). */
  readonly permanent: boolean;
}

export type DpDecision = { readonly kind: 'plain' } | { readonly kind: 'dp'; readonly cost: DpCost } | { readonly kind: 'refuse'; readonly refusal: DpRefusal };

/** The offer's fields this check reads. */
export interface DpOfferView {
  readonly taskId: string;
  readonly threshold: number | null;
  readonly cohortSize: number;
  readonly modelLength: number;
  readonly dp?: DpParams | undefined;
}

const fmt = (x: number): string => (Number.isFinite(x) ? String(+x.toPrecision(4)) : '∞');

/** ε at δ of an RDP curve (∞ when any order is ∞ everywhere). */
export function epsilonOf(rdp: ArrayLike<number>, delta: number): number {
  return epsilonFromRdp(DP_ORDERS, rdp, delta).epsilon;
}

/** Whether the shop takes part in a round (or task) with these DP parameters, and at what cost. */
export function checkDp(policy: Policy, offer: DpOfferView, spent: DpSpent): DpDecision {
  const dp = offer.dp;
  const refuse = (reason: DeclineReason, message: string, permanent = true): DpDecision => ({ kind: 'refuse', refusal: { reason, message, permanent } });
  if (dp === undefined) {
    if (policy.requireDp === true) {
      return refuse(DeclineReason.BadDp, `task ${offer.taskId} runs without differential privacy, and this shop requires it (policy.requireDp)`);
    }
    return { kind: 'plain' };
  }
  if (offer.threshold !== null && offer.threshold !== dp.minSurvivors) {
    return refuse(
      DeclineReason.BadDp,
      `the noise is sized for ${dp.minSurvivors} survivors (dp.minSurvivors) but the round's threshold is ${offer.threshold}: a sum of fewer shops than the noise assumes could be unmasked`,
    );
  }
  if (offer.cohortSize > dp.cohortSize) {
    return refuse(DeclineReason.BadDp, `a cohort of ${offer.cohortSize} is larger than the ${dp.cohortSize} shops the DP ring was sized for (dp.cohortSize)`);
  }
  let plan: DpPlan;
  try {
    plan = planDp(
      { clipNorm: dp.clipNorm, cohortSize: dp.cohortSize, minSurvivors: dp.minSurvivors, noiseMultiplier: dp.noiseMultiplier, beta: dp.beta, wrapProbability: dp.wrapProbability },
      offer.modelLength,
    );
  } catch (err) {
    return refuse(DeclineReason.BadDp, `the task's DP parameters are unusable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (plan.localSigma2 === 0 && policy.requireDp === true) {
    return refuse(DeclineReason.BadDp, `the task's DP parameters add no noise (noiseMultiplier ${dp.noiseMultiplier}), and this shop requires differential privacy (policy.requireDp)`);
  }
  const delta = policy.delta ?? dp.delta;
  const curve = ddgRdpCurve(dpRound(plan));
  const epsilonRound = epsilonOf(curve, delta);
  const epsilonBefore = spent.rounds === 0 ? 0 : epsilonOf(spent.rdp, delta);
  const epsilonAfter = epsilonOf(composeRdp(spent.rdp, curve), delta);
  const max = policy.maxEpsilon;
  if (max !== undefined && epsilonAfter > max) {
    const permanent = epsilonRound > max;
    return refuse(
      DeclineReason.DpBudget,
      permanent
        ? `one round of task ${offer.taskId} costs ε = ${fmt(epsilonRound)} at δ = ${delta}, more than this shop's whole budget (policy.maxEpsilon ${max}): raise policy.maxEpsilon if the shop accepts it, or ask the operator for a larger task.dp.epsilon per round (more noise)`
        : `the round costs ε = ${fmt(epsilonRound)} at δ = ${delta}; with ε = ${fmt(epsilonBefore)} already spent over ${spent.rounds} rounds the total would be ${fmt(epsilonAfter)}, past policy.maxEpsilon ${max}: this shop's privacy budget is spent`,
      permanent,
    );
  }
  const computed = planEpsilon(plan, dp.delta, dp.rounds);
  return { kind: 'dp', cost: { plan, curve, delta, epsilonRound, epsilonBefore, epsilonAfter, declared: { epsilon: dp.epsilon, rounds: dp.rounds, computed } } };
}
