import { describe, expect, it } from 'vitest';
import { BLEND_MARGIN, blendForecast, chooseBlend, personalBlend } from './blend.ts';

describe('blend', () => {
  it('mixes two forecasts with a convex weight on local and refuses a weight outside [0, 1]', () => {
    expect(Array.from(blendForecast([4, 0], [0, 8], 0.25))).toEqual([1, 6]);
    expect(() => blendForecast([1], [1, 2], 0.5)).toThrow(/1 local forecasts but 2 shared/);
    expect(() => blendForecast([1], [1], 1.5)).toThrow(/weight in \[0, 1\]/);
  });

  it('picks the grid weight with the lowest WAPE, and moves from a start only by more than the margin', () => {
    const units = [10, 10];
    // local 8 (WAPE 0.2), shared 12 (WAPE 0.2): the ½ blend is exact.
    expect(chooseBlend(units, [8, 8], [12, 12])).toEqual({ weight: 0.5, wape: 0 });
    // Local exact, shared far off: all local.
    expect(chooseBlend(units, [10, 10], [20, 20]).weight).toBe(1);
    // From ½ (WAPE 0.05 with local 10, shared 11), local alone (0) is better by 0.05: moved with margin 0.01, not with 0.1.
    expect(chooseBlend(units, [10, 10], [11, 11], undefined, 0.5, 0.01).weight).toBe(1);
    expect(chooseBlend(units, [10, 10], [11, 11], undefined, 0.5, 0.1).weight).toBe(0.5);
  });

  it("personalBlend never ends worse than local alone on the rows it chose on", () => {
    const units = [10, 10, 10, 10];
    const local = [10, 10, 10, 10.1];
    const shared = [10.2, 10.2, 10.2, 10.2];
    // The ½ blend loses to local by less than the margin, so the start stays … unless local alone is better: then local.
    const b = personalBlend(units, local, shared);
    expect(b.weight).toBe(1);
    expect(b.wape).toBeLessThanOrEqual(chooseBlend(units, local, shared, [1]).wape);
    // A shared model better by more than the margin everywhere is taken alone.
    const far = personalBlend(units, [14, 14, 14, 14], [10, 10, 10, 10]);
    expect(far.weight).toBe(0);
    expect(far.wape).toBe(0);
    // Better by less than the margin than the ½ blend: the blend stays.
    const near = personalBlend(units, [10 + 40 * BLEND_MARGIN * 0.1, 10, 10, 10], [10, 10, 10, 10]);
    expect(near.weight).toBe(0.5);
  });
});
