/**
 * A small seeded PRNG for the SYNTHETIC data only (not crypto; Tally's masks and keys
 * come from the OS CSPRNG in @tally/secagg). Seeded so a demo or test is repeatable.
 *
 * Uniform: SplitMix32 output function over a Weyl sequence (32-bit state).
 * Normal: Box–Muller. Gamma: Marsaglia & Tsang (2000), with the shape < 1 boost.
 * Poisson: Knuth's multiplication method for λ < 30, else the rounded normal
 * approximation N(λ, λ) (relative error of the variance under 2% there).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Integer uniform in [lo, hi] inclusive. */
  int(lo: number, hi: number): number;
  normal(mean?: number, sd?: number): number;
  gamma(shape: number, scale: number): number;
  poisson(lambda: number): number;
  /** Negative binomial with this mean and dispersion k (variance = mean + mean²/k), as a Gamma–Poisson mixture. */
  negBinomial(mean: number, k: number): number;
  /** A new stream determined by this generator's seed and `label` only (not by how far this one has run). */
  fork(label: number): Rng;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
  const normal = (mean = 0, sd = 1): number => {
    let u = next();
    while (u === 0) u = next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const gamma = (shape: number, scale: number): number => {
    if (shape < 1) return gamma(shape + 1, scale) * Math.pow(next() || Number.MIN_VALUE, 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = next();
      if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  };
  const poisson = (lambda: number): number => {
    if (!(lambda > 0)) return 0;
    if (lambda >= 30) return Math.max(0, Math.round(normal(lambda, Math.sqrt(lambda))));
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = next();
    while (p > limit) {
      k++;
      p *= next();
    }
    return k;
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    normal,
    gamma,
    poisson,
    negBinomial: (mean, k) => (mean > 0 ? poisson(gamma(k, mean / k)) : 0),
    fork: (label) => createRng(mixSeed(seed, label)),
  };
}

/** Mixes integers into one 32-bit seed (order matters). */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return h >>> 0;
}
