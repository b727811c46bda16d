/**
 * Server-side aggregation strategies: how the coordinator turns one round's securely
 * aggregated mean update into the next global model.
 *
 * Input each round: `meanDelta` = Σ w_i·δ_i / Σ w_i with δ_i = local_i − global (the
 * unmasked, dequantised sum divided by the total weight; the strategies do not need
 * the total weight itself), the current `global` weights, and the strategy's state.
 * `apply` is pure: it never mutates its inputs and returns fresh arrays. All arithmetic
 * is in float64; weights and the optimiser state are stored as float32, rounded once
 * per round, so a run resumed from a checkpoint is bit-identical to an uninterrupted one.
 *
 * Sign convention: `meanDelta` points from the global model towards the clients'
 * models (Reddi et al.'s Δ_t), i.e. it is the negative of a pseudo-gradient.
 *
 * Checkpoints: `encodeStrategyState` writes this little-endian layout (24-byte header,
 * then the float32 arrays the strategy keeps, in this order):
 *
 *   offset  size  field
 *   0       4     magic "TLYS"
 *   4       1     format version (1)
 *   5       1     strategy code: index in STRATEGY_NAMES (append-only)
 *   6       2     reserved, zero
 *   8       8     round: u64, rounds applied so far (≤ 2^53 − 1)
 *   16      4     length: u32, model length (1 ≤ length ≤ MAX_MODEL_LENGTH)
 *   20      4     reserved, zero
 *   24      4·L   m (fedavgm: velocity; fedadam, fedyogi: first moment), if kept
 *   ...     4·L   v (fedadam, fedyogi, fedadagrad: second moment), if kept
 *
 * `decodeStrategyState` refuses anything else (wrong magic, version, size, reserved
 * bits, non-finite or negative-v entries): a corrupt checkpoint must not poison the model.
 * The checkpoint holds no hyperparameters; the caller checkpoints the config beside it.
 */
import { at, describe, isPlainObject } from './_assert.ts';

/** The strategies, in their checkpoint code order. Append only: the index is stored. */
export const STRATEGY_NAMES = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export type StrategyConfig =
  | { readonly name: 'fedavg'; readonly serverLr?: number }
  | { readonly name: 'fedavgm'; readonly serverLr?: number; readonly momentum?: number }
  | { readonly name: 'fedadam'; readonly serverLr?: number; readonly beta1?: number; readonly beta2?: number; readonly tau?: number }
  | { readonly name: 'fedyogi'; readonly serverLr?: number; readonly beta1?: number; readonly beta2?: number; readonly tau?: number }
  | { readonly name: 'fedadagrad'; readonly serverLr?: number; readonly tau?: number };

/** A config with every default filled in (what `parseStrategyConfig` returns). */
export type ResolvedStrategyConfig = Readonly<Required<StrategyConfig>>;

/**
 * Defaults. Adaptive methods: Reddi et al. 2021, "Adaptive Federated Optimization"
 * (ICLR), Algorithm 2 and §5: momentum β1 = 0.9 and β2 = 0.99 as in their experiments;
 * adaptivity τ = 1e-3, a mid value of the range they explore (smaller τ = more
 * adaptive). The server learning rate η has no universal value there (it is
 * grid-searched per task); 0.01 is our starting point, FedAdagrad included: tune it.
 * FedAvgM: Hsu, Qi & Brown 2019,
 * "Measuring the Effects of Non-Identical Data Distribution for Federated Visual
 * Classification": server momentum β = 0.9 with server learning rate 1.
 */
export const STRATEGY_DEFAULTS = {
  fedavg: { serverLr: 1 },
  fedavgm: { serverLr: 1, momentum: 0.9 },
  fedadam: { serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedyogi: { serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedadagrad: { serverLr: 0.01, tau: 1e-3 },
} as const satisfies { readonly [K in StrategyName]: Omit<Extract<ResolvedStrategyConfig, { name: K }>, 'name'> };

/**
 * Bound on the model length a state may have: 2^28 weights (1 GiB of float32; a
 * FedAdam checkpoint is then 2 GiB). The wire's default vector limit is 2^24.
 */
export const MAX_MODEL_LENGTH = 2 ** 28;

/**
 * Plain, serialisable optimiser state. `m` and `v` are null where the strategy keeps
 * no such array; `round` counts the rounds applied. Treat as immutable: `apply`
 * returns a new state and never writes into the one it is given.
 */
export interface StrategyState {
  readonly strategy: StrategyName;
  readonly round: number;
  readonly length: number;
  /** fedavgm: velocity u; fedadam, fedyogi: first moment m_t; otherwise null. */
  readonly m: Float32Array | null;
  /** fedadam, fedyogi, fedadagrad: second moment v_t; otherwise null. */
  readonly v: Float32Array | null;
}

export interface StrategyResult {
  readonly weights: Float32Array;
  readonly state: StrategyState;
}

export interface Strategy {
  readonly name: StrategyName;
  readonly config: ResolvedStrategyConfig;
  /** The state before round 1 for a model of `modelLength` weights. */
  initState(modelLength: number): StrategyState;
  /**
   * One server step. Requires `global`, `meanDelta` and `state` of one length and all
   * entries finite; throws TypeError/RangeError otherwise, and RangeError if the step
   * overflows float32 (a diverged run is refused rather than checkpointed).
   */
  apply(global: Float32Array, meanDelta: Float32Array, state: StrategyState): StrategyResult;
}

// ---------------------------------------------------------------------------------
// Config parsing

type ParamName = 'serverLr' | 'momentum' | 'beta1' | 'beta2' | 'tau';

/** The parameters each strategy takes, besides `name`. */
const PARAMS: { readonly [K in StrategyName]: readonly ParamName[] } = {
  fedavg: ['serverLr'],
  fedavgm: ['serverLr', 'momentum'],
  fedadam: ['serverLr', 'beta1', 'beta2', 'tau'],
  fedyogi: ['serverLr', 'beta1', 'beta2', 'tau'],
  fedadagrad: ['serverLr', 'tau'],
};

const POSITIVE = { what: 'a finite number > 0', ok: (x: number) => x > 0 && x < Infinity };
const UNIT = { what: 'a number in [0, 1)', ok: (x: number) => x >= 0 && x < 1 };

/** Valid ranges: Reddi et al. Algorithm 2 needs β1, β2 ∈ [0, 1) and τ > 0. */
const RANGES: { readonly [K in ParamName]: { readonly what: string; readonly ok: (x: number) => boolean } } = {
  serverLr: POSITIVE,
  momentum: UNIT,
  beta1: UNIT,
  beta2: UNIT,
  tau: POSITIVE,
};

function isStrategyName(u: unknown): u is StrategyName {
  return typeof u === 'string' && (STRATEGY_NAMES as readonly string[]).includes(u);
}

/**
 * Validates a strategy config from an untrusted source (a JSON file) and returns a
 * fresh config with every default filled in. Throws TypeError for a wrong type or an
 * unknown key, RangeError for a value out of range; messages start with the field
 * path: `strategy.beta1: expected a number in [0, 1), got 1.5`. An `undefined` value
 * counts as absent.
 */
export function parseStrategyConfig(u: unknown, path = 'strategy'): ResolvedStrategyConfig {
  if (!isPlainObject(u)) throw new TypeError(`${path}: expected an object, got ${describe(u)}`);
  const name = u['name'];
  const names = STRATEGY_NAMES.map((n) => JSON.stringify(n)).join(', ');
  if (typeof name !== 'string') throw new TypeError(`${at(path, 'name')}: expected one of ${names}, got ${describe(name)}`);
  if (!isStrategyName(name)) throw new RangeError(`${at(path, 'name')}: expected one of ${names}, got ${describe(name)}`);
  const allowed: readonly string[] = PARAMS[name];
  for (const key of Object.keys(u)) {
    if (key !== 'name' && !allowed.includes(key)) {
      throw new TypeError(
        `${at(path, key)}: unknown key; expected only ${['name', ...allowed].join(', ')} for ${JSON.stringify(name)}, got ${describe(u[key])}`,
      );
    }
  }
  const num = (key: ParamName, fallback: number): number => {
    const x = u[key];
    if (x === undefined) return fallback;
    const range = RANGES[key];
    if (typeof x !== 'number') throw new TypeError(`${at(path, key)}: expected ${range.what}, got ${describe(x)}`);
    if (!range.ok(x)) throw new RangeError(`${at(path, key)}: expected ${range.what}, got ${describe(x)}`);
    return x;
  };
  switch (name) {
    case 'fedavg': {
      const d = STRATEGY_DEFAULTS.fedavg;
      return { name, serverLr: num('serverLr', d.serverLr) };
    }
    case 'fedavgm': {
      const d = STRATEGY_DEFAULTS.fedavgm;
      return { name, serverLr: num('serverLr', d.serverLr), momentum: num('momentum', d.momentum) };
    }
    case 'fedadam':
    case 'fedyogi': {
      const d = STRATEGY_DEFAULTS[name];
      return {
        name,
        serverLr: num('serverLr', d.serverLr),
        beta1: num('beta1', d.beta1),
        beta2: num('beta2', d.beta2),
        tau: num('tau', d.tau),
      };
    }
    case 'fedadagrad': {
      const d = STRATEGY_DEFAULTS.fedadagrad;
      return { name, serverLr: num('serverLr', d.serverLr), tau: num('tau', d.tau) };
    }
  }
}

// ---------------------------------------------------------------------------------
// State

/** Which arrays each strategy keeps. */
const KEEPS: { readonly [K in StrategyName]: { readonly m: boolean; readonly v: boolean } } = {
  fedavg: { m: false, v: false },
  fedavgm: { m: true, v: false },
  fedadam: { m: true, v: true },
  fedyogi: { m: true, v: true },
  fedadagrad: { m: false, v: true },
};

function assertModelLength(n: unknown, path: string): asserts n is number {
  if (typeof n !== 'number') throw new TypeError(`${path}: expected an integer in [1, ${MAX_MODEL_LENGTH}], got ${describe(n)}`);
  if (!Number.isInteger(n) || n < 1 || n > MAX_MODEL_LENGTH) {
    throw new RangeError(`${path}: expected an integer in [1, ${MAX_MODEL_LENGTH}], got ${describe(n)}`);
  }
}

function initState(config: ResolvedStrategyConfig, length: number): StrategyState {
  assertModelLength(length, 'modelLength');
  const keeps = KEEPS[config.name];
  let v: Float32Array | null = null;
  if (keeps.v) {
    // Reddi et al. 2021, Algorithm 2: "Initialization: x_0, v_{-1} ≥ τ²". We take v_{-1} = τ².
    const tau = 'tau' in config ? config.tau : 0;
    v = new Float32Array(length).fill(tau * tau);
  }
  return { strategy: config.name, round: 0, length, m: keeps.m ? new Float32Array(length) : null, v };
}

function assertF32(u: unknown, path: string, length: number): asserts u is Float32Array {
  if (!(u instanceof Float32Array)) throw new TypeError(`${path}: expected a Float32Array, got ${describe(u)}`);
  if (u.length !== length) throw new RangeError(`${path}: expected ${length} entries, got ${u.length}`);
}

function assertFinite(a: Float32Array, path: string): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (!Number.isFinite(x)) throw new RangeError(`${path}[${i}]: expected a finite number, got ${x}`);
  }
}

/** Structural checks on a state handed to `apply` (its values are checked by the step's output check). */
function assertState(state: unknown, name: StrategyName, length: number): asserts state is StrategyState {
  if (!isPlainObject(state)) throw new TypeError(`state: expected a StrategyState object, got ${describe(state)}`);
  if (state['strategy'] !== name) {
    throw new RangeError(`state.strategy: expected ${JSON.stringify(name)}, got ${describe(state['strategy'])}`);
  }
  const round = state['round'];
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 0 || round >= Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`state.round: expected an integer in [0, 2^53 - 1), got ${describe(round)}`);
  }
  if (state['length'] !== length) throw new RangeError(`state.length: expected ${length}, got ${describe(state['length'])}`);
  const keeps = KEEPS[name];
  for (const key of ['m', 'v'] as const) {
    const a = state[key];
    if (keeps[key]) assertF32(a, `state.${key}`, length);
    else if (a !== null) throw new TypeError(`state.${key}: expected null for ${JSON.stringify(name)}, got ${describe(a)}`);
  }
}

// ---------------------------------------------------------------------------------
// The step

function step(config: ResolvedStrategyConfig, global: Float32Array, meanDelta: Float32Array, state: StrategyState): StrategyResult {
  const n = global.length;
  const weights = new Float32Array(n);
  let m: Float32Array | null = null;
  let v: Float32Array | null = null;
  switch (config.name) {
    case 'fedavg': {
      // McMahan et al. 2017 with a server learning rate: x_{t+1} = x_t + η·Δ_t.
      const lr = config.serverLr;
      for (let i = 0; i < n; i++) weights[i] = global[i]! + lr * meanDelta[i]!;
      break;
    }
    case 'fedavgm': {
      // Hsu et al. 2019 (server momentum): v ← β·v + Δw, w ← w − v, with Δw the
      // pseudo-gradient. In our sign convention (Δ = −Δw) and with a server rate η:
      // u_t = β·u_{t−1} + Δ_t; x_{t+1} = x_t + η·u_t.
      const { serverLr: lr, momentum: beta } = config;
      const u0 = state.m!;
      const u1 = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const u = beta * u0[i]! + meanDelta[i]!;
        u1[i] = u;
        weights[i] = global[i]! + lr * u;
      }
      m = u1;
      break;
    }
    case 'fedadam':
    case 'fedyogi': {
      const { serverLr: lr, beta1, beta2, tau } = config;
      const yogi = config.name === 'fedyogi';
      const m0 = state.m!;
      const v0 = state.v!;
      const m1 = new Float32Array(n);
      const v1 = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const d = meanDelta[i]!;
        const d2 = d * d;
        const vp = v0[i]!;
        // Reddi et al. 2021, Algorithm 2: m_t = β1·m_{t−1} + (1 − β1)·Δ_t.
        const mt = beta1 * m0[i]! + (1 - beta1) * d;
        const vt = yogi
          ? // Algorithm 2 (FedYogi): v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²).
            vp - (1 - beta2) * d2 * Math.sign(vp - d2)
          : // Algorithm 2 (FedAdam): v_t = β2·v_{t−1} + (1 − β2)·Δ_t².
            beta2 * vp + (1 - beta2) * d2;
        m1[i] = mt;
        v1[i] = vt;
        // Algorithm 2: x_{t+1} = x_t + η·m_t / (√v_t + τ). No bias correction in the paper.
        weights[i] = global[i]! + (lr * mt) / (Math.sqrt(vt) + tau);
      }
      m = m1;
      v = v1;
      break;
    }
    case 'fedadagrad': {
      // Algorithm 2 with β1 = 0: the config takes no beta1, so m_t = Δ_t and no first
      // moment is kept (use fedadam/fedyogi for server momentum).
      const { serverLr: lr, tau } = config;
      const v0 = state.v!;
      const v1 = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const d = meanDelta[i]!;
        // Algorithm 2 (FedAdagrad): v_t = v_{t−1} + Δ_t².
        const vt = v0[i]! + d * d;
        v1[i] = vt;
        // Algorithm 2: x_{t+1} = x_t + η·m_t / (√v_t + τ).
        weights[i] = global[i]! + (lr * d) / (Math.sqrt(vt) + tau);
      }
      v = v1;
      break;
    }
  }
  // Float32 storage can overflow (a diverging run); refuse rather than return ±Infinity.
  assertFinite(weights, `${config.name}: weights`);
  if (m !== null) assertFinite(m, `${config.name}: state.m`);
  if (v !== null) assertFinite(v, `${config.name}: state.v`);
  return { weights, state: { strategy: config.name, round: state.round + 1, length: n, m, v } };
}

/**
 * A strategy for `config` (validated as by `parseStrategyConfig`, defaults filled).
 * Throws TypeError/RangeError on an invalid config.
 */
export function createStrategy(config: StrategyConfig): Strategy {
  const resolved = Object.freeze(parseStrategyConfig(config, 'config'));
  return Object.freeze({
    name: resolved.name,
    config: resolved,
    initState: (modelLength: number) => initState(resolved, modelLength),
    apply(global: Float32Array, meanDelta: Float32Array, state: StrategyState): StrategyResult {
      if (!(global instanceof Float32Array)) throw new TypeError(`global: expected a Float32Array, got ${describe(global)}`);
      assertModelLength(global.length, 'global.length');
      assertF32(meanDelta, 'meanDelta', global.length);
      assertState(state, resolved.name, global.length);
      assertFinite(global, 'global');
      assertFinite(meanDelta, 'meanDelta');
      return step(resolved, global, meanDelta, state);
    },
  });
}

// ---------------------------------------------------------------------------------
// Checkpoint encoding (layout in the header comment)

const MAGIC = [0x54, 0x4c, 0x59, 0x53] as const; // "TLYS"
const FORMAT_VERSION = 1;
const HEADER_BYTES = 24;

/** The checkpoint bytes of `state` (layout at the top of this file). Validates `state` first. */
export function encodeStrategyState(state: StrategyState): Uint8Array {
  if (!isPlainObject(state)) throw new TypeError(`state: expected a StrategyState object, got ${describe(state)}`);
  const name = state['strategy'];
  if (!isStrategyName(name)) throw new RangeError(`state.strategy: expected a strategy name, got ${describe(name)}`);
  assertModelLength(state['length'], 'state.length');
  assertState(state, name, state.length);
  const { length, m, v } = state;
  if (m !== null) assertFinite(m, 'state.m');
  if (v !== null) assertFinite(v, 'state.v');
  const arrays = [m, v].filter((a): a is Float32Array => a !== null);
  const out = new Uint8Array(HEADER_BYTES + arrays.length * 4 * length);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint8(4, FORMAT_VERSION);
  dv.setUint8(5, STRATEGY_NAMES.indexOf(name));
  dv.setBigUint64(8, BigInt(state.round), true);
  dv.setUint32(16, length, true);
  let off = HEADER_BYTES;
  for (const a of arrays) {
    for (let i = 0; i < length; i++, off += 4) dv.setFloat32(off, a[i]!, true);
  }
  return out;
}

/**
 * Parses checkpoint bytes into a fresh state, refusing anything `encodeStrategyState`
 * would not have written. Throws TypeError for a non-Uint8Array, RangeError otherwise;
 * messages start with `checkpoint`.
 */
export function decodeStrategyState(bytes: Uint8Array): StrategyState {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`checkpoint: expected a Uint8Array, got ${describe(bytes)}`);
  if (bytes.length < HEADER_BYTES) throw new RangeError(`checkpoint: expected at least ${HEADER_BYTES} bytes, got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new RangeError('checkpoint.magic: expected "TLYS", got other bytes');
  const version = dv.getUint8(4);
  if (version !== FORMAT_VERSION) throw new RangeError(`checkpoint.version: expected ${FORMAT_VERSION}, got ${version}`);
  const code = dv.getUint8(5);
  const name = STRATEGY_NAMES[code];
  if (name === undefined) throw new RangeError(`checkpoint.strategy: expected a code in [0, ${STRATEGY_NAMES.length - 1}], got ${code}`);
  if (dv.getUint16(6, true) !== 0 || dv.getUint32(20, true) !== 0) {
    throw new RangeError('checkpoint.reserved: expected zero bytes, got non-zero');
  }
  const round64 = dv.getBigUint64(8, true);
  if (round64 >= BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`checkpoint.round: expected an integer in [0, 2^53 - 1), got ${round64}`);
  }
  const length = dv.getUint32(16, true);
  if (length < 1 || length > MAX_MODEL_LENGTH) {
    throw new RangeError(`checkpoint.length: expected an integer in [1, ${MAX_MODEL_LENGTH}], got ${length}`);
  }
  const keeps = KEEPS[name];
  const expectedBytes = HEADER_BYTES + ((keeps.m ? 1 : 0) + (keeps.v ? 1 : 0)) * 4 * length;
  if (bytes.length !== expectedBytes) {
    throw new RangeError(`checkpoint: expected ${expectedBytes} bytes for ${JSON.stringify(name)} of length ${length}, got ${bytes.length}`);
  }
  let off = HEADER_BYTES;
  const read = (path: string, nonNegative: boolean): Float32Array => {
    const a = new Float32Array(length);
    for (let i = 0; i < length; i++, off += 4) {
      const x = dv.getFloat32(off, true);
      if (!Number.isFinite(x) || (nonNegative && x < 0)) {
        throw new RangeError(`${path}[${i}]: expected a finite number${nonNegative ? ' ≥ 0' : ''}, got ${x}`);
      }
      a[i] = x;
    }
    return a;
  };
  const m = keeps.m ? read('checkpoint.m', false) : null;
  // v ≥ 0 holds for all three rules from v_{-1} = τ² > 0; a negative v is corruption.
  const v = keeps.v ? read('checkpoint.v', true) : null;
  return { strategy: name, round: Number(round64), length, m, v };
}
