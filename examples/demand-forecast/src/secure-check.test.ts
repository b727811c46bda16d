import { describe, expect, it } from 'vitest';
import { UpdateRecorder, checkAggregate, type AggregateCheckInput, type RecordedUpdate } from './secure-check.ts';

const PLAN = { clipNorm: 2, weightBound: 100, fractionalBits: 12 };
const previous = Float32Array.from([0.5, -1, 2]);
const updates = new Map<number, RecordedUpdate>([
  [1, { global: previous, delta: Float32Array.from([0.1, 0.2, -0.3]), weight: 10, metrics: [1, 0.5] }],
  [2, { global: previous, delta: Float32Array.from([-0.2, 0.4, 0.1]), weight: 30, metrics: [2, 1] }],
  // Norm 5 > clipNorm 2: scaled by 2/5 as quantize.ts does; weight 150 capped at 100.
  [3, { global: previous, delta: Float32Array.from([3, 4, 0]), weight: 150, metrics: [3, 1.5] }],
]);

/** The exact plaintext FedAvg model and metric means, rounded to float32 as the coordinator stores them. */
function reference(ids: readonly number[]): { model: Float32Array; total: number; metrics: number[] } {
  const sum = [0, 0, 0];
  const ms = [0, 0];
  let total = 0;
  for (const id of ids) {
    const u = updates.get(id)!;
    const w = Math.min(u.weight, PLAN.weightBound);
    const norm = Math.hypot(...u.delta);
    const f = w * (norm > PLAN.clipNorm ? PLAN.clipNorm / norm : 1);
    u.delta.forEach((d, i) => (sum[i]! += f * d));
    u.metrics.forEach((m, j) => (ms[j]! += w * m));
    total += w;
  }
  return { model: Float32Array.from(previous, (g, i) => g + sum[i]! / total), total, metrics: ms.map((m) => m / total) };
}

function input(committed: Float32Array, over: Partial<AggregateCheckInput> = {}): AggregateCheckInput {
  const ref = reference([1, 2, 3]);
  return {
    round: 1,
    plan: PLAN,
    previous,
    committed,
    survivors: [1, 2, 3],
    totalWeight: ref.total,
    metrics: ref.metrics,
    updates: (id) => updates.get(id),
    ...over,
  };
}

describe('checkAggregate', () => {
  it('accepts the plaintext weighted average (clipped, weight capped) and reports a bound of n / (2^f · Σw)', () => {
    const ref = reference([1, 2, 3]);
    const c = checkAggregate(input(ref.model));
    expect(c.problems).toEqual([]);
    expect(c.ok).toBe(true);
    expect(c.plaintextWeight).toBe(140);
    expect(c.bound).toBeGreaterThanOrEqual(3 / (4096 * 140));
    expect(c.bound).toBeLessThan(3 / (4096 * 140) + 1e-6);
  });

  it('refuses a model off by more than the bound', () => {
    const ref = reference([1, 2, 3]);
    const off = ref.model.slice();
    off[1]! += 4 * (3 / (4096 * 140));
    const c = checkAggregate(input(off));
    expect(c.ok).toBe(false);
    expect(c.problems.join()).toMatch(/beyond the quantisation bound/);
  });

  it('refuses a sum over other clients than the survivors, a wrong Σw and a missing update', () => {
    const two = reference([1, 2]);
    expect(checkAggregate(input(two.model)).ok).toBe(false);
    expect(checkAggregate(input(reference([1, 2, 3]).model, { totalWeight: 141 })).problems.join()).toMatch(/Σw/);
    expect(checkAggregate(input(reference([1, 2, 3]).model, { survivors: [1, 2, 3, 4] })).problems.join()).toMatch(/no recorded update for survivor 4/);
  });

  it('refuses an update trained from another global model', () => {
    const c = checkAggregate(input(reference([1, 2, 3]).model, { previous: Float32Array.from([0.5, -1, 2.5]) }));
    expect(c.problems.join()).toMatch(/another global model/);
  });
});

describe('UpdateRecorder', () => {
  it('keeps the latest update per client and round', async () => {
    const rec = new UpdateRecorder();
    let calls = 0;
    const t = rec.wrap(7, { train: async () => ({ delta: Float32Array.of(++calls), weight: 1, metrics: [] }) });
    const w = Float32Array.of(0);
    await t.train({ taskId: 't', round: 2, weights: w });
    await t.train({ taskId: 't', round: 2, weights: w });
    expect(rec.get(2, 7)?.delta[0]).toBe(2);
    expect(rec.get(2, 7)?.global).toBe(w);
    rec.forget(2);
    expect(rec.get(2, 7)).toBeUndefined();
  });
});
