/**
 * t-of-n Shamir secret sharing (Shamir 1979) of 32-byte secrets over GF(p),
 * p = 2^256 + 297: the smallest prime above 2^256 (checked in shamir.test.ts), so every
 * 32-byte secret is a field element and no secret is reduced or biased.
 *
 * Bonawitz et al. 2017 §4 share each client's self-mask seed b_u and its DH secret s_u^SK
 * this way; the server reconstructs one or the other for every client, so
 * `combineShares` caches Lagrange coefficients per set of share indices, and derives a
 * set's coefficients in O(t) from a cached superset (a basis) when one is close.
 */
import { assertBytes, fromHex, toHex } from './bytes.ts';
import { fail, SecAggErrorCode } from './errors.ts';
import { nativeKernel } from './native.ts';
import { osRandom } from './random.ts';
import type { RandomSource } from './random.ts';

export const FIELD_PRIME: bigint = 2n ** 256n + 297n;
/** A field element is serialised as a fixed 33-byte big-endian integer < FIELD_PRIME. */
export const SHARE_BYTES = 33;
export const SECRET_BYTES = 32;
/** Lagrange coefficient sets kept by `combineShares` (LRU); one per distinct x-set. */
export const LAGRANGE_CACHE_SIZE = 64;

const P = FIELD_PRIME;
const TWO_256 = 2n ** 256n;

export interface Share {
  /** Evaluation point: the holder's client id, an integer in [1, 2^32). Never 0 (that is the secret). */
  readonly x: number;
  /** f(x) as SHARE_BYTES big-endian bytes, < FIELD_PRIME. */
  readonly y: Uint8Array;
}

const toBig = (b: Uint8Array): bigint => BigInt('0x' + toHex(b));
const toBytes = (v: bigint, len: number): Uint8Array => fromHex(v.toString(16).padStart(2 * len, '0'));
const mod = (a: bigint): bigint => {
  const r = a % P;
  return r < 0n ? r + P : r;
};

/** a^-1 mod p by the extended Euclidean algorithm; a must be non-zero mod p. */
function invert(a: bigint): bigint {
  let r0 = P;
  let r1 = mod(a);
  let t0 = 0n;
  let t1 = 1n;
  if (r1 === 0n) throw new Error('shamir: inverse of zero'); // unreachable: callers pass products of non-zero values
  while (r1 !== 0n) {
    const q = r0 / r1;
    const r2 = r0 - q * r1;
    r0 = r1;
    r1 = r2;
    const t2 = t0 - q * t1;
    t0 = t1;
    t1 = t2;
  }
  return mod(t0); // r0 = gcd = 1 since p is prime
}

/** Montgomery's trick: all inverses for the price of one inversion and 3(n-1) multiplications. */
function batchInvert(values: readonly bigint[]): bigint[] {
  const n = values.length;
  const prefix = new Array<bigint>(n);
  let acc = 1n;
  for (let i = 0; i < n; i++) {
    acc = (acc * values[i]!) % P;
    prefix[i] = acc;
  }
  let inv = invert(acc);
  const out = new Array<bigint>(n);
  for (let i = n - 1; i > 0; i--) {
    out[i] = (inv * prefix[i - 1]!) % P;
    inv = (inv * values[i]!) % P;
  }
  if (n > 0) out[0] = inv;
  return out;
}

const isShareIndex = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 0xffffffff;

/** Throws BadShares unless xs are distinct integers in [1, 2^32). */
function checkXs(xs: readonly number[]): void {
  const seen = new Set<number>();
  for (const x of xs) {
    if (!isShareIndex(x)) fail(SecAggErrorCode.BadShares, `share index must be an integer in [1, 2^32), got ${String(x)}`);
    if (seen.has(x)) fail(SecAggErrorCode.BadShares, `duplicate share index ${x}`);
    seen.add(x);
  }
}

/**
 * Lagrange coefficients for evaluating at 0 the polynomial through points at `xs`:
 * lambda_i = prod_{j != i} x_j / (x_j - x_i) mod p, in the order of `xs`.
 * Computed as lambda_i = (prod_j x_j) / (x_i * prod_{j != i} (x_j - x_i)) with one batched
 * inversion. O(t^2) small multiplications. Throws BadShares on duplicate or out-of-range xs.
 */
export function lagrangeAtZero(xs: readonly number[]): bigint[] {
  if (!Array.isArray(xs)) throw new TypeError(`lagrangeAtZero xs: expected array, got ${typeof xs}`);
  checkXs(xs);
  const t = xs.length;
  const big = xs.map(BigInt);
  let num = 1n;
  for (const x of big) num = (num * x) % P;
  const dens = new Array<bigint>(t);
  for (let i = 0; i < t; i++) {
    const xi = xs[i]!;
    let d = big[i]!;
    // Multiply the small differences x_j - x_i (|.| < 2^32) exactly in a double while the
    // product stays a safe integer, and only then fold it into the big integer: far
    // fewer BigInt operations for the usual small ids. Reduce every few folds.
    let small = 1;
    let folds = 0;
    for (let j = 0; j < t; j++) {
      if (j === i) continue;
      const diff = xs[j]! - xi;
      const next = small * diff;
      if (Math.abs(next) <= Number.MAX_SAFE_INTEGER) {
        small = next;
        continue;
      }
      d *= BigInt(small);
      if (++folds % 4 === 0) d %= P;
      small = diff;
    }
    d *= BigInt(small);
    dens[i] = mod(d); // non-zero: |x_j - x_i| < 2^32 < p, and p is prime
  }
  return batchInvert(dens).map((inv) => (inv * num) % P);
}

/** LRU of Lagrange coefficients keyed by the sorted x-set. Map iteration order is insertion order. */
const lagrangeCache = new Map<string, readonly bigint[]>();

/**
 * Lagrange bases: point sets P (sorted) with their coefficients, from which the
 * coefficients of any subset S of P with |P \ S| <= BASIS_MAX_EXTRA follow in O(|S|):
 *   lambda_i^S = lambda_i^P * prod_{r in P\S} (x_r - x_i) / x_r
 * (drop the factors x_r / (x_r - x_i) of lambda_i^P = prod_{j in P, j != i} x_j / (x_j - x_i)).
 * On the complete graph with the t lowest ids chosen (server.ts), a round's point sets
 * are the t-subsets of its t+1 lowest ids: one basis of t+1 points covers them all.
 */
export const BASIS_MAX_EXTRA = 8;
/** Bases kept (most recent first). */
const BASIS_CACHE_SIZE = 4;

interface Basis {
  readonly xs: readonly number[];
  readonly index: ReadonlyMap<number, number>;
  readonly lambdas: readonly bigint[];
}
const bases: Basis[] = [];
/** The point set of the last full computation: two misses that overlap make a basis of their union. */
let lastMiss: readonly number[] | undefined;

function makeBasis(sortedXs: readonly number[]): Basis {
  const basis = { xs: sortedXs, index: new Map(sortedXs.map((x, i) => [x, i])), lambdas: lagrangeAtZero(sortedXs) };
  bases.unshift(basis);
  if (bases.length > BASIS_CACHE_SIZE) bases.pop();
  return basis;
}

/** The coefficients for `sortedXs` from `basis` (a superset with at most BASIS_MAX_EXTRA more points), in O(t). */
function fromBasis(basis: Basis, sortedXs: readonly number[]): bigint[] {
  const inS = new Uint8Array(basis.xs.length);
  for (const x of sortedXs) inS[basis.index.get(x)!] = 1;
  const removed = basis.xs.filter((_, i) => inS[i] === 0);
  let prodR = 1n;
  for (const r of removed) prodR = (prodR * BigInt(r)) % P;
  const invProdR = invert(prodR);
  return sortedXs.map((xi) => {
    // prod_r (x_r - x_i): small factors multiplied in a double while exact, then folded.
    let big = 1n;
    let small = 1;
    for (const r of removed) {
      const diff = r - xi;
      const next = small * diff;
      if (Math.abs(next) <= Number.MAX_SAFE_INTEGER) {
        small = next;
        continue;
      }
      big *= BigInt(small);
      small = diff;
    }
    big *= BigInt(small);
    return mod(((basis.lambdas[basis.index.get(xi)!]! * big) % P) * invProdR);
  });
}

/** A cached basis containing `sortedXs` with few enough extra points, if any. */
function findBasis(sortedXs: readonly number[]): Basis | undefined {
  for (const b of bases) {
    if (b.xs.length < sortedXs.length || b.xs.length - sortedXs.length > BASIS_MAX_EXTRA) continue;
    if (sortedXs.every((x) => b.index.has(x))) return b;
  }
  return undefined;
}

/** Sorted union of two sorted id lists. */
function sortedUnion(a: readonly number[], b: readonly number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}

function computeLagrange(sortedXs: readonly number[]): readonly bigint[] {
  const basis = findBasis(sortedXs);
  if (basis !== undefined) return fromBasis(basis, sortedXs);
  const prev = lastMiss;
  lastMiss = sortedXs;
  if (prev !== undefined && prev.length === sortedXs.length) {
    const union = sortedUnion(prev, sortedXs);
    if (union.length - sortedXs.length <= BASIS_MAX_EXTRA && union.length > sortedXs.length) {
      return fromBasis(makeBasis(union), sortedXs);
    }
  }
  return lagrangeAtZero(sortedXs);
}

function cachedLagrange(sortedXs: readonly number[]): readonly bigint[] {
  const key = sortedXs.join(',');
  const hit = lagrangeCache.get(key);
  if (hit !== undefined) {
    lagrangeCache.delete(key);
    lagrangeCache.set(key, hit);
    return hit;
  }
  const lambdas = computeLagrange(sortedXs);
  lagrangeCache.set(key, lambdas);
  if (lagrangeCache.size > LAGRANGE_CACHE_SIZE) {
    const oldest = lagrangeCache.keys().next();
    if (oldest.done !== true) lagrangeCache.delete(oldest.value);
  }
  return lambdas;
}

/** Test hook: the coefficients combineShares would use for these (distinct, valid) points, through the caches. */
export function lagrangeViaCache(xs: readonly number[]): readonly bigint[] {
  checkXs(xs);
  return cachedLagrange([...xs].sort((a, b) => a - b));
}

function assertThreshold(t: unknown, what: string): asserts t is number {
  if (typeof t !== 'number') throw new TypeError(`${what}: expected number, got ${typeof t}`);
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`${what}: expected an integer >= 1, got ${t}`);
}

/**
 * A uniform field element: draws random(33), clears the top 7 bits (leaving a value
 * < 2^257), rejects values >= p and draws again. Accepts with probability ~1/2, no bias.
 */
function randomCoefficient(random: RandomSource): Uint8Array {
  for (;;) {
    const b = random(SHARE_BYTES);
    assertBytes(b, SHARE_BYTES, `splitSecret random(${SHARE_BYTES})`);
    const c = Uint8Array.from(b);
    c[0]! &= 0x01;
    if (isFieldElement(c)) return c;
  }
}

/** Whether 33 big-endian bytes with a top byte of 0 or 1 are below p = 2^256 + 297. */
function isFieldElement(c: Uint8Array): boolean {
  if (c[0] === 0) return true;
  for (let i = 1; i < SHARE_BYTES - 2; i++) if (c[i] !== 0) return false;
  return c[SHARE_BYTES - 2]! * 256 + c[SHARE_BYTES - 1]! < 297;
}

/**
 * Splits a 32-byte secret into shares at `xs`, any `t` of which reconstruct it and any
 * t-1 of which are independent of it. f(X) = secret + a_1 X + ... + a_{t-1} X^{t-1}, the
 * a_k uniform in GF(p), drawn in order a_1, a_2, ... from `random` (see randomCoefficient).
 * Returns one share per x, in the order of `xs`.
 */
export function splitSecret(secret: Uint8Array, t: number, xs: readonly number[], random: RandomSource = osRandom): Share[] {
  assertBytes(secret, SECRET_BYTES, 'splitSecret secret');
  assertThreshold(t, 'splitSecret t');
  if (!Array.isArray(xs)) throw new TypeError(`splitSecret xs: expected array, got ${typeof xs}`);
  if (t > xs.length) throw new RangeError(`splitSecret t: expected at most xs.length = ${xs.length}, got ${t}`);
  if (typeof random !== 'function') throw new TypeError(`splitSecret random: expected RandomSource function, got ${typeof random}`);
  for (const x of xs) {
    if (!isShareIndex(x)) throw new RangeError(`splitSecret xs: expected integers in [1, 2^32), got ${String(x)}`);
  }
  if (new Set(xs).size !== xs.length) throw new RangeError('splitSecret xs: expected distinct values, got a duplicate');
  // The coefficients as 33-byte big-endian field elements: c_0 = the secret, then t - 1 draws.
  const coeffs = new Uint8Array(SHARE_BYTES * t);
  coeffs.set(secret, SHARE_BYTES - SECRET_BYTES);
  for (let k = 1; k < t; k++) coeffs.set(randomCoefficient(random), SHARE_BYTES * k);
  try {
    // The native kernel evaluates with 64-bit limbs: the same shares, ~20x faster and
    // without ~7,500 short-lived BigInts per client per round (shamir.test.ts compares).
    const native = nativeKernel();
    if (native !== null) {
      const out = new Uint8Array(SHARE_BYTES * xs.length);
      native.shamirEval(coeffs, Uint32Array.from(xs), out);
      return xs.map((x, j) => ({ x, y: out.slice(SHARE_BYTES * j, SHARE_BYTES * (j + 1)) }));
    }
    const cs = Array.from({ length: t }, (_, k) => toBig(coeffs.subarray(SHARE_BYTES * k, SHARE_BYTES * (k + 1))));
    return xs.map((x) => {
      const bx = BigInt(x);
      let y = 0n;
      for (let k = cs.length - 1; k >= 0; k--) y = (y * bx + cs[k]!) % P; // Horner
      return { x, y: toBytes(y, SHARE_BYTES) };
    });
  } finally {
    coeffs.fill(0); // the polynomial determines the secret
  }
}

/**
 * Reconstructs the secret from at least `t` shares, using the first `t`. All given shares
 * are checked first (fail closed): BadShares for fewer than t shares, a duplicate x, an x
 * outside [1, 2^32), a y that is not SHARE_BYTES long or not < p, or a result >= 2^256
 * (which no honest sharing of a 32-byte secret can produce: the shares are inconsistent).
 * Consistent-but-wrong shares from a malicious holder are NOT detected here.
 */
export function combineShares(shares: readonly Share[], t: number): Uint8Array {
  assertThreshold(t, 'combineShares t');
  if (!Array.isArray(shares)) throw new TypeError(`combineShares shares: expected array, got ${typeof shares}`);
  if (shares.length < t) fail(SecAggErrorCode.BadShares, `too few shares: need ${t}, got ${shares.length}`);
  const seen = new Set<number>();
  for (const s of shares) {
    if (typeof s !== 'object' || s === null) fail(SecAggErrorCode.BadShares, `share must be an object, got ${s === null ? 'null' : typeof s}`);
    if (!isShareIndex(s.x)) fail(SecAggErrorCode.BadShares, `share index must be an integer in [1, 2^32), got ${String(s.x)}`);
    if (seen.has(s.x)) fail(SecAggErrorCode.BadShares, `duplicate share index ${s.x}`);
    seen.add(s.x);
    if (!(s.y instanceof Uint8Array) || s.y.length !== SHARE_BYTES) {
      fail(SecAggErrorCode.BadShares, `share ${s.x}: y must be ${SHARE_BYTES} bytes, got ${s.y instanceof Uint8Array ? s.y.length : typeof s.y}`);
    }
    // y < 2^256 <= p when the top byte is 0; parse only in the rare top-byte-1 case.
    if (s.y[0]! > 1 || (s.y[0] === 1 && toBig(s.y) >= P)) fail(SecAggErrorCode.BadShares, `share ${s.x}: y is not a field element (>= p)`);
  }
  const used = shares.slice(0, t);
  const order = used.map((_, i) => i).sort((a, b) => used[a]!.x - used[b]!.x);
  const lambdas = cachedLagrange(order.map((i) => used[i]!.x));
  let acc = 0n;
  for (let k = 0; k < t; k++) acc += lambdas[k]! * toBig(used[order[k]!]!.y); // reduce once at the end
  const secret = acc % P;
  if (secret >= TWO_256) fail(SecAggErrorCode.BadShares, 'shares are inconsistent: reconstructed value is not a 32-byte secret');
  return toBytes(secret, SECRET_BYTES);
}
