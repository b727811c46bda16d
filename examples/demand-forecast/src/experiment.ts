/**
 * The whole in-process experiment: prepare the shops, train the local-only and
 * centralised baselines, run the FedAvg reference rounds, evaluate all four methods.
 * `tally simulate` can replace the FedAvg step with its secure run and reuse the rest
 * (`prepareShops`, `trainLocalOnly`, `trainCentralised`, `evaluateAll`, `writeReport`).
 */
import type { MlLogger } from '@tally/ml';
import { trainCentralised, trainLocalOnly } from './baselines.ts';
import type { DemandConfigInput } from './config.ts';
import { evaluateAll, type EvaluationReport } from './evaluate.ts';
import { runFedAvg, type RoundRecord } from './federated.ts';
import { prepareShops, type PreparedShops } from './prepare.ts';

export interface ExperimentTimings {
  readonly prepareSeconds: number;
  readonly localSeconds: number;
  readonly centralisedSeconds: number;
  readonly federatedSeconds: number;
  readonly evaluateSeconds: number;
  readonly totalSeconds: number;
}

export interface ExperimentResult {
  readonly prepared: PreparedShops;
  readonly federated: Float32Array;
  readonly local: readonly Float32Array[];
  /** Epochs early stopping chose for each shop's local-only model. */
  readonly localEpochs: readonly number[];
  readonly centralised: Float32Array;
  readonly centralisedEpochs: number;
  readonly history: readonly RoundRecord[];
  readonly evaluation: EvaluationReport;
  readonly timings: ExperimentTimings;
}

export interface ExperimentOptions {
  readonly logger?: MlLogger;
}

/** Runs everything; the caller disposes `result.prepared` when done. */
export async function runExperiment(config: DemandConfigInput = {}, options: ExperimentOptions = {}): Promise<ExperimentResult> {
  const log = options.logger;
  const t0 = performance.now();
  const prepared = await prepareShops(config, options.logger ? { logger: options.logger } : {});
  try {
    const t1 = performance.now();
    const rows = prepared.shops.reduce((n, s) => n + s.train.rows, 0);
    log?.info(
      `demand-forecast: ${prepared.shops.length} shops × ${prepared.data.products.length} products × ${prepared.data.dates.length} days; ` +
        `${rows} training rows; ${prepared.weightCount} weights; backend ${prepared.backend.backend}`,
    );
    const localRuns = await trainLocalOnly(prepared);
    const local = localRuns.map((r) => r.weights);
    const t2 = performance.now();
    log?.info(
      `demand-forecast: local-only models trained in ${((t2 - t1) / 1000).toFixed(1)} s ` +
        `(epochs by early stopping: ${localRuns.map((r) => r.epochs).join(', ')})`,
    );
    const central = await trainCentralised(prepared);
    const centralised = central.weights;
    const t3 = performance.now();
    log?.info(`demand-forecast: centralised model trained in ${((t3 - t2) / 1000).toFixed(1)} s (${central.epochs} epochs)`);
    const fed = await runFedAvg(prepared, {
      trackTestWape: true,
      onRound: (r) =>
        log?.info(
          `demand-forecast: round ${r.round}: loss ${r.lossBefore.toFixed(4)} -> ${r.lossAfter.toFixed(4)}, ` +
            `test WAPE ${((r.testWape ?? Number.NaN) * 100).toFixed(1)}% (${r.seconds.toFixed(1)} s)`,
        ),
    });
    const t4 = performance.now();
    const evaluation = evaluateAll(prepared.shops, prepared.createModel, { federated: fed.weights, local, centralised });
    const t5 = performance.now();
    return {
      prepared,
      federated: fed.weights,
      local,
      localEpochs: localRuns.map((r) => r.epochs),
      centralised,
      centralisedEpochs: central.epochs,
      history: fed.history,
      evaluation,
      timings: {
        prepareSeconds: (t1 - t0) / 1000,
        localSeconds: (t2 - t1) / 1000,
        centralisedSeconds: (t3 - t2) / 1000,
        federatedSeconds: (t4 - t3) / 1000,
        evaluateSeconds: (t5 - t4) / 1000,
        totalSeconds: (t5 - t0) / 1000,
      },
    };
  } catch (err) {
    prepared.dispose();
    throw err;
  }
}
