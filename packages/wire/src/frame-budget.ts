/**
 * How big a frame of each message type may be, in bytes and in MessagePack
 * values, before it is decoded. A frame over its type's budget cannot hold a
 * valid message under the receiver's WireLimits, so it is refused unread
 * (WIRE_TOO_LARGE, close 1009) instead of being turned into objects first.
 *
 * Budgets are generous upper bounds, not exact sizes: each allows BASE for the
 * envelope and small fields (room for fields added later), and adds what its
 * lists, vectors, strings and metrics can hold under the limits. What they
 * rule out is a frame that is large for its type: a 64 MiB OfferReply, or a
 * MaskedInput-sized frame of a million tiny maps.
 */

import { resolveLimits, type WireLimits } from './limits.ts';
import type { MessageType } from './messages.ts';

export interface FrameBudget {
  /** Most bytes in the frame. */
  readonly bytes: number;
  /** Most MessagePack values in the frame (map keys included). */
  readonly nodes: number;
}

/**
 * Frames from a peer that has not authenticated yet: Hello and AuthResponse
 * need about 100 bytes and 12 values. Default 1 KiB and 64 values.
 */
export const PRE_AUTH_BUDGET: FrameBudget = Object.freeze({ bytes: 1024, nodes: 64 });

/** Envelope, session, round and the fixed-size fields of any message, with room to spare. */
const BASE: FrameBudget = { bytes: 16_384, nodes: 256 };
/** Per list entry beyond its variable-size field: ids, map keys, fixed-size keys and signatures. */
const ENTRY: FrameBudget = { bytes: 256, nodes: 16 };

interface Shape {
  /** Lists of up to maxCohort entries, each with the given variable-size field bytes. */
  readonly lists?: readonly ((l: WireLimits) => number)[];
  /** Vectors of 4-byte lanes, at most this many lanes. */
  readonly vector?: (l: WireLimits) => number;
  /** Free-text strings (maxStringLength UTF-16 units; up to 3 UTF-8 bytes each). */
  readonly strings?: number;
  /** A metric map of up to maxMetrics entries. */
  readonly metrics?: boolean;
}

const none = (): number => 0;
const ciphertext = (l: WireLimits): number => l.maxCiphertextBytes;
const share = (l: WireLimits): number => l.maxShareBytes;
const modelLanes = (l: WireLimits): number => l.expectedModelLength ?? l.maxVectorLength;
const inputLanes = (l: WireLimits): number => l.expectedVectorLength ?? l.maxVectorLength;

const SHAPES: { readonly [T in MessageType]: Shape } = {
  Challenge: { strings: 1 },
  Welcome: {},
  TaskOffer: { vector: modelLanes },
  RoundResult: { strings: 1, metrics: true },
  GlobalModel: { strings: 1, vector: modelLanes },
  ErrorNotice: { strings: 1 },
  RoundStart: { lists: [none, none] },
  KeyList: { lists: [none] },
  ShareBundle: { lists: [ciphertext] },
  SurvivorList: { lists: [none] },
  UnmaskRequest: { lists: [none, none] },
  Hello: { strings: 1 },
  AuthResponse: {},
  OfferReply: { strings: 1 },
  AdvertiseKeys: {},
  ShareKeys: { lists: [ciphertext] },
  MaskedInput: { vector: inputLanes },
  ConsistencySignature: {},
  UnmaskShares: { lists: [share, share] },
};

/**
 * The budget of a frame whose envelope says `type`, under `limits` (default
 * DEFAULT_LIMITS). An unknown
 * or missing type gets BASE: parse refuses it anyway, and it stays small.
 */
export function frameBudget(type: string | undefined, limits?: Partial<WireLimits>): FrameBudget {
  const l = resolveLimits(limits);
  const shape: Shape | undefined = type !== undefined && Object.hasOwn(SHAPES, type) ? SHAPES[type as MessageType] : undefined;
  let bytes = BASE.bytes;
  let nodes = BASE.nodes;
  if (shape === undefined) return { bytes, nodes };
  for (const field of shape.lists ?? []) {
    bytes += 5 + l.maxCohort * (ENTRY.bytes + field(l));
    nodes += 1 + l.maxCohort * ENTRY.nodes;
  }
  if (shape.vector) {
    bytes += 64 + 4 * shape.vector(l);
    nodes += 8;
  }
  bytes += (shape.strings ?? 0) * (5 + 3 * l.maxStringLength);
  nodes += shape.strings ?? 0;
  if (shape.metrics) {
    bytes += 5 + l.maxMetrics * (2 + 64 + 9);
    nodes += 1 + 2 * l.maxMetrics;
  }
  return { bytes, nodes };
}
