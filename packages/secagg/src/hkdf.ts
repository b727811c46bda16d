/**
 * Key derivation. Every key the protocol uses comes out of `deriveKey` with its own
 * label (STYLE habit 6), bound to the session and round, so a key derived for one
 * purpose or round can never be confused with another.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { assertBytes, concatBytes, lp, utf8 } from './bytes.ts';
import { MAX_ROUND } from './messages.ts';
import { nativeKernel } from './native.ts';

/** RFC 5869 §2.3: L <= 255 * HashLen. */
const MAX_OKM = 255 * 32;

/** HKDF-SHA-256 (RFC 5869): extract with `salt`, expand with `info` to `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  assertBytes(ikm, undefined, 'hkdfSha256 ikm');
  assertBytes(salt, undefined, 'hkdfSha256 salt');
  assertBytes(info, undefined, 'hkdfSha256 info');
  if (typeof length !== 'number') throw new TypeError(`hkdfSha256 length: expected number, got ${typeof length}`);
  if (!Number.isInteger(length) || length < 0 || length > MAX_OKM) {
    throw new RangeError(`hkdfSha256 length: expected an integer in [0, ${MAX_OKM}], got ${length}`);
  }
  // The native kernel's HKDF (OpenSSL's HMAC-SHA-256): the same bytes in ~2 µs instead of
  // ~6 (its self-check runs RFC 5869's test case; hkdf.test.ts compares the two).
  const native = nativeKernel();
  if (native !== null) {
    const out = new Uint8Array(length);
    native.hkdfSha256(ikm, salt, info, out);
    return out;
  }
  return hkdf(sha256, ikm, salt, info, length);
}

/** One label per derived-key purpose. Versioned so a future format change cannot collide. */
export const KdfLabel = {
  /** Pairwise mask seed between two clients (from their s-key agreement). */
  PairwiseMask: 'tally/v1/mask/pairwise',
  /** A client's self-mask seed b_u. */
  SelfMask: 'tally/v1/mask/self',
  /** The AEAD key that encrypts Shamir shares from one client to another. */
  ShareEncryption: 'tally/v1/share-enc',
} as const;

export type KdfLabel = (typeof KdfLabel)[keyof typeof KdfLabel];

const LABELS: ReadonlySet<string> = new Set(Object.values(KdfLabel));

/** Identifies one round of one aggregation session; bound into every key and AAD. */
export interface RoundContext {
  /** 16-byte session id chosen by the server. */
  readonly session: Uint8Array;
  /** Round number within the session, an integer in [0, 2^32). */
  readonly round: number;
}

export const SESSION_BYTES = 16;
export const DERIVED_KEY_BYTES = 32;

const SALT_PREFIX = utf8('tally/v1/salt');
/** lp(utf8(label)) for every label, made once: deriveKey runs ~150 times per client per round. */
const LABEL_INFO: ReadonlyMap<string, Uint8Array> = new Map([...LABELS].map((l) => [l, lp(utf8(l))]));

/** Throws unless `ctx` is a well-formed RoundContext. */
export function assertRoundContext(ctx: unknown, what = 'ctx'): asserts ctx is RoundContext {
  if (typeof ctx !== 'object' || ctx === null) throw new TypeError(`${what}: expected RoundContext, got ${ctx === null ? 'null' : typeof ctx}`);
  const c = ctx as { session?: unknown; round?: unknown };
  assertBytes(c.session, SESSION_BYTES, `${what}.session`);
  if (typeof c.round !== 'number') throw new TypeError(`${what}.round: expected number, got ${typeof c.round}`);
  if (!Number.isInteger(c.round) || c.round < 0 || c.round > MAX_ROUND) {
    throw new RangeError(`${what}.round: expected an integer in [0, 2^32), got ${c.round}`);
  }
}

/**
 * Derives a 32-byte key for `label` in round `ctx`.
 *   salt = "tally/v1/salt" || lp(session) || u32be(round)
 *   info = lp(label) || extraInfo
 * The label is length-prefixed so `extraInfo` can never be re-read as part of it.
 * `ikm` must carry the secret entropy (a DH output or a random seed); it may not be empty.
 */
export function deriveKey(ikm: Uint8Array, label: KdfLabel, ctx: RoundContext, extraInfo?: Uint8Array): Uint8Array {
  assertBytes(ikm, undefined, 'deriveKey ikm');
  if (ikm.length === 0) throw new RangeError('deriveKey ikm: expected at least 1 byte, got 0');
  if (typeof label !== 'string') throw new TypeError(`deriveKey label: expected string, got ${typeof label}`);
  if (!LABELS.has(label)) throw new RangeError(`deriveKey label: expected a KdfLabel, got ${JSON.stringify(label)}`);
  assertRoundContext(ctx, 'deriveKey ctx');
  if (extraInfo !== undefined) assertBytes(extraInfo, undefined, 'deriveKey extraInfo');
  // salt = SALT_PREFIX || lp(session) || u32be(round), written into one array.
  const p = SALT_PREFIX.length;
  const salt = new Uint8Array(p + 4 + SESSION_BYTES + 4);
  const view = new DataView(salt.buffer);
  salt.set(SALT_PREFIX, 0);
  view.setUint32(p, SESSION_BYTES, false);
  salt.set(ctx.session, p + 4);
  view.setUint32(p + 4 + SESSION_BYTES, ctx.round, false);
  const labelInfo = LABEL_INFO.get(label)!;
  const info = extraInfo === undefined || extraInfo.length === 0 ? labelInfo : concatBytes(labelInfo, extraInfo);
  return hkdfSha256(ikm, salt, info, DERIVED_KEY_BYTES);
}
