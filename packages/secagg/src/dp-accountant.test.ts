import { describe, expect, it } from 'vitest';
import {
  composeRdp,
  DP_ORDERS,
  ddgRdp,
  ddgRdpCurve,
  ddgTau,
  deltaFromRdp,
  epsilonFromRdp,
  erfc,
  gaussianExactDelta,
  gaussianRdpCurve,
  noiseMultiplierFor,
} from './dp-accountant.ts';

describe('RDP → (ε, δ) conversion, against published figures', () => {
  it('a constant RDP curve 1.1 on orders 2…32 gives ε = 1.32783806176 at δ = 1e-5, order 32', () => {
    // Source: google/differential-privacy, python/dp_accounting/dp_accounting/rdp/
    // rdp_privacy_accountant_test.py, test_compute_epsilon_delta_pure_dp
    // ("Compare with epsilon computed by hand": 1.32783806176, optimal order 32).
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const { epsilon, order } = epsilonFromRdp(
      orders,
      orders.map(() => 1.1),
      1e-5,
    );
    expect(epsilon).toBeCloseTo(1.32783806176, 10);
    expect(order).toBe(32);
    expect(deltaFromRdp(orders, orders.map(() => 1.1), 1.32783806176)).toBeCloseTo(1e-5, 12);
  });

  it('the Gaussian with noise multiplier 4.530877117 is (1, 1e-6)-DP', () => {
    // Source: same file, test_compute_epsilon_delta_gaussian ("noise multiplier is chosen
    // to obtain exactly (1,1e-6)-DP", orders 1.000…99.999 in steps of 0.001, ε ≈ 1 to 7
    // places). Our coarser fixed grid lands within 1e-6 above it.
    const { epsilon } = epsilonFromRdp(DP_ORDERS, gaussianRdpCurve(4.530877117), 1e-6);
    expect(epsilon).toBeGreaterThanOrEqual(1 - 1e-7);
    expect(epsilon - 1).toBeLessThan(1e-6);
    // And the inverse: the z we calibrate for (1, 1e-6) in one round is that figure.
    expect(noiseMultiplierFor(1, 1e-6, 1)).toBeCloseTo(4.530877117, 5);
  });

  it('never claims less than the exact Gaussian δ(ε) (Balle & Wang 2018, Thm. 8), nor more than the standard bound', () => {
    // The same check as dp_accounting's test_delta_bounds_gaussian, at σ = 1.
    for (let eps = 0; eps < 50; eps += 0.1) {
      const delta = deltaFromRdp(DP_ORDERS, gaussianRdpCurve(1), eps);
      expect(gaussianExactDelta(1, eps)).toBeLessThanOrEqual(delta + 1e-300);
      if (eps >= 0.5) expect(delta).toBeLessThanOrEqual(Math.exp(-0.5 * (eps - 0.5) ** 2) * (1 + 1e-9));
    }
  });

  it('is within a few percent of the exact Gaussian curve where budgets live (z = 1…10)', () => {
    // Closed form (Balle & Wang): the exact ε for δ = 1e-5 by bisection on δ(ε).
    for (const z of [1, 2, 5, 10]) {
      let lo = 0;
      let hi = 100;
      for (let i = 0; i < 200; i++) {
        const mid = (lo + hi) / 2;
        if (gaussianExactDelta(1 / z, mid) > 1e-5) lo = mid;
        else hi = mid;
      }
      const { epsilon } = epsilonFromRdp(DP_ORDERS, gaussianRdpCurve(z), 1e-5);
      expect(epsilon).toBeGreaterThanOrEqual(hi);
      expect(epsilon / hi).toBeLessThan(1.25);
    }
  });

  it('erfc agrees with libm (Python math.erfc) to 1e-12 relative', () => {
    // Values printed by CPython 3 math.erfc (glibc).
    for (const [x, v] of [
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [2, 0.004677734981047265],
      [3, 2.2090496998585438e-5],
      [5, 1.5374597944280351e-12],
      [10, 2.088487583762545e-45],
      [-1, 1.8427007929497148],
    ] as const) {
      expect(Math.abs(erfc(x) / v - 1)).toBeLessThan(1e-12);
    }
  });
});

describe('distributed discrete Gaussian curve (Kairouz, Liu, Steinke 2021, Prop. 14)', () => {
  it('is the Gaussian α·Δ2²/(2nσ²) once τ vanishes (σ² ≥ 4)', () => {
    const round = { l2Sensitivity: 1000, l1Sensitivity: 1e6, localSigma2: 250_000, noisyShops: 8, dimension: 1 << 20 };
    expect(ddgTau(250_000, 8)).toBe(0);
    for (const a of [1.5, 2, 10, 100]) expect(ddgRdp(round, a)).toBeCloseTo((a * 1000 ** 2) / (2 * 8 * 250_000), 12);
  });

  it('adds τ terms for tiny σ, and τ is 10·Σ exp(-2π²σ²k/(k+1))', () => {
    const sigma2 = 0.25;
    let tau = 0;
    for (let k = 1; k < 3; k++) tau += Math.exp(-2 * Math.PI ** 2 * sigma2 * (k / (k + 1)));
    expect(ddgTau(sigma2, 3)).toBeCloseTo(10 * tau, 14);
    const round = { l2Sensitivity: 1, l1Sensitivity: 1, localSigma2: sigma2, noisyShops: 3, dimension: 4 };
    expect(ddgRdp(round, 2)).toBeGreaterThan(2 / (2 * 3 * sigma2));
  });

  it('more survivors mean more noise and less ε; no noise means no privacy', () => {
    const at = (n: number): number =>
      epsilonFromRdp(DP_ORDERS, ddgRdpCurve({ l2Sensitivity: 100, l1Sensitivity: 1e4, localSigma2: 10_000, noisyShops: n, dimension: 64 }), 1e-5).epsilon;
    expect(at(4)).toBeGreaterThan(at(8));
    expect(ddgRdp({ l2Sensitivity: 1, l1Sensitivity: 1, localSigma2: 0, noisyShops: 4, dimension: 1 }, 2)).toBe(Infinity);
  });

  it('composes by adding curves order by order (Mironov 2017, Prop. 1)', () => {
    const one = gaussianRdpCurve(3);
    const ten = composeRdp(...Array.from({ length: 10 }, () => one));
    const direct = gaussianRdpCurve(3, 10);
    for (let i = 0; i < DP_ORDERS.length; i++) expect(Math.abs(ten[i]! - direct[i]!)).toBeLessThanOrEqual(1e-12 * direct[i]!);
    expect(() => composeRdp(new Float64Array(3))).toThrow(RangeError);
  });

  it('calibrates z so that R rounds meet (ε, δ), and no less', () => {
    for (const [eps, rounds] of [
      [8, 10],
      [1, 10],
      [2, 100],
    ] as const) {
      const z = noiseMultiplierFor(eps, 1e-5, rounds);
      expect(epsilonFromRdp(DP_ORDERS, gaussianRdpCurve(z, rounds), 1e-5).epsilon).toBeLessThanOrEqual(eps);
      expect(epsilonFromRdp(DP_ORDERS, gaussianRdpCurve(z * 0.999, rounds), 1e-5).epsilon).toBeGreaterThan(eps);
    }
  });
});
