import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import { _hararyAdjacency, completeGraph, degreeOf, hararyGraph, isSymmetric } from './graph.ts';
import type { Graph } from './graph.ts';
import { seededRandom } from './_test-random.ts';
import type { RandomSource } from './random.ts';


const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function expectBadConfig(f: () => unknown, pattern: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SecAggError);
    expect((e as SecAggError).code).toBe(SecAggErrorCode.BadConfig);
    expect((e as SecAggError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a BadConfig error');
}

/** Is the graph restricted to nodes outside `removed` connected? (BFS) */
function connectedWithout(adj: readonly (readonly number[])[], removed: ReadonlySet<number>): boolean {
  const alive = range(0, adj.length).filter((v) => !removed.has(v));
  if (alive.length <= 1) return true;
  const seen = new Set<number>([alive[0]!]);
  const queue = [alive[0]!];
  while (queue.length > 0) {
    const u = queue.pop()!;
    for (const v of adj[u]!) {
      if (!removed.has(v) && !seen.has(v)) {
        seen.add(v);
        queue.push(v);
      }
    }
  }
  return seen.size === alive.length;
}

function* subsetsUpTo(n: number, size: number, start = 0, acc: number[] = []): Generator<number[]> {
  yield acc;
  if (acc.length === size) return;
  for (let v = start; v < n; v++) yield* subsetsUpTo(n, size, v + 1, [...acc, v]);
}

function toObject(g: Graph): Record<number, readonly number[]> {
  return Object.fromEntries(g);
}

function checkShape(g: Graph, ids: readonly number[], k: number): void {
  expect([...g.keys()]).toEqual([...ids].sort((a, b) => a - b));
  expect(isSymmetric(g)).toBe(true);
  const degrees = ids.map((id) => degreeOf(g, id));
  const n = ids.length;
  for (const [u, nbrs] of g) {
    expect(nbrs).not.toContain(u);
    expect([...nbrs]).toEqual([...nbrs].sort((a, b) => a - b));
    expect(new Set(nbrs).size).toBe(nbrs.length);
  }
  if (n % 2 === 1 && k % 2 === 1) {
    // Standard construction: exactly one node of degree k+1.
    expect(degrees.filter((d) => d === k + 1)).toHaveLength(1);
    expect(degrees.filter((d) => d === k)).toHaveLength(n - 1);
  } else {
    expect(degrees.every((d) => d === k)).toBe(true);
  }
}

describe('completeGraph', () => {
  it('links every client to every other, sorted, never itself', () => {
    const g = completeGraph([5, 3, 9, 1]);
    expect(toObject(g)).toEqual({ 1: [3, 5, 9], 3: [1, 5, 9], 5: [1, 3, 9], 9: [1, 3, 5] });
    expect(isSymmetric(g)).toBe(true);
  });

  it('refuses bad ids', () => {
    expectBadConfig(() => completeGraph([1, 2, 2]), /distinct.*got 2 twice/);
    expectBadConfig(() => completeGraph([1, 0]), /positive integers, got 0/);
    expectBadConfig(() => completeGraph([1, 2.5]), /positive integers, got 2.5/);
    expectBadConfig(() => completeGraph([]), /at least one/);
  });
});

describe('hararyGraph', () => {
  it('has the Harary shape for every 2 ≤ n ≤ 16 and 1 ≤ k ≤ n-1', () => {
    for (let n = 2; n <= 16; n++) {
      const ids = range(1, n + 1).map((i) => i * 7);
      for (let k = 1; k <= n - 1; k++) checkShape(hararyGraph(ids, k, seededRandom(`${n}/${k}`)), ids, k);
    }
  });

  it('keeps its shape for arbitrary n, k and randomness (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 60 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n - 1 }))),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        ([n, k], seed) => {
          const ids = range(0, n).map((i) => 1000 + 3 * i);
          checkShape(hararyGraph(ids, k, seededRandom(Buffer.from(seed).toString('hex'))), ids, k);
        },
      ),
    );
  });

  it('with k = n-1 is the complete graph', () => {
    for (const n of [2, 3, 4, 7, 10]) {
      const ids = range(1, n + 1);
      expect(toObject(hararyGraph(ids, n - 1, seededRandom('x')))).toEqual(toObject(completeGraph(ids)));
    }
  });

  it('stays connected after removing any k-1 nodes, exhaustively for n = 8, k = 4', () => {
    const adj = [...hararyGraph(range(1, 9), 4, seededRandom('conn')).entries()];
    const index = new Map(adj.map(([id], i) => [id, i]));
    const byIndex = adj.map(([, nbrs]) => nbrs.map((v) => index.get(v)!));
    let checked = 0;
    for (const removed of subsetsUpTo(8, 3)) {
      expect(connectedWithout(byIndex, new Set(removed))).toBe(true);
      checked++;
    }
    expect(checked).toBe(1 + 8 + 28 + 56);
    // ...and k removals can disconnect it: the bound is tight, so the check can fail.
    let disconnecting = 0;
    for (const removed of subsetsUpTo(8, 4)) {
      if (removed.length === 4 && !connectedWithout(byIndex, new Set(removed))) disconnecting++;
    }
    expect(disconnecting).toBeGreaterThan(0);
  });

  it('is k-connected for odd k too (exhaustive, positions)', () => {
    for (const [n, k] of [
      [8, 3],
      [9, 3],
      [9, 5],
      [10, 5],
    ] as const) {
      const adj = _hararyAdjacency(n, k);
      for (const removed of subsetsUpTo(n, k - 1)) expect(connectedWithout(adj, new Set(removed))).toBe(true);
    }
  });

  it('depends on the random source, and only on it', () => {
    const ids = range(1, 31);
    const a = toObject(hararyGraph(ids, 4, seededRandom('a')));
    const a2 = toObject(hararyGraph(ids, 4, seededRandom('a')));
    const b = toObject(hararyGraph(ids, 4, seededRandom('b')));
    expect(a2).toEqual(a);
    expect(b).not.toEqual(a);
    // The default source is the OS CSPRNG: two draws differ (chance of a tie is negligible).
    expect(toObject(hararyGraph(ids, 4))).not.toEqual(toObject(hararyGraph(ids, 4)));
  });

  it('rejects 32-bit draws that would bias the shuffle instead of reducing them mod m', () => {
    // n = 6: batch of 6 draws (24 bytes); the first shuffle step needs j < 6, and
    // 2^32 mod 6 = 4, so draws ≥ 2^32-4 must be rejected (reducing 0xffffffff mod 6
    // would give 3). All-0xff draws are all rejected; all-zero draws then give j = 0.
    let calls = 0;
    const rejectingThenZero: RandomSource = (n) => (calls++ === 0 ? new Uint8Array(n).fill(0xff) : new Uint8Array(n));
    const zeros: RandomSource = (n) => new Uint8Array(n);
    const ids = [10, 20, 30, 40, 50, 60];
    const viaRejection = toObject(hararyGraph(ids, 2, rejectingThenZero));
    expect(calls).toBe(2);
    expect(viaRejection).toEqual(toObject(hararyGraph(ids, 2, zeros)));
  });

  it('draws each of the 3 cycles on 4 nodes about equally often', () => {
    const counts = new Map<string, number>();
    const trials = 3000;
    for (let s = 0; s < trials; s++) {
      const g = hararyGraph([1, 2, 3, 4], 2, seededRandom(`u${s}`));
      const key = JSON.stringify(g.get(1));
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    // Binomial(3000, 1/3): sd ≈ 26; allow 6 sd. Deterministic seeds, so no flakiness.
    for (const c of counts.values()) expect(Math.abs(c - trials / 3)).toBeLessThan(160);
  });

  it('refuses bad k and bad ids', () => {
    expectBadConfig(() => hararyGraph([1, 2, 3], 3), /integer in \[1, 2\].*got 3/);
    expectBadConfig(() => hararyGraph([1, 2, 3], 0), /got 0/);
    expectBadConfig(() => hararyGraph([1, 2, 3], 1.5), /got 1.5/);
    expectBadConfig(() => hararyGraph([1], 1), /at least 2 clients/);
    expectBadConfig(() => hararyGraph([1, 1, 2], 1), /distinct/);
  });
});

describe('helpers', () => {
  it('isSymmetric detects one-way edges and self loops', () => {
    expect(isSymmetric(new Map([[1, [2]], [2, []]]))).toBe(false);
    expect(isSymmetric(new Map([[1, [1]]]))).toBe(false);
    expect(isSymmetric(new Map([[1, [3]]]))).toBe(false);
    expect(isSymmetric(new Map([[1, [2]], [2, [1]]]))).toBe(true);
  });

  it('degreeOf refuses unknown ids', () => {
    expectBadConfig(() => degreeOf(completeGraph([1, 2]), 3), /client 3 is not in the graph/);
  });
});
