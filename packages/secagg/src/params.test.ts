import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import { _hararyAdjacency, hararyGraph } from './graph.ts';
import type { Graph } from './graph.ts';
import { _atMost, _hypergeometricLogTails, _logDisconnectBound, chooseParams, failureBounds, validateParams } from './params.ts';
import { seededRandom } from './_test-random.ts';
import type { RandomSource } from './random.ts';


function expectBadConfig(f: () => unknown, ...patterns: RegExp[]): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SecAggError);
    expect((e as SecAggError).code).toBe(SecAggErrorCode.BadConfig);
    for (const p of patterns) expect((e as SecAggError).message).toMatch(p);
    return;
  }
  throw new Error('expected a BadConfig error');
}

function chooseBig(a: number, b: number): bigint {
  if (b < 0 || b > a) return 0n;
  let r = 1n;
  for (let i = 0; i < b; i++) r = (r * BigInt(a - i)) / BigInt(i + 1);
  return r;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function connected(adj: readonly (readonly number[])[], alive: ReadonlySet<number>): boolean {
  const nodes = [...alive];
  if (nodes.length <= 1) return true;
  const seen = new Set([nodes[0]!]);
  const queue = [nodes[0]!];
  while (queue.length > 0) {
    for (const v of adj[queue.pop()!]!) {
      if (alive.has(v) && !seen.has(v)) {
        seen.add(v);
        queue.push(v);
      }
    }
  }
  return seen.size === nodes.length;
}

/** Lengths of the maximal cyclic runs of removed positions (none if all removed). */
function removedRuns(n: number, removed: ReadonlySet<number>): number[] {
  const start = range(0, n).find((p) => !removed.has(p));
  if (start === undefined) return [];
  const runs: number[] = [];
  let run = 0;
  for (let s = 1; s <= n; s++) {
    if (removed.has((start + s) % n)) run++;
    else {
      if (run > 0) runs.push(run);
      run = 0;
    }
  }
  return runs;
}

/** Uniform random subset of `from` of the given size (seeded Fisher–Yates; test only). */
function sample(from: readonly number[], size: number, random: RandomSource): number[] {
  const a = [...from];
  const bytes = random(4 * a.length);
  const view = new DataView(bytes.buffer);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor((view.getUint32(4 * i, true) / 2 ** 32) * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, size);
}

describe('_hypergeometricLogTails', () => {
  it('matches exact BigInt combinatorics', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((N) => fc.tuple(fc.constant(N), fc.integer({ min: 0, max: N }), fc.integer({ min: 0, max: N }))),
        ([N, K, d]) => {
          const tails = _hypergeometricLogTails(N, K, d);
          expect(tails).toHaveLength(d + 2);
          const total = chooseBig(N, d);
          for (let a = 0; a <= d + 1; a++) {
            let count = 0n;
            for (let x = a; x <= d; x++) count += chooseBig(K, x) * chooseBig(N - K, d - x);
            const exact = Number((count * 10n ** 18n) / total) / 1e18;
            const got = Math.exp(tails[a]!);
            if (count === 0n) expect(got).toBe(0);
            else expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * 1e-9 + 1e-17);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('connectivity bound (P2)', () => {
  it('lemma: survivors of H_{k,n}, k even, are disconnected only if two runs of ≥ k/2 are removed', () => {
    for (const [n, k] of [
      [10, 4],
      [11, 6],
      [12, 2],
      [13, 8],
    ] as const) {
      const adj = _hararyAdjacency(n, k);
      for (let mask = 0; mask < 2 ** n; mask++) {
        const removed = new Set(range(0, n).filter((p) => (mask >> p) & 1));
        const alive = new Set(range(0, n).filter((p) => !removed.has(p)));
        if (!connected(adj, alive)) expect(removedRuns(n, removed).filter((r) => r >= k / 2).length).toBeGreaterThanOrEqual(2);
      }
    }
  });

  it('bounds the exact disconnection probability (exhaustive over removed sets)', () => {
    for (const [n, k] of [
      [12, 4],
      [14, 6],
    ] as const) {
      const adj = _hararyAdjacency(n, k);
      for (let B = k; B <= n - 2; B++) {
        let total = 0;
        let bad = 0;
        for (let mask = 0; mask < 2 ** n; mask++) {
          const removed = range(0, n).filter((p) => (mask >> p) & 1);
          if (removed.length !== B) continue;
          total++;
          if (!connected(adj, new Set(range(0, n).filter((p) => !removed.includes(p))))) bad++;
        }
        expect(bad / total).toBeLessThanOrEqual(Math.exp(_logDisconnectBound(n, k, B)) * (1 + 1e-12));
      }
      expect(_logDisconnectBound(n, k, k - 1)).toBe(Number.NEGATIVE_INFINITY);
    }
    // Tight for two adjacent-free pairs on 12 nodes: 42 window pairs / C(12, 4).
    expect(Math.exp(_logDisconnectBound(12, 4, 4))).toBeCloseTo(42 / 495, 12);
  });
});

describe('the neighbourhood model', () => {
  it("a client's corrupt-neighbour count in hararyGraph follows the hypergeometric law", () => {
    const n = 20;
    const k = 6;
    const corrupt = new Set([1, 2, 3, 4, 5]);
    const trials = 4000;
    const counts = new Array<number>(k + 1).fill(0);
    for (let s = 0; s < trials; s++) {
      const g = hararyGraph(range(1, n + 1), k, seededRandom(`h${s}`));
      counts[g.get(20)!.filter((v) => corrupt.has(v)).length]!++;
    }
    const tails = _hypergeometricLogTails(n - 1, corrupt.size, k);
    let atLeast = 0;
    for (let a = k; a >= 0; a--) {
      atLeast += counts[a]!;
      // sd ≤ 0.5/√4000 ≈ 0.008; allow 4 sd.
      expect(Math.abs(atLeast / trials - Math.exp(tails[a]!))).toBeLessThan(0.032);
    }
  });

  it('failure frequencies stay below the bounds chooseParams reports (simulation)', () => {
    const n = 200;
    const p = chooseParams({ n, dropoutRate: 0.1, corruptFraction: 0.05, failureExponent: 4, correctnessExponent: 4 });
    expect(p.graph).toBe('harary');
    const C = _atMost(0.05, n);
    const D = _atMost(0.1, n);
    const ids = range(1, n + 1);
    const trials = 300;
    let privacyFailures = 0;
    let correctnessFailures = 0;
    for (let s = 0; s < trials; s++) {
      const g: Graph = hararyGraph(ids, p.k, seededRandom(`g${s}`));
      const picked = sample(ids, C + D, seededRandom(`s${s}`));
      const corrupt = new Set(picked.slice(0, C));
      const gone = new Set(picked);
      let privacyBad = false;
      let correctnessBad = false;
      for (const [u, nbrs] of g) {
        if (!corrupt.has(u) && nbrs.filter((v) => corrupt.has(v)).length >= 2 * p.t - p.k) privacyBad = true;
        if (nbrs.filter((v) => !gone.has(v)).length < p.t) correctnessBad = true;
      }
      const index = new Map(ids.map((id, i) => [id, i]));
      const adj = ids.map((id) => g.get(id)!.map((v) => index.get(v)!));
      if (!connected(adj, new Set(ids.filter((id) => !gone.has(id)).map((id) => index.get(id)!)))) privacyBad = true;
      if (privacyBad) privacyFailures++;
      if (correctnessBad) correctnessFailures++;
    }
    // Bounds are ≤ 1/16; binomial sd over 300 trials ≤ 0.014; allow 3 sd.
    expect(privacyFailures / trials).toBeLessThanOrEqual(2 ** p.privacyFailureLog2 + 0.042);
    expect(correctnessFailures / trials).toBeLessThanOrEqual(2 ** p.correctnessFailureLog2 + 0.042);
  });
});

describe('chooseParams', () => {
  it('returns parameters that validate and meet their targets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 3000 }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.double({ min: 0, max: 0.15, noNaN: true }),
        fc.constantFrom(20, 40),
        fc.constantFrom(10, 20),
        (n, dropoutRate, corruptFraction, sigma, eta) => {
          let p;
          try {
            p = chooseParams({ n, dropoutRate, corruptFraction, failureExponent: sigma, correctnessExponent: eta });
          } catch (e) {
            expect((e as SecAggError).code).toBe(SecAggErrorCode.BadConfig);
            expect((e as Error).message).toMatch(/no safe threshold/);
            const k = n - 1;
            const C = _atMost(corruptFraction, n);
            const D = _atMost(dropoutRate, n);
            expect(Math.floor((k + C) / 2) + 1).toBeGreaterThan(k - C - D);
            return;
          }
          validateParams({ n, k: p.k, t: p.t, dropoutRate, corruptFraction, failureExponent: sigma, correctnessExponent: eta });
          expect(p.privacyFailureLog2).toBeLessThanOrEqual(-sigma);
          expect(p.correctnessFailureLog2).toBeLessThanOrEqual(-eta);
          if (p.graph === 'complete') {
            expect(p.k).toBe(n - 1);
          } else {
            expect(p.k % 2).toBe(0);
            expect(p.k).toBeLessThan(n - 1);
            const b = failureBounds({ n, k: p.k, t: p.t, dropoutRate, corruptFraction });
            expect(b.privacyLog2).toBeCloseTo(p.privacyFailureLog2, 9);
            expect(b.correctnessLog2).toBeCloseTo(p.correctnessFailureLog2, 9);
            // t is the smallest secure threshold for this k.
            if (p.t - 1 > p.k / 2) expect(failureBounds({ n, k: p.k, t: p.t - 1, dropoutRate, corruptFraction }).privacyLog2).toBeGreaterThan(-sigma);
          }
          expect(p.guarantee).toContain(`k = ${p.k}`);
          expect(p.guarantee).toContain(`t = ${p.t}`);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('uses a sparse graph for large cohorts, with k far below n', () => {
    const p = chooseParams({ n: 1000, dropoutRate: 0.1, corruptFraction: 0.05 });
    expect(p).toMatchObject({ graph: 'harary', k: 106, t: 67 });
    expect(p.guarantee).toMatch(/at most 100 dropouts \(10%\) and at most 50 corrupt clients \(5%\) among n = 1000/);
    expect(p.guarantee).toMatch(/target 2\^-40/);
    expect(p.guarantee).toMatch(/target 2\^-20/);
    expect(p.guarantee).toMatch(/Bell et al\., CCS 2020/);
    const big = chooseParams({ n: 100_000, dropoutRate: 0.05, corruptFraction: 0.05 });
    expect(big.graph).toBe('harary');
    expect(big.k).toBeLessThan(300);
  });

  it('falls back to the complete graph for small cohorts', () => {
    expect(chooseParams({ n: 2, dropoutRate: 0, corruptFraction: 0 })).toMatchObject({ graph: 'complete', k: 1, t: 1 });
    expect(chooseParams({ n: 3, dropoutRate: 0, corruptFraction: 0 })).toMatchObject({ graph: 'complete', k: 2, t: 2 });
    const five = chooseParams({ n: 5, dropoutRate: 0.2, corruptFraction: 0 });
    expect(five).toMatchObject({ graph: 'complete', k: 4, t: 3, privacyFailureLog2: Number.NEGATIVE_INFINITY });
    expect(five.guarantee).toMatch(/complete graph.*with certainty/);
  });

  it('needs no larger k for lower rates (monotone)', () => {
    let last = 0;
    for (let d = 0; d <= 0.3 + 1e-9; d += 0.02) {
      const { k } = chooseParams({ n: 1000, dropoutRate: d, corruptFraction: 0.05 });
      expect(k).toBeGreaterThanOrEqual(last);
      last = k;
    }
    last = 0;
    let refused = false;
    for (let g = 0; g <= 0.3 + 1e-9; g += 0.02) {
      try {
        const { k } = chooseParams({ n: 1000, dropoutRate: 0.1, corruptFraction: g });
        expect(refused).toBe(false); // once refused, higher rates stay refused
        expect(k).toBeGreaterThanOrEqual(last);
        last = k;
      } catch {
        refused = true;
      }
    }
    expect(refused).toBe(true);
  });

  it('refuses rates no threshold can serve, and bad inputs', () => {
    expectBadConfig(() => chooseParams({ n: 1000, dropoutRate: 0.3, corruptFraction: 0.2 }), /no safe threshold/, /t ≥ 600/, /t ≤ k − corrupt − dropouts = 499/, /lower dropoutRate or corruptFraction/);
    expectBadConfig(() => chooseParams({ n: 1, dropoutRate: 0, corruptFraction: 0 }), /n \(clients\).*got 1/);
    expectBadConfig(() => chooseParams({ n: 10, dropoutRate: 1, corruptFraction: 0 }), /dropoutRate.*\[0, 1\), got 1/);
    expectBadConfig(() => chooseParams({ n: 10, dropoutRate: 0, corruptFraction: -0.1 }), /corruptFraction.*got -0.1/);
    expectBadConfig(() => chooseParams({ n: 10, dropoutRate: 0, corruptFraction: Number.NaN }), /corruptFraction.*got NaN/);
    expectBadConfig(() => chooseParams({ n: 10, dropoutRate: 0, corruptFraction: 0, failureExponent: 0 }), /failureExponent/);
    expectBadConfig(() => chooseParams({ n: 10, dropoutRate: 0, corruptFraction: 0, correctnessExponent: Number.POSITIVE_INFINITY }), /correctnessExponent/);
  });
});

describe('validateParams', () => {
  it('accepts safe parameters', () => {
    validateParams({ n: 10, k: 9, t: 5 });
    validateParams({ n: 1000, k: 106, t: 67, dropoutRate: 0.1, corruptFraction: 0.05 });
    validateParams({ n: 2, k: 1, t: 1 });
  });

  it('refuses thresholds at or below half the neighbourhood, explaining why', () => {
    expectBadConfig(
      () => validateParams({ n: 10, k: 8, t: 4 }),
      /t must be more than half the neighbourhood: with t ≤ k\/2 a server that lies about who dropped can collect both the self-mask shares and the mask-key shares of one client and unmask its input/,
      /raise t to at least 5/,
    );
  });

  it('refuses impossible shapes', () => {
    expectBadConfig(() => validateParams({ n: 10, k: 8, t: 9 }), /expected t ≤ k = 8, got 9/);
    expectBadConfig(() => validateParams({ n: 10, k: 10, t: 8 }), /expected k ≤ n − 1 = 9, got 10/);
    expectBadConfig(() => validateParams({ n: 10, k: 0, t: 1 }), /expected k ≥ 1, got 0/);
    expectBadConfig(() => validateParams({ n: 10, k: 4.5, t: 3 }), /k \(neighbours\) to be an integer/);
    expectBadConfig(() => validateParams({ n: 10, k: 4, t: 3.5 }), /t \(threshold\) to be an integer/);
    expectBadConfig(() => validateParams({ n: 1, k: 1, t: 1 }), /n \(clients\)/);
  });

  it('refuses configurations whose tail bounds miss the targets, not just their expectations (issue 8)', () => {
    // Expectations pass here (18 · 5/99 ≈ 0.91 corrupt neighbours < 2t − k = 2), but the
    // union bound over 100 clients is vacuous: the old check accepted it.
    expectBadConfig(
      () => validateParams({ n: 100, k: 18, t: 10, dropoutRate: 0.1, corruptFraction: 0.05 }),
      /threshold t = 10 on a random Harary graph of degree k = 18 is not private enough/,
      /above the target 2\^-40/,
      /raise the threshold \(t\)/,
    );
    // Correctness on the complete graph: 9 − 1 corrupt − 1 dropout = 7 < t = 8.
    expectBadConfig(() => validateParams({ n: 10, k: 9, t: 8, dropoutRate: 0.1, corruptFraction: 0.1 }), /on the complete graph leaves too few honest surviving neighbours/, /lower the threshold \(t\)/);
    // The same exponents as chooseParams: its output passes, and a looser target can be asked for.
    const p = chooseParams({ n: 100, dropoutRate: 0.1, corruptFraction: 0.05 });
    validateParams({ n: 100, k: p.k, t: p.t, dropoutRate: 0.1, corruptFraction: 0.05 });
    expect(() => validateParams({ n: 100, k: p.k, t: p.t - 1, dropoutRate: 0.1, corruptFraction: 0.05 })).toThrow(/not private enough|more than half/);
    validateParams({ n: 100, k: 14, t: 10, corruptFraction: 0.02, failureExponent: 1, correctnessExponent: 1 });
    expectBadConfig(() => validateParams({ n: 100, k: 14, t: 9, dropoutRate: 1.5 }), /dropoutRate/);
  });

  it('refuses an odd degree below n − 1, as failureBounds does (issue 9)', () => {
    expectBadConfig(() => validateParams({ n: 100, k: 15, t: 10 }), /even k.*use k = 16/);
    expect(() => failureBounds({ n: 100, k: 15, t: 10, dropoutRate: 0, corruptFraction: 0 })).toThrow(/even k/);
    validateParams({ n: 16, k: 15, t: 10 }); // the complete graph may be odd
  });
});

describe('chooseParams with both rates 0 (issue 9)', () => {
  it('keeps one spare neighbour on a sparse graph instead of k = 2, t = 2', () => {
    const p = chooseParams({ n: 100, dropoutRate: 0, corruptFraction: 0 });
    expect(p.graph).toBe('harary');
    expect(p.t).toBeLessThan(p.k);
    expect(p).toMatchObject({ k: 4, t: 3 });
  });
});

describe('failureBounds', () => {
  it('is exact and deterministic on the complete graph', () => {
    expect(failureBounds({ n: 10, k: 9, t: 6, dropoutRate: 0.1, corruptFraction: 0.1 })).toEqual({
      privacyLog2: Number.NEGATIVE_INFINITY,
      correctnessLog2: Number.NEGATIVE_INFINITY,
    });
    // 9 − 1 corrupt − 1 dropout = 7 < 8: the round certainly can fail.
    expect(failureBounds({ n: 10, k: 9, t: 8, dropoutRate: 0.1, corruptFraction: 0.1 }).correctnessLog2).toBe(0);
    // 3 corrupt ≥ 2t − k = 3: privacy can certainly be broken.
    expect(failureBounds({ n: 10, k: 9, t: 6, dropoutRate: 0, corruptFraction: 0.3 }).privacyLog2).toBe(0);
  });

  it('refuses odd k below n − 1 (no connectivity bound derived for it)', () => {
    expectBadConfig(() => failureBounds({ n: 100, k: 15, t: 10, dropoutRate: 0.1, corruptFraction: 0.05 }), /even k.*use k = 16/);
  });

  it('counts a rate as ⌈rate·n⌉ clients', () => {
    expect(_atMost(0.05, 10)).toBe(1);
    expect(_atMost(0.07, 100)).toBe(7);
    expect(_atMost(0.29, 100)).toBe(29);
    expect(_atMost(0, 100)).toBe(0);
  });
});
