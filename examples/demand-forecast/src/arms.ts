/**
 * Everything after the federated model is known, shared by the in-process experiment
 * and `tally simulate`: the local-only and centralised arms, the per-shop Poisson GLM,
 * personalisation (fine-tune + choose on validation) and the evaluation of every arm
 * on the test weeks.
 */
import type { MlLogger } from '@tally/ml';
import { trainCentralised, trainLocalOnly, type BaselineResult } from './baselines.ts';
import { evaluateAll, type EvaluationReport } from './evaluate.ts';
import { fitShopGlm, glmForecast, type GlmFit } from './glm.ts';
import { personalise, type ShopChoice } from './personalise.ts';
import type { PreparedShops } from './prepare.ts';

export interface ArmsTimings {
  readonly localSeconds: number;
  readonly centralisedSeconds: number;
  readonly personaliseSeconds: number;
  readonly glmSeconds: number;
  readonly evaluateSeconds: number;
}

export interface ArmsResult {
  readonly local: readonly BaselineResult[];
  readonly centralised: BaselineResult;
  readonly glm: readonly GlmFit[];
  readonly choices: readonly ShopChoice[];
  readonly evaluation: EvaluationReport;
  readonly timings: ArmsTimings;
}

export async function runArms(prepared: PreparedShops, federated: Float32Array, log?: MlLogger): Promise<ArmsResult> {
  const t0 = performance.now();
  const local = await trainLocalOnly(prepared);
  const t1 = performance.now();
  log?.info(`demand-forecast: local-only models in ${((t1 - t0) / 1000).toFixed(1)} s (epochs kept on validation: ${local.map((r) => r.epochs).join(', ')})`);
  const centralised = await trainCentralised(prepared);
  const t2 = performance.now();
  log?.info(`demand-forecast: centralised model in ${((t2 - t1) / 1000).toFixed(1)} s (${centralised.epochs} epochs kept on validation)`);
  const choices = await personalise(prepared, federated, local);
  const t3 = performance.now();
  log?.info(
    `demand-forecast: personalised in ${((t3 - t2) / 1000).toFixed(1)} s; choices on validation: ` +
      `${choices.map((c) => `${c.shopId} ${c.final === 'blend' ? `${c.blend.weight} local + ${1 - c.blend.weight} ${c.blend.shared}` : c.final}${c.mix.some((p) => p.model === 'finetuned') ? ` (${c.finetuneEpochs} ep)` : ''}`).join(', ')}`,
  );
  const glm = prepared.shops.map((s) => fitShopGlm(s));
  const t4 = performance.now();
  log?.info(`demand-forecast: Poisson GLMs in ${((t4 - t3) / 1000).toFixed(1)} s (ridge chosen on validation: ${glm.map((g) => g.ridge).join(', ')})`);
  const evaluation = evaluateAll(prepared.shops, prepared.createModel, {
    federated,
    local: local.map((r) => r.weights),
    personalised: choices.map((c) => c.weights),
    personalisedMix: choices.map((c) => c.mix),
    centralised: centralised.weights,
    glm: prepared.shops.map((s, i) => glmForecast(glm[i]!.beta, s, s.test)),
  });
  const t5 = performance.now();
  return {
    local,
    centralised,
    glm,
    choices,
    evaluation,
    timings: {
      localSeconds: (t1 - t0) / 1000,
      centralisedSeconds: (t2 - t1) / 1000,
      personaliseSeconds: (t3 - t2) / 1000,
      glmSeconds: (t4 - t3) / 1000,
      evaluateSeconds: (t5 - t4) / 1000,
    },
  };
}
