/**
 * The client's own consent rules. The coordinator cannot override them: the node
 * checks every TaskOffer and every RoundStart against its policy and refuses what
 * falls outside it (DESIGN.md, "The round"). Both checks are pure: the caller
 * hands in what the node remembers (rounds contributed, sessions taken part in,
 * the accepted offer, the enrolled peers).
 *
 * Why each rule:
 * - tasks: a shop's data trains only the models it agreed to.
 * - minCohort: secure aggregation hides an update among the others in the sum; a
 *   cohort of n reveals the sum of n updates, so small cohorts reveal more.
 * - minThreshold: t shares reconstruct a secret; a small t lets fewer colluding
 *   clients (with the server) unmask someone.
 * - maxRounds: every round sends one more (masked) function of the local data.
 * - freshSession: every (session, round) runs once. A coordinator that offers the
 *   same one again would run this client twice under one transcript context.
 * - peers: the roster comes from the coordinator. An entry that is not an enrolled
 *   shop (an id not in the peer list, or another key under an enrolled id) is a
 *   key the coordinator may hold; with t of them among a client's neighbours it
 *   reconstructs that client's mask key and unmasks its update. Bonawitz et al.
 *   (CCS 2017) assume a PKI against the active server for exactly this reason: else
 *   it can simulate clients. The shop's own copy of the enrolment list is that PKI.
 * - activeAdversary: without it adverts are unsigned and there is no consistency
 *   round, so a coordinator can substitute keys and show clients different
 *   survivor lists. The mode is the client's call (Policy.allowPassive), not the
 *   coordinator's.
 * - matchesOffer: the client consented to the offer's cohort, threshold, graph kind
 *   and degree; a RoundStart with a lower threshold, a larger roster, another graph
 *   kind or a higher degree is another round than the one it agreed to.
 * - graph: the complete graph (SecAgg) leaves nothing to chance; the Harary graph
 *   (SecAgg+) is private only with probability, and only if its ordering is drawn
 *   independently of the adversary (Bell et al., CCS 2020). Default `complete`: a
 *   shop opts in to SecAgg+.
 * - minMargin: with c corrupt neighbours a lying server unmasks a client iff
 *   c ≥ 2t − k (secagg params.ts, P1), so 2t − k is how many corrupt neighbours the
 *   client tolerates. t > k/2 gives at least 1; a shop may ask for more.
 * - maxAttemptsPerRound: a coordinator that dislikes the drawn Harary graph can
 *   abort and retry with new keys, which re-draws it. Each attempt is one draw, so a
 *   bad graph is accepted with probability ≤ attempts × the per-draw bound; capping
 *   the attempts a client joins per round (and, over its lifetime, at
 *   maxRounds × maxAttemptsPerRound) caps that product.
 */
import { equalBytes, type GraphKind, type RosterEntry } from '@tally/secagg';

/** Default policy.maxAttemptsPerRound: a retry or two after a dropout, not a search. */
export const DEFAULT_MAX_ATTEMPTS_PER_ROUND = 3;
/** Default policy.minMargin (2t − k): what t > k/2 guarantees anyway. */
export const DEFAULT_MIN_MARGIN = 1;

export interface Policy {
  /** Task ids this client consents to train for. */
  readonly tasks: readonly string[];
  /** Smallest cohort (offer.cohortSize, and the roster in RoundStart) accepted. */
  readonly minCohort: number;
  /** Smallest Shamir threshold accepted (offer.threshold, and RoundStart.threshold). */
  readonly minThreshold: number;
  /** Most rounds this client contributes a masked input to, over the node's lifetime. */
  readonly maxRounds: number;
  /**
   * Accept rounds in honest-but-curious mode (RoundStart.activeAdversary false:
   * unsigned adverts, no consistency round). Default false: such rounds are refused.
   */
  readonly allowPassive?: boolean;
  /** Graph kinds accepted: `complete` only (default), or `harary` (SecAgg+ allowed, complete too). */
  readonly graph?: GraphKind;
  /** Smallest margin 2t − k accepted (corrupt neighbours tolerated). Default DEFAULT_MIN_MARGIN. */
  readonly minMargin?: number;
  /** Most attempts (offers accepted) at one round number of a task. Default DEFAULT_MAX_ATTEMPTS_PER_ROUND. */
  readonly maxAttemptsPerRound?: number;
  /**
   * The most differential privacy (ε at `delta`) this shop spends over its lifetime,
   * across tasks: a DP round that would take the composed total past it is refused
   * (dp-consent.ts). Absent: DP rounds are accounted but not capped.
   */
  readonly maxEpsilon?: number;
  /** δ the budget is counted at. Required with maxEpsilon; absent: each task's declared δ. */
  readonly delta?: number;
  /** Refuse tasks that run without differential privacy (or with zero noise). Default false. */
  readonly requireDp?: boolean;
}

/**
 * Every rule. checkOffer reports the first broken of tasks, minCohort, minThreshold,
 * maxRounds, freshSession; checkRoundStart of peers, activeAdversary, minCohort,
 * minThreshold, matchesOffer (the roster's legitimacy before its shape).
 */
export const POLICY_RULES = [
  'tasks',
  'minCohort',
  'minThreshold',
  'maxRounds',
  'freshSession',
  'peers',
  'activeAdversary',
  'matchesOffer',
  'graph',
  'minMargin',
  'maxAttemptsPerRound',
] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

export interface Refusal {
  /** The rule that refused (logged as `(policy.<rule>)`). */
  readonly rule: PolicyRule;
  /** Why, for the OfferReply and the log. */
  readonly reason: string;
}

/** What the node remembers when an offer arrives. */
export interface OfferHistory {
  /** Rounds this node sent a masked input for (policy.maxRounds). */
  readonly roundsContributed: number;
  /** This node already took part in the offer's (session, round). */
  readonly tookPart: boolean;
  /** Offers this node accepted for the same task and round number (earlier attempts). Default 0. */
  readonly attemptsThisRound?: number;
  /** Offers this node accepted over its lifetime. Default 0. */
  readonly attemptsTotal?: number;
}

/** What a RoundStart is checked against besides the policy. */
export interface RoundStartContext {
  /** The offer this node accepted for the round. */
  readonly offered: { readonly cohortSize: number; readonly threshold: number; readonly graph: GraphKind; readonly degree: number };
  /** Enrolled client id -> identity public key, from the shop's peer list; absent: no peer check. */
  readonly enrolled?: ReadonlyMap<number, Uint8Array>;
}

/** The first rule that refuses this offer, or null when the policy accepts it. */
export function checkOffer(
  policy: Policy,
  offer: { readonly taskId: string; readonly cohortSize: number; readonly threshold: number; readonly graph: GraphKind; readonly degree: number },
  history: OfferHistory,
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
  if (history.roundsContributed >= policy.maxRounds) {
    return { rule: 'maxRounds', reason: `this client already contributed to ${history.roundsContributed} rounds, its maximum` };
  }
  if (history.tookPart) {
    return { rule: 'freshSession', reason: 'this client already took part in this session and round; a round is never run twice' };
  }
  const shape = checkShape(policy, offer, 'offered');
  if (shape !== null) return shape;
  const maxAttempts = policy.maxAttemptsPerRound ?? DEFAULT_MAX_ATTEMPTS_PER_ROUND;
  if ((history.attemptsThisRound ?? 0) >= maxAttempts) {
    return { rule: 'maxAttemptsPerRound', reason: `this client already joined ${history.attemptsThisRound} attempts at this round, its maximum (each retry re-draws the graph)` };
  }
  if ((history.attemptsTotal ?? 0) >= policy.maxRounds * maxAttempts) {
    return { rule: 'maxAttemptsPerRound', reason: `this client already joined ${history.attemptsTotal} attempts, its lifetime maximum of maxRounds × maxAttemptsPerRound` };
  }
  return null;
}

/** policy.graph and policy.minMargin against a (graph, k, t). */
function checkShape(policy: Policy, s: { readonly graph: GraphKind; readonly degree: number; readonly threshold: number }, what: string): Refusal | null {
  const allowed = policy.graph ?? 'complete';
  if (s.graph === 'harary' && allowed !== 'harary') {
    return { rule: 'graph', reason: `${what} a sparse (Harary) graph, and this client accepts only the complete graph (policy.graph)` };
  }
  const margin = 2 * s.threshold - s.degree;
  const min = policy.minMargin ?? DEFAULT_MIN_MARGIN;
  if (margin < min) {
    return { rule: 'minMargin', reason: `${what} threshold ${s.threshold} with ${s.degree} neighbours tolerates 2t − k = ${margin} corrupt neighbours, below this client's minimum of ${min}` };
  }
  return null;
}

/**
 * The RoundStart check, before any key is advertised: the roster and threshold
 * actually used may differ from what the offer promised (clients declined, or a
 * dishonest coordinator), and the roster is the coordinator's word until checked
 * against the peer list.
 */
export function checkRoundStart(
  policy: Policy,
  start: { readonly roster: readonly RosterEntry[]; readonly threshold: number; readonly activeAdversary: boolean; readonly graph: GraphKind; readonly degree: number },
  context: RoundStartContext,
): Refusal | null {
  const { enrolled, offered } = context;
  if (enrolled !== undefined) {
    for (const e of start.roster) {
      const key = enrolled.get(e.id);
      if (key === undefined) {
        return { rule: 'peers', reason: `roster entry id ${e.id} is not an enrolled client in this client's peer list` };
      }
      if (!equalBytes(key, e.identityKey)) {
        return { rule: 'peers', reason: `roster entry id ${e.id} carries another identity key than the one enrolled for it in this client's peer list` };
      }
    }
  }
  if (!start.activeAdversary && policy.allowPassive !== true) {
    return {
      rule: 'activeAdversary',
      reason: 'the round runs in honest-but-curious mode (unsigned keys, no consistency check), which this client does not allow (policy.allowPassive)',
    };
  }
  if (start.roster.length < policy.minCohort) {
    return { rule: 'minCohort', reason: `round roster of ${start.roster.length} is below this client's minimum cohort of ${policy.minCohort}` };
  }
  if (start.threshold < policy.minThreshold) {
    return { rule: 'minThreshold', reason: `round threshold ${start.threshold} is below this client's minimum of ${policy.minThreshold}` };
  }
  if (start.roster.length > offered.cohortSize) {
    return { rule: 'matchesOffer', reason: `round roster of ${start.roster.length} is larger than the offered cohort of ${offered.cohortSize}` };
  }
  if (start.threshold < offered.threshold) {
    return { rule: 'matchesOffer', reason: `round threshold ${start.threshold} is below the offered threshold ${offered.threshold}` };
  }
  if (start.graph !== offered.graph) {
    return { rule: 'matchesOffer', reason: `round uses the ${start.graph} graph, the offer said ${offered.graph}` };
  }
  if (start.degree > offered.degree) {
    return { rule: 'matchesOffer', reason: `round degree ${start.degree} is above the offered degree ${offered.degree}` };
  }
  return checkShape(policy, start, 'the round uses');
}
