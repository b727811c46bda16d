/**
 * The random rotation of distributed DP: x ↦ H·S·x / √D, with H the D×D Walsh-Hadamard
 * matrix (entries ±1, H·H = D·I), S a diagonal of random signs and D a power of two.
 *
 * Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for Federated
 * Learning with Secure Aggregation", ICML 2021, §4 ("flattening"): after the rotation
 * every coordinate of a vector of norm c is sub-Gaussian with scale c/√D, so no single
 * lane carries the mass of a spiky update and wrap-around modulo 2^32 becomes rare.
 * The rotation is orthogonal, so it preserves the L2 norm and hence the sensitivity.
 *
 * The signs are public: drawn from AES-256-CTR under a 32-byte public seed that every
 * party derives for the round (rotationSeed). A coordinator that picks the seed badly
 * can only make wrap-around likelier (utility), never weaken privacy: the noise and
 * the norm bound do not depend on it.
 *
 * All arithmetic is float64; the transform is its own inverse up to the 1/D factor.
 */
import { createCipheriv } from 'node:crypto';
import { concatBytes, lp, u32be, utf8 } from './bytes.ts';
import { hkdfSha256 } from './hkdf.ts';

/** Largest padded length: 2^28 lanes, the same resource bound as the ring vector. */
export const MAX_ROTATION_LENGTH = 2 ** 28;

/** HKDF info label of the public rotation seed; distinct from every key label. */
const ROTATION_LABEL = 'tally/v1/dp/rotation';

/** Smallest power of two ≥ m (m ≥ 1). */
export function paddedLength(m: number): number {
  if (!Number.isInteger(m) || m < 1 || m > MAX_ROTATION_LENGTH) {
    throw new RangeError(`paddedLength: expected an integer in [1, ${MAX_ROTATION_LENGTH}], got ${String(m)}`);
  }
  let d = 1;
  while (d < m) d *= 2;
  return d;
}

/**
 * The public per-round seed: HKDF-SHA256 (RFC 5869) of the session id and round number,
 * with its own label. Everyone computes it; nobody chooses it after the session id is fixed.
 */
export function rotationSeed(session: Uint8Array, round: number): Uint8Array {
  if (!(session instanceof Uint8Array)) throw new TypeError(`rotationSeed: expected session bytes, got ${typeof session}`);
  if (!Number.isInteger(round) || round < 0 || round > 0xffffffff) throw new RangeError(`rotationSeed: expected a uint32 round, got ${String(round)}`);
  return hkdfSha256(concatBytes(lp(session), u32be(round)), utf8('tally/v1/dp'), lp(utf8(ROTATION_LABEL)), 32);
}

/** Packed sign bits for D lanes: bit i set means lane i is negated. */
export function rotationSigns(seed: Uint8Array, d: number): Uint32Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new RangeError(`rotationSigns: expected a 32-byte seed, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
  paddedLength(d);
  const words = Math.ceil(d / 32);
  const ks = createCipheriv('aes-256-ctr', seed, new Uint8Array(16)).update(new Uint8Array(words * 4));
  const out = new Uint32Array(words);
  new Uint8Array(out.buffer).set(ks);
  return out;
}

function applySigns(x: Float64Array, signs: Uint32Array): void {
  for (let i = 0; i < x.length; i++) {
    if ((signs[i >>> 5]! >>> (i & 31)) & 1) x[i] = -x[i]!;
  }
}

/** Butterfly passes h = hFrom, 2·hFrom, …, < hTo over x[lo, hi). */
function passes(x: Float64Array, lo: number, hi: number, hFrom: number, hTo: number): void {
  for (let h = hFrom; h < hTo; h *= 2) {
    for (let i = lo; i < hi; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j]!;
        const b = x[j + h]!;
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

/** Lanes per cache block (64 KiB of float64): the passes inside a block stay in L2. */
const BLOCK = 8192;

/**
 * In-place unnormalised fast Walsh-Hadamard transform (x ← H·x), D = x.length a power
 * of two: log2(D) passes of butterflies (a, b) ↦ (a + b, a − b). The passes with
 * h < BLOCK only mix lanes inside aligned blocks, so they run block by block while the
 * block is in cache; the remaining log2(D/BLOCK) passes sweep the whole vector.
 */
export function fwht(x: Float64Array): void {
  const n = x.length;
  if (n === 0 || (n & (n - 1)) !== 0) throw new RangeError(`fwht: expected a power-of-two length, got ${n}`);
  const block = Math.min(n, BLOCK);
  for (let lo = 0; lo < n; lo += block) passes(x, lo, lo + block, 1, block);
  passes(x, 0, n, block, n);
}

/** x ← H·S·x/√D in place (x.length = D). */
export function rotate(x: Float64Array, signs: Uint32Array): void {
  applySigns(x, signs);
  fwht(x);
  const k = 1 / Math.sqrt(x.length);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * k;
}

/** The inverse: y ← S·H·y/√D in place (H/√D is symmetric and orthogonal). */
export function unrotate(y: Float64Array, signs: Uint32Array): void {
  fwht(y);
  const k = 1 / Math.sqrt(y.length);
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * k;
  applySigns(y, signs);
}
