/** @tally/coordinator: the WebSocket server that enrols, authenticates and runs federated rounds with secure aggregation. */

export { COORDINATOR_VERSION, maxPayloadFor, startCoordinator } from './coordinator.ts';
export type { ConsoleAccess, Coordinator, CoordinatorOptions } from './coordinator.ts';
export { CONSOLE_TOKEN_FILE, consoleTokenPath, ensureConsoleToken, readConsoleToken } from './console/token.ts';
export { DROP_REASONS, dropReasonClass } from './console/metrics.ts';
export type { DropReason } from './console/metrics.ts';
export type { ConsoleSnapshot, RoundView, ShopView } from './console/state.ts';
export {
  DEFAULT_CORRUPT_FRACTION,
  DEFAULT_DATA_DIR,
  DEFAULT_DEADLINES,
  DEFAULT_ENROLMENT,
  DEFAULT_GRAPH,
  DEFAULT_HOST,
  DEFAULT_LIMITS,
  DEFAULT_PORT,
  loadCoordinatorConfig,
  dpPlanOf,
  parseCoordinatorConfig,
  quantPlanOf,
} from './config.ts';
export type { TaskDpConfig } from './dp-config.ts';
export type { CoordinatorConfig, DeadlinesConfig, LimitsConfig, ListenConfig, TaskConfig, TaskQuantConfig, TlsConfig } from './config.ts';
export { ConfigError } from './_assert.ts';
export { loadEnrolment, parseEnrolment } from './enrolment.ts';
export { DirLockedError, LOCK_FILE, acquireDirLock } from './lock.ts';
export type { DirLock } from './lock.ts';
export type { EnrolledClient, Enrolment } from './enrolment.ts';
export { DEFAULT_DROPOUT_TOLERANCE, GRAPH_KINDS, chooseRoundShape } from './cohort.ts';
export type { GraphKind, RoundShape } from './cohort.ts';
export { createLogger, formatLogFields, formatLogLine, formatStageLine, silentLogger } from './logger.ts';
export type { LogFields, Logger, LogLevel, StageReport } from './logger.ts';
export type { CoordinatorEvent, CoordinatorListener, TaskSummary } from './events.ts';
export { HISTORY_LENGTH } from './status.ts';
export type { RoundSummary, Status, TaskStage } from './status.ts';
export { AUDIT_FILE, readAuditLog } from './audit-log.ts';
export type { AuditDp, AuditDrop, AuditLogContents, AuditRecord } from './audit-log.ts';
export { CHECKPOINT_FILE, CHECKPOINT_FORMAT, CheckpointError, loadCheckpoint } from './checkpoint.ts';
export type { Checkpoint } from './checkpoint.ts';
export {
  STRATEGY_DEFAULTS,
  STRATEGY_NAMES,
  createStrategy,
  decodeStrategyState,
  encodeStrategyState,
  parseStrategyConfig,
} from './strategies.ts';
export type { ResolvedStrategyConfig, Strategy, StrategyConfig, StrategyName, StrategyState } from './strategies.ts';
