import { describe, expect, it } from 'vitest';
import { seededRandom } from './_test-random.ts';
import { UniformStream } from './dp-random.ts';
import {
  _bernoulliExpNegSlow,
  _expNegInterval,
  _geometricExpNeg,
  _geometricExpNegFromPrefix,
  bernoulliExpNeg,
  bernoulliExpNegDecidesFast,
  discreteGaussian,
  discreteGaussianPmf,
  MAX_SIGMA2,
} from './dp-noise.ts';

/**
 * Goodness of fit: Pearson's χ² over bins with expected count ≥ 5 (the tails merged),
 * against the upper 1e-4 quantile of χ²(df) by Wilson-Hilferty (accurate to < 1% here).
 * False-alarm rate per test: 1e-4 for a correct sampler. The sources are seeded, so a
 * run is reproducible; a failure means the distribution is wrong, not bad luck.
 */
const Z_1E4 = 3.719; // upper 1e-4 quantile of N(0, 1)
function chiSquareCritical(df: number): number {
  const h = 2 / (9 * df);
  return df * (1 - h + Z_1E4 * Math.sqrt(h)) ** 3;
}

function chiSquare(counts: Map<number, number>, pmf: (k: number) => number, N: number, lo: number, hi: number): { chi: number; df: number } {
  // Bins: (-∞, lo], lo+1, ..., hi-1, [hi, ∞); lo, hi chosen so the edge bins hold ≥ 5 expected.
  let chi = 0;
  let bins = 0;
  let tailLoE = 0;
  let tailHiE = 0;
  let tailLoO = 0;
  let tailHiO = 0;
  let inside = 0;
  for (let k = lo + 1; k < hi; k++) {
    const e = N * pmf(k);
    const o = counts.get(k) ?? 0;
    inside += e;
    chi += (o - e) ** 2 / e;
    bins++;
  }
  for (const [k, o] of counts) {
    if (k <= lo) tailLoO += o;
    if (k >= hi) tailHiO += o;
  }
  tailLoE = tailHiE = (N - inside) / 2; // symmetric pmf
  chi += (tailLoO - tailLoE) ** 2 / tailLoE + (tailHiO - tailHiE) ** 2 / tailHiE;
  bins += 2;
  return { chi, df: bins - 1 };
}

function tally(sample: () => number, N: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < N; i++) {
    const v = sample();
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

describe('discrete Gaussian sampler (CKS 2020)', () => {
  // σ² = 2 and 400 use the coin table; 2^26 (t = 8193) computes coins on the fly.
  for (const [sigma2, N] of [
    [2, 200_000],
    [400, 200_000],
    [2 ** 26, 200_000],
  ] as const) {
    it(`matches the exact pmf of N_Z(0, ${sigma2}) by a χ² test at false-alarm rate 1e-4`, () => {
      const g = discreteGaussian(sigma2);
      const stream = new UniformStream(seededRandom(`dg-${sigma2}`));
      if (sigma2 < 10_000) {
        const counts = tally(() => g.sample(stream), N);
        const sigma = Math.sqrt(sigma2);
        // Edge bins at ±3σ(+1) keep ≥ 5 expected per bin.
        const lo = -Math.ceil(3 * sigma) - 1;
        const { chi, df } = chiSquare(counts, (k) => discreteGaussianPmf(sigma2, k), N, lo, -lo);
        expect(chi).toBeLessThan(chiSquareCritical(df));
      } else {
        // Wide σ: bin by blocks of width σ/8 (the pmf summed per block).
        const sigma = Math.sqrt(sigma2);
        const w = Math.round(sigma / 8);
        const counts = tally(() => Math.floor(g.sample(stream) / w), N);
        const pmfCache = new Map<number, number>();
        const blockPmf = (b: number): number => {
          let p = pmfCache.get(b);
          if (p === undefined) {
            p = 0;
            for (let x = b * w; x < (b + 1) * w; x++) p += discreteGaussianPmf(sigma2, x);
            pmfCache.set(b, p);
          }
          return p;
        };
        // Blocks are not symmetric around 0 (block -1 is [-w, -1]); the tails: beyond ±3σ.
        const lo = -24;
        const hi = 24;
        let chi = 0;
        let bins = 0;
        let inside = 0;
        for (let b = lo; b < hi; b++) {
          const e = N * blockPmf(b);
          inside += e;
          chi += ((counts.get(b) ?? 0) - e) ** 2 / e;
          bins++;
        }
        let tailO = 0;
        for (const [b, o] of counts) if (b < lo || b >= hi) tailO += o;
        const tailE = N - inside;
        chi += (tailO - tailE) ** 2 / tailE;
        bins++;
        expect(chi).toBeLessThan(chiSquareCritical(bins - 1));
      }
    });
  }

  it('has mean 0 and variance σ² within 4.5 standard errors (σ² = 10^6, 10^5 draws)', () => {
    const g = discreteGaussian(1_000_000);
    const stream = new UniformStream(seededRandom('dg-moments'));
    const N = 100_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < N; i++) {
      const v = g.sample(stream);
      sum += v;
      sq += v * v;
    }
    expect(Math.abs(sum / N)).toBeLessThan(4.5 * Math.sqrt(1_000_000 / N));
    // Var of the sample variance of a (near-)Gaussian: 2σ⁴/N.
    expect(Math.abs(sq / N / 1_000_000 - 1)).toBeLessThan(4.5 * Math.sqrt(2 / N));
  });

  it('refuses σ² that is not an integer in [1, 2^44]', () => {
    for (const bad of [0, 0.5, -1, MAX_SIGMA2 + 1, Number.NaN]) expect(() => discreteGaussian(bad)).toThrow(RangeError);
  });
});

describe('exact coins', () => {
  it('brackets exp(-N/D) to the asked precision, around Math.exp', () => {
    for (const [N, D] of [
      [0n, 1n],
      [1n, 1n],
      [7n, 3n],
      [1n, 1000n],
      [123456789n, 1000n],
      [5n, 2n],
    ] as const) {
      for (const q of [32, 64, 200]) {
        const [lo, hi] = _expNegInterval(N, D, q);
        expect(lo <= hi).toBe(true);
        expect(hi - lo).toBeLessThanOrEqual(4n);
        const approx = Math.exp(-Number(N) / Number(D));
        if (q === 64 && approx > 1e-300) {
          expect(Number(lo) / 2 ** 64).toBeLessThanOrEqual(approx * (1 + 1e-12));
          expect(Number(hi) / 2 ** 64).toBeGreaterThanOrEqual(approx * (1 - 1e-12));
        }
      }
    }
  });

  it('the BigInt slow path alone is Bernoulli(exp(-γ)) (binomial band, false alarm 1e-4)', () => {
    const stream = new UniformStream(seededRandom('slow-coin'));
    const N = 20_000;
    for (const [num, den] of [
      [7n, 10n],
      [3n, 1n],
    ] as const) {
      let ones = 0;
      for (let i = 0; i < N; i++) if (_bernoulliExpNegSlow(num, den, stream.next32(), stream)) ones++;
      const p = Math.exp(-Number(num) / Number(den));
      expect(Math.abs(ones / N - p)).toBeLessThan(Z_1E4 * Math.sqrt((p * (1 - p)) / N));
    }
  });

  it('fast and slow paths decide the same way for the same uniform', () => {
    // Two streams from one seed produce the same words: the fast path (float) and the
    // slow path (BigInt only) must agree wherever the float path decides.
    const a = new UniformStream(seededRandom('same-u'));
    const b = new UniformStream(seededRandom('same-u'));
    for (let i = 0; i < 5_000; i++) {
      const num = 1 + (i % 97);
      const den = 1 + (i % 13);
      expect(bernoulliExpNeg(num, den, a)).toBe(_bernoulliExpNegSlow(BigInt(num), BigInt(den), b.next32(), b));
    }
  });

  it('settles a uniform that lies on the float threshold exactly, with more bits', () => {
    // exp(-1/2)·2^32 = 2605029347.5…: the 32-bit prefix u = 2605029347 cannot tell; the
    // next word decides against floor(exp(-1/2)·2^64) (the bracket is ≤ 4 units wide).
    const [lo] = _expNegInterval(1n, 2n, 64);
    const u = Number(lo >> 32n);
    expect(u).toBe(2605029347);
    expect(bernoulliExpNegDecidesFast(1, 2, u)).toBe(false);
    const low = Number(lo & 0xffffffffn);
    for (const [next, expected] of [
      [0, true],
      [low - 1, true],
      [low + 5, false],
      [0xffffffff, false],
    ] as const) {
      const stream = new UniformStream(seededRandom('unused'));
      let k = 0;
      const words = [next, 0, 0];
      stream.next32 = () => words[k++]!;
      expect(_bernoulliExpNegSlow(1n, 2n, u, stream)).toBe(expected);
    }
  });
});

describe('geometric magnitude by exact inversion', () => {
  for (const t of [1, 5, 70]) {
    it(`P[X = x] = (1 - e^{-1/t}) e^{-x/t} for t = ${t} (χ², false alarm 1e-4)`, () => {
      const stream = new UniformStream(seededRandom(`geo-${t}`));
      const N = 200_000;
      const counts = tally(() => _geometricExpNeg(t, stream), N);
      const q = Math.exp(-1 / t);
      let chi = 0;
      let bins = 0;
      let inside = 0;
      let x = 0;
      for (; N * (1 - q) * q ** x >= 5; x++) {
        const e = N * (1 - q) * q ** x;
        inside += e;
        chi += ((counts.get(x) ?? 0) - e) ** 2 / e;
        bins++;
      }
      let tailO = 0;
      for (const [k, o] of counts) if (k >= x) tailO += o;
      chi += (tailO - (N - inside)) ** 2 / (N - inside);
      expect(chi).toBeLessThan(chiSquareCritical(bins));
    });
  }

  it('the exact path returns what the float path returns for the same uniform', () => {
    const a = new UniformStream(seededRandom('geo-same'));
    const b = new UniformStream(seededRandom('geo-same'));
    for (let i = 0; i < 3_000; i++) {
      const t = 1 + (i % 200);
      expect(_geometricExpNeg(t, a)).toBe(_geometricExpNegFromPrefix(t, b));
    }
  });
});
