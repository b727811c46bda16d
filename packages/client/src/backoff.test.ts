import { describe, expect, it } from 'vitest';
import { osRandom } from '@tally/secagg';
import { backoffDelay, resolveReconnect } from './backoff.ts';

const bytes = (v: number) => () => new Uint8Array(4).fill(v);

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 1000 };

  it('doubles per attempt within [d/2, d] and caps at maxMs', () => {
    for (const [attempt, d] of [[0, 100], [1, 200], [2, 400], [3, 800], [4, 1000], [60, 1000]] as const) {
      expect(backoffDelay(opts, attempt, bytes(0))).toBe(d / 2);
      const hi = backoffDelay(opts, attempt, bytes(0xff));
      expect(hi).toBeLessThanOrEqual(d);
      expect(hi).toBeGreaterThan(d * 0.99);
    }
  });

  it('spreads over the interval with real randomness', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(opts, 3, osRandom)));
    expect(seen.size).toBeGreaterThan(10);
  });
});

describe('resolveReconnect', () => {
  it('fills defaults and refuses nonsense', () => {
    expect(resolveReconnect(undefined)).toEqual({ initialMs: 500, maxMs: 30_000 });
    expect(resolveReconnect({ initialMs: 5, maxMs: 20 })).toEqual({ initialMs: 5, maxMs: 20 });
    expect(() => resolveReconnect({ initialMs: 0 })).toThrow(/initialMs/);
    expect(() => resolveReconnect({ initialMs: 100, maxMs: 50 })).toThrow(/maxMs/);
  });
});
