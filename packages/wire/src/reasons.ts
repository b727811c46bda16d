/**
 * Why a round ended without a commit, and why a client declined an offer: codes
 * from closed tables, never free text. RoundResult goes to every cohort member,
 * so its reason must not carry aggregate values (a decode error once quoted the
 * other shops' total weight); an OfferReply goes to the coordinator, so a
 * decline must not carry the shop's file paths or column names (a trainer error
 * message would). The details stay local: the coordinator's audit log and log
 * for a round, the client's own log for a decline. Parse refuses any other string.
 */

export const RoundReason = {
  /** No threshold is safe for the cohort the coordinator could offer. */
  NoSafeThreshold: 'ROUND_NO_SAFE_THRESHOLD',
  /** Fewer clients accepted than task.minClients. */
  TooFewAccepted: 'ROUND_TOO_FEW_ACCEPTED',
  /** The coordinator could not start the secagg round. */
  StartFailed: 'ROUND_START_FAILED',
  /** The secagg round aborted (below threshold in a stage, or a protocol failure). */
  SecAggAborted: 'ROUND_SECAGG_ABORTED',
  /** Unmasking failed. */
  UnmaskFailed: 'ROUND_UNMASK_FAILED',
  /** The unmasked sum is not one honest clients can produce. */
  InvalidAggregate: 'ROUND_INVALID_AGGREGATE',
  /** The aggregation strategy refused the update. */
  StrategyRefused: 'ROUND_STRATEGY_REFUSED',
  /** The coordinator is shutting down. */
  CoordinatorClosed: 'ROUND_COORDINATOR_CLOSED',
  /** Any other abort; the audit log says why. */
  Aborted: 'ROUND_ABORTED',
} as const;
export type RoundReason = (typeof RoundReason)[keyof typeof RoundReason];
export const ROUND_REASONS: readonly RoundReason[] = Object.freeze(Object.values(RoundReason));

export const DeclineReason = {
  /** The offer breaks the client's policy (tasks, minCohort, minThreshold, maxRounds, ...). */
  Policy: 'DECLINE_POLICY',
  /** The client already took part in this session and round (a replay). */
  ReplayedRound: 'DECLINE_REPLAYED_ROUND',
  /** The offer's quantisation parameters are unusable. */
  BadQuantization: 'DECLINE_BAD_QUANTIZATION',
  /** Local training failed. */
  TrainingFailed: 'DECLINE_TRAINING_FAILED',
  /** Local training took longer than the offer's deadline. */
  DeadlinePassed: 'DECLINE_DEADLINE_PASSED',
  /** The trainer's update cannot be encoded. */
  BadUpdate: 'DECLINE_BAD_UPDATE',
  /** The client cannot record its participation durably (its state directory). */
  StateUnavailable: 'DECLINE_STATE_UNAVAILABLE',
  /** The task's model (its declaration or length) is not one this client's trainer trains. */
  ModelMismatch: 'DECLINE_MODEL_MISMATCH',
  /** The round's differential-privacy cost would take the shop past its budget (policy.maxEpsilon). */
  DpBudget: 'DECLINE_DP_BUDGET',
  /** The offer's DP parameters are unusable or inconsistent with the round (threshold, cohort), or DP is missing where the shop requires it. */
  BadDp: 'DECLINE_BAD_DP',
} as const;
export type DeclineReason = (typeof DeclineReason)[keyof typeof DeclineReason];
export const DECLINE_REASONS: readonly DeclineReason[] = Object.freeze(Object.values(DeclineReason));
