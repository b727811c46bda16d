/**
 * The one MessagePack codec. Frames are envelopes
 *   { v: PROTOCOL_VERSION, type, session?, round?, body }
 * where `session` and `round` are present exactly for session-scoped types
 * (SESSION_SCOPED) and `body` holds the message's other fields. Typed-array
 * fields travel as vectors (see vector.ts).
 *
 * encode() trusts its (typed) input and writes exactly the declared fields:
 * extra properties on the caller's objects are never sent. The receiver's parse
 * is the validation. decode() returns `unknown`: the raw value, or a
 * ProtocolError when the bytes are not one plain MessagePack value within the
 * caller's budget; it never throws. Before msgpackr sees a byte, frame-scan.ts
 * refuses every extension type, nesting beyond MAX_FRAME_DEPTH, and (with a
 * budget) a frame larger, in bytes or values, than its type allows
 * (frame-budget.ts). parse*Message() passes such an error through, so
 *   const msg = parseClientMessage(decode(frame, budget), limits)
 * is the whole inbound pipeline.
 */

import { Packr } from 'msgpackr';
import type {
  EncryptedShare,
  RevealedShare,
} from '@tally/secagg';
import { describe } from './_assert.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';
import type { FrameBudget } from './frame-budget.ts';
import { MAX_FRAME_DEPTH, scanFrame } from './frame-scan.ts';
import {
  CLIENT_MESSAGE_TYPES,
  COORDINATOR_MESSAGE_TYPES,
  PROTOCOL_VERSION,
  SESSION_SCOPED,
  type CoordinatorMessage,
  type DpParams,
  type MessageType,
  type NodeClientMessage,
} from './messages.ts';
import { toWireVector } from './vector.ts';

/**
 * Encoding: useRecords: false writes plain maps (no record extension);
 * structuredClone: false writes no id/pointer extensions; moreTypes stays off, so
 * typed arrays other than Uint8Array are never packed as extensions (encode()
 * turns them into vectors first). encode() thus writes no extension at all.
 * Decoding: these options do NOT stop msgpackr from building records, Set,
 * Error, RegExp, BigInt, Date or typed arrays from extension bytes (its
 * extension table is process-wide and always on); scanFrame() refuses such
 * frames before unpack is called. int64AsType: 'number' turns a 64-bit int into
 * a number (above 2^53 it is not a safe integer, and parse refuses it).
 */
const packr = new Packr({ useRecords: false, structuredClone: false, int64AsType: 'number' });

export type AnyMessage = CoordinatorMessage | NodeClientMessage;

type BodyWriter<M> = (m: M) => Record<string, unknown>;
type BodyWriters = { readonly [K in MessageType]: BodyWriter<Extract<AnyMessage, { readonly type: K }>> };

const shares = (list: readonly EncryptedShare[]) => list.map((s) => ({ peer: s.peer, ct: s.ct }));
const revealed = (list: readonly RevealedShare[]) => list.map((s) => ({ of: s.of, share: s.share }));
/** `{ reason }` when set; an absent optional field is omitted, never sent as nil/undefined. */
const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

/** TaskOffer.dp and TaskDescriptor.dp, field by field (nothing else of the object travels). */
const dpBody = (d: DpParams): DpParams => ({
  mechanism: d.mechanism,
  noiseMultiplier: d.noiseMultiplier,
  clipNorm: d.clipNorm,
  minSurvivors: d.minSurvivors,
  cohortSize: d.cohortSize,
  beta: d.beta,
  wrapProbability: d.wrapProbability,
  epsilon: d.epsilon,
  delta: d.delta,
  rounds: d.rounds,
});

const BODY: BodyWriters = {
  Challenge: (m) => ({ nonce: m.nonce, coordinatorVersion: m.coordinatorVersion }),
  Welcome: (m) => ({
    clientId: m.clientId,
    taskId: m.taskId,
    ...optional('task', m.task === undefined ? undefined : { ...m.task, ...optional('dp', m.task.dp === undefined ? undefined : dpBody(m.task.dp)) }),
  }),
  TaskOffer: (m) => ({
    taskId: m.taskId,
    cohortSize: m.cohortSize,
    threshold: m.threshold,
    graph: m.graph,
    degree: m.degree,
    model: toWireVector(m.model),
    quant: {
      clipNorm: m.quant.clipNorm,
      weightBound: m.quant.weightBound,
      cohortSize: m.quant.cohortSize,
      fractionalBits: m.quant.fractionalBits,
      metricCount: m.quant.metricCount,
      metricBound: m.quant.metricBound,
    },
    deadlineMs: m.deadlineMs,
    ...optional('modelSpec', m.modelSpec),
    ...optional('dp', m.dp === undefined ? undefined : dpBody(m.dp)),
  }),
  GlobalModel: (m) => ({ taskId: m.taskId, round: m.round, final: m.final, model: toWireVector(m.model) }),
  RoundResult: (m) => ({
    status: m.status,
    ...optional('reason', m.reason),
    ...optional('metrics', m.metrics === undefined ? undefined : { ...m.metrics }),
    survivors: m.survivors,
  }),
  ErrorNotice: (m) => ({ code: m.code, message: m.message }),
  RoundStart: (m) => ({
    you: m.you,
    roster: m.roster.map((e) => ({ id: e.id, identityKey: e.identityKey })),
    neighbours: [...m.neighbours],
    graph: m.graph,
    degree: m.degree,
    commitments: m.commitments.map((c) => ({ id: c.id, commit: c.commit })),
    threshold: m.threshold,
    vectorLength: m.vectorLength,
    activeAdversary: m.activeAdversary,
  }),
  KeyList: (m) => ({ adverts: m.adverts.map((a) => ({ id: a.id, cPk: a.cPk, sPk: a.sPk, bPk: a.bPk, sig: a.sig })) }),
  ShareBundle: (m) => ({ shares: shares(m.shares) }),
  SurvivorList: (m) => ({ survivors: [...m.survivors] }),
  UnmaskRequest: (m) => ({
    survivors: [...m.survivors],
    signatures: m.signatures.map((s) => ({ id: s.id, sig: s.sig })),
  }),
  Hello: (m) => ({ identityKey: m.identityKey, clientVersion: m.clientVersion }),
  AuthResponse: (m) => ({ sig: m.sig }),
  OfferReply: (m) => ({ accept: m.accept, ...optional('reason', m.reason), ...optional('keyCommit', m.keyCommit) }),
  AdvertiseKeys: (m) => ({ cPk: m.cPk, sPk: m.sPk, bPk: m.bPk, sig: m.sig }),
  ShareKeys: (m) => ({ shares: shares(m.shares) }),
  MaskedInput: (m) => ({ y: toWireVector(m.y) }),
  ConsistencySignature: (m) => ({ sig: m.sig }),
  UnmaskShares: (m) => ({ selfMaskShares: revealed(m.selfMaskShares), keyShares: revealed(m.keyShares) }),
};

/**
 * One binary frame for `msg`. The result may be a view into msgpackr's reusable
 * output buffer; later encodes never overwrite it, but copy it if you keep it
 * for long (it pins that buffer).
 */
export function encode(msg: AnyMessage): Uint8Array {
  const write = BODY[msg.type] as BodyWriter<AnyMessage> | undefined;
  if (write === undefined) throw new TypeError(`expected a message type, got ${describe(msg.type)}`);
  const head =
    SESSION_SCOPED[msg.type] && 'session' in msg
      ? { v: PROTOCOL_VERSION, type: msg.type, session: msg.session, round: msg.round }
      : { v: PROTOCOL_VERSION, type: msg.type };
  return packr.pack({ ...head, body: write(msg) });
}

/**
 * `encode(msg)` as consecutive pieces whose concatenation is byte for byte the same frame.
 * A MaskedInput comes in two: the frame's head, up to its vector's bytes, then the
 * vector's own memory (no copy). The client node writes the head into room it keeps just
 * before the vector and sends one frame, instead of copying the vector into a packed
 * buffer first (on the bench VM that fresh buffer page-faults: ~4 MB per client per
 * round). Not as two WebSocket fragments: the receiver would copy them back into one
 * message. Every other message is one piece.
 *
 * It relies on the frame's layout: the vector is the last value of the whole frame (body
 * last in the envelope, y the only body field, data last in the wire vector), which the
 * tests check against `encode`.
 */
export function encodeParts(msg: AnyMessage): readonly Uint8Array[] {
  if (msg.type !== 'MaskedInput') return [encode(msg)];
  const y = toWireVector(msg.y);
  const bytes = y.data.length;
  const head = packr.pack({
    v: PROTOCOL_VERSION,
    type: msg.type,
    session: msg.session,
    round: msg.round,
    body: { y: { dtype: y.dtype, length: y.length, data: EMPTY_BIN } },
  });
  // The empty bin at the end is `c4 00`; put the real bin header in its place.
  if (head.length < 2 || head[head.length - 2] !== 0xc4 || head[head.length - 1] !== 0x00) {
    throw new Error('encodeParts: the packed MaskedInput does not end with its vector; the frame layout changed');
  }
  const binHeader = bytes < 0x100 ? [0xc4, bytes] : bytes < 0x10000 ? [0xc5, bytes >>> 8, bytes & 0xff] : [0xc6, bytes >>> 24, (bytes >>> 16) & 0xff, (bytes >>> 8) & 0xff, bytes & 0xff];
  const prefix = new Uint8Array(head.length - 2 + binHeader.length);
  prefix.set(head.subarray(0, head.length - 2), 0);
  prefix.set(binHeader, head.length - 2);
  return [prefix, y.data];
}

const EMPTY_BIN = new Uint8Array(0);

/** A fixed budget, or one chosen by the envelope's type (see frameBudget). */
export type DecodeBudget = FrameBudget | ((type: string | undefined) => FrameBudget);

const UNBOUNDED: FrameBudget = { bytes: Number.POSITIVE_INFINITY, nodes: Number.POSITIVE_INFINITY };

/**
 * The MessagePack value in `bytes`, unvalidated; or a ProtocolError: WIRE_TOO_LARGE
 * when the frame exceeds `budget` (a fixed one is checked before the frame is
 * read at all), WIRE_MALFORMED when `bytes` is not exactly one plain MessagePack
 * value (any extension type, nesting beyond MAX_FRAME_DEPTH). Never throws.
 * Without a budget only the socket's `maxPayload` bounds the frame.
 */
export function decode(bytes: Uint8Array, budget: DecodeBudget = UNBOUNDED): unknown {
  if (!(bytes instanceof Uint8Array)) {
    return new ProtocolError(ProtocolErrorCode.Malformed, `expected a binary frame, got ${describe(bytes)}`);
  }
  if (bytes.length === 0) return new ProtocolError(ProtocolErrorCode.Malformed, 'expected a MessagePack value, got an empty frame');
  const fixed = typeof budget === 'function' ? null : budget;
  if (fixed !== null && bytes.length > fixed.bytes) return tooBig(bytes.length, fixed.bytes, 'this stage');
  // A per-type budget is not known until the scan finds the type: bound the scan's
  // work by the largest value count of any type, so a frame without a type costs little.
  const outer = fixed ?? largestBudget(budget as (type: string | undefined) => FrameBudget);
  const shape = scanFrame(bytes, MAX_FRAME_DEPTH, outer.nodes);
  if (shape instanceof ProtocolError) return shape;
  if (fixed === null) {
    const b = (budget as (type: string | undefined) => FrameBudget)(shape.type);
    const what = shape.type === undefined ? 'a frame without a type' : `a ${shape.type.slice(0, 32)} frame`;
    if (bytes.length > b.bytes) return tooBig(bytes.length, b.bytes, what);
    if (shape.nodes > b.nodes) {
      return new ProtocolError(ProtocolErrorCode.TooLarge, `expected at most ${b.nodes} values in ${what}, got ${shape.nodes}`);
    }
  }
  try {
    return packr.unpack(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message.slice(0, 80) : 'unknown error';
    return new ProtocolError(ProtocolErrorCode.Malformed, `expected one MessagePack value, got ${bytes.length} undecodable bytes (${why})`, undefined, { cause: e });
  }
}

const LARGEST = new WeakMap<(type: string | undefined) => FrameBudget, FrameBudget>();
const ALL_TYPES: readonly string[] = [...COORDINATOR_MESSAGE_TYPES, ...CLIENT_MESSAGE_TYPES];

function largestBudget(budget: (type: string | undefined) => FrameBudget): FrameBudget {
  let b = LARGEST.get(budget);
  if (b === undefined) {
    const all = [undefined, ...ALL_TYPES].map((t) => budget(t));
    b = { bytes: Math.max(...all.map((x) => x.bytes)), nodes: Math.max(...all.map((x) => x.nodes)) };
    LARGEST.set(budget, b);
  }
  return b;
}

function tooBig(got: number, max: number, what: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.TooLarge, `expected at most ${max} bytes for ${what}, got ${got}`);
}
