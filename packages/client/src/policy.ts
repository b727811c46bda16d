/**
 * The client's own consent rules. The coordinator cannot override them: the node
 * checks every TaskOffer and every RoundStart against its policy and refuses what
 * falls outside it (DESIGN.md, "The round").
 *
 * Why each rule:
 * - tasks: a shop's data trains only the models it agreed to.
 * - minCohort: secure aggregation hides an update among the others in the sum; a
 *   cohort of n reveals the sum of n updates, so small cohorts reveal more.
 * - minThreshold: t shares reconstruct a secret; a small t lets fewer colluding
 *   clients (with the server) unmask someone.
 * - maxRounds: every round sends one more (masked) function of the local data.
 */

export interface Policy {
  /** Task ids this client consents to train for. */
  readonly tasks: readonly string[];
  /** Smallest cohort (offer.cohortSize, and the roster in RoundStart) accepted. */
  readonly minCohort: number;
  /** Smallest Shamir threshold accepted (offer.threshold, and RoundStart.threshold). */
  readonly minThreshold: number;
  /** Most rounds this client contributes a masked input to, over the node's lifetime. */
  readonly maxRounds: number;
}

export const POLICY_RULES = ['tasks', 'minCohort', 'minThreshold', 'maxRounds'] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

export interface Refusal {
  /** The policy field that refused. */
  readonly rule: PolicyRule;
  /** Why, for the OfferReply and the log. */
  readonly reason: string;
}

/** The first rule that refuses this offer, or null when the policy accepts it. */
export function checkOffer(
  policy: Policy,
  offer: { readonly taskId: string; readonly cohortSize: number; readonly threshold: number },
  roundsContributed: number,
): Refusal | null {
  if (!policy.tasks.includes(offer.taskId)) {
    return { rule: 'tasks', reason: `task ${offer.taskId} is not in this client's consented tasks` };
  }
  if (offer.cohortSize < policy.minCohort) {
    return { rule: 'minCohort', reason: `cohort of ${offer.cohortSize} is below this client's minimum of ${policy.minCohort}` };
  }
  if (offer.threshold < policy.minThreshold) {
    return { rule: 'minThreshold', reason: `threshold ${offer.threshold} is below this client's minimum of ${policy.minThreshold}` };
  }
  if (roundsContributed >= policy.maxRounds) {
    return { rule: 'maxRounds', reason: `this client already contributed to ${roundsContributed} rounds, its maximum` };
  }
  return null;
}

/**
 * The RoundStart check: the roster and threshold actually used may differ from
 * what the offer promised (clients declined, or a dishonest coordinator), so the
 * policy is checked again before any key is advertised.
 */
export function checkRoundStart(
  policy: Policy,
  start: { readonly roster: readonly unknown[]; readonly threshold: number },
): Refusal | null {
  if (start.roster.length < policy.minCohort) {
    return { rule: 'minCohort', reason: `round roster of ${start.roster.length} is below this client's minimum cohort of ${policy.minCohort}` };
  }
  if (start.threshold < policy.minThreshold) {
    return { rule: 'minThreshold', reason: `round threshold ${start.threshold} is below this client's minimum of ${policy.minThreshold}` };
  }
  return null;
}
