import { describe, expect, it } from 'vitest';
import { encodeDpUpdate, planDp, rotationSeed, type DpPlan } from '@tally/secagg';
import { checkDpAggregate } from './aggregate-check.ts';

const plan: DpPlan = planDp({ clipNorm: 1, cohortSize: 5, minSurvivors: 3, noiseMultiplier: 1 }, 60);
const seed = rotationSeed(new Uint8Array(16).fill(7), 1);

/** A unit-norm update along a random-ish direction. */
function update(k: number): Float32Array {
  const d = Float32Array.from({ length: plan.modelLength }, (_, i) => Math.sin(i * 1.7 + k));
  const n = Math.hypot(...d);
  return d.map((x) => x / n);
}

function sumOf(vectors: readonly Uint32Array[]): Uint32Array {
  const out = new Uint32Array(plan.vectorLength);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] = (out[i]! + v[i]!) >>> 0;
  return out;
}

describe('checkDpAggregate (the norm check that accounts for the noise)', () => {
  it('accepts honest noisy sums of 3 to 5 shops, 30 times each', () => {
    for (let s = 3; s <= 5; s++) {
      for (let trial = 0; trial < 30; trial++) {
        const sum = sumOf(Array.from({ length: s }, (_, k) => encodeDpUpdate(plan, update(k + trial), seed).lanes));
        expect(checkDpAggregate(plan, sum, sum[plan.countLane]!, s)).toBeNull();
      }
    }
  });

  it("refuses a sum with one shop's lanes scaled far past the clip norm, and a count lane that disagrees", () => {
    const honest = [0, 1].map((k) => encodeDpUpdate(plan, update(k), seed).lanes);
    const forged = encodeDpUpdate(plan, update(2), seed).lanes.map((x, i) => (i === plan.countLane ? 1 : Math.imul(x | 0, 100) >>> 0));
    const sum = sumOf([...honest, Uint32Array.from(forged)]);
    expect(checkDpAggregate(plan, sum, 3, 3)).toMatchObject({ code: 'AGG_NORM' });
    const ok = sumOf([...honest, encodeDpUpdate(plan, update(2), seed).lanes]);
    expect(checkDpAggregate(plan, ok, 4, 3)).toMatchObject({ code: 'AGG_CONTRIBUTORS' });
  });
});
