/**
 * The in-process FedAvg reference loop (McMahan et al., AISTATS 2017, Algorithm 1):
 * plaintext, no networking, every shop in every round. Each round every shop's
 * TfjsTrainer trains from the global model and returns (delta, weight = its row count,
 * metrics); the new global model is global + Σ wᵢ·deltaᵢ / Σ wᵢ.
 *
 * It is the yardstick for `tally simulate`: the secure run sums the same weighted
 * deltas under masks, so its models differ from these only by the quantisation of the
 * update (fixed point with stochastic rounding) and any clipping. The per-round losses
 * are the same weighted means the secure run decodes from its masked metric lanes.
 *
 * Rounds are chosen on validation, never on test: after every round the pooled WAPE of
 * the new global model on all shops' validation rows (the latest training days, which
 * no shop trains on; rows.ts) is computed, the best round's model is kept, and the loop
 * stops after `roundPatience` rounds without a better one. In a deployment each shop
 * would compute Σ|error| and Σ units on its own validation rows and send them as two
 * more securely summed metrics; here the loop computes them in-process. The pooled
 * test WAPE per round (`trackTestWape`) is a DIAGNOSTIC for the chart only: nothing is
 * chosen on it.
 */
import { TRAINER_METRICS, predictRows, setFlatWeights, type LayersModel } from '@tally/ml';
import { denormalise } from './evaluate.ts';
import type { ShopDataset } from '@tally/demand';
import { validationWape } from './baselines.ts';
import type { PreparedShops } from './prepare.ts';

export const TASK_ID = 'demand-forecast';

export interface RoundRecord {
  readonly round: number;
  /** Σ w·loss_before / Σ w: the global model's training MSE at the start of the round. */
  readonly lossBefore: number;
  /** Σ w·loss_after / Σ w: the shops' training MSE after local training. */
  readonly lossAfter: number;
  /** Σ w: training rows behind the round. */
  readonly totalWeight: number;
  /** Pooled WAPE of the new global model on all shops' validation rows: what the round is chosen on. */
  readonly validationWape?: number;
  /** DIAGNOSTIC: WAPE of the new global model over all shops' test rows (only with `trackTestWape`; never used to choose). */
  readonly testWape?: number;
  readonly seconds: number;
}

export interface FedAvgOptions {
  /** Most rounds. Default: the config's training.rounds. */
  readonly rounds?: number;
  /** Rounds without a better validation WAPE before stopping; 0 runs every round. Default: the config's training.roundPatience. */
  readonly patience?: number;
  /** Default: the prepared initial weights. */
  readonly initial?: Float32Array;
  /** Also compute the pooled test WAPE of each round's global model (cheap: a forward pass over test rows). */
  readonly trackTestWape?: boolean;
  readonly onRound?: (record: RoundRecord) => void;
}

export interface FedAvgResult {
  /** The global model of the round with the best validation WAPE (the round-0 model if none beat it). */
  readonly weights: Float32Array;
  /** That round (0: none). */
  readonly bestRound: number;
  /** The last round's global model. */
  readonly last: Float32Array;
  readonly history: readonly RoundRecord[];
}

export async function runFedAvg(prepared: PreparedShops, options: FedAvgOptions = {}): Promise<FedAvgResult> {
  const rounds = options.rounds ?? prepared.config.training.rounds;
  const patience = options.patience ?? prepared.config.training.roundPatience;
  let global = (options.initial ?? prepared.initialWeights).slice();
  const history: RoundRecord[] = [];
  const scratch = prepared.createModel();
  let best = global;
  let bestRound = 0;
  let bestWape = validationWape(scratch, prepared.shops, () => global);
  try {
    for (let round = 1; round <= rounds; round++) {
      const started = performance.now();
      const sum = new Float64Array(global.length);
      const metricSum = new Float64Array(TRAINER_METRICS.length);
      let totalWeight = 0;
      for (const trainer of prepared.trainers) {
        const out = await trainer.train({ taskId: TASK_ID, round, weights: global });
        const w = out.weight;
        for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + w * (out.delta[i] as number);
        out.metrics.forEach((m, k) => {
          metricSum[k] = (metricSum[k] as number) + w * m;
        });
        totalWeight += w;
      }
      if (totalWeight === 0) throw new Error(`runFedAvg: round ${round} had no training rows`);
      const next = new Float32Array(global.length);
      for (let i = 0; i < next.length; i++) next[i] = (global[i] as number) + (sum[i] as number) / totalWeight;
      global = next;
      const vWape = validationWape(scratch, prepared.shops, () => next);
      if (vWape < bestWape) {
        bestWape = vWape;
        best = next;
        bestRound = round;
      }
      const record: RoundRecord = {
        round,
        lossBefore: (metricSum[0] as number) / totalWeight,
        lossAfter: (metricSum[1] as number) / totalWeight,
        totalWeight,
        validationWape: vWape,
        ...(options.trackTestWape === true ? { testWape: pooledTestWape(scratch, prepared.shops, global) } : {}),
        seconds: (performance.now() - started) / 1000,
      };
      history.push(record);
      options.onRound?.(record);
      if (patience > 0 && round - bestRound >= patience) break;
    }
  } finally {
    scratch.dispose();
  }
  return { weights: best, bestRound, last: global, history };
}

/** Weighted mean training loss of `weights` over all shops' fit rows (what round r+1 would report as loss_before). */
export function globalTrainingLoss(prepared: PreparedShops, weights: Float32Array): number {
  let sum = 0;
  let n = 0;
  for (const t of prepared.trainers) {
    sum += t.evaluate(weights) * t.rows;
    n += t.rows;
  }
  return sum / n;
}

/** Σ|actual − forecast| / Σ actual over every shop's test rows. */
export function pooledTestWape(model: LayersModel, shops: readonly ShopDataset[], weights: Float32Array): number {
  setFlatWeights(model, weights);
  let err = 0;
  let total = 0;
  for (const shop of shops) {
    const f = denormalise(predictRows(model, shop.test.x, shop.inputs, 1), shop.test, shop.scale);
    for (let i = 0; i < f.length; i++) {
      err += Math.abs((shop.test.units[i] as number) - (f[i] as number));
      total += shop.test.units[i] as number;
    }
  }
  return err / total;
}
