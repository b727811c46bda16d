/**
 * A fuzzer for the coordinator's socket, run while honest clients complete rounds.
 *
 * Cast (ids are enrolment ids):
 *   1..3  real client nodes (@tally/client) with a trivial trainer;
 *   4     the "staller": an honest participant (real secagg client machine) that holds
 *         every stage open until the fuzzer's burst for that stage is done, so each
 *         burst lands while the coordinator is in a known stage;
 *   5     the fuzzer: authenticated with its enrolled key, it sends seeded hostile
 *         frames, and re-authenticates on a new socket whenever one is closed.
 *
 * For every frame the fuzzer sends a ping behind it and waits for the pong (or the
 * close): the coordinator handles frames in order, so by then any ErrorNotice for the
 * frame has arrived. Each frame's outcome (a notice, a close with its code, or
 * nothing) is checked against what the frame's kind must get, and against the rules
 * that hold for every frame: a close after a notice uses that notice's mapped close
 * code (CLOSE_CODES), a close without a notice only happens for a frame above
 * maxPayload (ws: 1009), and no notice is ever WIRE_INTERNAL.
 *
 * The frames are test input, so a small seeded PRNG (xoshiro128**) draws them: the
 * seed fixes the sequence of kinds and shapes; bytes that come from the run itself
 * (sessions, earlier rounds' messages replayed) differ from run to run.
 */
import { CLOSE_CODES, DECLINE_REASONS, ProtocolErrorCode, decode, encode, type CoordinatorMessage, type ErrorNotice, type NodeClientMessage, type TaskOffer } from '@tally/wire';
import {
  SHARE_BYTES,
  clientStep,
  createClient,
  encodeUpdate,
  planQuantization,
  type ClientState,
  type KeyPair,
  type ServerMessage,
} from '@tally/secagg';
import { maxPayloadFor, type CoordinatorEvent } from '@tally/coordinator';
import { RawClient, cleanup, getStatus, startNode, startTestCoordinator, type Started } from './_helpers.ts';

// ---- a seeded PRNG (test input, not crypto) ------------------------------------------

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32. */
export class Rng {
  #s: Uint32Array;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s = Uint32Array.of(next(), next(), next(), next());
  }

  u32(): number {
    const s = this.#s;
    let [s0, s1, s2, s3] = [s[0]!, s[1]!, s[2]!, s[3]!];
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3 >>> 0, 11);
    s.set([s0, s1, s2, s3]);
    return result;
  }

  /** Uniform in [0, n) for n ≤ 2^32 (the tiny modulo bias is irrelevant for test input). */
  int(n: number): number {
    return this.u32() % n;
  }

  /** Uniform in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() < p * 2 ** 32;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }

  /** An item drawn by weight. */
  weighted<T>(table: readonly (readonly [T, number])[]): T {
    const total = table.reduce((s, [, w]) => s + w, 0);
    let r = this.int(total);
    for (const [item, w] of table) {
      if (r < w) return item;
      r -= w;
    }
    return table[table.length - 1]![0];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---- a small MessagePack writer ----------------------------------------------------------

/** Bytes spliced into a packed value verbatim (ext types, over-long ints, broken headers). */
export class Raw {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/**
 * MessagePack for any shape the fuzzer builds, including ones the wire codec would
 * never write. Integers up to 2^64 use the smallest int form; other numbers (NaN,
 * ±Infinity, -0, fractions) are float64; Uint8Array is bin; plain objects are maps.
 */
export function pack(value: unknown): Uint8Array {
  const out: number[] = [];
  const chunks: Uint8Array[] = [];
  const flush = (): void => {
    if (out.length > 0) chunks.push(Uint8Array.from(out.splice(0)));
  };
  const bytes = (b: Uint8Array): void => {
    flush();
    chunks.push(b);
  };
  const be = (n: number, width: number): void => {
    for (let i = width - 1; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) & 0xff);
  };
  const head = (len: number, fix: number | null, fixMax: number, c8: number | null, c16: number, c32: number): void => {
    if (fix !== null && len <= fixMax) out.push(fix | len);
    else if (c8 !== null && len < 0x100) out.push(c8, len);
    else if (len < 0x10000) {
      out.push(c16);
      be(len, 2);
    } else {
      out.push(c32);
      be(len, 4);
    }
  };
  const write = (v: unknown): void => {
    if (v instanceof Raw) return bytes(v.bytes);
    if (v === null || v === undefined) return void out.push(0xc0);
    if (typeof v === 'boolean') return void out.push(v ? 0xc3 : 0xc2);
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Object.is(v, -0) && v >= -(2 ** 63) && v < 2 ** 64) {
        if (v >= 0) {
          if (v < 0x80) out.push(v);
          else if (v < 0x100) out.push(0xcc, v);
          else if (v < 0x10000) (out.push(0xcd), be(v, 2));
          else if (v < 2 ** 32) (out.push(0xce), be(v, 4));
          else {
            const b = new Uint8Array(9);
            b[0] = 0xcf;
            new DataView(b.buffer).setBigUint64(1, BigInt(v));
            bytes(b);
          }
        } else if (v >= -32) out.push(v & 0xff);
        else if (v >= -128) out.push(0xd0, v & 0xff);
        else if (v >= -32768) (out.push(0xd1), be(v & 0xffff, 2));
        else if (v >= -(2 ** 31)) (out.push(0xd2), be(v >>> 0, 4));
        else {
          const b = new Uint8Array(9);
          b[0] = 0xd3;
          new DataView(b.buffer).setBigInt64(1, BigInt(v));
          bytes(b);
        }
        return;
      }
      const b = new Uint8Array(9);
      b[0] = 0xcb;
      new DataView(b.buffer).setFloat64(1, v);
      return bytes(b);
    }
    if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8');
      head(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
      return bytes(b);
    }
    if (v instanceof Uint8Array) {
      head(v.length, null, 0, 0xc4, 0xc5, 0xc6);
      return bytes(v);
    }
    if (Array.isArray(v)) {
      head(v.length, 0x90, 15, null, 0xdc, 0xdd);
      for (const x of v) write(x);
      return;
    }
    if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      head(entries.length, 0x80, 15, null, 0xde, 0xdf);
      for (const [k, x] of entries) {
        write(k);
        write(x);
      }
      return;
    }
    throw new TypeError(`pack: cannot write ${typeof v}`);
  };
  write(value);
  flush();
  return Buffer.concat(chunks);
}

// ---- frames --------------------------------------------------------------------------

export const FRAME_KINDS = [
  'garbage',
  'empty',
  'text',
  'bad-msgpack',
  'not-envelope',
  'wrong-version',
  'unknown-type',
  'wrong-type',
  'missing-field',
  'extra-field',
  'bad-number',
  'too-large',
  'bad-vector',
  'truncated',
  'mutated',
  'current-round',
  'replay-current',
  'replay-stale',
  'auth-again',
  'oversize',
  'pre-auth',
] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

const WEIGHTS: readonly (readonly [FrameKind, number])[] = [
  ['garbage', 5],
  ['empty', 1],
  ['text', 2],
  ['bad-msgpack', 5],
  ['not-envelope', 3],
  ['wrong-version', 5],
  ['unknown-type', 5],
  ['wrong-type', 10],
  ['missing-field', 7],
  ['extra-field', 6],
  ['bad-number', 6],
  ['too-large', 7],
  ['bad-vector', 6],
  ['truncated', 6],
  ['mutated', 14],
  ['current-round', 12],
  ['replay-current', 6],
  ['replay-stale', 8],
  ['auth-again', 3],
  ['oversize', 1],
  ['pre-auth', 4],
];

/** What a frame must get from the coordinator. */
export type Expect =
  /** Closed with exactly `code`, after a notice `notice` when given. */
  | { readonly kind: 'close'; readonly code: number; readonly notice?: ProtocolErrorCode }
  /** Closed, any code (the mapping rules still apply). */
  | { readonly kind: 'closed' }
  /** Left open, with one notice of these codes (or none when `orAccepted`: a valid message the stage takes). */
  | { readonly kind: 'notice'; readonly codes: readonly ProtocolErrorCode[]; readonly orAccepted?: boolean }
  /** Left open, no notice: a message for another session or round. */
  | { readonly kind: 'ignored' }
  /** Anything within the general rules. */
  | { readonly kind: 'any' };

export interface Frame {
  readonly kind: FrameKind;
  readonly data: Uint8Array | string;
  readonly binary: boolean;
  readonly expect: Expect;
  /** A few words on what the frame is, for violation reports. */
  readonly note: string;
  /** Sent on a fresh, unauthenticated socket instead of the fuzzer's. */
  readonly preAuth?: boolean;
}

/** What the generator knows about the round in progress. */
export interface FrameContext {
  readonly session: Uint8Array;
  readonly round: number;
  /** The coordinator's stage (status().stage) while the burst runs. */
  readonly stage: string;
  readonly vectorLength: number;
  readonly maxPayload: number;
  /** Wire maxCohort on the coordinator (= task.cohortSize). */
  readonly maxCohort: number;
  readonly fuzzerId: number;
  readonly fuzzerKey: Uint8Array;
  readonly peerIds: readonly number[];
  /** Valid messages of earlier rounds or sessions (the staller's). */
  readonly stale: readonly ScopedMessage[];
  /** Valid messages of the current round (the staller's, already sent). */
  readonly recent: readonly NodeClientMessage[];
}

const E = ProtocolErrorCode;
const closeWith = (code: ProtocolErrorCode): Expect => ({ kind: 'close', code: CLOSE_CODES[code], notice: code });
const ROUND_NOTICES: readonly ProtocolErrorCode[] = [E.WrongStage, E.NotInCohort, E.BadField];
const SECAGG_TYPES = ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencySignature', 'UnmaskShares'] as const;
type RoundType = 'OfferReply' | (typeof SECAGG_TYPES)[number];
/** The session-scoped client messages. */
type ScopedMessage = Exclude<NodeClientMessage, { type: 'Hello' | 'AuthResponse' }>;

/** A valid (parseable) client message of `type`, tagged with `session` and `round`; contents drawn from `rng`. */
function craft(rng: Rng, ctx: FrameContext, type: RoundType, session: Uint8Array, round: number): ScopedMessage {
  const tag = { session, round };
  const others = ctx.peerIds.filter((id) => id !== ctx.fuzzerId);
  const someIds = (): number[] => others.filter(() => rng.chance(0.6)).slice(0, ctx.maxCohort);
  switch (type) {
    case 'OfferReply':
      return rng.chance(0.5)
        ? { type, ...tag, accept: rng.chance(0.5) }
        : { type, ...tag, accept: false, reason: rng.pick(DECLINE_REASONS) };
    case 'AdvertiseKeys': {
      const cPk = rng.bytes(32);
      const sPk = rng.bytes(32);
      sPk[0] = cPk[0]! ^ 0xff; // distinct
      const bPk = rng.bytes(32);
      bPk[0] = cPk[0]! ^ 0x0f;
      return { type, ...tag, cPk, sPk, bPk, sig: rng.bytes(64) };
    }
    case 'ShareKeys':
      return { type, ...tag, shares: someIds().map((peer) => ({ peer, ct: rng.bytes(rng.range(1, 256)) })) };
    case 'MaskedInput': {
      const y = new Uint32Array(ctx.vectorLength);
      for (let i = 0; i < y.length; i++) y[i] = rng.u32();
      return { type, ...tag, y };
    }
    case 'ConsistencySignature':
      return { type, ...tag, sig: rng.bytes(64) };
    case 'UnmaskShares': {
      const ids = someIds();
      const cut = rng.int(ids.length + 1);
      const share = (of: number) => ({ of, share: rng.bytes(SHARE_BYTES) });
      return { type, ...tag, selfMaskShares: ids.slice(0, cut).map(share), keyShares: ids.slice(cut).map(share) };
    }
  }
}

function currentMessage(rng: Rng, ctx: FrameContext, type?: RoundType): ScopedMessage {
  return craft(rng, ctx, type ?? rng.pick(['OfferReply', ...SECAGG_TYPES] as const), ctx.session, ctx.round);
}

/** Any valid client message the fuzzer may send (current round, replays, Hello, AuthResponse). */
function anyValid(rng: Rng, ctx: FrameContext): NodeClientMessage {
  const r = rng.int(10);
  if (r === 0) return { type: 'Hello', identityKey: rng.chance(0.5) ? ctx.fuzzerKey : rng.bytes(32), clientVersion: 'fuzz/0' };
  if (r === 1) return { type: 'AuthResponse', sig: rng.bytes(64) };
  if (r === 2 && ctx.recent.length > 0) return rng.pick(ctx.recent);
  if (r === 3 && ctx.stale.length > 0) return rng.pick(ctx.stale);
  return currentMessage(rng, ctx);
}

/** The decoded envelope of `msg` as plain, mutable JS values (bins as fresh Uint8Arrays). */
function rawOf(msg: NodeClientMessage): Record<string, unknown> {
  return clone(decode(encode(msg))) as Record<string, unknown>;
}

function clone(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(clone);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  return v;
}

type Path = readonly (string | number)[];

/** Every node below the root, with its path. */
function nodes(v: unknown, prefix: Path = []): { path: Path; value: unknown }[] {
  const out: { path: Path; value: unknown }[] = [];
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ path: [...prefix, i], value: x }, ...nodes(x, [...prefix, i]));
    });
  } else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) out.push({ path: [...prefix, k], value: x }, ...nodes(x, [...prefix, k]));
  }
  return out;
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  let p = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) p = p[k] as Record<string | number, unknown>;
  return p;
}

function setAt(root: unknown, path: Path, value: unknown): void {
  parentOf(root, path)[path[path.length - 1]!] = value;
}

function deleteAt(root: unknown, path: Path): void {
  delete parentOf(root, path)[path[path.length - 1]!];
}

const pathText = (path: Path): string => path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').slice(1) || '(root)';

type Category = 'nil' | 'bool' | 'number' | 'string' | 'bytes' | 'array' | 'map';

function categoryOf(v: unknown): Category {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'array';
  return 'map';
}

const WRONG_VALUES: readonly unknown[] = [null, true, false, 7, -3, 1.25, 'x', '', new Uint8Array(3), [], [1], {}, { a: 1 }];

/** A wire-valid message rich in fields, for the structural mutations. */
function structured(rng: Rng, ctx: FrameContext): NodeClientMessage {
  return rng.chance(0.15) ? anyValid(rng, ctx) : currentMessage(rng, ctx, rng.pick(['OfferReply', ...SECAGG_TYPES] as const));
}

export function generateFrame(rng: Rng, ctx: FrameContext, kind: FrameKind = rng.weighted(WEIGHTS)): Frame {
  const bin = (data: Uint8Array, expect: Expect, note: string): Frame => ({ kind, data, binary: true, expect, note });
  switch (kind) {
    case 'garbage': {
      const data = rng.bytes(rng.range(1, 300));
      return bin(data, { kind: 'closed' }, `${data.length} random bytes`);
    }
    case 'empty':
      return bin(new Uint8Array(0), closeWith(E.Malformed), 'an empty binary frame');
    case 'text': {
      const text = rng.chance(0.5) ? JSON.stringify({ v: 1, type: 'Hello' }) : 'x'.repeat(rng.range(0, 100));
      return { kind, data: text, binary: false, expect: closeWith(E.Malformed), note: 'a text frame' };
    }
    case 'bad-msgpack': {
      const valid = encode(anyValid(rng, ctx));
      const variants: [string, Uint8Array, Expect][] = [
        ['never-used token 0xc1', Uint8Array.of(0xc1), closeWith(E.Malformed)],
        ['array32 declaring 2^32-1 entries', Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), closeWith(E.Malformed)],
        ['map32 declaring 2^32-1 entries', Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x76), closeWith(E.Malformed)],
        ['str32 declaring 4 GiB', Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61), closeWith(E.Malformed)],
        ['bin32 declaring 4 GiB', Uint8Array.of(0xc6, 0xff, 0xff, 0xff, 0xff), closeWith(E.Malformed)],
        ['ext32 declaring 4 GiB', Uint8Array.of(0xc9, 0xff, 0xff, 0xff, 0xff, 0x01), closeWith(E.Malformed)],
        ['fixmap of 5 with no entries', Uint8Array.of(0x85), closeWith(E.Malformed)],
        ['truncated uint64', Uint8Array.of(0xcf, 0x01), closeWith(E.Malformed)],
        ['unknown ext type as the frame', Uint8Array.of(0xd4, 0x05, 0x01), closeWith(E.Malformed)],
        ['timestamp ext as the frame', Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1), closeWith(E.Malformed)],
        ['a valid frame plus trailing bytes', Buffer.concat([valid, rng.bytes(rng.range(1, 8))]), closeWith(E.Malformed)],
        ['two valid frames in one', Buffer.concat([valid, valid]), closeWith(E.Malformed)],
        [
          'deeply nested arrays',
          Buffer.concat([new Uint8Array(rng.range(1000, Math.min(60_000, ctx.maxPayload - 1))).fill(0x91), Uint8Array.of(0xc0)]),
          closeWith(E.Malformed),
        ],
      ];
      const raw = rawOf(structured(rng, ctx));
      const leaves = nodes(raw).filter((n) => !(n.path.length === 1 && (n.path[0] === 'v' || n.path[0] === 'type')));
      const at = rng.pick(leaves);
      setAt(raw, at.path, new Raw(rng.pick([Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1), Uint8Array.of(0xd4, 0x05, 0x01), Uint8Array.of(0xc1)])));
      variants.push([`an ext token at ${pathText(at.path)}`, pack(raw), { kind: 'closed' }]);
      const [note, data, expect] = rng.pick(variants);
      return bin(data, expect, note);
    }
    case 'not-envelope': {
      const v = rng.pick<unknown>([42, -7, 1.5, 'Hello', [1, 2], [], null, true, new Uint8Array(5), [{ v: 1, type: 'Hello' }]]);
      return bin(pack(v), closeWith(E.Malformed), `a non-map frame (${categoryOf(v)})`);
    }
    case 'wrong-version': {
      const raw = rawOf(anyValid(rng, ctx));
      const v = rng.pick<unknown>([0, 2, 3, 255, 65_536, -1, 2 ** 52, '1', 1.5, null, true, 2 ** 53 + 2, NaN, new Uint8Array(1)]);
      raw['v'] = v;
      const expect = typeof v === 'number' && Number.isSafeInteger(v) ? closeWith(E.UnsupportedVersion) : closeWith(E.BadField);
      return bin(pack(raw), expect, `v = ${String(v)}`);
    }
    case 'unknown-type': {
      const raw = rawOf(anyValid(rng, ctx));
      const t = rng.pick<unknown>([
        'Foo', '', 'RoundStart', 'TaskOffer', 'Welcome', 'ErrorNotice', 'KeyList', 'hello', 'HELLO', '__proto__', 'constructor',
        'toString', 'x'.repeat(300), 42, null, true, new Uint8Array(2), [], {},
      ]);
      raw['type'] = t;
      const expect = typeof t === 'string' ? closeWith(E.UnknownType) : closeWith(E.BadField);
      return bin(pack(raw), expect, `type = ${typeof t === 'string' ? JSON.stringify(t.slice(0, 20)) : categoryOf(t)}`);
    }
    case 'wrong-type': {
      const raw = rawOf(structured(rng, ctx));
      const targets = nodes(raw).filter((n) => n.path[0] !== 'v' && n.path[0] !== 'type');
      const at = rng.pick(targets);
      const cat = categoryOf(at.value);
      const value = rng.pick(WRONG_VALUES.filter((w) => categoryOf(w) !== cat));
      setAt(raw, at.path, value);
      return bin(pack(raw), closeWith(E.BadField), `${raw['type'] as string} ${pathText(at.path)}: ${cat} -> ${categoryOf(value)}`);
    }
    case 'missing-field': {
      const raw = rawOf(structured(rng, ctx));
      const keys = nodes(raw).filter((n) => typeof n.path[n.path.length - 1] === 'string' && n.path[n.path.length - 1] !== 'reason');
      const at = rng.pick(keys);
      deleteAt(raw, at.path);
      return bin(pack(raw), closeWith(E.BadField), `${String(raw['type'])} without ${pathText(at.path)}`);
    }
    case 'extra-field': {
      const raw = rawOf(structured(rng, ctx));
      const maps = [{ path: [] as Path, value: raw as unknown }, ...nodes(raw)].filter((n) => categoryOf(n.value) === 'map');
      const at = rng.pick(maps);
      const key = rng.pick(['extra', 'x', 'constructor', 'toString', 'hasOwnProperty', '__proto__', 'k'.repeat(200), 'v2']);
      // An own property even for `__proto__` (plain assignment would set the prototype instead).
      Object.defineProperty(at.value, key, { value: rng.pick(WRONG_VALUES), enumerable: true, configurable: true, writable: true });
      // msgpackr renames a `__proto__` key to `__proto_`; either way it is a key the parser does not know.
      return bin(pack(raw), closeWith(E.BadField), `${String(raw['type'])} with an extra ${JSON.stringify(key.slice(0, 20))} at ${pathText(at.path)}`);
    }
    case 'bad-number': {
      const msg = currentMessage(rng, ctx, rng.pick(['ShareKeys', 'UnmaskShares', 'OfferReply', 'MaskedInput'] as const));
      const raw = rawOf(msg);
      const ids = nodes(raw).filter((n) => n.path[n.path.length - 1] === 'peer' || n.path[n.path.length - 1] === 'of');
      if (ids.length > 0 && rng.chance(0.6)) {
        const at = rng.pick(ids);
        const v = rng.pick([0, -1, 2 ** 31 + 1, 1.5, NaN, -0, 2 ** 53, Infinity]);
        setAt(raw, at.path, v);
        return bin(pack(raw), closeWith(E.BadField), `${msg.type} ${pathText(at.path)} = ${String(v)}`);
      }
      const v = rng.pick([-1, 1.5, NaN, Infinity, -Infinity, -0, 2 ** 53, 2 ** 64, -(2 ** 40), 2 ** 63]);
      raw['round'] = v;
      return bin(pack(raw), closeWith(E.BadField), `${msg.type} round = ${Object.is(v, -0) ? '-0' : String(v)}`);
    }
    case 'too-large': {
      const over = (limit: number): number => limit + rng.range(1, 40);
      const variants: (() => [string, NodeClientMessage | { readonly raw: Record<string, unknown> }])[] = [
        () => {
          const n = over(ctx.maxCohort);
          return [`ShareKeys with ${n} shares`, { ...currentMessage(rng, ctx, 'ShareKeys'), shares: Array.from({ length: n }, (_, i) => ({ peer: i + 1, ct: rng.bytes(8) })) } as NodeClientMessage];
        },
        () => {
          const n = over(ctx.maxCohort);
          const m = currentMessage(rng, ctx, 'UnmaskShares');
          return [`UnmaskShares with ${n} self-mask shares`, { ...m, selfMaskShares: Array.from({ length: n }, (_, i) => ({ of: i + 1, share: rng.bytes(SHARE_BYTES) })), keyShares: [] } as NodeClientMessage];
        },
        () => {
          // Past the OfferReply frame budget (16 KiB base + one string): refused before decoding.
          const n = rng.range(24_000, 40_000);
          return [`OfferReply with a ${n}-character reason`, { type: 'OfferReply', session: ctx.session, round: ctx.round, accept: false, reason: 'r'.repeat(n) } as unknown as NodeClientMessage];
        },
        () => {
          const n = over(256);
          return [`ShareKeys with a ${n}-byte ciphertext`, { type: 'ShareKeys', session: ctx.session, round: ctx.round, shares: [{ peer: 1, ct: rng.bytes(n) }] }];
        },
        () => {
          const n = over(256);
          return [`UnmaskShares with a ${n}-byte share`, { type: 'UnmaskShares', session: ctx.session, round: ctx.round, selfMaskShares: [{ of: 1, share: rng.bytes(n) }], keyShares: [] }];
        },
        () => {
          const n = rng.range(1025, 3000);
          return [`Hello with a ${n}-character version`, { type: 'Hello', identityKey: ctx.fuzzerKey, clientVersion: 'v'.repeat(n) }];
        },
        () => {
          const length = rng.pick([ctx.vectorLength + 1, 2 ** 24, 2 ** 31, 2 ** 40, 2 ** 53 - 1]);
          const raw = rawOf(currentMessage(rng, ctx, 'MaskedInput'));
          ((raw['body'] as Record<string, unknown>)['y'] as Record<string, unknown>)['length'] = length;
          return [`MaskedInput declaring ${length} lanes`, { raw }];
        },
      ];
      const [note, m] = rng.pick(variants)();
      const data = 'raw' in m ? pack(m.raw) : encode(m);
      return bin(data, closeWith(E.TooLarge), note);
    }
    case 'bad-vector': {
      const raw = rawOf(currentMessage(rng, ctx, 'MaskedInput'));
      const y = (raw['body'] as Record<string, unknown>)['y'] as Record<string, unknown>;
      const data = y['data'] as Uint8Array;
      const variants: [string, () => void][] = [
        ['data cut short', () => (y['data'] = data.subarray(0, rng.int(data.length)))],
        ['data too long', () => (y['data'] = Buffer.concat([data, rng.bytes(rng.range(1, 9))]))],
        ['dtype f32', () => (y['dtype'] = 'f32')],
        ['dtype u8', () => (y['dtype'] = 'u8')],
        ['fewer lanes than the round', () => {
          const n = rng.range(1, ctx.vectorLength - 1);
          y['length'] = n;
          y['data'] = data.subarray(0, 4 * n);
        }],
        ['zero lanes', () => ((y['length'] = 0), (y['data'] = new Uint8Array(0)))],
        ['fractional length', () => (y['length'] = ctx.vectorLength + 0.5)],
        ['negative length', () => (y['length'] = -ctx.vectorLength)],
        ['string length', () => (y['length'] = String(ctx.vectorLength))],
        ['data as an array of numbers', () => (y['data'] = [...data])],
      ];
      const [note, apply] = rng.pick(variants);
      apply();
      return bin(pack(raw), closeWith(E.BadField), `MaskedInput: ${note}`);
    }
    case 'truncated': {
      const frame = encode(anyValid(rng, ctx));
      const n = rng.int(frame.length);
      return bin(Uint8Array.from(frame.subarray(0, n)), closeWith(E.Malformed), `a valid frame cut at ${n} of ${frame.length}`);
    }
    case 'mutated': {
      const b = [...encode(anyValid(rng, ctx))];
      const edits = rng.range(1, 4);
      for (let e = 0; e < edits; e++) {
        const i = rng.int(b.length + 1);
        const op = rng.int(4);
        if (op === 0 && i < b.length) b[i] = b[i]! ^ (1 << rng.int(8));
        else if (op === 1 && i < b.length) b[i] = rng.int(256);
        else if (op === 2) b.splice(i, 0, rng.int(256));
        else b.splice(i, 1);
      }
      return bin(Uint8Array.from(b), { kind: 'any' }, `a valid frame with ${edits} byte edits`);
    }
    case 'current-round':
      return roundFrame(rng, ctx);
    case 'replay-current': {
      if (ctx.recent.length === 0) return generateFrame(rng, ctx, 'current-round');
      const msg = rng.pick(ctx.recent);
      return bin(encode(msg), roundExpect(ctx, msg), `another client's ${msg.type} of this round, replayed in ${ctx.stage}`);
    }
    case 'replay-stale': {
      const r = rng.int(3);
      if (r === 0 && ctx.stale.length > 0) {
        const msg = rng.pick(ctx.stale);
        return bin(encode(msg), { kind: 'ignored' }, `${msg.type} replayed from round ${msg.round} (an earlier session)`);
      }
      const type = rng.pick(['OfferReply', ...SECAGG_TYPES] as const);
      const msg =
        r === 1
          ? craft(rng, ctx, type, rng.bytes(16), ctx.round)
          : craft(rng, ctx, type, ctx.session, rng.chance(0.5) || ctx.round === 0 ? ctx.round + 1 : ctx.round - 1);
      return bin(encode(msg), { kind: 'ignored' }, `${msg.type} for ${r === 1 ? 'another session' : `round ${msg.round}`}`);
    }
    case 'auth-again': {
      const msg: NodeClientMessage = rng.chance(0.5)
        ? { type: 'Hello', identityKey: rng.chance(0.5) ? ctx.fuzzerKey : rng.bytes(32), clientVersion: 'fuzz/0' }
        : { type: 'AuthResponse', sig: rng.bytes(64) };
      return bin(encode(msg), { kind: 'notice', codes: [E.WrongStage] }, `${msg.type} after authentication`);
    }
    case 'oversize': {
      const n = ctx.maxPayload + rng.range(1, 4096);
      return bin(rng.chance(0.5) ? new Uint8Array(n) : rng.bytes(n), { kind: 'close', code: 1009 }, `${n} bytes (maxPayload ${ctx.maxPayload})`);
    }
    case 'pre-auth': {
      // Anything but a Hello with an enrolled key: every one of these must end the unauthenticated socket.
      let inner: Frame;
      do inner = generateFrame(rng, ctx, rng.weighted(WEIGHTS.filter(([k]) => k !== 'pre-auth')));
      while (inner.binary && isEnrolledHello(inner.data as Uint8Array, ctx.fuzzerKey));
      return { ...inner, kind, expect: inner.kind === 'oversize' ? inner.expect : { kind: 'closed' }, note: `before authentication: ${inner.note}`, preAuth: true };
    }
  }
}

/** A valid message of `type` (default: any round type) for the current session and round, as the fuzzer's own. */
export function roundFrame(rng: Rng, ctx: FrameContext, type?: RoundType): Frame {
  const msg = currentMessage(rng, ctx, type);
  return { kind: 'current-round', data: encode(msg), binary: true, expect: roundExpect(ctx, msg), note: `${msg.type} for the current round in ${ctx.stage}` };
}

function isEnrolledHello(frame: Uint8Array, key: Uint8Array): boolean {
  const u = decode(frame) as { type?: unknown; body?: { identityKey?: unknown } } | null;
  const k = typeof u === 'object' && u !== null && u.type === 'Hello' ? u.body?.identityKey : undefined;
  return k instanceof Uint8Array && Buffer.from(k).equals(Buffer.from(key));
}

/**
 * A valid message for the current session and round, from the fuzzer: never a close;
 * a notice (it is not in the roster, was dropped, or sent the wrong stage's message,
 * or the message is invalid for the stage, e.g. a signature that does not verify), or
 * acceptance of an OfferReply while the offer is open.
 */
function roundExpect(ctx: FrameContext, msg: NodeClientMessage): Expect {
  const same = 'session' in msg && Buffer.from(msg.session).equals(Buffer.from(ctx.session)) && msg.round === ctx.round;
  if (!same) return { kind: 'ignored' };
  return { kind: 'notice', codes: ROUND_NOTICES, orAccepted: msg.type === 'OfferReply' && ctx.stage === 'TaskOffer' };
}

// ---- judging one outcome -----------------------------------------------------------------

export interface Outcome {
  /** Close code, or null when the socket stayed open. */
  readonly closed: number | null;
  readonly notices: readonly ErrorNotice[];
}

/** Violations of the general rules and of the frame's expectation (empty when all is well). */
export function judge(frame: Frame, o: Outcome): string[] {
  const bad: string[] = [];
  const notice = o.notices[0];
  if (o.notices.length > 1) bad.push(`${o.notices.length} notices for one frame`);
  if (o.notices.some((n) => n.code === E.Internal)) bad.push(`WIRE_INTERNAL notice: ${notice?.message}`);
  if (o.closed !== null) {
    if (notice !== undefined && CLOSE_CODES[notice.code] !== o.closed) bad.push(`closed with ${o.closed} after a ${notice.code} notice (mapped to ${CLOSE_CODES[notice.code]})`);
    if (notice === undefined && !(o.closed === 1009 && frame.expect.kind === 'close' && frame.expect.code === 1009)) bad.push(`closed with ${o.closed} without a notice`);
  }
  const x = frame.expect;
  const got = o.closed !== null ? `close ${o.closed}${notice ? ` (${notice.code})` : ''}` : notice ? `notice ${notice.code}` : 'nothing';
  switch (x.kind) {
    case 'close':
      if (o.closed !== x.code || (x.notice !== undefined && notice?.code !== x.notice)) bad.push(`expected close ${x.code}${x.notice ? ` (${x.notice})` : ''}, got ${got}`);
      break;
    case 'closed':
      if (o.closed === null) bad.push(`expected a close, got ${got}`);
      break;
    case 'notice':
      if (o.closed !== null) bad.push(`expected the connection to stay open, got ${got}`);
      else if (notice === undefined ? !x.orAccepted : !x.codes.includes(notice.code)) bad.push(`expected a notice in ${x.codes.join('|')}${x.orAccepted ? ' or nothing' : ''}, got ${got}`);
      break;
    case 'ignored':
      if (o.closed !== null || notice !== undefined) bad.push(`expected the frame to be ignored, got ${got}`);
      break;
    case 'any':
      break;
  }
  return bad.map((b) => `${frame.kind} [${frame.note}]: ${b}`);
}

// ---- the run -------------------------------------------------------------------------------

export interface FuzzOptions {
  readonly seed: number;
  /** Fuzz frames to send in all. */
  readonly frames: number;
  /** Frames per stage burst (default: spread over at least two rounds, at most 50). */
  readonly perBurst?: number;
  /** Progress lines (the long runner prints them). */
  readonly progress?: (line: string) => void;
}

export interface KindStats {
  frames: number;
  ignored: number;
  notices: Record<string, number>;
  closes: Record<string, number>;
}

export interface FuzzReport {
  readonly seed: number;
  readonly rounds: number;
  framesTried: number;
  /** Notices on connections that stayed open, by code. */
  noticesByCode: Record<string, number>;
  /** Closes by close code (with the notice code that came before, when one did). */
  closesByCode: Record<string, number>;
  /** Frames that got neither (stale messages, and valid OfferReplies the offer took). */
  ignored: number;
  byKind: Record<string, KindStats>;
  byStage: Record<string, number>;
  reconnects: number;
  preAuthSockets: number;
  controlFrames: number;
  committed: number;
  aborted: number;
  /** Coordinator failures: an ERROR log line, status() or GET /status failing, `done` rejecting. */
  crashes: number;
  /** Broken expectations, each with the frame that broke it. */
  violations: string[];
}

const FUZZER = 5;
const STALLER = 4;
const HONEST = [1, 2, 3];
const STAGE_OF: Record<ServerMessage['type'], string> = {
  RoundStart: 'AdvertiseKeys',
  KeyList: 'ShareKeys',
  ShareBundle: 'MaskedInput',
  SurvivorList: 'ConsistencyCheck',
  UnmaskRequest: 'Unmask',
};
const LEAD: Record<string, RoundType> = {
  TaskOffer: 'OfferReply',
  AdvertiseKeys: 'AdvertiseKeys',
  ShareKeys: 'ShareKeys',
  MaskedInput: 'MaskedInput',
  ConsistencyCheck: 'ConsistencySignature',
  Unmask: 'UnmaskShares',
};
export const FUZZED_STAGES = ['TaskOffer', 'AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask'] as const;
const MAX_VIOLATIONS = 200;

const inc = (r: Record<string, number>, k: string): void => {
  r[k] = (r[k] ?? 0) + 1;
};

/**
 * Runs `rounds` rounds with three client nodes, the staller and the fuzzer, and
 * `frames` fuzz frames spread over every stage of every round. Never throws for what
 * the coordinator does: everything lands in the report. Closes what it started.
 */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const perBurst = o.perBurst ?? Math.max(1, Math.min(50, Math.ceil(o.frames / (2 * FUZZED_STAGES.length))));
  const rounds = Math.max(1, Math.ceil(o.frames / (perBurst * FUZZED_STAGES.length)));
  const rng = new Rng(o.seed);
  const report: FuzzReport = {
    seed: o.seed,
    rounds,
    framesTried: 0,
    noticesByCode: {},
    closesByCode: {},
    ignored: 0,
    byKind: {},
    byStage: {},
    reconnects: 0,
    preAuthSockets: 0,
    controlFrames: 0,
    committed: 0,
    aborted: 0,
    crashes: 0,
    violations: [],
  };
  const violation = (v: string): void => {
    if (report.violations.length < MAX_VIOLATIONS) report.violations.push(v);
  };

  const cohort = HONEST.length + 2;
  let s: Started;
  try {
    s = await startTestCoordinator({
      n: cohort,
      task: {
        rounds,
        cohortSize: cohort,
        minClients: HONEST.length + 1,
        threshold: 3,
        deadlines: { trainMs: 120_000, stageMs: 120_000, retryMs: 0 },
      },
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  const { coordinator } = s;
  const url = coordinator.url;
  const vectorLength = planQuantization({ clipNorm: 10, weightBound: 100, cohortSize: cohort, fractionalBits: 16, metricCount: 1, metricBound: 10 }, 4).vectorLength;
  const maxPayload = maxPayloadFor(vectorLength, cohort);
  const fuzzerIdentity = s.ids[FUZZER - 1]!;

  // The fuzzer's disconnects as the coordinator saw them: a new socket must wait for the old one's, or it is a duplicate.
  let disconnects = 0;
  let disconnectWaiters: (() => void)[] = [];
  coordinator.on((e: CoordinatorEvent) => {
    if (e.type === 'round') {
      if (e.summary.status === 'committed') report.committed++;
      else report.aborted++;
    }
    if (e.type === 'client-disconnected' && e.id === FUZZER) {
      disconnects++;
      const w = disconnectWaiters;
      disconnectWaiters = [];
      for (const f of w) f();
    }
  });
  const errorLines = (): string[] => s.log.matching(/^ERROR /);

  // ---- the fuzzer's socket
  let fuzzer: RawClient | null = null;
  let fuzzerSockets = 0;
  const connectFuzzer = async (): Promise<RawClient> => {
    if (fuzzer !== null && !fuzzer.isClosed) return fuzzer;
    if (fuzzer !== null) {
      const want = fuzzerSockets;
      while (disconnects < want) await new Promise<void>((resolve) => disconnectWaiters.push(resolve));
      report.reconnects++;
    }
    const c = new RawClient(url, { identity: fuzzerIdentity, track: false });
    fuzzer = c;
    await c.welcome;
    fuzzerSockets++;
    return c;
  };

  // ---- the round as the staller sees it
  let session: Uint8Array = new Uint8Array(16);
  let round = 0;
  const stale: ScopedMessage[] = [];
  let recent: NodeClientMessage[] = [];
  let remaining = o.frames;
  const stagesSeen = new Set<string>();
  let joining = false;

  const context = (stage: string): FrameContext => ({
    session,
    round,
    stage,
    vectorLength,
    maxPayload,
    maxCohort: cohort,
    fuzzerId: FUZZER,
    fuzzerKey: fuzzerIdentity.publicKey,
    peerIds: [...HONEST, STALLER, FUZZER],
    stale,
    recent,
  });

  const record = (frame: Frame, out: Outcome, stage: string): void => {
    report.framesTried++;
    inc(report.byStage, stage);
    const k = (report.byKind[frame.kind] ??= { frames: 0, ignored: 0, notices: {}, closes: {} });
    k.frames++;
    const notice = out.notices[0];
    if (out.closed !== null) {
      const key = `${out.closed}${notice ? ` ${notice.code}` : ''}`;
      inc(report.closesByCode, key);
      inc(k.closes, key);
    } else if (notice !== undefined) {
      inc(report.noticesByCode, notice.code);
      inc(k.notices, notice.code);
    } else {
      report.ignored++;
      k.ignored++;
    }
    for (const v of judge(frame, out)) violation(`round ${round} ${stage}: ${v}`);
  };

  const sendOn = async (c: RawClient, frame: Frame): Promise<Outcome> => {
    const mark = c.received.length;
    c.sendRaw(frame.data, frame.binary);
    const r = await c.roundTrip();
    const closed = r === 'closed' ? (await c.closed).code : null;
    return { closed, notices: c.notices(mark) };
  };

  const tryFrame = async (frame: Frame): Promise<Outcome> => {
    if (frame.preAuth) {
      report.preAuthSockets++;
      const c = new RawClient(url, { track: false });
      try {
        await c.waitFor((m) => m.type === 'Challenge');
        return await sendOn(c, frame);
      } finally {
        await c.terminate();
      }
    }
    return sendOn(await connectFuzzer(), frame);
  };

  const checkCoordinator = (stage: string, when: string): void => {
    try {
      const st = coordinator.status().stage;
      if (st !== stage) violation(`round ${round}: the coordinator was in ${st}, not ${stage}, ${when} the burst`);
    } catch (err) {
      report.crashes++;
      violation(`status() threw: ${(err as Error).message}`);
    }
  };

  /** One stage's burst, then a control frame that takes the fuzzer out of the round (so nobody waits for it). */
  const burst = async (stage: string): Promise<void> => {
    stagesSeen.add(stage);
    checkCoordinator(stage, 'before');
    const n = Math.min(perBurst, remaining);
    remaining -= n;
    // In about a third of the rounds the fuzzer joins: its offer burst holds only stale frames
    // (ignored, so it stays in the cohort) and it accepts; the next burst then opens with the
    // message that stage expects, which reaches the server machine's own checks (a signature
    // that does not verify, sizes) from a roster member.
    if (stage === 'TaskOffer') joining = rng.chance(0.3);
    for (let i = 0; i < n; i++) {
      const ctx = context(stage);
      let frame: Frame;
      if (stage === 'TaskOffer' && joining) frame = generateFrame(rng, ctx, 'replay-stale');
      else if (i === 0 && stage !== 'TaskOffer' && (joining || rng.chance(0.25))) frame = roundFrame(rng, ctx, LEAD[stage]);
      else {
        // The kinds are drawn by weight; when the frames left are no more than the kinds not
        // yet tried, try those, so every kind is exercised whatever the seed and message set.
        const untried = FRAME_KINDS.filter((k) => (report.byKind[k]?.frames ?? 0) === 0);
        frame = untried.length > 0 && remaining + (n - i) <= untried.length ? generateFrame(rng, ctx, untried[0]) : generateFrame(rng, ctx);
      }
      record(frame, await tryFrame(frame), stage);
    }
    if (stage !== 'TaskOffer') joining = false;
    const control: NodeClientMessage = { type: 'OfferReply', session, round, accept: stage === 'TaskOffer' ? joining || rng.chance(0.5) : true };
    const out = await sendOn(await connectFuzzer(), { kind: 'current-round', data: encode(control), binary: true, expect: { kind: 'any' }, note: 'control' });
    report.controlFrames++;
    const code = out.notices[0]?.code;
    if (out.closed !== null || (code !== undefined && code !== E.WrongStage && code !== E.NotInCohort)) {
      violation(`round ${round} ${stage}: the control OfferReply got ${out.closed !== null ? `close ${out.closed}` : `notice ${code}`}`);
    }
    checkCoordinator(stage, 'after');
    if (report.framesTried > 0 && report.framesTried % 1000 < perBurst) {
      o.progress?.(`${report.framesTried} frames, round ${round}/${rounds}, ${report.reconnects} reconnects, ${report.violations.length} violations`);
    }
  };

  /** A burst that cannot stall the round: a failure is a violation, and the staller answers anyway. */
  const safeBurst = async (stage: string): Promise<void> => {
    try {
      await burst(stage);
    } catch (err) {
      violation(`round ${round} ${stage}: the burst failed: ${(err as Error).stack ?? (err as Error).message}`);
    }
  };

  // ---- the staller: an honest participant that answers each stage after its burst
  let machine: ClientState | null = null;
  let chain = Promise.resolve();
  const stallerFailures: string[] = [];
  const stallerSend = (c: RawClient, m: NodeClientMessage): void => {
    recent.push(m);
    c.send(m);
  };
  const onStaller = async (c: RawClient, msg: CoordinatorMessage): Promise<void> => {
    switch (msg.type) {
      case 'TaskOffer': {
        const offer = msg as TaskOffer;
        for (const m of recent) if (m.type !== 'Hello' && m.type !== 'AuthResponse') stale.push(m);
        if (stale.length > 200) stale.splice(0, stale.length - 200);
        recent = [];
        session = offer.session;
        round = offer.round;
        const plan = planQuantization(offer.quant, offer.model.length);
        const { lanes } = encodeUpdate(plan, { delta: new Float32Array(offer.model.length).fill(0.02), weight: 5, metrics: [0.25] });
        machine = createClient({ identity: s.ids[STALLER - 1]!, input: lanes });
        await safeBurst('TaskOffer');
        stallerSend(c, { type: 'OfferReply', session: offer.session, round: offer.round, accept: true });
        return;
      }
      case 'RoundStart':
      case 'KeyList':
      case 'ShareBundle':
      case 'SurvivorList':
      case 'UnmaskRequest': {
        if (machine === null) return;
        await safeBurst(STAGE_OF[msg.type]);
        try {
          const step = clientStep(machine, msg);
          machine = step.state;
          for (const m of step.outbox) stallerSend(c, m);
        } catch (err) {
          stallerFailures.push(`the staller refused ${msg.type}: ${(err as Error).message}`);
        }
        return;
      }
      case 'RoundResult':
        machine = null;
        return;
      default:
        return;
    }
  };

  const crashHandler = (err: unknown): void => {
    report.crashes++;
    violation(`uncaught in the process: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  };
  process.on('uncaughtException', crashHandler);
  process.on('unhandledRejection', crashHandler);
  try {
    // The staller and the nodes fill minClients; the fuzzer connects in the first burst, so
    // the first cohort is the honest one and later cohorts include the fuzzer.
    const staller: RawClient = new RawClient(url, {
      identity: s.ids[STALLER - 1]!,
      onMessage: (msg) => {
        chain = chain.then(() => onStaller(staller, msg)).catch((err: unknown) => {
          stallerFailures.push(`staller: ${(err as Error).message}`);
        });
      },
    });
    await staller.welcome;
    const nodes = HONEST.map((id) => startNode(url, s.ids[id - 1]!));
    let summary;
    try {
      summary = await coordinator.done;
    } catch (err) {
      report.crashes++;
      violation(`coordinator.done rejected: ${(err as Error).message}`);
    }
    await chain;
    for (const f of stallerFailures) violation(f);
    if (summary !== undefined && (!summary.finished || summary.committed !== rounds)) {
      violation(`the task did not finish: ${summary.committed} of ${rounds} rounds committed`);
    }
    for (const r of s.events) {
      if (r.type === 'round' && r.summary.status === 'committed' && r.summary.survivors < HONEST.length + 1) {
        violation(`round ${r.summary.round} committed with ${r.summary.survivors} survivors, expected the ${HONEST.length + 1} honest ones`);
      }
      if (r.type === 'round' && r.summary.status === 'aborted') violation(`round ${r.summary.round} aborted: ${r.summary.reason}`);
    }
    for (const { node } of nodes) {
      // The coordinator closes every client with 1000 once the task is complete.
      const done = await node.done;
      if (done.status !== 'completed') violation(`an honest node ended ${done.status}: ${done.reason}`);
      const st = node.stats();
      if (st.roundsCommitted !== rounds || st.roundErrors !== 0 || st.invalidFrames !== 0) {
        violation(`an honest node saw ${st.roundsCommitted} committed rounds, ${st.roundErrors} round errors, ${st.invalidFrames} invalid frames`);
      }
    }
    for (const stage of FUZZED_STAGES) if (!stagesSeen.has(stage)) violation(`no burst in stage ${stage}`);
    try {
      const st = await getStatus(coordinator);
      if (st.status !== 200 || (st.body as { finished?: unknown }).finished !== true) violation(`GET /status: ${st.status} ${JSON.stringify(st.body)}`);
    } catch (err) {
      report.crashes++;
      violation(`GET /status failed: ${(err as Error).message}`);
    }
    for (const line of errorLines()) {
      report.crashes++;
      violation(`coordinator: ${line}`);
    }
  } finally {
    process.off('uncaughtException', crashHandler);
    process.off('unhandledRejection', crashHandler);
    const f = fuzzer as RawClient | null;
    if (f !== null) await f.terminate();
    await cleanup();
  }
  return report;
}

/** The report as the lines `pnpm fuzz` prints. */
export function formatReport(r: FuzzReport): string[] {
  const sorted = (m: Record<string, number>): string =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || 'none';
  return [
    `seed ${r.seed}: ${r.framesTried} frames tried over ${r.rounds} rounds (${r.committed} committed, ${r.aborted} aborted)`,
    `notices by code (connection kept): ${sorted(r.noticesByCode)}`,
    `closes by code: ${sorted(r.closesByCode)}`,
    `ignored (stale, or a valid OfferReply the offer took): ${r.ignored}`,
    `frames by stage: ${sorted(r.byStage)}`,
    `frames by kind: ${Object.entries(r.byKind)
      .sort((a, b) => b[1].frames - a[1].frames)
      .map(([k, v]) => `${k} ${v.frames}`)
      .join(', ')}`,
    `fuzzer re-authentications: ${r.reconnects}; unauthenticated sockets: ${r.preAuthSockets}; control frames: ${r.controlFrames}`,
    `crashes: ${r.crashes}`,
    `violations: ${r.violations.length}`,
    ...r.violations.slice(0, 50).map((v) => `  ${v}`),
  ];
}
