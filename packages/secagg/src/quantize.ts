/**
 * Quantisation: a client's float update -> lanes of the ring Z_2^32, and the
 * unmasked ring sum -> the weighted mean the coordinator applies.
 *
 * Vector layout (m = modelLength, M = metricCount), one client:
 *
 *   lane            value (before wrapping into Z_2^32)
 *   0 .. m-1        round(w · clip(δ)[i] · 2^f)      weighted, clipped update (fixed point)
 *   m               w                                sample weight (integer)
 *   m+1             1 if δ was clipped, else 0
 *   m+2             1                                contributor count
 *   m+3 .. m+2+M    round(w · metric[j] · 2^f)       weighted metrics (fixed point)
 *
 * so the coordinator learns only sums: Σw·δ, Σw, how many were clipped, how many
 * contributed, Σw·metric. A shop's own weight (its sales volume) stays masked.
 *
 * `round` is unbiased stochastic rounding, so the sum's expectation is the exact
 * weighted sum; each client adds less than one unit 2^-f of error per lane.
 * Negative values wrap by two's complement; the plan guarantees the sum of n
 * clients never leaves the signed range (-2^31, 2^31), so the server decodes each
 * lane as an int32 exactly.
 */
import { randomFillSync } from 'node:crypto';
import { fail, SecAggErrorCode } from './errors.ts';
import { nativeKernel } from './native.ts';
import { osRandom } from './random.ts';
import type { RandomSource } from './random.ts';

export interface QuantConfig {
  /** L2 bound C on one client's update delta; a longer delta is scaled down to norm C. */
  readonly clipNorm: number;
  /** Max sample weight W of one client, an integer ≥ 1. */
  readonly weightBound: number;
  /** Max number n of clients whose vectors are summed. */
  readonly cohortSize: number;
  /** f: fixed point scale 2^f, integer in [0, 52]. */
  readonly fractionalBits: number;
  /** Number of metric lanes (e.g. loss, accuracy), integer ≥ 0. */
  readonly metricCount: number;
  /** Every metric must satisfy |metric| ≤ metricBound. */
  readonly metricBound: number;
}

export interface QuantPlan extends QuantConfig {
  readonly modelLength: number;
  /** modelLength + 3 + metricCount. */
  readonly vectorLength: number;
  /** Bits the widest lane sum needs (sign included); at most 32. */
  readonly bitsNeeded: number;
  /** 32 - bitsNeeded: how far the sums stay from wrapping, in bits. */
  readonly headroomBits: number;
  /** 2^fractionalBits. */
  readonly scale: number;
  /** Bound on |w·clip(δ)[i]·2^f| for one client (before rounding). */
  readonly updateLaneBound: number;
  /** Bound on |w·metric·2^f| for one client (before rounding). */
  readonly metricLaneBound: number;
  readonly weightLane: number;
  readonly clippedLane: number;
  readonly countLane: number;
  readonly metricOffset: number;
}

export interface Update {
  readonly delta: Float32Array;
  /** Integer sample weight in [0, weightBound]; 0 means "contributes nothing". */
  readonly weight: number;
  readonly metrics: readonly number[];
}

export interface DecodedSum {
  /** Σw·δ / Σw; all zeros when Σw = 0. */
  readonly meanDelta: Float32Array;
  readonly totalWeight: number;
  readonly contributors: number;
  readonly clippedCount: number;
  /** Σw·metric / Σw; all zeros when Σw = 0 (never NaN). */
  readonly metricMeans: number[];
}

export const RING_BITS = 32;
/** Largest |lane sum| that decodes exactly as a signed int32. */
const MAX_SIGNED = 2 ** 31 - 1;
/** Largest fractionalBits accepted: float64 keeps 53 significant bits. */
export const MAX_FRACTIONAL_BITS = 52;
/** Longest vector a plan accepts (2^28 lanes = 1 GiB of Uint32): a resource bound, raise deliberately. */
export const MAX_VECTOR_LENGTH = 2 ** 28;
/**
 * Lanes rounded per batch of random bytes (4 bytes each): 64 KiB of randomness per call,
 * below glibc's 128 KiB mmap threshold (a bigger batch comes from mmap and page-faults
 * on every call on the bench VM).
 */
const ROUNDING_BATCH = 16384;
/** The native rounding needs floor(x) + 1 to fit an int32 (every plan's bound is far below). */
const NATIVE_ROUNDING_MAX_BOUND = 2 ** 31 - 1;

const BadConfig = SecAggErrorCode.BadConfig;
const BadMessage = SecAggErrorCode.BadMessage;

function assertPositiveFinite(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(BadConfig, `quantization: expected ${name} to be a finite number > 0, got ${String(value)}`);
  }
}

function assertIntegerIn(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(BadConfig, `quantization: expected ${name} to be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/** Bits to hold every integer in [-maxAbs, maxAbs] in two's complement. */
function bitsFor(maxAbs: number): number {
  return maxAbs === 0 ? 1 : Math.ceil(Math.log2(maxAbs + 1)) + 1;
}

/** Largest |sum over n clients| of a fixed-point lane with per-client bound `perClient` (before rounding). */
function sumBound(n: number, perClient: number): number {
  // Stochastic rounding maps |x| ≤ b to an integer of magnitude ≤ ceil(b).
  return n * Math.ceil(perClient);
}

/**
 * Validate a configuration and lay out the vector. Refuses (BadConfig) any field
 * out of range, and any configuration whose lane sums over `cohortSize` clients
 * could reach 2^31 in magnitude: that sum would wrap and decode as garbage.
 */
export function planQuantization(config: QuantConfig, modelLength: number): QuantPlan {
  if (typeof config !== 'object' || config === null) fail(BadConfig, `quantization: expected a config object, got ${String(config)}`);
  const { clipNorm, weightBound, cohortSize, fractionalBits, metricCount, metricBound } = config;
  assertPositiveFinite(clipNorm, 'clipNorm');
  assertIntegerIn(weightBound, 'weightBound', 1, MAX_SIGNED);
  assertIntegerIn(cohortSize, 'cohortSize', 1, MAX_SIGNED);
  assertIntegerIn(fractionalBits, 'fractionalBits', 0, MAX_FRACTIONAL_BITS);
  assertIntegerIn(metricCount, 'metricCount', 0, MAX_VECTOR_LENGTH);
  assertPositiveFinite(metricBound, 'metricBound');
  assertIntegerIn(modelLength, 'modelLength', 1, MAX_VECTOR_LENGTH);
  const vectorLength = modelLength + 3 + metricCount;
  if (vectorLength > MAX_VECTOR_LENGTH) {
    fail(BadConfig, `quantization: expected modelLength + 3 + metricCount ≤ ${MAX_VECTOR_LENGTH} lanes, got ${vectorLength}: lower metricCount or split the model`);
  }

  const n = cohortSize;
  const W = weightBound;
  const knobs = `cohortSize (${n})`;

  // Weight lane: Σw ≤ n·W; count and clipped lanes (≤ n) are then smaller still.
  const weightSum = n * W;
  if (weightSum > MAX_SIGNED) {
    fail(BadConfig, `quantization: the weight lane needs ${bitsFor(weightSum)} bits but the ring has ${RING_BITS} (cohortSize · weightBound = ${weightSum} must stay below 2^31): lower weightBound (${W}) or ${knobs}`);
  }

  const updatePerClient = (f: number): number => W * clipNorm * 2 ** f;
  const metricPerClient = (f: number): number => W * metricBound * 2 ** f;
  const fits = (f: number): boolean =>
    sumBound(n, updatePerClient(f)) <= MAX_SIGNED && (metricCount === 0 || sumBound(n, metricPerClient(f)) <= MAX_SIGNED);
  // Fitting is monotone in f; find the largest f that fits, for the error message.
  let fMax = -1;
  while (fMax < MAX_FRACTIONAL_BITS && fits(fMax + 1)) fMax++;
  const lowerF = fMax >= 0 ? `lower fractionalBits to at most ${fMax}, or ` : 'even fractionalBits 0 does not fit: ';

  const f = fractionalBits;
  const updateSum = sumBound(n, updatePerClient(f));
  if (updateSum > MAX_SIGNED) {
    fail(BadConfig, `quantization needs ${bitsFor(updateSum)} bits but the ring has ${RING_BITS} (cohortSize · ⌈weightBound · clipNorm · 2^fractionalBits⌉ = ${updateSum} must stay below 2^31): ${lowerF}lower clipNorm (${clipNorm}), weightBound (${W}) or ${knobs}`);
  }
  const metricSum = metricCount === 0 ? 0 : sumBound(n, metricPerClient(f));
  if (metricSum > MAX_SIGNED) {
    fail(BadConfig, `quantization of the metric lanes needs ${bitsFor(metricSum)} bits but the ring has ${RING_BITS} (cohortSize · ⌈weightBound · metricBound · 2^fractionalBits⌉ = ${metricSum} must stay below 2^31): ${lowerF}lower metricBound (${metricBound}), weightBound (${W}) or ${knobs}`);
  }

  const bitsNeeded = Math.max(bitsFor(weightSum), bitsFor(updateSum), bitsFor(metricSum));
  return Object.freeze({
    clipNorm,
    weightBound,
    cohortSize,
    fractionalBits,
    metricCount,
    metricBound,
    modelLength,
    vectorLength,
    bitsNeeded,
    headroomBits: RING_BITS - bitsNeeded,
    scale: 2 ** f,
    updateLaneBound: updatePerClient(f),
    metricLaneBound: metricPerClient(f),
    weightLane: modelLength,
    clippedLane: modelLength + 1,
    countLane: modelLength + 2,
    metricOffset: modelLength + 3,
  });
}

/** osRandom's words for randomWords, reused batch to batch (only rounding noise, no secret). */
let osScratch: Uint32Array | undefined;

/**
 * `count` uniform 32-bit words from `random` (4 bytes each, read little-endian, as the
 * host is: prg.ts refuses big-endian hosts), viewed in place when aligned.
 */
function randomWords(random: RandomSource, count: number): Uint32Array {
  if (random === osRandom && count <= ROUNDING_BATCH) {
    // The OS source into one reused scratch: a fresh 64 KiB per batch page-faults here
    // (1e6 lanes: ~13 ms of faults against ~1 ms of randomness, measured on the bench VM).
    osScratch ??= new Uint32Array(ROUNDING_BATCH);
    const words = osScratch.subarray(0, count);
    randomFillSync(words);
    return words;
  }
  const bytes = random(4 * count);
  if (!(bytes instanceof Uint8Array) || bytes.length !== 4 * count) {
    throw new RangeError(`encodeUpdate: random source: expected ${4 * count} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
  }
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, count);
  return new Uint32Array(new Uint8Array(bytes).buffer, 0, count);
}

/**
 * @internal Unbiased stochastic rounding of x with a uniform 32-bit integer r:
 * floor(x) + 1 iff r < frac(x)·2^32. Over uniform r, P[round up] = ceil(frac·2^32)/2^32,
 * which exceeds frac by less than 2^-32: the bias is below 2^-32 of one unit 2^-f.
 */
export function _stochasticRound(x: number, r: number): number {
  const floor = Math.floor(x);
  // x - floor(x) is exact in float64, and scaling by 2^32 is exact.
  return r < (x - floor) * 4294967296 ? floor + 1 : floor;
}

/**
 * @internal Clip by L2 norm, computed in float64: returns δ·min(1, C/‖δ‖). Caller
 * guarantees every entry is finite.
 */
export function _clipScale(delta: Float32Array, clipNorm: number): { scale: number; norm: number; clipped: boolean } {
  // Four running sums: one would wait on the previous add for every lane (1e6 lanes:
  // ~1.2 ms against ~0.35 here). The order is fixed, so the norm is too.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = delta.length & ~3;
  for (let i = 0; i < n4; i += 4) {
    const a = delta[i]!;
    const b = delta[i + 1]!;
    const c = delta[i + 2]!;
    const d = delta[i + 3]!;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (let i = n4; i < delta.length; i++) s0 += delta[i]! * delta[i]!;
  const norm = Math.sqrt(s0 + s1 + (s2 + s3));
  const clipped = norm > clipNorm;
  return { scale: clipped ? clipNorm / norm : 1, norm, clipped };
}

/**
 * Turn one client's update into ring lanes (layout at the top of this file).
 * Clips δ to L2 norm clipNorm (reported as `clipped`, and counted in the clipped
 * lane), weights by w, scales by 2^f, rounds stochastically with 32-bit uniforms
 * from `random`, and wraps negatives into Z_2^32.
 *
 * Refuses (BadMessage) a delta of the wrong length or with NaN/±Infinity, a weight
 * that is not an integer in [0, weightBound], and metrics of the wrong count, not
 * finite, or above metricBound in magnitude.
 */
export function encodeUpdate(plan: QuantPlan, update: Update, random: RandomSource = osRandom): { lanes: Uint32Array; clipped: boolean } {
  const checked = checkUpdate(plan, update);
  const lanes = new Uint32Array(plan.vectorLength);
  checked.writeInto(lanes, random);
  return { lanes, clipped: checked.clipped };
}

/** An update that passed every check of `encodeUpdate`, not yet rounded into lanes. */
export interface CheckedUpdate {
  readonly plan: QuantPlan;
  readonly clipped: boolean;
  /**
   * Writes the lanes `encodeUpdate` would return into `lanes` (plan.vectorLength lanes,
   * every one written), rounding with fresh words from `random`. It reads the update's
   * delta and metrics as they are at that moment: the caller keeps them unchanged.
   */
  writeInto(lanes: Uint32Array, random?: RandomSource): void;
}

/**
 * `encodeUpdate`'s checks and clipping now, its rounding later: a client checks its update
 * when it accepts an offer (refusing a bad one then) and writes the lanes straight into
 * its masking memory when it masks (no model-sized array of its own in between).
 */
export function checkUpdate(plan: QuantPlan, update: Update): CheckedUpdate {
  if (typeof update !== 'object' || update === null) fail(BadMessage, `encodeUpdate: expected an update object, got ${String(update)}`);
  const { delta, weight, metrics } = update;
  const m = plan.modelLength;
  if (!(delta instanceof Float32Array)) fail(BadMessage, `encodeUpdate: expected delta to be a Float32Array, got ${typeof delta}`);
  if (delta.length !== m) fail(BadMessage, `encodeUpdate: expected delta of length ${m} (the model's), got ${delta.length}`);
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > plan.weightBound) {
    fail(BadMessage, `encodeUpdate: expected weight to be an integer in [0, ${plan.weightBound}], got ${String(weight)}: cap the sample count at weightBound or raise weightBound in the plan`);
  }
  if (!Array.isArray(metrics) || metrics.length !== plan.metricCount) {
    fail(BadMessage, `encodeUpdate: expected ${plan.metricCount} metrics, got ${Array.isArray(metrics) ? metrics.length : typeof metrics}`);
  }
  for (let j = 0; j < metrics.length; j++) {
    const v = metrics[j];
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > plan.metricBound) {
      fail(BadMessage, `encodeUpdate: expected metric ${j} to be finite with |metric| ≤ ${plan.metricBound}, got ${String(v)}: raise metricBound in the plan or bound the metric`);
    }
  }
  // One pass finds both the norm and any NaN/±Infinity: the float64 sum of squares of
  // finite float32s cannot overflow (m·(3.4e38)² < 1.8e308), so it is finite iff every entry is.
  const { scale: clipScale, norm, clipped } = _clipScale(delta, plan.clipNorm);
  if (!Number.isFinite(norm)) {
    const i = delta.findIndex((v) => !Number.isFinite(v));
    fail(BadMessage, `encodeUpdate: expected a finite delta, got ${delta[i]} at index ${i}: the local training diverged; lower the learning rate or skip this round`);
  }
  const ms = [...metrics];
  return {
    plan,
    clipped,
    writeInto: (lanes, random = osRandom) => {
      if (!(lanes instanceof Uint32Array) || lanes.length !== plan.vectorLength) {
        throw new RangeError(`CheckedUpdate.writeInto lanes: expected a Uint32Array of ${plan.vectorLength} lanes, got ${lanes instanceof Uint32Array ? lanes.length : typeof lanes}`);
      }
      roundInto(plan, delta, clipScale * weight * plan.scale, ms, weight * plan.scale, lanes, random);
      lanes[plan.weightLane] = weight;
      lanes[plan.clippedLane] = clipped ? 1 : 0;
      lanes[plan.countLane] = 1;
    },
  };
}

/** The rounding of `encodeUpdate`: the model lanes, then the metric lanes. */
function roundInto(plan: QuantPlan, delta: Float32Array, updateFactor: number, metrics: readonly number[], metricFactor: number, lanes: Uint32Array, random: RandomSource): void {
  const m = plan.modelLength;
  const ub = plan.updateLaneBound;
  // Mathematically |x| ≤ bound; the clamps only absorb float rounding (a few ulps) so
  // that the plan's ring bound holds exactly. Stochastic rounding as _stochasticRound,
  // inlined and without a branch on the coin (`+(r < t)`): the branch mispredicts half
  // the time (1e6 lanes: 16 ms with it, 6 ms without, Node 20 on the bench VM).
  // `>>> 0` wraps negatives (two's complement).
  // The native kernel does the same lane for lane, bit for bit (its self-check and
  // quantize.test.ts compare them): ~20x faster with AVX-512.
  const native = ub < NATIVE_ROUNDING_MAX_BOUND ? nativeKernel() : null;
  for (let start = 0; start < m; start += ROUNDING_BATCH) {
    const count = Math.min(ROUNDING_BATCH, m - start);
    const r = randomWords(random, count);
    if (native !== null) {
      native.roundStochastic(delta.subarray(start, start + count), updateFactor, ub, r, lanes.subarray(start, start + count));
      continue;
    }
    for (let b = 0; b < count; b++) {
      let x = delta[start + b]! * updateFactor;
      x = x > ub ? ub : x < -ub ? -ub : x;
      const floor = Math.floor(x);
      lanes[start + b] = (floor + +(r[b]! < (x - floor) * 4294967296)) >>> 0;
    }
  }
  const M = plan.metricCount;
  if (M > 0) {
    const r = randomWords(random, M);
    for (let j = 0; j < M; j++) {
      const x = Math.min(plan.metricLaneBound, Math.max(-plan.metricLaneBound, metrics[j]! * metricFactor));
      lanes[plan.metricOffset + j] = _stochasticRound(x, r[j]!) >>> 0;
    }
  }
}

/**
 * Decode the unmasked sum of the encodings of up to cohortSize clients. Lanes are
 * read as int32 and divided by 2^f. When the total weight is 0 (no contributor,
 * or all had weight 0) the means are 0, never NaN.
 *
 * Refuses (BadMessage) a sum of the wrong length, and integer lanes no honest sum
 * can produce (count above cohortSize, clipped above count, weight above
 * count·weightBound, a fixed-point lane above count·⌈bound⌉): a client cheated,
 * or the sum was computed with another plan.
 */
export function decodeSum(plan: QuantPlan, sum: Uint32Array): DecodedSum {
  if (!(sum instanceof Uint32Array)) fail(BadMessage, `decodeSum: expected a Uint32Array, got ${typeof sum}`);
  if (sum.length !== plan.vectorLength) fail(BadMessage, `decodeSum: expected ${plan.vectorLength} lanes (the plan's vectorLength), got ${sum.length}`);
  const signed = (i: number): number => sum[i]! | 0;
  const contributors = signed(plan.countLane);
  if (contributors < 0 || contributors > plan.cohortSize) {
    fail(BadMessage, `decodeSum: expected a contributor count in [0, ${plan.cohortSize}], got ${contributors}`);
  }
  const clippedCount = signed(plan.clippedLane);
  if (clippedCount < 0 || clippedCount > contributors) {
    fail(BadMessage, `decodeSum: expected a clipped count in [0, ${contributors}], got ${clippedCount}`);
  }
  const totalWeight = signed(plan.weightLane);
  if (totalWeight < 0 || totalWeight > contributors * plan.weightBound) {
    fail(BadMessage, `decodeSum: expected a total weight in [0, ${contributors * plan.weightBound}] for ${contributors} contributors, got ${totalWeight}`);
  }
  const updateMax = contributors * Math.ceil(plan.updateLaneBound);
  const metricMax = contributors * Math.ceil(plan.metricLaneBound);
  const divisor = plan.scale * totalWeight;
  const meanDelta = new Float32Array(plan.modelLength);
  for (let i = 0; i < plan.modelLength; i++) {
    const v = signed(i);
    if (Math.abs(v) > updateMax) fail(BadMessage, `decodeSum: expected |lane ${i}| ≤ ${updateMax} for ${contributors} contributors, got ${v}`);
    meanDelta[i] = totalWeight === 0 ? 0 : v / divisor;
  }
  const metricMeans: number[] = [];
  for (let j = 0; j < plan.metricCount; j++) {
    const v = signed(plan.metricOffset + j);
    if (Math.abs(v) > metricMax) fail(BadMessage, `decodeSum: expected |metric lane ${j}| ≤ ${metricMax} for ${contributors} contributors, got ${v}`);
    metricMeans.push(totalWeight === 0 ? 0 : v / divisor);
  }
  return { meanDelta, totalWeight, contributors, clippedCount, metricMeans };
}
