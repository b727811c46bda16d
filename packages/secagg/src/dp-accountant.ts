/**
 * Privacy accounting of the distributed discrete Gaussian sum, in Rényi DP.
 *
 * Unit of privacy: one shop's whole contribution to a round (user level). Neighbouring
 * inputs differ in one shop's update, replaced by the zero vector ("zero-out"): the
 * shop still takes part and still adds its share of noise, so who took part is not
 * hidden (the coordinator sees it anyway), only what the shop's data did to the sum.
 *
 * Per round: Kairouz, Liu, Steinke, ICML 2021 (arXiv:2102.06387), Proposition 14: the
 * sum of n independent N_Z(0, σ²)^d vectors added to an integer query of L2 and L1
 * sensitivity Δ2, Δ1 is (α, ε(α))-RDP for every α > 1 with
 *   ε(α) = min( α/2·l2² + τd,  α/2·(l2² + 2·l1·τ + τ²d),  α/2·(l2 + τ√d)² ),
 *   l2 = Δ2/(√n σ), l1 = Δ1/(√n σ), τ = 10·Σ_{k=1}^{n-1} exp(-2π²σ²·k/(k+1)).
 * For σ ≥ 2 the τ terms are below 1e-30 and ε(α) is the Gaussian's α·Δ2²/(2nσ²).
 *
 * Composition over rounds and tasks: RDP adds order by order (Mironov 2017, Prop. 1).
 * Conversion to (ε, δ): Canonne, Kamath, Steinke 2020 (arXiv:2004.00010) Prop. 12,
 *   ε = min_α  ε(α) + log(1 − 1/α) − (log δ + log α)/(α − 1),
 * tighter than Mironov's ε(α) + log(1/δ)/(α−1) at every α.
 *
 * Amplification by sampling is NOT applied: it needs the cohort to be drawn at random
 * from a larger population, secretly from the adversary. Here the coordinator picks the
 * cohort and sees who takes part, so no amplification holds and none is claimed.
 */

/**
 * The fixed grid of Rényi orders on which curves are stored and composed. Dense near 1
 * (where large total budgets are converted) and up to 2^16 (small budgets). A budget
 * file stores one number per order, so this list is part of its format: only append.
 */
export const DP_ORDERS: readonly number[] = Object.freeze(
  (() => {
    const out: number[] = [];
    for (let a = 1.01; a < 1.1; a += 0.01) out.push(Number(a.toFixed(2)));
    for (let a = 1.1; a < 3; a += 0.05) out.push(Number(a.toFixed(2)));
    for (let a = 3; a < 20; a += 0.25) out.push(a);
    for (let a = 20; a < 100; a += 1) out.push(a);
    for (let a = 100; a <= 65536; a *= 1.05) out.push(Number(a.toFixed(3)));
    return out;
  })(),
);

/** Parameters of one round of the distributed discrete Gaussian sum. */
export interface DdgRound {
  /** L2 sensitivity in lattice units (the conditional-rounding bound). */
  readonly l2Sensitivity: number;
  /** L1 sensitivity in lattice units. */
  readonly l1Sensitivity: number;
  /** Each shop's noise variance σ² in lattice units. */
  readonly localSigma2: number;
  /** How many shops' noise is in the revealed sum (at least the threshold). */
  readonly noisyShops: number;
  /** Dimension d of the noised vector. */
  readonly dimension: number;
}

/** τ of Kairouz et al. Prop. 14 for n shops each adding N_Z(0, σ²). */
export function ddgTau(localSigma2: number, shops: number): number {
  let tau = 0;
  for (let k = 1; k < shops; k++) tau += Math.exp(-2 * Math.PI * Math.PI * localSigma2 * (k / (k + 1)));
  return 10 * tau;
}

/** ε(α) of one round (Kairouz et al. 2021, Prop. 14); +Infinity without noise. */
export function ddgRdp(round: DdgRound, alpha: number): number {
  const { l2Sensitivity, l1Sensitivity, localSigma2, noisyShops, dimension } = round;
  if (!(alpha > 1)) throw new RangeError(`ddgRdp: expected an order α > 1, got ${alpha}`);
  if (l2Sensitivity === 0) return 0;
  if (localSigma2 <= 0 || noisyShops < 1) return Infinity;
  const scale = Math.sqrt(noisyShops * localSigma2);
  const l2 = l2Sensitivity / scale;
  const l1 = l1Sensitivity / scale;
  const tau = ddgTau(localSigma2, noisyShops);
  const d = dimension;
  return Math.min(
    (alpha / 2) * l2 * l2 + tau * d,
    (alpha / 2) * (l2 * l2 + 2 * l1 * tau + tau * tau * d),
    (alpha / 2) * (l2 + Math.sqrt(d) * tau) ** 2,
  );
}

/** The round's RDP curve on DP_ORDERS. */
export function ddgRdpCurve(round: DdgRound): Float64Array {
  return Float64Array.from(DP_ORDERS, (a) => ddgRdp(round, a));
}

/** The Gaussian mechanism's curve α/(2z²) on DP_ORDERS, z the noise multiplier. */
export function gaussianRdpCurve(noiseMultiplier: number, rounds = 1): Float64Array {
  return Float64Array.from(DP_ORDERS, (a) => (noiseMultiplier > 0 ? (rounds * a) / (2 * noiseMultiplier * noiseMultiplier) : Infinity));
}

/** Composition: the order-wise sum of RDP curves on the same orders. */
export function composeRdp(...curves: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(DP_ORDERS.length);
  for (const c of curves) {
    if (c.length !== out.length) throw new RangeError(`composeRdp: expected curves of ${out.length} orders, got ${c.length}`);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + c[i]!;
  }
  return out;
}

/**
 * (ε, δ) from an RDP curve: CKS 2020 Prop. 12 at each order, the best order wins; and
 * ε = 0 when δ ≥ sqrt(1 − e^{−ε(α)}), since then even total variation (Bretagnolle-Huber
 * bound via KL ≤ D_α) is below δ.
 */
export function epsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`epsilonFromRdp: expected δ in (0, 1), got ${delta}`);
  if (orders.length !== rdp.length || orders.length === 0) throw new RangeError(`epsilonFromRdp: expected as many RDP values as orders, got ${rdp.length} and ${orders.length}`);
  let best = Infinity;
  let bestOrder = orders[0]!;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    if (!(a > 1)) throw new RangeError(`epsilonFromRdp: expected orders > 1, got ${a}`);
    let eps: number;
    if (Number.isNaN(r) || r < 0) throw new RangeError(`epsilonFromRdp: expected RDP ≥ 0, got ${r} at order ${a}`);
    if (delta * delta + Math.expm1(-r) > 0) eps = 0;
    else eps = r + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  }
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/** δ from an RDP curve at a given ε (the inverse of epsilonFromRdp, same bound). */
export function deltaFromRdp(orders: readonly number[], rdp: ArrayLike<number>, epsilon: number): number {
  let best = 0; // log δ
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    const logDelta = (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a);
    if (logDelta < best) best = logDelta;
  }
  return Math.min(1, Math.exp(best));
}

/**
 * The Gaussian noise multiplier z (σ = z·Δ2 in the sum) whose `rounds`-fold composition
 * meets (ε, δ) on DP_ORDERS. Bisection on a monotone function, to relative 1e-9, then
 * rounded up so the result always meets the target.
 */
export function noiseMultiplierFor(epsilon: number, delta: number, rounds: number): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`noiseMultiplierFor: expected a finite ε > 0, got ${epsilon}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`noiseMultiplierFor: expected rounds ≥ 1, got ${rounds}`);
  const eps = (z: number): number => epsilonFromRdp(DP_ORDERS, gaussianRdpCurve(z, rounds), delta).epsilon;
  let lo = 1e-3;
  let hi = 1;
  while (eps(hi) > epsilon) hi *= 2;
  while (hi - lo > hi * 1e-9) {
    const mid = (lo + hi) / 2;
    if (eps(mid) > epsilon) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Standard normal CDF Φ(x), from erfc (below): relative error below 1e-12 (checked against libm in the tests). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/**
 * erfc(x): Maclaurin series of erf for |x| < 2.5, continued fraction (Lentz) of
 * erfc for x ≥ 2.5 (Abramowitz & Stegun 7.1.5 and 7.1.14), reflection for x < 0.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n!(2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  const tiny = 1e-300;
  let f = x;
  let C = x;
  let D = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    D = x + a * D;
    D = Math.abs(D) < tiny ? 1 / tiny : 1 / D;
    C = x + a / C;
    if (Math.abs(C) < tiny) C = tiny;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/**
 * The exact δ(ε) of the continuous Gaussian mechanism with sensitivity/σ = μ
 * (Balle & Wang, ICML 2018, Theorem 8): δ = Φ(μ/2 − ε/μ) − e^ε·Φ(−μ/2 − ε/μ).
 * A closed form to check the RDP conversion against (it must never be below it).
 */
export function gaussianExactDelta(mu: number, epsilon: number): number {
  return normalCdf(mu / 2 - epsilon / mu) - Math.exp(epsilon) * normalCdf(-mu / 2 - epsilon / mu);
}
