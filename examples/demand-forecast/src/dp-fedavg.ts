/**
 * FedAvg with distributed differential privacy, in process: the arithmetic a DP round
 * of the coordinator does, without sockets or masks.
 *
 * Each round every shop trains from the global model (its TfjsTrainer), then
 * `encodeDpUpdate` clips its delta to the plan's L2 bound C, rotates, rounds and adds
 * its share of discrete Gaussian noise from the OS CSPRNG (Kairouz, Liu, Steinke, ICML
 * 2021, Algorithm 1; @tally/secagg dp-mechanism.ts). The encoded vectors are summed
 * lane by lane modulo 2^32: that is exactly what secure aggregation reveals to the
 * coordinator, since the pairwise and self masks cancel exactly in the ring (secagg
 * `protocol.test.ts` › "sums exactly with no dropouts, complete graph"). `decodeDpSum`
 * turns the sum into Σ clip(δ) + noise; the new global model is global + sum/count.
 *
 * The mean is UNWEIGHTED (every shop counts once; a weight lane would reveal a shop's
 * row count without noise), so it differs from runFedAvg's sample-weighted mean even
 * without noise. The plan's noise is sized for t = minSurvivors shops; here every shop
 * survives every round, so the sum carries n/t times the planned variance and the
 * accountant's ε (computed for t) is an upper bound.
 *
 * The global model kept is the LAST round's: choosing a round on the pooled validation
 * WAPE (as runFedAvg does) would use every shop's data through a channel the accountant
 * does not count. Per-round validation and test WAPE are recorded as diagnostics only.
 */
import { decodeDpSum, encodeDpUpdate, osRandom, rotationSeed, type DpPlan, type RandomSource } from '@tally/secagg';
import { TASK_ID, pooledTestWape } from './federated.ts';
import { validationWape } from './baselines.ts';
import { median } from './evaluate.ts';
import type { PreparedShops } from './prepare.ts';

export interface DpAggregate {
  /** global step: Σ clip(δ) / count + noise/count, float32, length = model length. */
  readonly meanDelta: Float32Array;
  readonly contributors: number;
  /** How many of the updates were clipped. */
  readonly clipped: number;
  /** The revealed ring sum (what the coordinator unmasks). */
  readonly sum: Uint32Array;
  /** Standard deviation of the noise on each coordinate of meanDelta, in update units. */
  readonly meanNoiseStd: number;
}

/** Encodes every delta under `plan`, sums the lanes modulo 2^32 and decodes the mean. */
export function dpAggregate(plan: DpPlan, deltas: readonly Float32Array[], seed: Uint8Array, random: RandomSource = osRandom): DpAggregate {
  const sum = new Uint32Array(plan.vectorLength);
  let clipped = 0;
  for (const delta of deltas) {
    const enc = encodeDpUpdate(plan, delta, seed, random);
    if (enc.clipped) clipped++;
    const lanes = enc.lanes;
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + lanes[i]!) >>> 0; // Z_2^32, as secure aggregation sums
  }
  const decoded = decodeDpSum(plan, sum, seed);
  const n = decoded.contributors;
  return { meanDelta: decoded.meanDelta, contributors: n, clipped, sum, meanNoiseStd: n === 0 ? 0 : decoded.noiseStd / n };
}

export interface DpRoundRecord {
  readonly round: number;
  readonly contributors: number;
  readonly clipped: number;
  /** Median over shops of ‖δ‖₂ before clipping. */
  readonly medianUpdateNorm: number;
  /** Noise standard deviation per coordinate of the global step. */
  readonly meanNoiseStd: number;
  /** DIAGNOSTIC: pooled validation WAPE of the new global model (nothing is chosen on it). */
  readonly validationWape: number;
  /** DIAGNOSTIC: pooled test WAPE of the new global model (nothing is chosen on it). */
  readonly testWape?: number;
  readonly seconds: number;
}

export interface DpFedAvgOptions {
  readonly rounds: number;
  /** Public bytes naming the task's session: the rotation seed of round r is rotationSeed(session, r). Default: 32 fresh bytes. */
  readonly session?: Uint8Array;
  readonly random?: RandomSource;
  readonly initial?: Float32Array;
  readonly trackTestWape?: boolean;
  readonly onRound?: (record: DpRoundRecord) => void;
}

export interface DpFedAvgResult {
  /** The last round's global model. */
  readonly weights: Float32Array;
  readonly history: readonly DpRoundRecord[];
}

export async function runDpFedAvg(prepared: PreparedShops, plan: DpPlan, options: DpFedAvgOptions): Promise<DpFedAvgResult> {
  if (plan.modelLength !== prepared.weightCount) {
    throw new RangeError(`runDpFedAvg: expected a plan for ${prepared.weightCount} weights, got one for ${plan.modelLength}`);
  }
  if (plan.cohortSize < prepared.trainers.length) {
    throw new RangeError(`runDpFedAvg: the plan's cohortSize ${plan.cohortSize} is below the ${prepared.trainers.length} shops`);
  }
  const random = options.random ?? osRandom;
  const session = options.session ?? osRandom(32);
  let global = (options.initial ?? prepared.initialWeights).slice();
  const history: DpRoundRecord[] = [];
  const scratch = prepared.createModel();
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const started = performance.now();
      const deltas: Float32Array[] = [];
      const norms: number[] = [];
      for (const trainer of prepared.trainers) {
        const out = await trainer.train({ taskId: TASK_ID, round, weights: global });
        deltas.push(out.delta);
        let s = 0;
        for (let i = 0; i < out.delta.length; i++) s += out.delta[i]! * out.delta[i]!;
        norms.push(Math.sqrt(s));
      }
      const agg = dpAggregate(plan, deltas, rotationSeed(session, round), random);
      const next = new Float32Array(global.length);
      for (let i = 0; i < next.length; i++) next[i] = global[i]! + agg.meanDelta[i]!;
      global = next;
      const record: DpRoundRecord = {
        round,
        contributors: agg.contributors,
        clipped: agg.clipped,
        medianUpdateNorm: median(norms),
        meanNoiseStd: agg.meanNoiseStd,
        validationWape: validationWape(scratch, prepared.shops, () => next),
        ...(options.trackTestWape === true ? { testWape: pooledTestWape(scratch, prepared.shops, next) } : {}),
        seconds: (performance.now() - started) / 1000,
      };
      history.push(record);
      options.onRound?.(record);
    }
  } finally {
    scratch.dispose();
  }
  return { weights: global, history };
}
