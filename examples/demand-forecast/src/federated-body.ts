/**
 * FedAvg of the body only, each shop keeping its own output layer (the arm "body +
 * local head"; `"federated": "body"` in @tally/demand's spec; FedPer, Arivazhagan et
 * al. 2019, arXiv:1912.00818 §3). In-process and plaintext, like federated.ts: every
 * shop trains body ‖ its own head from the current body; the new body is
 * body + Σ wᵢ·δbodyᵢ / Σ wᵢ and each head moves by its own shop's δhead only, as the
 * CLI's demand trainer does over secure aggregation.
 *
 * Rounds are chosen on validation as in federated.ts: after every round the pooled
 * WAPE of every shop's body ‖ head on its validation rows; the best round's models are
 * kept, and the loop stops after `patience` rounds without a better one.
 */
import { validationWape } from './baselines.ts';
import { TASK_ID } from './federated.ts';
import type { PreparedShops } from './prepare.ts';

export interface BodyFedAvgResult {
  /** Each shop's body ‖ head of the best validation round, in shop order. */
  readonly weights: readonly Float32Array[];
  readonly bestRound: number;
  /** Each shop's body ‖ head after the last round. */
  readonly last: readonly Float32Array[];
  /** Length of the body (the federated part). */
  readonly bodyLength: number;
  /** Pooled validation WAPE after each round. */
  readonly validation: readonly number[];
}

/** Weights of the output layer: the last hidden width (or the inputs) + 1 bias, last in the flat vector. */
export function headLength(prepared: Pick<PreparedShops, 'config' | 'inputs'>): number {
  const h = prepared.config.model.hidden;
  return (h.length === 0 ? prepared.inputs : (h[h.length - 1] as number)) + 1;
}

export async function runFedAvgBody(prepared: PreparedShops, options: { rounds?: number; patience?: number } = {}): Promise<BodyFedAvgResult> {
  const rounds = options.rounds ?? prepared.config.training.rounds;
  const patience = options.patience ?? prepared.config.training.roundPatience;
  if (prepared.config.model.hidden.length === 0) throw new RangeError('runFedAvgBody: a model without hidden layers has no body to share');
  const bodyLength = prepared.weightCount - headLength(prepared);
  let body = prepared.initialWeights.slice(0, bodyLength);
  const heads = prepared.shops.map(() => prepared.initialWeights.slice(bodyLength));
  const full = (i: number): Float32Array => {
    const w = new Float32Array(prepared.weightCount);
    w.set(body, 0);
    w.set(heads[i] as Float32Array, bodyLength);
    return w;
  };
  const scratch = prepared.createModel();
  let best = prepared.shops.map((_, i) => full(i));
  let bestRound = 0;
  let bestWape = validationWape(scratch, prepared.shops, (i) => best[i] as Float32Array);
  const validation: number[] = [];
  let last = best;
  try {
    for (let round = 1; round <= rounds; round++) {
      const sum = new Float64Array(bodyLength);
      let total = 0;
      for (const [i, trainer] of prepared.trainers.entries()) {
        const out = await trainer.train({ taskId: TASK_ID, round, weights: full(i) });
        for (let k = 0; k < bodyLength; k++) sum[k] = (sum[k] as number) + out.weight * (out.delta[k] as number);
        const head = heads[i] as Float32Array;
        for (let k = 0; k < head.length; k++) head[k] = (head[k] as number) + (out.delta[bodyLength + k] as number);
        total += out.weight;
      }
      if (total === 0) throw new Error(`runFedAvgBody: round ${round} had no training rows`);
      const next = new Float32Array(bodyLength);
      for (let k = 0; k < bodyLength; k++) next[k] = (body[k] as number) + (sum[k] as number) / total;
      body = next;
      const models = prepared.shops.map((_, i) => full(i));
      last = models;
      const v = validationWape(scratch, prepared.shops, (i) => models[i] as Float32Array);
      validation.push(v);
      if (v < bestWape) {
        bestWape = v;
        best = models;
        bestRound = round;
      }
      if (patience > 0 && round - bestRound >= patience) break;
    }
  } finally {
    scratch.dispose();
  }
  return { weights: best, bestRound, last, bodyLength, validation };
}
