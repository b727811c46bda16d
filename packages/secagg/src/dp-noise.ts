/**
 * Exact sampling of the discrete Gaussian N_Z(0, σ²): P[X = x] ∝ exp(-x²/(2σ²)), x ∈ Z.
 *
 * Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential Privacy",
 * NeurIPS 2020 (arXiv:2004.00010), Algorithms 1-3: rejection sampling from a discrete
 * Laplace proposal, every coin a Bernoulli(exp(-γ)) with a rational γ. The output is
 * distributed exactly as N_Z(0, σ²) (no floating-point approximation of the
 * distribution, the flaw Mironov 2012 exploited in floating-point Laplace samplers).
 *
 * How exactness is kept while staying fast: each Bernoulli(exp(-γ)) compares a uniform
 * U ∈ [0, 1) with p = exp(-γ). U is read lazily, 32 bits at a time. The fast path
 * compares the first 32 bits with a float64 approximation p̂ whose error is below
 * 2^-48 (argued at FAST_MARGIN); only if U's 32-bit interval lies within 2^-44 of p̂
 * (probability < 2^-31 per coin) is the answer not yet known, and then exact
 * rational arithmetic (BigInt) brackets p in ever narrower intervals while more bits of
 * U are drawn, until U falls on one side. Both paths answer "U < p" for the same U, so
 * the coin is exactly Bernoulli(p).
 *
 * σ² must be an integer in [1, MAX_SIGMA2]: the caller rounds the variance it needs up.
 */
import type { UniformStream } from './dp-random.ts';

/** Largest σ² accepted: σ ≤ 2^22 keeps every intermediate integer below 2^53. */
export const MAX_SIGMA2 = 2 ** 44;

const TWO32 = 4294967296;
/**
 * Half-width of the band around p̂ that the fast path refuses to decide, in units of
 * 2^-32: 2^-12 units = 2^-44. The float error of p̂ is far smaller: γ̂ carries at most
 * 4 roundings (relative 2^-51), so |exp(-γ̂) - exp(-γ)| ≤ γe^-γ·2^-51 ≤ 2^-52, plus
 * Math.exp's own error below 1 ulp (≤ 2^-53 for p ≤ 1): total < 2^-51.
 */
const FAST_MARGIN = 2 ** -12;
const UNDECIDED = 2;

/** 1 if U < p, 0 if U ≥ p, UNDECIDED if the first 32 bits `u` of U cannot tell. */
function fastCompare(pHat: number, u: number): number {
  const scaled = pHat * TWO32;
  if (u + 1 <= scaled - FAST_MARGIN) return 1;
  if (u >= scaled + FAST_MARGIN) return 0;
  return UNDECIDED;
}

/**
 * @internal Bounds [lo, hi] with lo ≤ exp(-N/D)·2^q ≤ hi, for integers N ≥ 0, D ≥ 1.
 * Argument halving to x = N/(D·2^j) ≤ 1/2, Taylor series with alternating terms
 * (remainder bounded by the first omitted term), then j interval squarings.
 */
export function _expNegInterval(N: bigint, D: bigint, q: number): [bigint, bigint] {
  let j = 0;
  while (2n * N > D << BigInt(j)) j++;
  const w = q + j + 24;
  const W = BigInt(w);
  const one = 1n << W;
  const den = D << BigInt(j);
  // Each computed term is within 2 units of the true term (x ≤ 1/2 halves the carried
  // error, each floor adds < 1), so k terms carry < 2k units; the remainder after the
  // first zero term is < 2 units.
  let term = one;
  let sum = one;
  let k = 1;
  for (let i = 1n; term !== 0n; i++, k++) {
    term = (term * N) / (den * i);
    sum = i % 2n === 1n ? sum - term : sum + term;
  }
  const err = BigInt(2 * k + 4);
  let lo = sum - err;
  let hi = sum + err;
  if (lo < 0n) lo = 0n;
  for (let s = 0; s < j; s++) {
    lo = (lo * lo) >> W;
    hi = (hi * hi + one - 1n) >> W;
  }
  const shift = BigInt(w - q);
  return [lo >> shift, (hi + (1n << shift) - 1n) >> shift];
}

/**
 * A uniform U ∈ [0, 1) whose binary expansion is read lazily: `U` holds its first
 * `bits` bits. Comparisons with exp(-N/D) extend it only as far as they must.
 */
class LazyUniform {
  U: bigint;
  bits: number;
  private readonly stream: UniformStream;
  constructor(prefix: bigint, bits: number, stream: UniformStream) {
    this.U = prefix;
    this.bits = bits;
    this.stream = stream;
  }
  /** Is U < exp(-N/D)? Exact. */
  lessThanExpNeg(N: bigint, D: bigint): boolean {
    for (;;) {
      const [lo, hi] = _expNegInterval(N, D, this.bits);
      if (this.U + 1n <= lo) return true;
      if (this.U >= hi) return false;
      this.U = (this.U << 32n) | BigInt(this.stream.next32());
      this.bits += 32;
    }
  }
}

/**
 * @internal The exact slow path: U's first 32 bits are `u`; draw more bits and compare
 * with exp(-N/D) bracketed to the same precision, until the comparison is decided.
 */
export function _bernoulliExpNegSlow(N: bigint, D: bigint, u: number, stream: UniformStream): boolean {
  return new LazyUniform(BigInt(u), 32, stream).lessThanExpNeg(N, D);
}

/** @internal Whether the 32-bit fast path alone decides Bernoulli(exp(-num/den)) for prefix u (tests). */
export function bernoulliExpNegDecidesFast(num: number, den: number, u: number): boolean {
  return fastCompare(Math.exp(-num / den), u) !== UNDECIDED;
}

/** Bernoulli(exp(-num/den)) for integers 0 ≤ num, 1 ≤ den, both < 2^53. */
export function bernoulliExpNeg(num: number, den: number, stream: UniformStream): boolean {
  const u = stream.next32();
  const r = fastCompare(Math.exp(-num / den), u);
  if (r !== UNDECIDED) return r === 1;
  return _bernoulliExpNegSlow(BigInt(num), BigInt(den), u, stream);
}

/** floor(sqrt(s)) exactly, for an integer 0 ≤ s < 2^53. */
function isqrt(s: number): number {
  let r = Math.floor(Math.sqrt(s));
  while (r * r > s) r--;
  while ((r + 1) * (r + 1) <= s) r++;
  return r;
}

/** A prepared sampler for one σ². */
export interface DiscreteGaussian {
  readonly sigma2: number;
  /** One draw. */
  sample(stream: UniformStream): number;
}

export function assertSigma2(sigma2: unknown, what: string): asserts sigma2 is number {
  if (typeof sigma2 !== 'number' || !Number.isInteger(sigma2) || sigma2 < 1 || sigma2 > MAX_SIGMA2) {
    throw new RangeError(`${what}: expected σ² to be an integer in [1, 2^44], got ${String(sigma2)}`);
  }
}

/**
 * Largest t for which the C-step coin probabilities are tabulated (a Float64Array of 8t
 * entries, 256 KiB at most, so it stays in cache; larger tables measured slower than
 * calling Math.exp).
 */
const TABLE_T = 2 ** 12;
const TWO53 = 2 ** 53;
/**
 * Margin on L = -t·ln U in the inversion fast path. |ln U| ≤ 37 for U ≥ 2^-53 and
 * t ≤ 2^22 + 1, so L < 2^28 and one ulp of L is at most 2^-24. Math.log's error (< 1 ulp
 * of ln U, ≤ 2^-47) times t is below 2^-24, and the product, the division t/u and the
 * subtraction below each round by at most half an ulp of L: the total float error is
 * below 2^-21; the margin is 32 times that.
 */
const INVERSION_MARGIN = 2 ** -16;

/**
 * @internal The magnitude of the discrete Laplace: X ≥ 0 with P[X ≥ x] = e^{-x/t}, by
 * inversion: X = max{x : U < e^{-x/t}} for a uniform U. Exact: the float fast path
 * answers only when the whole interval of L = -t·ln U allowed by U's known bits (widened
 * by INVERSION_MARGIN) holds no integer, so floor(L) is certain; otherwise the exact
 * comparisons U < e^{-x/t} decide, on the same U.
 */
export function _geometricExpNeg(t: number, stream: UniformStream): number {
  const u = stream.next32();
  if (u !== 0) {
    // U ∈ [u, u+1)·2^-32, so L ∈ (lMax − t·ln(1 + 1/u), lMax] and t·ln(1 + 1/u) ≤ t/u:
    // one logarithm bounds both ends.
    const lMax = -t * Math.log(u / TWO32);
    const x = Math.floor(lMax + INVERSION_MARGIN);
    if (x < lMax - t / u - INVERSION_MARGIN) return x;
  }
  // Read 21 more bits (53 in all) and try the float path once more.
  const w = stream.next32() >>> 11;
  const a = u * 2097152 + w; // U ∈ [a, a+1)·2^-53
  if (a !== 0) {
    const lMax = -t * Math.log(a / TWO53);
    const x = Math.floor(lMax + INVERSION_MARGIN);
    if (x < lMax - t / a - INVERSION_MARGIN) return x;
  }
  return _geometricExpNegExact(t, new LazyUniform(BigInt(a), 53, stream), a === 0 ? 0 : Math.floor(-t * Math.log((a + 0.5) / TWO53)));
}

/** @internal The exact path alone, from a 32-bit prefix (tests compare it with the fast path). */
export function _geometricExpNegFromPrefix(t: number, stream: UniformStream): number {
  const u = stream.next32();
  return _geometricExpNegExact(t, new LazyUniform(BigInt(u), 32, stream), Math.floor(-t * Math.log((u + 0.5) / TWO32)));
}

/** @internal The exact path of _geometricExpNeg from a guess: walk x until U < e^{-x/t} ≤ ... fails at x+1. */
export function _geometricExpNegExact(t: number, U: LazyUniform, guess: number): number {
  const T = BigInt(t);
  let x = Math.max(0, guess);
  if (U.lessThanExpNeg(BigInt(x), T)) {
    while (U.lessThanExpNeg(BigInt(x + 1), T)) x++;
    return x;
  }
  // U < e^0 = 1 always, so this stops at x = 0 at the latest.
  do x--;
  while (!U.lessThanExpNeg(BigInt(x), T));
  return x;
}

/**
 * CKS 2020 Algorithm 3 for σ² = sigma2 (an integer): candidates Y from the discrete
 * Laplace with scale t = floor(σ)+1 (the distribution of CKS Algorithm 2, drawn by
 * exact inversion of its magnitude and a fair sign, rejecting "-0"), accepted with
 * probability exp(-(|Y| - σ²/t)²/(2σ²)). For t ≤ TABLE_T the float approximations of the
 * acceptance coins are read from a table built once (the same floats Math.exp returns
 * on the fly; the slow path still settles near-ties exactly).
 */
export function discreteGaussian(sigma2: number): DiscreteGaussian {
  assertSigma2(sigma2, 'discreteGaussian');
  const s = sigma2;
  // CKS Algorithm 3, line 1: t = floor(σ) + 1.
  const t = isqrt(s) + 1;
  const twoST2 = 2 * s * t * t; // a float denominator (relative error 2^-53)
  const bigTwoST2 = 2n * BigInt(s) * BigInt(t) * BigInt(t);
  const cLimit = t <= TABLE_T ? 8 * t : 0; // |Y| ≥ 8t (probability < e^-7) computes its coin on the fly
  const expC = new Float64Array(cLimit);
  for (let y = 0; y < cLimit; y++) {
    const diff = y * t - s;
    expC[y] = Math.exp(-(diff * diff) / twoST2);
  }

  const sample = (stream: UniformStream): number => {
    for (;;) {
      const absY = _geometricExpNeg(t, stream);
      const B = stream.nextBit();
      if (B === 1 && absY === 0) continue; // "-0": CKS Algorithm 2's rejection
      // C ← Bernoulli(exp(-(|Y| - σ²/t)²/(2σ²))) = Bernoulli(exp(-(|Y|t - σ²)²/(2σ²t²))).
      const uC = stream.next32();
      let c: number;
      if (absY < cLimit) c = fastCompare(expC[absY]!, uC);
      else if (absY < 2 ** 30) {
        const diff = absY * t - s; // exact: |Y|·t < 2^53 for σ ≤ 2^22
        c = fastCompare(Math.exp(-(diff * diff) / twoST2), uC);
      } else c = UNDECIDED;
      if (c === UNDECIDED) {
        const bd = BigInt(absY) * BigInt(t) - BigInt(s);
        c = _bernoulliExpNegSlow(bd * bd, bigTwoST2, uC, stream) ? 1 : 0;
      }
      if (c === 1) return B === 1 ? -absY : absY;
    }
  };
  return { sigma2: s, sample };
}

const normalizers = new Map<number, number>();

/** The pmf of N_Z(0, σ²) at x, in float64 (for tests and accounting, never for sampling). */
export function discreteGaussianPmf(sigma2: number, x: number): number {
  let z = normalizers.get(sigma2);
  if (z === undefined) {
    // Σ_k exp(-k²/(2σ²)); terms past 40σ are below e^-800 and vanish in float64.
    const cutoff = Math.ceil(Math.sqrt(sigma2) * 40) + 1;
    z = 1;
    for (let k = cutoff; k >= 1; k--) z += 2 * Math.exp((-k * k) / (2 * sigma2));
    normalizers.set(sigma2, z);
  }
  return Math.exp((-x * x) / (2 * sigma2)) / z;
}
