/**
 * Node-level messages (connection, authentication, task offers, results) and the
 * two unions that travel over a connection. The secagg protocol messages
 * themselves are defined in @tally/secagg and carried unchanged.
 *
 * Connection order: the coordinator sends Challenge; the client answers Hello
 * then AuthResponse (its identity key's signature over the nonce); the
 * coordinator answers Welcome, or ErrorNotice and closes. Per round: TaskOffer ->
 * OfferReply; accepted clients then run the secagg stages; RoundResult ends it.
 */

import type { ClientMessage, GraphKind, ServerMessage } from '@tally/secagg';
import type { ProtocolError, ProtocolErrorCode } from './errors.ts';
import type { DeclineReason, RoundReason } from './reasons.ts';

/** The envelope's `v`. A peer speaking another version gets WIRE_UNSUPPORTED_VERSION. */
export const PROTOCOL_VERSION = 1;

/** Challenge nonces: 32 bytes from the coordinator's CSPRNG, one per connection. */
export const NONCE_BYTES = 32;

/** Client ids are positive integers up to 2^31 (they are also Shamir evaluation points). */
export const MAX_CLIENT_ID = 2 ** 31;

/**
 * Task ids name a task in consent lists, logs and on-disk paths, so they are kept
 * to a path- and log-safe alphabet: 1-128 of [A-Za-z0-9._-], starting alphanumeric.
 */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Longest TaskOffer.modelSpec, in UTF-16 code units: a declaration names the
 * task's product list and holidays, which outgrow the 1024 of free-text strings.
 */
export const MAX_MODEL_SPEC_LENGTH = 65_536;

/** Metric names (keys of RoundResult.metrics): 1-64 of [A-Za-z0-9_.-], starting with a letter. */
export const METRIC_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

// ---- coordinator -> client --------------------------------------------------

/** Sent on connect. The client signs the nonce with its identity key (see AuthResponse). */
export interface Challenge {
  readonly type: 'Challenge';
  readonly nonce: Uint8Array;
  readonly coordinatorVersion: string;
}

/** Authentication succeeded. */
export interface Welcome {
  readonly type: 'Welcome';
  /** The client's stable id, from the enrolment file. */
  readonly clientId: number;
  readonly taskId: string;
  /**
   * What the task will ask of every client, so that a client can refuse at
   * authentication what no round of it could satisfy (its consent, its policy, its
   * trainer's model) instead of declining offer after offer. Optional: absent from
   * coordinators before it was added; clients then check each offer only.
   */
  readonly task?: TaskDescriptor;
}

/** The fixed parameters of a task (Welcome.task). Each round's TaskOffer stays within them. */
export interface TaskDescriptor {
  /** Rounds the task runs. */
  readonly rounds: number;
  /** Weights in the model; every offer's model has this length. */
  readonly modelLength: number;
  /** Most clients offered one round (an offer's cohortSize is at most this). */
  readonly cohortSize: number;
  /** The Shamir threshold when the task fixes one; null when each round derives it from its cohort. */
  readonly threshold: number | null;
  /** Signed adverts and the consistency round (false: honest-but-curious mode). */
  readonly activeAdversary: boolean;
  /** The task's distributed-DP parameters (every offer carries the same); absent: the task runs without DP. */
  readonly dp?: DpParams;
}

/** Distributed-DP mechanisms a TaskOffer may name. */
export const DP_MECHANISMS = ['ddgauss'] as const;
export type DpMechanism = (typeof DP_MECHANISMS)[number];

/**
 * The public parameters of a task's distributed differential privacy (TaskOffer.dp):
 * enough for a client to re-derive the plan itself (secagg planDp: lattice, σ², norm
 * bound) and to account for the round with its own accountant. The declared target
 * (epsilon, delta, rounds) is the coordinator's claim, shown to the shop; a client
 * never charges its budget from it, only from the curve it computes.
 */
export interface DpParams {
  /** 'ddgauss': the distributed discrete Gaussian (Kairouz, Liu, Steinke, ICML 2021). */
  readonly mechanism: DpMechanism;
  /** z: the noise in a sum of minSurvivors shops has standard deviation z·Δ2 per lane. */
  readonly noiseMultiplier: number;
  /** L2 bound on one shop's update, in update units. */
  readonly clipNorm: number;
  /** The threshold t the noise is sized for; every offer's threshold equals it. */
  readonly minSurvivors: number;
  /** Most shops in one sum (sizes the ring, not the privacy). */
  readonly cohortSize: number;
  /** β of conditional randomized rounding. */
  readonly beta: number;
  /** Bound on the chance that a lane of an honest sum wraps modulo 2^32. */
  readonly wrapProbability: number;
  /** The task's declared target: ε at δ over `rounds` rounds. */
  readonly epsilon: number;
  readonly delta: number;
  readonly rounds: number;
}

/** Quantisation parameters the cohort must share (see secagg's quantiser). */
export interface QuantParams {
  readonly clipNorm: number;
  readonly weightBound: number;
  readonly cohortSize: number;
  readonly fractionalBits: number;
  readonly metricCount: number;
  readonly metricBound: number;
}

/** Invites a client into a round. It checks its policy and answers OfferReply. */
export interface TaskOffer {
  readonly type: 'TaskOffer';
  readonly session: Uint8Array;
  readonly round: number;
  readonly taskId: string;
  readonly cohortSize: number;
  readonly threshold: number;
  /** Communication graph the round will use; RoundStart must match (client policy.graph may insist on complete). */
  readonly graph: GraphKind;
  /** Neighbours per client k (cohortSize − 1 for the complete graph); RoundStart may lower it only with the roster. */
  readonly degree: number;
  /** Global weights; public to participants. */
  readonly model: Float32Array;
  readonly quant: QuantParams;
  /**
   * Time budget in milliseconds, counted from receipt, for the client to reach
   * MaskedInput. Relative, because participants' clocks are not synchronised;
   * at most 2^31 - 1 so that it is a valid setTimeout delay.
   */
  readonly deadlineMs: number;
  /**
   * What the model is, as JSON text (e.g. `{"kind":"demand","featureVersion":1,...}`):
   * the task's declaration, which a client checks against its trainer before
   * training and refuses on a mismatch. Absent for tasks that declare none.
   */
  readonly modelSpec?: string;
  /**
   * Distributed DP for this round: the client encodes its update with the
   * parameters' plan (clipping, rotation, rounding, noise; no weight or metric
   * lanes) instead of `quant`. Absent: the plain secure sum.
   */
  readonly dp?: DpParams;
}

export const ROUND_STATUSES = ['committed', 'aborted'] as const;
export type RoundStatus = (typeof ROUND_STATUSES)[number];

export interface RoundResult {
  readonly type: 'RoundResult';
  readonly session: Uint8Array;
  readonly round: number;
  readonly status: RoundStatus;
  /** Why an aborted round ended: a code only; the detail is in the coordinator's audit log. */
  readonly reason?: RoundReason;
  /** Aggregate metrics of the round (already averaged; no single client's values). */
  readonly metrics?: Readonly<Record<string, number>>;
  readonly survivors: number;
}

/**
 * The committed global model: sent to every authenticated client after each
 * committed round, and with `final` when the task is complete (then the connection
 * closes with 1000). Not session-scoped: clients outside the round get it too.
 */
export interface GlobalModel {
  readonly type: 'GlobalModel';
  readonly taskId: string;
  /** The round whose commit produced this model. */
  readonly round: number;
  readonly final: boolean;
  readonly model: Float32Array;
}

/** Sent before closing a connection, or to reject one message. */
export interface ErrorNotice {
  readonly type: 'ErrorNotice';
  readonly code: ProtocolErrorCode;
  readonly message: string;
}

export type NodeCoordinatorMessage = Challenge | Welcome | TaskOffer | RoundResult | GlobalModel | ErrorNotice;
export type CoordinatorMessage = NodeCoordinatorMessage | ServerMessage;

// ---- client -> coordinator --------------------------------------------------

export interface Hello {
  readonly type: 'Hello';
  /** The client's long-term Ed25519 public key, as enrolled. */
  readonly identityKey: Uint8Array;
  readonly clientVersion: string;
}

/** Ed25519 signature by the identity key over the Challenge. */
export interface AuthResponse {
  readonly type: 'AuthResponse';
  readonly sig: Uint8Array;
}

export interface OfferReply {
  readonly type: 'OfferReply';
  readonly session: Uint8Array;
  readonly round: number;
  readonly accept: boolean;
  /** Why the client declined: a code only; the detail stays in the client's log. */
  readonly reason?: DeclineReason;
  /**
   * With accept: the commitment to this round's advert keys (secagg's clientCommitment).
   * Harary rounds relay every member's in RoundStart, so the graph seed is fixed before
   * anyone reveals its keys.
   */
  readonly keyCommit?: Uint8Array;
}

export type NodeOnlyClientMessage = Hello | AuthResponse | OfferReply;
export type NodeClientMessage = NodeOnlyClientMessage | ClientMessage;

// ---- type tables ------------------------------------------------------------

export const COORDINATOR_MESSAGE_TYPES = [
  'Challenge',
  'Welcome',
  'TaskOffer',
  'RoundResult',
  'GlobalModel',
  'ErrorNotice',
  'RoundStart',
  'KeyList',
  'ShareBundle',
  'SurvivorList',
  'UnmaskRequest',
] as const satisfies readonly CoordinatorMessage['type'][];

export const CLIENT_MESSAGE_TYPES = [
  'Hello',
  'AuthResponse',
  'OfferReply',
  'AdvertiseKeys',
  'ShareKeys',
  'MaskedInput',
  'ConsistencySignature',
  'UnmaskShares',
] as const satisfies readonly NodeClientMessage['type'][];

export type CoordinatorMessageType = CoordinatorMessage['type'];
export type ClientMessageType = NodeClientMessage['type'];
export type MessageType = CoordinatorMessageType | ClientMessageType;

/**
 * Whether a message type carries `session` and `round` in the envelope. The
 * connection-level messages do not; every round-level message does.
 */
export const SESSION_SCOPED: { readonly [T in MessageType]: boolean } = {
  Challenge: false,
  Welcome: false,
  TaskOffer: true,
  RoundResult: true,
  GlobalModel: false,
  ErrorNotice: false,
  RoundStart: true,
  KeyList: true,
  ShareBundle: true,
  SurvivorList: true,
  UnmaskRequest: true,
  Hello: false,
  AuthResponse: false,
  OfferReply: true,
  AdvertiseKeys: true,
  ShareKeys: true,
  MaskedInput: true,
  ConsistencySignature: true,
  UnmaskShares: true,
};

// Compile-time check that the type lists above are complete.
type Never<T extends never> = T;
type _CoordinatorTypesListed = Never<Exclude<CoordinatorMessageType, (typeof COORDINATOR_MESSAGE_TYPES)[number]>>;
type _ClientTypesListed = Never<Exclude<ClientMessageType, (typeof CLIENT_MESSAGE_TYPES)[number]>>;

/**
 * The ErrorNotice for `err`, its message cut to fit the peer's default
 * maxStringLength (1024) so that the notice itself is never refused.
 */
export function errorNotice(err: ProtocolError): ErrorNotice {
  const max = 1024;
  const message = err.message.length > max ? `${err.message.slice(0, max - 3)}...` : err.message;
  return { type: 'ErrorNotice', code: err.code, message };
}
