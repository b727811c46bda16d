/** @tally/client: the client node (auth, policy, reconnect, secagg) and the Trainer interface it calls. */

export { startClientNode, CLIENT_VERSION, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_QUEUED_FRAMES, NODE_STATUSES } from './node.ts';
export type { ClientNode, ClientNodeOptions, ClientNodeStats, ConnectionState, NodeResult, NodeStatus } from './node.ts';
export type { CheckingTrainer, OfferedModel, Trainer, TrainInput, TrainOutput } from './trainer.ts';
export { POLICY_RULES, checkOffer, checkRoundStart } from './policy.ts';
export type { OfferHistory, Policy, PolicyRule, Refusal, RoundStartContext } from './policy.ts';
export { ConfigError, parseClientConfig, parsePolicy } from './config.ts';
export type { ClientConfig, ParseClientConfigOptions, PeerList } from './config.ts';
export { MAX_PEERS, PeerListError, parsePeerList } from './peers.ts';
export { MAX_REMEMBERED_ROUNDS } from './round.ts';
export { DEFAULT_RECONNECT, backoffDelay } from './backoff.ts';
export type { ReconnectOptions } from './backoff.ts';
export { silentLogger } from './logger.ts';
export type { Logger } from './logger.ts';
export type { RoundStats } from './round.ts';
/** The committed global model a node hands to ClientNodeOptions.onModel. */
export type { GlobalModel } from '@tally/wire';
export { LEDGER_FILE, LEDGER_VERSION, Ledger, readLedger } from './ledger.ts';
export type { DpBudgetNote, LedgerContents, LedgerEntry, OfferEntry, ResultEntry, RevealedEntry, RoundStartEntry, SentEntry } from './ledger.ts';
export { DP_BUDGET_FILE, DpBudgetStore } from './dp-budget-store.ts';
export type { DpSpent } from './dp-budget-store.ts';
export { checkDp } from './dp-consent.ts';
export type { DpCost, DpDecision, DpRefusal } from './dp-consent.ts';
export { ledgerLines, summariseLedger } from './ledger-summary.ts';
export type { LedgerRound, LedgerSummary } from './ledger-summary.ts';
export { serveLedger } from './ledger-page.ts';
export type { LedgerPage } from './ledger-page.ts';
