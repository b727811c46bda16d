import { describe, expect, it } from 'vitest';
import { SecAggError, osRandom } from '@tally/secagg';
import { buildGraph, chooseRoundShape, fitRoster, pickCohort } from './cohort.ts';

describe('pickCohort', () => {
  it('picks min(size, available) distinct ids, sorted', () => {
    const ids = [3, 9, 1, 12, 5, 7];
    const c = pickCohort(ids, 4, osRandom);
    expect(c).toHaveLength(4);
    expect(new Set(c).size).toBe(4);
    expect(c).toEqual([...c].sort((a, b) => a - b));
    for (const id of c) expect(ids).toContain(id);
    expect(pickCohort(ids, 10, osRandom)).toEqual([1, 3, 5, 7, 9, 12]);
  });

  it('reaches every id (a smoke test of uniformity)', () => {
    const seen = new Map<number, number>();
    for (let i = 0; i < 600; i++) for (const id of pickCohort([1, 2, 3, 4, 5, 6], 2, osRandom)) seen.set(id, (seen.get(id) ?? 0) + 1);
    expect([...seen.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    // Binomial(600, 1/3): mean 200, sd ≈ 11.5; below 100 is ~8.7 sd away (p < 1e-17).
    for (const n of seen.values()) expect(n).toBeGreaterThan(100);
  });
});

describe('round shape', () => {
  const base = { corruptFraction: 0, graph: 'complete' as const };

  it('uses k = n - 1 on the complete graph with an explicit threshold', () => {
    expect(chooseRoundShape({ ...base, threshold: 2 }, 4)).toEqual({ n: 4, k: 3, t: 2, graph: 'complete' });
  });

  it('gives the Harary graph k = 2t - 2 with an explicit threshold', () => {
    expect(chooseRoundShape({ ...base, graph: 'harary', threshold: 5 }, 30)).toEqual({ n: 30, k: 8, t: 5, graph: 'harary' });
  });

  it('refuses an unsafe explicit threshold', () => {
    expect(() => chooseRoundShape({ ...base, threshold: 1 }, 4)).toThrow(SecAggError);
  });

  it('chooses t with chooseParams (harary) or the worst case (complete)', () => {
    const h = chooseRoundShape({ corruptFraction: 0.05, graph: 'harary' }, 200);
    expect(h.t).toBeGreaterThan(h.k / 2);
    expect(h.k).toBeLessThan(199);
    const c = chooseRoundShape({ corruptFraction: 0.05, dropoutTolerance: 0.1, graph: 'complete' }, 20);
    // C = 1, D = 2, k = 19: t = ⌊(19 + 1)/2⌋ + 1 = 11 ≤ 19 - 3.
    expect(c).toEqual({ n: 20, k: 19, t: 11, graph: 'complete' });
  });

  it('fits a smaller roster with the same threshold, or refuses', () => {
    const shape = chooseRoundShape({ ...base, threshold: 3 }, 5);
    expect(fitRoster(shape, 5)).toBe(shape);
    expect(fitRoster(shape, 4)).toEqual({ n: 4, k: 3, t: 3, graph: 'complete' });
    expect(() => fitRoster(shape, 3)).toThrow(/t ≤ k = 2/);
    const sparse = chooseRoundShape({ ...base, graph: 'harary', threshold: 3 }, 10);
    expect(fitRoster(sparse, 8)).toEqual({ n: 8, k: 4, t: 3, graph: 'harary' });
    const commits = new Map([1, 2, 3, 4, 5, 6, 7, 8].map((id) => [id, osRandom(32)]));
    expect(buildGraph(fitRoster(sparse, 8), [1, 2, 3, 4, 5, 6, 7, 8], commits)).toMatchObject({ kind: 'harary', degree: 4 });
  });

  it('checks the fitted roster against the tail bounds of the configured rates (issue 8)', () => {
    // k = 18, t = 10 on 100 clients at 5% corrupt: the privacy bound is vacuous.
    const shape = { n: 200, k: 18, t: 10, graph: 'harary' as const };
    expect(() => fitRoster(shape, 100, { corruptFraction: 0.05, graph: 'harary' })).toThrow(/not private enough.*raise the threshold/);
    expect(() => chooseRoundShape({ corruptFraction: 0.05, graph: 'harary', threshold: 10 }, 100)).toThrow(/not private enough/);
  });
});
