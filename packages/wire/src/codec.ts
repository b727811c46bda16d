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
 * ProtocolError (WIRE_MALFORMED) when the bytes are not one MessagePack value;
 * it never throws. parse*Message() passes such an error through, so
 *   const msg = parseClientMessage(decode(frame), limits)
 * is the whole inbound pipeline.
 */

import { Packr } from 'msgpackr';
import type {
  EncryptedShare,
  RevealedShare,
} from '@tally/secagg';
import { describe } from './_assert.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';
import {
  PROTOCOL_VERSION,
  SESSION_SCOPED,
  type CoordinatorMessage,
  type MessageType,
  type NodeClientMessage,
} from './messages.ts';
import { toWireVector } from './vector.ts';

/**
 * useRecords: false  plain maps (no record extension, no shared structures state);
 * structuredClone: false  refuse the id/pointer extensions (cycles, references);
 * int64AsType: 'number'  a 64-bit int from another encoder becomes a number (not
 *   a BigInt); above 2^53 it is not a safe integer, and parse refuses it.
 * moreTypes stays off: typed arrays other than Uint8Array are never packed as
 * extensions (encode() turns them into vectors first).
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

const BODY: BodyWriters = {
  Challenge: (m) => ({ nonce: m.nonce, coordinatorVersion: m.coordinatorVersion }),
  Welcome: (m) => ({ clientId: m.clientId, taskId: m.taskId }),
  TaskOffer: (m) => ({
    taskId: m.taskId,
    cohortSize: m.cohortSize,
    threshold: m.threshold,
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
    threshold: m.threshold,
    vectorLength: m.vectorLength,
    activeAdversary: m.activeAdversary,
  }),
  KeyList: (m) => ({ adverts: m.adverts.map((a) => ({ id: a.id, cPk: a.cPk, sPk: a.sPk, sig: a.sig })) }),
  ShareBundle: (m) => ({ shares: shares(m.shares) }),
  SurvivorList: (m) => ({ survivors: [...m.survivors] }),
  UnmaskRequest: (m) => ({
    survivors: [...m.survivors],
    signatures: m.signatures.map((s) => ({ id: s.id, sig: s.sig })),
  }),
  Hello: (m) => ({ identityKey: m.identityKey, clientVersion: m.clientVersion }),
  AuthResponse: (m) => ({ sig: m.sig }),
  OfferReply: (m) => ({ accept: m.accept, ...optional('reason', m.reason) }),
  AdvertiseKeys: (m) => ({ cPk: m.cPk, sPk: m.sPk, sig: m.sig }),
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
 * The MessagePack value in `bytes`, unvalidated; or a ProtocolError
 * (WIRE_MALFORMED) when `bytes` is not exactly one MessagePack value. Never
 * throws. Frame size is the socket's to bound (ws `maxPayload`).
 */
export function decode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) {
    return new ProtocolError(ProtocolErrorCode.Malformed, `expected a binary frame, got ${describe(bytes)}`);
  }
  if (bytes.length === 0) return new ProtocolError(ProtocolErrorCode.Malformed, 'expected a MessagePack value, got an empty frame');
  try {
    return packr.unpack(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message.slice(0, 80) : 'unknown error';
    return new ProtocolError(ProtocolErrorCode.Malformed, `expected one MessagePack value, got ${bytes.length} undecodable bytes (${why})`, undefined, { cause: e });
  }
}
