/**
 * Does the secure aggregate equal the plaintext it stands for? `tally simulate` runs
 * every shop in this process, so it can keep each shop's update (which the coordinator
 * never sees) and, per committed round, recompute in float64
 *
 *   reference = global + Σ_{u ∈ U3} w_u·clip(δ_u) / Σ_{u ∈ U3} w_u
 *
 * over the round's survivors U3 (from the audit log), then compare it with the model
 * the coordinator committed from the unmasked sum.
 *
 * The bound, per weight i, follows from quantize.ts: each survivor's lane w·δ·2^f is
 * stochastically rounded with an error below one unit, so the decoded mean is off by
 * less than n / (2^f·Σw); the mean and the new model are then each rounded to float32
 * (at most 2^-24 of their magnitude). Anything beyond that bound is a bug, not noise.
 * The weight lane is exact, so Σw must match exactly.
 */
import type { Trainer, TrainInput, TrainOutput } from '@tally/client';

/** What one shop's trainer returned for one round (the latest call wins: a retried round trains again). */
export interface RecordedUpdate {
  /** The global model the shop trained from. */
  readonly global: Float32Array;
  readonly delta: Float32Array;
  readonly weight: number;
  readonly metrics: readonly number[];
}

/** Keeps each client's latest update per round, in this process only. */
export class UpdateRecorder {
  private readonly byRound = new Map<number, Map<number, RecordedUpdate>>();

  /** A Trainer that calls `trainer` and records what it returns under `clientId`. */
  wrap(clientId: number, trainer: Trainer): Trainer {
    return {
      train: async (input: TrainInput): Promise<TrainOutput> => {
        const out = await trainer.train(input);
        let round = this.byRound.get(input.round);
        if (round === undefined) this.byRound.set(input.round, (round = new Map()));
        round.set(clientId, { global: input.weights, delta: out.delta, weight: out.weight, metrics: [...out.metrics] });
        return out;
      },
    };
  }

  get(round: number, clientId: number): RecordedUpdate | undefined {
    return this.byRound.get(round)?.get(clientId);
  }

  /** Frees a round's updates once it is checked. */
  forget(round: number): void {
    this.byRound.delete(round);
  }
}

/** The quantisation settings the check needs (a subset of secagg's QuantPlan). */
export interface CheckPlan {
  readonly clipNorm: number;
  readonly weightBound: number;
  readonly fractionalBits: number;
}

export interface AggregateCheckInput {
  readonly round: number;
  readonly plan: CheckPlan;
  /** The global model the round started from (what the TaskOffer carried). */
  readonly previous: Float32Array;
  /** The model the coordinator committed. */
  readonly committed: Float32Array;
  /** U3: clients whose masked input is in the sum. */
  readonly survivors: readonly number[];
  /** Σw the coordinator decoded. */
  readonly totalWeight: number;
  /** Metric means the coordinator decoded, in the task's metric order. */
  readonly metrics: readonly number[];
  readonly updates: (clientId: number) => RecordedUpdate | undefined;
}

export interface AggregateCheck {
  readonly round: number;
  readonly survivors: number;
  /** Σ w over the survivors' recorded updates (each capped at weightBound as the node does). */
  readonly plaintextWeight: number;
  /** max_i |committed_i − reference_i|. */
  readonly maxAbsDiff: number;
  /** max_i of the per-weight bound (see the file comment). */
  readonly bound: number;
  /** max_j |decoded metric mean_j − plaintext weighted mean_j|. */
  readonly metricMaxAbsDiff: number;
  /** Every weight and metric within its bound, Σw exact, and every survivor trained from `previous`. */
  readonly ok: boolean;
  /** Why not, when not ok. */
  readonly problems: readonly string[];
}

const F32_EPS = 2 ** -24;

/** Compares one committed round with its float64 plaintext reference; see the file comment. */
export function checkAggregate(input: AggregateCheckInput): AggregateCheck {
  const { plan, previous, committed, survivors } = input;
  const problems: string[] = [];
  const m = previous.length;
  if (committed.length !== m) throw new RangeError(`checkAggregate: expected a committed model of ${m} weights, got ${committed.length}`);
  const sum = new Float64Array(m);
  const metricSum: number[] = input.metrics.map(() => 0);
  let total = 0;
  for (const id of survivors) {
    const u = input.updates(id);
    if (u === undefined) {
      problems.push(`no recorded update for survivor ${id}`);
      continue;
    }
    if (u.delta.length !== m) throw new RangeError(`checkAggregate: client ${id} recorded ${u.delta.length} weights, expected ${m}`);
    if (!sameBits(u.global, previous)) problems.push(`client ${id} trained from another global model than round ${input.round - 1}'s`);
    const w = Math.min(u.weight, plan.weightBound);
    // quantize.ts _clipScale: the L2 norm in float64, δ·C/‖δ‖ when longer than C.
    let sq = 0;
    for (let i = 0; i < m; i++) sq += (u.delta[i] as number) ** 2;
    const norm = Math.sqrt(sq);
    const factor = w * (norm > plan.clipNorm ? plan.clipNorm / norm : 1);
    for (let i = 0; i < m; i++) sum[i] = (sum[i] as number) + factor * (u.delta[i] as number);
    u.metrics.forEach((v, j) => {
      if (j < metricSum.length) metricSum[j] = (metricSum[j] as number) + w * v;
    });
    total += w;
  }
  if (total !== input.totalWeight) problems.push(`Σw: the coordinator decoded ${input.totalWeight}, the survivors' updates sum to ${total}`);
  const n = survivors.length;
  // Below one unit 2^-f per survivor per lane (stochastic rounding), before dividing by Σw; 1e-9 absorbs float64 rounding.
  const quant = total > 0 ? (n * 2 ** -plan.fractionalBits * (1 + 1e-9)) / total : 0;
  let maxAbsDiff = 0;
  let bound = 0;
  let worst = -Infinity;
  for (let i = 0; i < m; i++) {
    const mean = total > 0 ? (sum[i] as number) / total : 0;
    const ref = (previous[i] as number) + mean;
    const b = quant * (1 + 2 * F32_EPS) + F32_EPS * (Math.abs(mean) + Math.abs(ref)) * (1 + 1e-6);
    const d = Math.abs((committed[i] as number) - ref);
    if (d > maxAbsDiff) maxAbsDiff = d;
    if (b > bound) bound = b;
    if (d - b > worst) worst = d - b;
  }
  if (worst > 0) problems.push(`a weight differs from the plaintext average by ${maxAbsDiff.toExponential(3)}, beyond the quantisation bound`);
  let metricMaxAbsDiff = 0;
  metricSum.forEach((s, j) => {
    const d = Math.abs((input.metrics[j] as number) - (total > 0 ? s / total : 0));
    if (d > metricMaxAbsDiff) metricMaxAbsDiff = d;
  });
  // Metric means are decoded in float64 (not rounded to float32): only the quantisation error.
  if (metricMaxAbsDiff > quant) problems.push(`a metric differs from the plaintext average by ${metricMaxAbsDiff.toExponential(3)}, beyond ${quant.toExponential(3)}`);
  return { round: input.round, survivors: n, plaintextWeight: total, maxAbsDiff, bound, metricMaxAbsDiff, ok: problems.length === 0, problems };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
