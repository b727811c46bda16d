/** @tally/wire: the message set, the one MessagePack codec, and the parsers for untrusted frames. */

export {
  CLIENT_MESSAGE_TYPES,
  COORDINATOR_MESSAGE_TYPES,
  DP_MECHANISMS,
  MAX_CLIENT_ID,
  MAX_MODEL_SPEC_LENGTH,
  METRIC_NAME_PATTERN,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  ROUND_STATUSES,
  SESSION_SCOPED,
  TASK_ID_PATTERN,
  errorNotice,
} from './messages.ts';
export type {
  AuthResponse,
  Challenge,
  ClientMessageType,
  CoordinatorMessage,
  CoordinatorMessageType,
  DpMechanism,
  DpParams,
  ErrorNotice,
  GlobalModel,
  Hello,
  MessageType,
  NodeClientMessage,
  NodeCoordinatorMessage,
  NodeOnlyClientMessage,
  OfferReply,
  QuantParams,
  RoundResult,
  RoundStatus,
  TaskOffer,
  Welcome,
  TaskDescriptor,
} from './messages.ts';
export { CLOSE_CODES, ProtocolError, ProtocolErrorCode, isProtocolError, isProtocolErrorCode } from './errors.ts';
export { DEFAULT_LIMITS } from './limits.ts';
export { DECLINE_REASONS, DeclineReason, ROUND_REASONS, RoundReason } from './reasons.ts';
export type { WireLimits } from './limits.ts';
export { decode, encode, encodeParts } from './codec.ts';
export type { AnyMessage, DecodeBudget } from './codec.ts';
export { PRE_AUTH_BUDGET, frameBudget } from './frame-budget.ts';
export type { FrameBudget } from './frame-budget.ts';
export { MAX_FRAME_DEPTH } from './frame-scan.ts';
export { assertIdsIn, parseClientMessage, parseCoordinatorMessage } from './parse.ts';
export { DTYPES } from './vector.ts';
export type { DType, WireVector } from './vector.ts';
export { authTranscript } from './auth.ts';
export { isLoopbackHost } from './loopback.ts';
export { readJsonLines } from './jsonl.ts';
export { readTextIfExists } from './text-file.ts';
export type { JsonLines } from './jsonl.ts';
/** Field-path and plain-object helpers, shared with the config parsers (untrusted JSON there too). */
export { at as fieldPath, isPlainObject } from './_assert.ts';
