import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeTestsSkipped, onEachKernel } from './_test-kernels.ts';
import { _useNative } from './native.ts';
import { fromHex, toHex } from './bytes.ts';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import type { RandomSource } from './random.ts';
import { seededRandom } from './_test-random.ts';
import { BASIS_MAX_EXTRA, combineShares, FIELD_PRIME, lagrangeAtZero, lagrangeViaCache, SHARE_BYTES, splitSecret } from './shamir.ts';
import type { Share } from './shamir.ts';

const P = FIELD_PRIME;

// ---- independent bigint helpers (deliberately not shared with shamir.ts) ----
function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}
const md = (a: bigint): bigint => ((a % P) + P) % P;
const inv = (a: bigint): bigint => modPow(md(a), P - 2n, P); // Fermat
const be = (v: bigint, len: number): Uint8Array => fromHex(v.toString(16).padStart(2 * len, '0'));
const big = (b: Uint8Array): bigint => BigInt('0x' + toHex(b));

/** Miller-Rabin with the given bases: false means n is certainly composite. */
function millerRabin(n: bigint, bases: readonly bigint[]): boolean {
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  next: for (const a of bases) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) continue next;
    }
    return false;
  }
  return true;
}

const FIRST_40_PRIMES = [
  2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137,
  139, 149, 151, 157, 163, 167, 173,
].map(BigInt);

function expectBadShares(f: () => unknown, message?: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SecAggError);
  expect((err as SecAggError).code).toBe(SecAggErrorCode.BadShares);
  if (message) expect((err as SecAggError).message).toMatch(message);
}

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [head, ...rest] = items as [T, ...T[]];
  return [...subsets(rest, k - 1).map((s) => [head, ...s]), ...subsets(rest, k)];
}

/** A RandomSource replaying the given chunks, each exactly as long as requested. */
function replay(chunks: readonly Uint8Array[]): RandomSource & { left: () => number } {
  const queue = [...chunks];
  const f = (n: number): Uint8Array => {
    const c = queue.shift();
    if (c === undefined || c.length !== n) throw new Error(`replay: unexpected request for ${n} bytes`);
    return c;
  };
  return Object.assign(f, { left: () => queue.length });
}

/** Coefficients (constant first) of the degree < k polynomial through the k points (u_i, v_i), mod P. */
function interpolateCoefficients(us: readonly bigint[], vs: readonly bigint[]): bigint[] {
  const k = us.length;
  const out = new Array<bigint>(k).fill(0n);
  for (let i = 0; i < k; i++) {
    let basis = [1n]; // prod_{j != i} (X - u_j), constant first
    let denom = 1n;
    for (let j = 0; j < k; j++) {
      if (j === i) continue;
      const next = new Array<bigint>(basis.length + 1).fill(0n);
      for (let d = 0; d < basis.length; d++) {
        next[d + 1] = md(next[d + 1]! + basis[d]!);
        next[d] = md(next[d]! - us[j]! * basis[d]!);
      }
      basis = next;
      denom = md(denom * (us[i]! - us[j]!));
    }
    const scale = md(vs[i]! * inv(denom));
    for (let d = 0; d < k; d++) out[d] = md(out[d]! + basis[d]! * scale);
  }
  return out;
}

const secretArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const seeded = (bytes: Uint8Array): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => bytes[i % bytes.length]! ^ i);

describe('FIELD_PRIME', () => {
  it('is 2^256 + 297 and passes Miller-Rabin with the first 40 primes as bases', () => {
    expect(P).toBe(2n ** 256n + 297n);
    expect(millerRabin(P, FIRST_40_PRIMES)).toBe(true);
  });

  it('is the smallest prime above 2^256: every n in (2^256, p) has a compositeness witness', () => {
    for (let n = 2n ** 256n + 1n; n < P; n++) expect(millerRabin(n, FIRST_40_PRIMES.slice(0, 12))).toBe(false);
  });

  it('the Miller-Rabin helper is not vacuous', () => {
    expect(millerRabin(2n ** 127n - 1n, FIRST_40_PRIMES)).toBe(true); // Mersenne prime M127
    // 3215031751 = 151 * 751 * 28351 is the smallest strong pseudoprime to bases 2, 3, 5 and 7; 11 is a witness.
    expect(millerRabin(3215031751n, FIRST_40_PRIMES.slice(0, 4))).toBe(true);
    expect(millerRabin(3215031751n, FIRST_40_PRIMES.slice(0, 5))).toBe(false);
    expect(millerRabin((2n ** 127n - 1n) * (2n ** 61n - 1n), FIRST_40_PRIMES)).toBe(false);
  });
});

// splitSecret evaluates natively where the kernel is loaded, with BigInt elsewhere: both run these.
onEachKernel(() => describe('splitSecret / combineShares', () => {
  const secret = fromHex('ff'.repeat(32)); // the largest 32-byte secret
  const xs = [1, 2, 3, 7, 1000, 0xffffffff];
  let shares: Share[];
  beforeAll(() => {
    shares = splitSecret(secret, 3, xs);
  });

  it('shares are 33-byte field elements in the order of xs', () => {
    expect(shares.map((s) => s.x)).toEqual(xs);
    for (const s of shares) {
      expect(s.y.length).toBe(SHARE_BYTES);
      expect(big(s.y) < P).toBe(true);
    }
  });

  it('every t-subset (all 20 of C(6,3)) and every (t+1)-subset reconstructs, in any order', () => {
    for (const k of [3, 4]) {
      for (const sub of subsets(shares, k)) {
        expect(toHex(combineShares(sub, 3))).toBe(toHex(secret));
        expect(toHex(combineShares([...sub].reverse(), 3))).toBe(toHex(secret));
      }
    }
  });

  it('property: random secrets, thresholds and index sets reconstruct from any t shares', () => {
    fc.assert(
      fc.property(
        secretArb,
        fc.uniqueArray(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.nat(),
        (s, xsr, tSeed, pick) => {
          const t = 1 + (tSeed % xsr.length);
          const sh = splitSecret(s, t, xsr);
          const start = pick % xsr.length;
          const chosen = [...sh.slice(start), ...sh.slice(0, start)].slice(0, t);
          expect(toHex(combineShares(chosen, t))).toBe(toHex(s));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reconstructs with t = 51 of 100', () => {
    const s = seeded(new Uint8Array([1, 2, 3]));
    const ids = Array.from({ length: 100 }, (_, i) => 10 + 7 * i);
    const sh = splitSecret(s, 51, ids);
    expect(toHex(combineShares(sh.slice(49), 51))).toBe(toHex(s));
    expect(toHex(combineShares(sh.filter((_, i) => i % 2 === 1).concat(sh.slice(0, 1)), 51))).toBe(toHex(s));
  });

  it('stays correct across more distinct index sets than the Lagrange cache holds', () => {
    const s = seeded(new Uint8Array([9]));
    const ids = Array.from({ length: 12 }, (_, i) => i + 1);
    const sh = splitSecret(s, 4, ids);
    const sets = subsets(sh, 4).slice(0, 150); // > 64: forces evictions
    for (const sub of [...sets, ...sets]) expect(toHex(combineShares(sub, 4))).toBe(toHex(s));
  });

  it('t = 1: every share is the secret', () => {
    const s = seeded(new Uint8Array([5]));
    for (const sh of splitSecret(s, 1, [4, 5])) {
      expect(big(sh.y)).toBe(big(s));
      expect(toHex(combineShares([sh], 1))).toBe(toHex(s));
    }
  });

  it('draws coefficients by rejection sampling: values >= p are redrawn, top 7 bits are cleared', () => {
    const s = seeded(new Uint8Array([7]));
    const tooBig = be(P, SHARE_BYTES); // exactly p: rejected
    const masked = new Uint8Array(SHARE_BYTES);
    masked[0] = 0xfe; // masked to 0x00
    masked[32] = 5;
    const rnd = replay([tooBig, masked]);
    const sh = splitSecret(s, 2, [1, 2, 3], rnd);
    expect(rnd.left()).toBe(0);
    for (const { x, y } of sh) expect(big(y)).toBe(md(big(s) + 5n * BigInt(x)));
    // At the edge: p + 1 and 2^257 - 1 (top bit masked: 2^256 + ...) are redrawn, p - 1 is taken.
    const rnd2 = replay([be(P + 1n, SHARE_BYTES), new Uint8Array(SHARE_BYTES).fill(0xff), be(P - 1n, SHARE_BYTES)]);
    const sh2 = splitSecret(s, 2, [1, 0xffffffff], rnd2);
    expect(rnd2.left()).toBe(0);
    for (const { x, y } of sh2) expect(big(y)).toBe(md(big(s) + (P - 1n) * BigInt(x)));
  });
}));

describe.skipIf(nativeTestsSkipped('native Shamir test'))('splitSecret: the native evaluation (@tally/native shamirEval)', () => {
  it('gives the same shares as the BigInt evaluation, for the same random words', () => {
    expect(_useNative(true), 'the native kernel is in use').toBe(true);
    fc.assert(
      fc.property(
        secretArb,
        fc.uniqueArray(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 60 }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 8 }),
        (sec, ids, tSeed, seed) => {
          const t = 1 + (tSeed % ids.length);
          _useNative(false);
          let js: Share[];
          try {
            js = splitSecret(sec, t, ids, seededRandom(seed));
          } finally {
            _useNative(true);
          }
          const native = splitSecret(sec, t, ids, seededRandom(seed));
          expect(native.map((sh) => [sh.x, toHex(sh.y)])).toEqual(js.map((sh) => [sh.x, toHex(sh.y)]));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('privacy: t-1 shares say nothing about the secret', () => {
  it('property: any t-1 shares of s are exactly what splitSecret outputs for some other secret s2', () => {
    // For every s2 there is one coefficient vector making splitSecret(s2) agree with the
    // observed t-1 shares (Vandermonde is invertible), so with uniform coefficients the
    // t-1 shares have the same distribution whatever the secret.
    fc.assert(
      fc.property(
        secretArb,
        secretArb,
        fc.uniqueArray(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 2, maxLength: 8 }),
        (s, s2, ids) => {
          fc.pre(toHex(s) !== toHex(s2));
          const t = ids.length;
          const observed = splitSecret(s, t, ids).slice(0, t - 1);
          const us = [0n, ...observed.map((o) => BigInt(o.x))];
          const vs = [big(s2), ...observed.map((o) => big(o.y))];
          const coeffs = interpolateCoefficients(us, vs);
          expect(coeffs[0]).toBe(big(s2));
          const forged = splitSecret(s2, t, ids, replay(coeffs.slice(1).map((c) => be(c, SHARE_BYTES))));
          for (let i = 0; i < t - 1; i++) expect(toHex(forged[i]!.y)).toBe(toHex(observed[i]!.y));
          expect(toHex(combineShares(forged, t))).toBe(toHex(s2));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('property: t-1 true shares plus one altered share never yield the secret', () => {
    fc.assert(
      fc.property(secretArb, fc.integer({ min: 2, max: 6 }), fc.bigInt({ min: 1n, max: P - 1n }), (s, t, delta) => {
        const ids = Array.from({ length: t }, (_, i) => 3 * i + 1);
        const sh = splitSecret(s, t, ids);
        const last = sh[t - 1]!;
        const altered: Share[] = [...sh.slice(0, t - 1), { x: last.x, y: be(md(big(last.y) + delta), SHARE_BYTES) }];
        let out: string | undefined;
        try {
          out = toHex(combineShares(altered, t));
        } catch (e) {
          expect((e as SecAggError).code).toBe(SecAggErrorCode.BadShares); // value >= 2^256
        }
        expect(out).not.toBe(toHex(s));
      }),
      { numRuns: 100 },
    );
  });
});

describe('lagrangeAtZero', () => {
  /** lambda_i = prod_{j != i} x_j / (x_j - x_i) mod p, computed naively. */
  const expectDefinition = (xs: readonly number[], l: readonly bigint[]): void => {
    for (const [i, xi] of xs.entries()) {
      let num = 1n;
      let den = 1n;
      for (const [j, xj] of xs.entries()) {
        if (j === i) continue;
        num = md(num * BigInt(xj));
        den = md(den * BigInt(xj - xi));
      }
      expect(l[i]).toBe(md(num * inv(den)));
    }
  };

  it('matches the definition and interpolates 1 and X at zero', () => {
    const xs = [5, 1, 9, 0xfffffffe];
    const l = lagrangeAtZero(xs);
    expectDefinition(xs, l);
    expect(md(l.reduce((a, b) => a + b, 0n))).toBe(1n);
    expect(md(l.reduce((a, b, i) => a + b * BigInt(xs[i]!), 0n))).toBe(0n);
  });

  it('property: matches the definition for any distinct ids, small or near 2^32 (both product paths)', () => {
    const id = fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 0xffffffff }));
    fc.assert(
      fc.property(fc.uniqueArray(id, { minLength: 1, maxLength: 40 }), (xs) => expectDefinition(xs, lagrangeAtZero(xs))),
      { numRuns: 60 },
    );
  });

  it('refuses duplicate and out-of-range indices with BadShares', () => {
    expectBadShares(() => lagrangeAtZero([1, 2, 1]), /duplicate/);
    expectBadShares(() => lagrangeAtZero([0, 2]));
    expectBadShares(() => lagrangeAtZero([2 ** 32]));
  });
});

describe('Lagrange coefficients from a cached basis (O(t) per point set)', () => {
  const str = (v: readonly bigint[]): string => v.join(',');

  it('property: any sequence of point sets, near-overlapping or not, gets exactly lagrangeAtZero', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 0xffff0000 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
        (t, steps) => {
          for (const [drop, base, far] of steps) {
            // A window of t + drop ids (consecutive, or spread out when `far`), minus `drop` of them.
            const window = Array.from({ length: t + drop }, (_, i) => base + i * (far ? 65537 : 1)).filter((x) => x <= 0xffffffff);
            if (window.length < t) continue;
            const xs = window.filter((_, i) => i % (drop + 1) !== 0 || i / (drop + 1) >= window.length - t).slice(0, t);
            const got = lagrangeViaCache(xs);
            expect(str(got)).toBe(str(lagrangeAtZero([...xs].sort((a, b) => a - b))));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('complete graph, t = 121 of 240 holders: every owner\'s t lowest holders, in turn, reconstruct its secret', () => {
    const n = 241;
    const t = 121;
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    const rnd = seededRandom('basis');
    for (const u of [1, 2, 3, 60, 121, 122, 123, 200]) {
      const secret = rnd(32);
      const holders = ids.filter((v) => v !== u);
      const shares = splitSecret(secret, t, holders, rnd);
      // As the server does: the t lowest ids.
      expect(toHex(combineShares(shares.slice(0, t), t))).toBe(toHex(secret));
      const xs = holders.slice(0, t);
      expect(str(lagrangeViaCache(xs))).toBe(str(lagrangeAtZero(xs)));
    }
  });

  it('a basis is only used for subsets at most BASIS_MAX_EXTRA points smaller', () => {
    expect(BASIS_MAX_EXTRA).toBeGreaterThanOrEqual(1);
    const big = Array.from({ length: 30 }, (_, i) => 1000 + i);
    for (const k of [30, 29, 30 - BASIS_MAX_EXTRA, 30 - BASIS_MAX_EXTRA - 1, 5]) {
      const xs = big.slice(big.length - k);
      expect(str(lagrangeViaCache(xs))).toBe(str(lagrangeAtZero(xs)));
    }
  });
});

describe('combineShares refusals', () => {
  const secret = seeded(new Uint8Array([3]));
  const sh = splitSecret(secret, 3, [1, 2, 3, 4]);
  const y = sh[0]!.y;

  it('too few shares', () => {
    expectBadShares(() => combineShares(sh.slice(0, 2), 3), /too few shares: need 3, got 2/);
    expectBadShares(() => combineShares([], 1), /too few/);
  });

  it('duplicate x', () => {
    expectBadShares(() => combineShares([sh[0]!, sh[1]!, sh[0]!], 3), /duplicate share index 1/);
    expectBadShares(() => combineShares([sh[0]!, sh[1]!, sh[2]!, { x: 2, y }], 3), /duplicate/); // beyond the first t too
  });

  it('x out of range or not an integer', () => {
    for (const x of [0, -1, 1.5, 2 ** 32, Number.NaN, '1' as unknown as number]) {
      expectBadShares(() => combineShares([{ x, y }, sh[1]!, sh[2]!], 3), /share index/);
    }
  });

  it('y of the wrong size or not a field element', () => {
    const pBytes = be(P, SHARE_BYTES);
    const max = new Uint8Array(SHARE_BYTES).fill(0xff);
    const top2 = new Uint8Array(SHARE_BYTES);
    top2[0] = 2;
    for (const bad of [y.subarray(1), new Uint8Array(34), pBytes, max, top2, [1, 2] as unknown as Uint8Array]) {
      expectBadShares(() => combineShares([sh[0]!, { x: 2, y: bad }, sh[2]!], 3), /share 2/);
    }
    expectBadShares(() => combineShares([sh[0]!, sh[1]!, null as unknown as Share], 3), /object/);
  });

  it('inconsistent shares (value >= 2^256)', () => {
    expectBadShares(() => combineShares([{ x: 1, y: be(2n ** 256n, SHARE_BYTES) }], 1), /inconsistent/);
  });

  it('bad t is a programming error, not BadShares', () => {
    expect(() => combineShares(sh, 0)).toThrow(RangeError);
    expect(() => combineShares(sh, 1.5)).toThrow(RangeError);
  });
});

describe('splitSecret validation', () => {
  const s = new Uint8Array(32);
  it('rejects bad arguments', () => {
    expect(() => splitSecret(new Uint8Array(31), 1, [1])).toThrow(RangeError);
    expect(() => splitSecret(s, 0, [1])).toThrow(RangeError);
    expect(() => splitSecret(s, 3, [1, 2])).toThrow(RangeError);
    expect(() => splitSecret(s, 1, [1, 1])).toThrow(/distinct/);
    expect(() => splitSecret(s, 1, [0])).toThrow(RangeError);
    expect(() => splitSecret(s, 1, [2 ** 32])).toThrow(RangeError);
    expect(() => splitSecret(s, 1, [1.5])).toThrow(RangeError);
    expect(() => splitSecret(s, 2, [1, 2], () => new Uint8Array(32))).toThrow(RangeError);
  });
});
