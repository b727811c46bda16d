import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_MODEL_LENGTH,
  STRATEGY_DEFAULTS,
  STRATEGY_NAMES,
  createStrategy,
  decodeStrategyState,
  encodeStrategyState,
  parseStrategyConfig,
} from './strategies.ts';
import type { StrategyConfig, StrategyState } from './strategies.ts';

const f32 = (xs: readonly number[]): Float32Array => Float32Array.from(xs);
const bits = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

/** Runs `rounds` rounds from `x0`, returning the weights after each and the final state. */
function run(config: StrategyConfig, x0: Float32Array, deltas: readonly Float32Array[], state?: StrategyState) {
  const s = createStrategy(config);
  let st = state ?? s.initState(x0.length);
  let x = x0;
  const trace: Float32Array[] = [];
  for (const d of deltas) {
    ({ weights: x, state: st } = s.apply(x, d, st));
    trace.push(x);
  }
  return { trace, state: st, weights: x };
}

// Five rounds of mean updates on a 4-weight model. Column 2 flips sign and column 3 has
// a zero, so FedYogi's sign(v − Δ²) takes each of +1, −1 across the run.
const X0 = f32([0.5, -1.25, 3, 0]);
const DELTAS = [
  [0.1, -0.2, 0.05, 0],
  [0.3, 0.25, -0.5, 1e-4],
  [-0.05, 0.125, 0.75, 0],
  [0.2, -0.4, -0.01, 2],
  [0.001, 0.06, 0.3, -0.7],
].map(f32);

describe('fedavg', () => {
  it('with serverLr 1 gives global + meanDelta exactly (one float32 rounding of the true sum)', () => {
    const s = createStrategy({ name: 'fedavg' });
    const g = f32([1, -2.5, 1e-8, 3.4e38, 0.1]);
    const d = f32([0.25, 2.5, 1, -3.4e38, 0.2]);
    const { weights, state } = s.apply(g, d, s.initState(5));
    expect(Array.from(weights)).toStrictEqual(Array.from(g, (x, i) => Math.fround(x + d[i]!)));
    expect(state).toStrictEqual({ strategy: 'fedavg', round: 1, length: 5, m: null, v: null });
  });

  it('property: weights = fround(global + serverLr·meanDelta)', () => {
    const vec = fc.float32Array({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30), minLength: 1, maxLength: 16 });
    fc.assert(
      fc.property(vec, fc.double({ min: 1e-3, max: 10, noNaN: true }), (g, lr) => {
        const d = g.map((x) => x / 3 + 1);
        const s = createStrategy({ name: 'fedavg', serverLr: lr });
        const { weights } = s.apply(g, d, s.initState(g.length));
        expect(Array.from(weights)).toStrictEqual(Array.from(g, (x, i) => Math.fround(x + lr * d[i]!)));
      }),
    );
  });
});

describe('fedavgm', () => {
  it('accumulates momentum over 3 rounds (β = 0.5, η = 1, dyadic values: exact)', () => {
    // By hand: u1 = d1 = [1, -2]                      x1 = [0, 1] + u1 = [1, -1]
    //          u2 = 0.5·u1 + [0.5, 1]  = [1, 0]        x2 = [2, -1]
    //          u3 = 0.5·u2 + [-1, 0.25] = [-0.5, 0.25] x3 = [1.5, -0.75]
    const { trace, state } = run({ name: 'fedavgm', momentum: 0.5 }, f32([0, 1]), [f32([1, -2]), f32([0.5, 1]), f32([-1, 0.25])]);
    expect(trace.map((x) => Array.from(x))).toStrictEqual([
      [1, -1],
      [2, -1],
      [1.5, -0.75],
    ]);
    expect(Array.from(state.m!)).toStrictEqual([-0.5, 0.25]);
    expect(state.round).toBe(3);
  });

  it('with the default β = 0.9 and a constant update: u = 1, 1.9, 2.71; x = 1, 2.9, 5.61', () => {
    const { trace } = run({ name: 'fedavgm' }, f32([0]), [f32([1]), f32([1]), f32([1])]);
    expect(trace.map((x) => x[0])).toStrictEqual([1, Math.fround(1 + 1.9), Math.fround(Math.fround(2.9) + 2.71)]);
    expect(trace[2]![0]).toBeCloseTo(5.61, 6);
  });

  it('serverLr scales the velocity step', () => {
    const { trace } = run({ name: 'fedavgm', momentum: 0.5, serverLr: 0.5 }, f32([0]), [f32([1]), f32([1])]);
    expect(trace.map((x) => x[0])).toStrictEqual([0.5, 0.5 + 0.5 * 1.5]);
  });
});

/**
 * Reddi et al. 2021, Algorithm 2, written out plainly over number[] in float64. With
 * `storeF32` the weights and the m/v state are rounded to float32 after each round, as
 * the implementation stores them; without, everything stays float64.
 */
function reference(
  kind: 'fedadam' | 'fedyogi' | 'fedadagrad',
  p: { eta: number; b1: number; b2: number; tau: number },
  x0: Float32Array,
  deltas: readonly Float32Array[],
  storeF32: boolean,
): number[][] {
  const r = storeF32 ? Math.fround : (x: number) => x;
  let x = Array.from(x0);
  let m = x.map(() => 0);
  let v = x.map(() => r(p.tau * p.tau)); // v_{-1} = τ²
  const out: number[][] = [];
  for (const dv of deltas) {
    const d = Array.from(dv);
    const b1 = kind === 'fedadagrad' ? 0 : p.b1;
    const mt = m.map((mi, i) => b1 * mi + (1 - b1) * d[i]!);
    const vt = v.map((vi, i) => {
      const g2 = d[i]! * d[i]!;
      if (kind === 'fedadagrad') return vi + g2;
      if (kind === 'fedadam') return p.b2 * vi + (1 - p.b2) * g2;
      return vi - (1 - p.b2) * g2 * Math.sign(vi - g2);
    });
    x = x.map((xi, i) => r(xi + (p.eta * mt[i]!) / (Math.sqrt(vt[i]!) + p.tau)));
    m = mt.map(r);
    v = vt.map(r);
    out.push(x);
  }
  return out;
}

const ADAPTIVE = [
  { config: { name: 'fedadam' } as const, p: { eta: 0.01, b1: 0.9, b2: 0.99, tau: 1e-3 } },
  { config: { name: 'fedyogi' } as const, p: { eta: 0.01, b1: 0.9, b2: 0.99, tau: 1e-3 } },
  { config: { name: 'fedadagrad' } as const, p: { eta: 0.01, b1: 0, b2: 0, tau: 1e-3 } },
  {
    config: { name: 'fedadam', serverLr: 0.3, beta1: 0.5, beta2: 0.9, tau: 0.05 } as const,
    p: { eta: 0.3, b1: 0.5, b2: 0.9, tau: 0.05 },
  },
  {
    config: { name: 'fedyogi', serverLr: 0.3, beta1: 0, beta2: 0.5, tau: 1e-6 } as const,
    p: { eta: 0.3, b1: 0, b2: 0.5, tau: 1e-6 },
  },
  { config: { name: 'fedadagrad', serverLr: 1.5, tau: 0.1 } as const, p: { eta: 1.5, b1: 0, b2: 0, tau: 0.1 } },
];

describe.each(ADAPTIVE)('$config.name $p', ({ config, p }) => {
  it('matches the Algorithm 2 reference bit for bit (float32 storage, float64 arithmetic)', () => {
    const { trace } = run(config, X0, DELTAS);
    expect(trace.map((x) => Array.from(x))).toStrictEqual(reference(config.name, p, X0, DELTAS, true));
  });

  it('stays within float32 precision of an all-float64 run', () => {
    const { trace } = run(config, X0, DELTAS);
    const exact = reference(config.name, p, X0, DELTAS, false);
    trace.forEach((x, t) => x.forEach((xi, i) => expect(Math.abs(xi - exact[t]![i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(xi)))));
  });
});

describe('adaptive strategies drive a quadratic to its minimum', () => {
  // f(w) = ||w − w*||²; each round the clients take one SGD step of rate 0.1 from the
  // global model, so meanDelta = −0.1·∇f(w) = −0.2·(w − w*).
  const target = [1, -2, 0.5, 3];
  const dist = (w: ArrayLike<number>) => Math.hypot(...target.map((t, i) => w[i]! - t));
  it.each([
    { name: 'fedavg' },
    { name: 'fedavgm' },
    { name: 'fedadam', serverLr: 0.05 },
    { name: 'fedyogi', serverLr: 0.05 },
    { name: 'fedadagrad', serverLr: 0.5 },
  ] as const)('$name', (config) => {
    const s = createStrategy(config);
    let w: Float32Array = new Float32Array(4);
    let st = s.initState(4);
    const start = dist(w);
    for (let r = 0; r < 300; r++) {
      const d = w.map((wi, i) => -0.2 * (wi - target[i]!));
      ({ weights: w, state: st } = s.apply(w, d, st));
    }
    expect(dist(w)).toBeLessThan(0.02 * start);
  });
});

describe('checkpoint encoding', () => {
  it.each(STRATEGY_NAMES)('%s: 3 rounds straight = 2 rounds, encode/decode, 1 round (bit-identical)', (name) => {
    const config = { name } as StrategyConfig;
    const deltas = DELTAS.slice(0, 3);
    const straight = run(config, X0, deltas);
    const first = run(config, X0, deltas.slice(0, 2));
    const bytes = encodeStrategyState(first.state);
    const restored = decodeStrategyState(bytes.slice()); // a copy: nothing aliases the original state
    expect(restored).toStrictEqual(first.state);
    const resumed = run(config, first.weights, deltas.slice(2), restored);
    expect(bits(resumed.weights)).toStrictEqual(bits(straight.weights));
    expect(encodeStrategyState(resumed.state)).toStrictEqual(encodeStrategyState(straight.state));
    expect(resumed.state.round).toBe(3);
  });

  it('property: decode(encode(s)) reproduces every bit of m and v, -0 included', () => {
    const entry = fc.float({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        fc.constantFrom(...STRATEGY_NAMES),
        fc.array(fc.tuple(entry, entry), { minLength: 1, maxLength: 12 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER - 1 }),
        (name, pairs, round) => {
          const s = createStrategy({ name } as StrategyConfig);
          const init = s.initState(pairs.length);
          const state: StrategyState = {
            ...init,
            round,
            m: init.m && f32(pairs.map(([a]) => a)),
            v: init.v && f32(pairs.map(([, b]) => Math.abs(b))),
          };
          const back = decodeStrategyState(encodeStrategyState(state));
          expect(back.round).toBe(round);
          expect(back.m && bits(back.m)).toStrictEqual(state.m && bits(state.m));
          expect(back.v && bits(back.v)).toStrictEqual(state.v && bits(state.v));
        },
      ),
    );
  });

  it('the layout is the documented one', () => {
    const s = createStrategy({ name: 'fedavgm' });
    const state = { ...s.initState(2), round: 7, m: f32([1, -2]) };
    const bytes = encodeStrategyState(state);
    expect(Array.from(bytes)).toStrictEqual([
      0x54, 0x4c, 0x59, 0x53, 1, 1, 0, 0, // magic "TLYS", version 1, strategy code 1 (fedavgm), reserved
      7, 0, 0, 0, 0, 0, 0, 0, // round, u64 LE
      2, 0, 0, 0, 0, 0, 0, 0, // length, u32 LE; reserved
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, // m = [1, -2], f32 LE
    ]);
  });

  const good = encodeStrategyState(createStrategy({ name: 'fedadam' }).initState(2));
  const patch = (edit: (b: Uint8Array, dv: DataView) => void): Uint8Array => {
    const b = good.slice();
    edit(b, new DataView(b.buffer));
    return b;
  };
  it.each([
    ['too short', good.subarray(0, 10), /checkpoint: expected at least 24 bytes, got 10/],
    ['bad magic', patch((b) => (b[0] = 0)), /checkpoint.magic/],
    ['unknown version', patch((b) => (b[4] = 2)), /checkpoint.version: expected 1, got 2/],
    ['unknown strategy code', patch((b) => (b[5] = 5)), /checkpoint.strategy: expected a code in \[0, 4\], got 5/],
    ['reserved bits set', patch((b) => (b[21] = 1)), /checkpoint.reserved/],
    ['round beyond 2^53', patch((_, dv) => dv.setBigUint64(8, 2n ** 60n, true)), /checkpoint.round/],
    ['zero length', patch((_, dv) => dv.setUint32(16, 0, true)), /checkpoint.length: expected an integer in \[1, /],
    ['length over the bound', patch((_, dv) => dv.setUint32(16, MAX_MODEL_LENGTH + 1, true)), /checkpoint.length/],
    ['truncated body', good.subarray(0, good.length - 1), /checkpoint: expected 40 bytes for "fedadam" of length 2, got 39/],
    ['trailing byte', Uint8Array.from([...good, 0]), /expected 40 bytes .* got 41/],
    ['NaN in m', patch((_, dv) => dv.setFloat32(28, NaN, true)), /checkpoint.m\[1\]: expected a finite number, got NaN/],
    ['Infinity in v', patch((_, dv) => dv.setFloat32(32, Infinity, true)), /checkpoint.v\[0\]: expected a finite number ≥ 0, got Infinity/],
    ['negative v', patch((_, dv) => dv.setFloat32(36, -1, true)), /checkpoint.v\[1\]: expected a finite number ≥ 0, got -1/],
  ])('refuses %s', (_label, bytes, message) => {
    expect(() => decodeStrategyState(bytes)).toThrow(RangeError);
    expect(() => decodeStrategyState(bytes)).toThrow(message);
  });

  it('refuses a non-Uint8Array with TypeError', () => {
    expect(() => decodeStrategyState([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('decodes from a view at an odd byte offset', () => {
    const padded = new Uint8Array(good.length + 1);
    padded.set(good, 1);
    expect(decodeStrategyState(padded.subarray(1))).toStrictEqual(decodeStrategyState(good));
  });
});

describe('apply', () => {
  it.each(STRATEGY_NAMES)('%s never mutates its inputs', (name) => {
    const s = createStrategy({ name } as StrategyConfig);
    const first = s.apply(X0, DELTAS[0]!, s.initState(4));
    const g = first.weights;
    const d = DELTAS[1]!;
    const st = first.state;
    const before = { g: bits(g), d: bits(d), m: st.m && bits(st.m), v: st.v && bits(st.v), round: st.round };
    const next = s.apply(g, d, st);
    expect({ g: bits(g), d: bits(d), m: st.m && bits(st.m), v: st.v && bits(st.v), round: st.round }).toStrictEqual(before);
    expect(next.weights).not.toBe(g);
    if (st.m) expect(next.state.m).not.toBe(st.m);
    if (st.v) expect(next.state.v).not.toBe(st.v);
  });

  const s = createStrategy({ name: 'fedadam' });
  const st = s.initState(3);
  const g = f32([1, 2, 3]);
  const d = f32([0.1, 0.2, 0.3]);
  it.each([
    ['meanDelta shorter than global', () => s.apply(g, f32([1, 2]), st), RangeError, /meanDelta: expected 3 entries, got 2/],
    ['state for another length', () => s.apply(f32([1, 2]), f32([1, 2]), st), RangeError, /state.length: expected 2, got 3/],
    ['state of another strategy', () => s.apply(g, d, createStrategy({ name: 'fedyogi' }).initState(3)), RangeError, /state.strategy: expected "fedadam", got string "fedyogi"/],
    ['state missing v', () => s.apply(g, d, { ...st, v: null }), TypeError, /state.v: expected a Float32Array, got null/],
    ['state.v of another length', () => s.apply(g, d, { ...st, v: f32([1]) }), RangeError, /state.v: expected 3 entries, got 1/],
    ['a Float64Array global', () => s.apply(Float64Array.from(g) as unknown as Float32Array, d, st), TypeError, /global: expected a Float32Array, got a Float64Array/],
    ['an empty model', () => s.apply(f32([]), f32([]), st), RangeError, /global.length: expected an integer in \[1, /],
    ['NaN in meanDelta', () => s.apply(g, f32([0, NaN, 0]), st), RangeError, /meanDelta\[1\]: expected a finite number, got NaN/],
    ['Infinity in global', () => s.apply(f32([0, 0, -Infinity]), d, st), RangeError, /global\[2\]: expected a finite number, got -Infinity/],
    ['a fractional round', () => s.apply(g, d, { ...st, round: 1.5 }), RangeError, /state.round/],
  ] as const)('refuses %s', (_label, call, type, message) => {
    expect(call).toThrow(type);
    expect(call).toThrow(message);
  });

  it('refuses a step that overflows float32', () => {
    const avg = createStrategy({ name: 'fedavg', serverLr: 10 });
    expect(() => avg.apply(f32([3e38]), f32([3e38]), avg.initState(1))).toThrow(/fedavg: weights\[0\]: expected a finite number, got Infinity/);
  });

  it('initState: FedAdam/FedYogi/FedAdagrad start from v = τ², m = 0', () => {
    const st2 = createStrategy({ name: 'fedyogi', tau: 0.5 }).initState(2);
    expect(st2).toStrictEqual({ strategy: 'fedyogi', round: 0, length: 2, m: f32([0, 0]), v: f32([0.25, 0.25]) });
    expect(createStrategy({ name: 'fedadagrad' }).initState(1).m).toBeNull();
    expect(() => createStrategy({ name: 'fedavg' }).initState(0)).toThrow(RangeError);
    expect(() => createStrategy({ name: 'fedavg' }).initState(2.5)).toThrow(/modelLength: expected an integer/);
  });
});

describe('parseStrategyConfig', () => {
  it('fills the documented defaults', () => {
    for (const name of STRATEGY_NAMES) {
      expect(parseStrategyConfig({ name })).toStrictEqual({ name, ...STRATEGY_DEFAULTS[name] });
    }
    expect(STRATEGY_DEFAULTS.fedadam).toStrictEqual({ serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
  });

  it('keeps given values, accepts boundary values, and returns a fresh object', () => {
    const input = { name: 'fedyogi', serverLr: 1e-9, beta1: 0, beta2: 0.999999, tau: 5 };
    const out = parseStrategyConfig(JSON.parse(JSON.stringify(input)));
    expect(out).toStrictEqual(input);
    expect(parseStrategyConfig({ name: 'fedavgm', momentum: 0 })).toStrictEqual({ name: 'fedavgm', serverLr: 1, momentum: 0 });
    expect(parseStrategyConfig({ name: 'fedavg', serverLr: undefined })).toStrictEqual({ name: 'fedavg', serverLr: 1 });
  });

  it.each([
    ['not an object', 'fedavg', TypeError, 'strategy: expected an object, got string "fedavg"'],
    ['an array', [], TypeError, 'strategy: expected an object, got an array of length 0'],
    ['null', null, TypeError, 'strategy: expected an object, got null'],
    ['no name', {}, TypeError, 'strategy.name: expected one of "fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad", got nothing'],
    ['unknown name', { name: 'fedprox' }, RangeError, 'strategy.name: expected one of "fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad", got string "fedprox"'],
    ['name of wrong type', { name: 3 }, TypeError, 'strategy.name: expected one of'],
    ['unknown key', { name: 'fedavg', momentum: 0.9 }, TypeError, 'strategy.momentum: unknown key; expected only name, serverLr for "fedavg", got 0.9'],
    ['misspelt key', { name: 'fedadam', beta_1: 0.9 }, TypeError, 'strategy.beta_1: unknown key; expected only name, serverLr, beta1, beta2, tau for "fedadam"'],
    ['odd key, quoted', { name: 'fedavg', 'a b': 1 }, TypeError, 'strategy["a b"]: unknown key'],
    ['__proto__ from JSON', JSON.parse('{"name":"fedavg","__proto__":{}}'), TypeError, 'strategy.__proto__: unknown key; expected only name, serverLr for "fedavg", got an object'],
    ['beta1 = 1', { name: 'fedadam', beta1: 1 }, RangeError, 'strategy.beta1: expected a number in [0, 1), got 1'],
    ['beta1 = 1.5', { name: 'fedyogi', beta1: 1.5 }, RangeError, 'strategy.beta1: expected a number in [0, 1), got 1.5'],
    ['beta2 < 0', { name: 'fedadam', beta2: -0.1 }, RangeError, 'strategy.beta2: expected a number in [0, 1), got -0.1'],
    ['beta2 NaN', { name: 'fedadam', beta2: NaN }, RangeError, 'strategy.beta2: expected a number in [0, 1), got NaN'],
    ['momentum = 1', { name: 'fedavgm', momentum: 1 }, RangeError, 'strategy.momentum: expected a number in [0, 1), got 1'],
    ['serverLr = 0', { name: 'fedavg', serverLr: 0 }, RangeError, 'strategy.serverLr: expected a finite number > 0, got 0'],
    ['serverLr = -0', { name: 'fedavg', serverLr: -0 }, RangeError, 'strategy.serverLr: expected a finite number > 0, got -0'],
    ['serverLr = Infinity', { name: 'fedadam', serverLr: Infinity }, RangeError, 'strategy.serverLr: expected a finite number > 0, got Infinity'],
    ['tau = 0', { name: 'fedadagrad', tau: 0 }, RangeError, 'strategy.tau: expected a finite number > 0, got 0'],
    ['tau as a string', { name: 'fedadagrad', tau: '1e-3' }, TypeError, 'strategy.tau: expected a finite number > 0, got string "1e-3"'],
    ['serverLr null', { name: 'fedavg', serverLr: null }, TypeError, 'strategy.serverLr: expected a finite number > 0, got null'],
    ['momentum as a bigint', { name: 'fedavgm', momentum: 0n }, TypeError, 'strategy.momentum: expected a number in [0, 1), got bigint 0'],
  ])('refuses %s', (_label, input, type, message) => {
    expect(() => parseStrategyConfig(input)).toThrow(type);
    expect(() => parseStrategyConfig(input)).toThrow(message);
  });

  it('uses the given path', () => {
    expect(() => parseStrategyConfig({ name: 'fedadam', tau: -1 }, 'task.strategy')).toThrow(
      'task.strategy.tau: expected a finite number > 0, got -1',
    );
  });

  it('createStrategy validates a config built in code too', () => {
    expect(() => createStrategy({ name: 'fedadam', beta2: 1 })).toThrow('config.beta2: expected a number in [0, 1), got 1');
    expect(createStrategy({ name: 'fedadam', tau: 0.1 }).config).toStrictEqual({ name: 'fedadam', serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 0.1 });
  });
});
