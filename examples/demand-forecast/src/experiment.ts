/**
 * The whole in-process experiment: prepare the shops, run the FedAvg reference rounds
 * (the round kept is chosen on validation), then every other arm, personalisation and
 * the evaluation (arms.ts). `tally simulate` replaces the FedAvg step with its secure
 * run and reuses the rest (`prepareShops`, `runArms`, `writeReport`).
 */
import type { MlLogger } from '@tally/ml';
import { runArms, type ArmsResult } from './arms.ts';
import type { DemandConfigInput } from './config.ts';
import type { EvaluationReport } from './evaluate.ts';
import { runFedAvg, type RoundRecord } from './federated.ts';
import { prepareShops, type PreparedShops } from './prepare.ts';

export interface ExperimentTimings {
  readonly prepareSeconds: number;
  readonly federatedSeconds: number;
  readonly localSeconds: number;
  readonly centralisedSeconds: number;
  readonly personaliseSeconds: number;
  readonly glmSeconds: number;
  readonly evaluateSeconds: number;
  readonly totalSeconds: number;
}

export interface ExperimentResult {
  readonly prepared: PreparedShops;
  /** The global model of the best validation round. */
  readonly federated: Float32Array;
  readonly bestRound: number;
  readonly arms: ArmsResult;
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
        `${rows} training rows (${prepared.shops.reduce((n, s) => n + s.fit.rows, 0)} fit, the rest validation); ${prepared.weightCount} weights; backend ${prepared.backend.backend}`,
    );
    const fed = await runFedAvg(prepared, {
      trackTestWape: true,
      onRound: (r) =>
        log?.info(
          `demand-forecast: round ${r.round}: loss ${r.lossBefore.toFixed(4)} -> ${r.lossAfter.toFixed(4)}, ` +
            `validation WAPE ${((r.validationWape ?? Number.NaN) * 100).toFixed(1)}% ` +
            `(diagnostic test WAPE ${((r.testWape ?? Number.NaN) * 100).toFixed(1)}%, ${r.seconds.toFixed(1)} s)`,
        ),
    });
    const t2 = performance.now();
    log?.info(`demand-forecast: federated: kept round ${fed.bestRound} of ${fed.history.length} (best validation WAPE)`);
    const arms = await runArms(prepared, fed.weights, log);
    const t3 = performance.now();
    return {
      prepared,
      federated: fed.weights,
      bestRound: fed.bestRound,
      arms,
      history: fed.history,
      evaluation: arms.evaluation,
      timings: {
        prepareSeconds: (t1 - t0) / 1000,
        federatedSeconds: (t2 - t1) / 1000,
        ...arms.timings,
        totalSeconds: (t3 - t0) / 1000,
      },
    };
  } catch (err) {
    prepared.dispose();
    throw err;
  }
}
