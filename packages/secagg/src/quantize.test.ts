import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import { _clipScale, _stochasticRound, checkUpdate, decodeSum, encodeUpdate, planQuantization } from './quantize.ts';
import type { QuantConfig, Update } from './quantize.ts';
import { seededRandom } from './_test-random.ts';
import { nativeTestsSkipped } from './_test-kernels.ts';
import { _useNative } from './native.ts';


/** Uniform floats in [lo, hi) from a seeded source (test data only). */
function seededFloats(seed: string, count: number, lo: number, hi: number): number[] {
  const bytes = seededRandom(seed)(4 * count);
  const view = new DataView(bytes.buffer);
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * view.getUint32(4 * i, true)) / 2 ** 32);
}

function addInto(acc: Uint32Array, lanes: Uint32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + lanes[i]!) >>> 0;
}

function expectError(code: string, f: () => unknown, ...patterns: RegExp[]): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SecAggError);
    expect((e as SecAggError).code).toBe(code);
    for (const p of patterns) expect((e as SecAggError).message).toMatch(p);
    return;
  }
  throw new Error(`expected a ${code} error`);
}

const base: QuantConfig = { clipNorm: 1, weightBound: 1000, cohortSize: 10, fractionalBits: 16, metricCount: 2, metricBound: 10 };
const TWO32 = 2 ** 32;

describe('planQuantization', () => {
  it('lays out the vector and reports its headroom', () => {
    const plan = planQuantization({ ...base, fractionalBits: 14 }, 5);
    expect(plan).toMatchObject({ modelLength: 5, vectorLength: 10, weightLane: 5, clippedLane: 6, countLane: 7, metricOffset: 8, scale: 16384 });
    // Widest lane: metrics, 10 · ⌈1000 · 10 · 2^14⌉ = 1_638_400_000 < 2^31 → 32 bits with the sign.
    expect(plan.bitsNeeded).toBe(32);
    expect(plan.headroomBits).toBe(0);
    expect(Object.isFrozen(plan)).toBe(true);
  });

  it('refuses a config whose sum needs more than 32 bits, naming the knobs', () => {
    const cfg: QuantConfig = { clipNorm: 1, weightBound: 10000, cohortSize: 100, fractionalBits: 14, metricCount: 0, metricBound: 1 };
    expectError(
      SecAggErrorCode.BadConfig,
      () => planQuantization(cfg, 4),
      /needs 35 bits but the ring has 32/,
      /lower fractionalBits to at most 11/,
      /clipNorm \(1\)/,
      /weightBound \(10000\)/,
      /cohortSize \(100\)/,
    );
    expectError(SecAggErrorCode.BadConfig, () => planQuantization({ ...cfg, fractionalBits: 12 }, 4), /needs 33 bits/);
    const plan = planQuantization({ ...cfg, fractionalBits: 11 }, 4);
    expect(plan.bitsNeeded).toBe(32);
    expect(plan.headroomBits).toBe(0);
    expect(planQuantization({ ...cfg, fractionalBits: 10 }, 4).headroomBits).toBe(1);
  });

  it('draws the line exactly at |sum| = 2^31 - 1, counting the rounding up', () => {
    const one: QuantConfig = { clipNorm: 2 ** 31 - 1, weightBound: 1, cohortSize: 1, fractionalBits: 0, metricCount: 0, metricBound: 1 };
    expect(planQuantization(one, 1).bitsNeeded).toBe(32);
    expectError(SecAggErrorCode.BadConfig, () => planQuantization({ ...one, clipNorm: 2 ** 31 }, 1), /needs 33 bits/, /even fractionalBits 0 does not fit/);
    // 2 · ⌈2^30 - 0.5⌉ = 2^31: rounding up may reach it, so it is refused.
    const two = { ...one, cohortSize: 2 };
    expectError(SecAggErrorCode.BadConfig, () => planQuantization({ ...two, clipNorm: 2 ** 30 - 0.5 }, 1), /needs 33 bits/);
    expect(planQuantization({ ...two, clipNorm: 2 ** 30 - 1 }, 1).bitsNeeded).toBe(32);
  });

  it('checks the metric lanes and the weight lane too', () => {
    expectError(
      SecAggErrorCode.BadConfig,
      () => planQuantization(base, 5),
      /metric lanes needs 34 bits/,
      /lower fractionalBits to at most 14/,
      /metricBound \(10\)/,
    );
    expect(planQuantization({ ...base, fractionalBits: 14 }, 5).bitsNeeded).toBe(32);
    expect(planQuantization({ ...base, metricCount: 0 }, 5).bitsNeeded).toBe(31);
    expectError(
      SecAggErrorCode.BadConfig,
      () => planQuantization({ ...base, weightBound: 2 ** 28, cohortSize: 8, fractionalBits: 0 }, 5),
      /weight lane needs 33 bits/,
      /weightBound \(268435456\) or cohortSize \(8\)/,
    );
  });

  it('validates every field', () => {
    const ok = { ...base, metricCount: 0 };
    const cases: [Partial<QuantConfig>, RegExp][] = [
      [{ clipNorm: Number.NaN }, /clipNorm to be a finite number > 0, got NaN/],
      [{ clipNorm: 0 }, /clipNorm.*got 0/],
      [{ clipNorm: -1 }, /clipNorm.*got -1/],
      [{ clipNorm: Number.POSITIVE_INFINITY }, /clipNorm.*got Infinity/],
      [{ weightBound: 0 }, /weightBound to be an integer in \[1, 2147483647\], got 0/],
      [{ weightBound: 1.5 }, /weightBound.*got 1.5/],
      [{ cohortSize: 0 }, /cohortSize.*got 0/],
      [{ fractionalBits: -1 }, /fractionalBits to be an integer in \[0, 52\], got -1/],
      [{ fractionalBits: 53 }, /fractionalBits.*got 53/],
      [{ fractionalBits: 2.5 }, /fractionalBits.*got 2.5/],
      [{ metricCount: -1 }, /metricCount.*got -1/],
      [{ metricBound: 0 }, /metricBound.*got 0/],
    ];
    for (const [patch, pattern] of cases) expectError(SecAggErrorCode.BadConfig, () => planQuantization({ ...ok, ...patch }, 5), pattern);
    expectError(SecAggErrorCode.BadConfig, () => planQuantization(ok, 0), /modelLength.*got 0/);
    expectError(SecAggErrorCode.BadConfig, () => planQuantization(ok, 2 ** 28), /modelLength \+ 3 \+ metricCount ≤ 268435456/);
  });
});

describe('_stochasticRound', () => {
  it('rounds up exactly when r < frac · 2^32', () => {
    expect(_stochasticRound(2.5, 2 ** 31 - 1)).toBe(3);
    expect(_stochasticRound(2.5, 2 ** 31)).toBe(2);
    expect(_stochasticRound(-2.5, 0)).toBe(-2);
    expect(_stochasticRound(-2.5, 2 ** 31)).toBe(-3);
    expect(_stochasticRound(7, 0)).toBe(7);
    expect(_stochasticRound(7, TWO32 - 1)).toBe(7);
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: 0, max: TWO32 - 1 }), (x, r) => {
        const y = _stochasticRound(x, r);
        expect(y === Math.floor(x) || y === Math.floor(x) + 1).toBe(true);
        if (Number.isInteger(x)) expect(y).toBe(x);
      }),
    );
  });
});

describe('checkUpdate (checks now, rounds later)', () => {
  const cfg: QuantConfig = { ...base, fractionalBits: 12 };
  it('writes exactly the lanes encodeUpdate returns, with the same random words, over every lane', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40_000 }), fc.integer({ min: 0, max: 1000 }), fc.boolean(), fc.string({ minLength: 1, maxLength: 8 }), (m, weight, big, seed) => {
        const plan = planQuantization(cfg, m);
        const delta = Float32Array.from(seededFloats(seed, m, big ? -1 : -1e-3, big ? 1 : 1e-3));
        const update = { delta, weight, metrics: [1.5, -2.25] };
        const want = encodeUpdate(plan, update, seededRandom(seed));
        const checked = checkUpdate(plan, update);
        expect(checked.clipped).toBe(want.clipped);
        const lanes = new Uint32Array(plan.vectorLength).fill(0xdeadbeef); // every lane must be written
        checked.writeInto(lanes, seededRandom(seed));
        expect(Buffer.from(lanes.buffer).equals(Buffer.from(want.lanes.buffer))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses what encodeUpdate refuses, when checking; a wrong-sized target when writing', () => {
    const plan = planQuantization(cfg, 4);
    const bad = { delta: Float32Array.of(0, Number.NaN, 0, 0), weight: 1, metrics: [0, 0] };
    expect(() => checkUpdate(plan, bad)).toThrow(/expected a finite delta, got NaN at index 1/);
    expect(() => checkUpdate(plan, { ...bad, delta: new Float32Array(4), weight: 1001 })).toThrow(/weight to be an integer in \[0, 1000\]/);
    const ok = checkUpdate(plan, { delta: new Float32Array(4), weight: 1, metrics: [0, 0] });
    expect(() => ok.writeInto(new Uint32Array(plan.vectorLength - 1))).toThrow(RangeError);
  });
});

describe.skipIf(nativeTestsSkipped('native rounding test'))('the native rounding (@tally/native roundStochastic)', () => {
  it('writes the same lanes as the JS rounding, bit for bit, with the same random words', () => {
    expect(_useNative(true), 'the native kernel is in use').toBe(true);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40_000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(-1e-3, -1, -20, -1e6),
        fc.constantFrom(6, 9, 12),
        fc.string({ minLength: 1, maxLength: 8 }),
        (m, weight, lo, fractionalBits, seed) => {
          const plan = planQuantization({ ...base, fractionalBits }, m);
          const delta = Float32Array.from(seededFloats(seed, m, lo, -lo));
          // Exact halves, integers and zeros too: the lanes where a rounding slip would show.
          for (let i = 0; i < m; i += 7) delta[i] = i % 3 === 0 ? 0 : (i % 2 ? 0.5 : -1.5) / (plan.scale * Math.max(1, weight));
          const update = { delta, weight, metrics: [1.5, -2.25] };
          _useNative(false);
          let js: ReturnType<typeof encodeUpdate>;
          try {
            js = encodeUpdate(plan, update, seededRandom(seed));
          } finally {
            _useNative(true);
          }
          const native = encodeUpdate(plan, update, seededRandom(seed));
          expect(native.clipped).toBe(js.clipped);
          expect(Buffer.from(native.lanes.buffer).equals(Buffer.from(js.lanes.buffer))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('encodeUpdate', () => {
  const big: QuantConfig = { clipNorm: 1000, weightBound: 4, cohortSize: 4, fractionalBits: 4, metricCount: 1, metricBound: 8 };

  it('wraps negatives into the ring by two’s complement', () => {
    const plan = planQuantization(big, 4);
    const { lanes, clipped } = encodeUpdate(plan, { delta: new Float32Array([-1, -0.5, 0.25, 0]), weight: 3, metrics: [-2] }, seededRandom('neg'));
    expect(clipped).toBe(false);
    expect([...lanes]).toEqual([TWO32 - 48, TWO32 - 24, 12, 0, 3, 0, 1, TWO32 - 96]);
    const decoded = decodeSum(plan, lanes);
    expect([...decoded.meanDelta]).toEqual([-1, -0.5, 0.25, 0]);
    expect(decoded.metricMeans).toEqual([-2]);
  });

  it('clips a delta above clipNorm to norm exactly C and flags it', () => {
    const plan = planQuantization({ ...big, clipNorm: 5, fractionalBits: 3 }, 2);
    const over = encodeUpdate(plan, { delta: new Float32Array([6, 8]), weight: 1, metrics: [0] }, seededRandom('c'));
    expect(over.clipped).toBe(true);
    expect([...over.lanes]).toEqual([24, 32, 1, 1, 1, 0]); // [3, 4] · 2^3: norm 5
    const at = encodeUpdate(plan, { delta: new Float32Array([3, 4]), weight: 1, metrics: [0] }, seededRandom('c'));
    expect(at.clipped).toBe(false);
    expect([...at.lanes]).toEqual([24, 32, 1, 0, 1, 0]);

    fc.assert(
      fc.property(fc.float32Array({ minLength: 1, maxLength: 64, noDefaultInfinity: true, noNaN: true }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (delta, C) => {
        const { scale, norm, clipped } = _clipScale(delta, C);
        expect(clipped).toBe(norm > C);
        let sq = 0;
        for (const d of delta) sq += (d * scale) ** 2;
        if (clipped) expect(Math.abs(Math.sqrt(sq) - C)).toBeLessThanOrEqual(C * 1e-12);
        else expect(scale).toBe(1);
      }),
    );
  });

  it('rounds stochastically without bias', () => {
    const m = 200_000;
    const plan = planQuantization({ clipNorm: 2e6, weightBound: 1, cohortSize: 1, fractionalBits: 0, metricCount: 0, metricBound: 1 }, m);
    for (const [value, seed] of [
      [0.375, 'up'],
      [-2.625, 'down'],
      [0.9921875, 'near-one'],
    ] as const) {
      const { lanes } = encodeUpdate(plan, { delta: new Float32Array(m).fill(value), weight: 1, metrics: [] }, seededRandom(seed));
      let total = 0;
      let outside = 0;
      for (let i = 0; i < m; i++) {
        const v = lanes[i]! | 0;
        if (v !== Math.floor(value) && v !== Math.floor(value) + 1) outside++;
        total += v;
      }
      expect(outside).toBe(0);
      // Bernoulli mean over 200k lanes: sd ≤ 0.5/√200000 ≈ 0.0011; 0.006 is > 5 sd.
      // Round-to-nearest would miss by ≥ 0.0078 (and by 0.375 for the first value).
      expect(Math.abs(total / m - value)).toBeLessThan(0.006);
    }
  });

  it('gives zero lanes for weight 0 but still counts the contributor', () => {
    const plan = planQuantization(big, 3);
    const { lanes, clipped } = encodeUpdate(plan, { delta: new Float32Array([2000, 0, 0]), weight: 0, metrics: [5] }, seededRandom('z'));
    expect(clipped).toBe(true);
    expect([...lanes]).toEqual([0, 0, 0, 0, 1, 1, 0]);
    const decoded = decodeSum(plan, lanes);
    expect(decoded).toMatchObject({ totalWeight: 0, contributors: 1, clippedCount: 1, metricMeans: [0] });
    expect([...decoded.meanDelta]).toEqual([0, 0, 0]);
  });

  it('refuses malformed updates', () => {
    const plan = planQuantization(big, 3);
    const good: Update = { delta: new Float32Array([1, 2, 3]), weight: 2, metrics: [1] };
    const cases: [Partial<Update>, RegExp][] = [
      [{ delta: new Float32Array([1, Number.NaN, 3]) }, /finite delta, got NaN at index 1/],
      [{ delta: new Float32Array([1, 2, Number.NEGATIVE_INFINITY]) }, /got -Infinity at index 2/],
      [{ delta: new Float32Array(2) }, /delta of length 3.*got 2/],
      [{ delta: [1, 2, 3] as unknown as Float32Array }, /Float32Array/],
      [{ weight: -1 }, /weight to be an integer in \[0, 4\], got -1/],
      [{ weight: 5 }, /got 5/],
      [{ weight: 1.5 }, /got 1.5/],
      [{ metrics: [] }, /expected 1 metrics, got 0/],
      [{ metrics: [9] }, /\|metric\| ≤ 8, got 9/],
      [{ metrics: [Number.NaN] }, /got NaN/],
    ];
    for (const [patch, pattern] of cases) expectError(SecAggErrorCode.BadMessage, () => encodeUpdate(plan, { ...good, ...patch }, seededRandom('x')), pattern);
    expect(() => encodeUpdate(plan, good, () => new Uint8Array(3))).toThrow(RangeError);
  });
});

describe('encode → sum → decode', () => {
  it('recovers the weighted mean within n·2^-f/Σw and the integer lanes exactly', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 12 }),
          m: fc.integer({ min: 1, max: 40 }),
          f: fc.integer({ min: 0, max: 16 }),
          clipNorm: fc.double({ min: 0.01, max: 10, noNaN: true }),
          seed: fc.string({ maxLength: 8 }),
        }),
        ({ n, m, f, clipNorm, seed }) => {
          const W = 50;
          const plan = planQuantization({ clipNorm, weightBound: W, cohortSize: n, fractionalBits: f, metricCount: 2, metricBound: 3 }, m);
          const sum = new Uint32Array(plan.vectorLength);
          const expected = new Float64Array(m);
          const expectedMetrics = [0, 0];
          let totalWeight = 0;
          let clippedCount = 0;
          for (let c = 0; c < n; c++) {
            const delta = Float32Array.from(seededFloats(`${seed}/d${c}`, m, -2 * clipNorm, 2 * clipNorm));
            const [wRaw = 0, m0 = 0, m1 = 0] = seededFloats(`${seed}/w${c}`, 3, 0, 1);
            const weight = Math.floor(wRaw * (W + 1));
            const metrics = [m0 * 6 - 3, m1 * 6 - 3];
            const { lanes, clipped } = encodeUpdate(plan, { delta, weight, metrics }, seededRandom(`${seed}/r${c}`));
            addInto(sum, lanes);
            const { scale } = _clipScale(delta, clipNorm);
            for (let i = 0; i < m; i++) expected[i]! += weight * delta[i]! * scale;
            expectedMetrics[0]! += weight * metrics[0]!;
            expectedMetrics[1]! += weight * metrics[1]!;
            totalWeight += weight;
            if (clipped) clippedCount++;
          }
          const out = decodeSum(plan, sum);
          expect(out.totalWeight).toBe(totalWeight);
          expect(out.contributors).toBe(n);
          expect(out.clippedCount).toBe(clippedCount);
          if (totalWeight === 0) {
            expect([...out.meanDelta].every((v) => v === 0)).toBe(true);
            expect(out.metricMeans).toEqual([0, 0]);
            return;
          }
          // Each client's rounding moves each lane by < 1 unit (2^-f), so Σ is off by < n·2^-f.
          const tol = (n * 2 ** -f) / totalWeight;
          for (let i = 0; i < m; i++) {
            const want = expected[i]! / totalWeight;
            expect(Math.abs(out.meanDelta[i]! - want)).toBeLessThanOrEqual(tol + Math.abs(want) * 2 ** -23);
          }
          for (let j = 0; j < 2; j++) expect(Math.abs(out.metricMeans[j]! - expectedMetrics[j]! / totalWeight)).toBeLessThanOrEqual(tol * 1.000001);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('decodes exactly at the edge of the ring: n clients at +C·W and at -C·W', () => {
    const cfg: QuantConfig = { clipNorm: 1, weightBound: 10000, cohortSize: 100, fractionalBits: 11, metricCount: 0, metricBound: 1 };
    const plan = planQuantization(cfg, 1);
    for (const sign of [1, -1]) {
      const sum = new Uint32Array(plan.vectorLength);
      for (let c = 0; c < 100; c++) addInto(sum, encodeUpdate(plan, { delta: new Float32Array([sign]), weight: 10000, metrics: [] }, seededRandom(`e${c}`)).lanes);
      expect(sum[0]! | 0).toBe(sign * 2_048_000_000);
      const out = decodeSum(plan, sum);
      expect([...out.meanDelta]).toEqual([sign]);
      expect(out).toMatchObject({ totalWeight: 1_000_000, contributors: 100, clippedCount: 0 });
    }
  });

  it('refuses sums no honest cohort can produce', () => {
    const plan = planQuantization({ clipNorm: 1, weightBound: 10, cohortSize: 3, fractionalBits: 8, metricCount: 1, metricBound: 1 }, 2);
    const one = (): Uint32Array => encodeUpdate(plan, { delta: new Float32Array([0.5, -0.5]), weight: 10, metrics: [1] }, seededRandom('s')).lanes;
    expectError(SecAggErrorCode.BadMessage, () => decodeSum(plan, new Uint32Array(4)), /expected 6 lanes.*got 4/);
    const four = new Uint32Array(plan.vectorLength);
    for (let c = 0; c < 4; c++) addInto(four, one());
    expectError(SecAggErrorCode.BadMessage, () => decodeSum(plan, four), /contributor count in \[0, 3\], got 4/);
    const heavy = one();
    heavy[plan.weightLane] = 11;
    expectError(SecAggErrorCode.BadMessage, () => decodeSum(plan, heavy), /total weight in \[0, 10\].*got 11/);
    const clipped = one();
    clipped[plan.clippedLane] = 2;
    expectError(SecAggErrorCode.BadMessage, () => decodeSum(plan, clipped), /clipped count in \[0, 1\], got 2/);
    const loud = one();
    loud[0] = 2561; // one client: |lane| ≤ ⌈10 · 1 · 2^8⌉ = 2560
    expectError(SecAggErrorCode.BadMessage, () => decodeSum(plan, loud), /\|lane 0\| ≤ 2560.*got 2561/);
    const loudMetric = one();
    loudMetric[plan.metricOffset] = (-2561) >>> 0;
    expectError(SecAggErrorCode.BadMessage, () => decodeSum(plan, loudMetric), /metric lane 0\| ≤ 2560.*got -2561/);
    const plain = decodeSum(plan, one());
    expect([...plain.meanDelta]).toEqual([0.5, -0.5]);
  });
});
