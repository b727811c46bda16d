/**
 * The utility of distributed DP on the demand forecast: median shop test WAPE of the
 * federated model trained with the distributed discrete Gaussian (dp-fedavg.ts), for
 * several ε and shop counts, beside each shop's local-only model (which DP does not
 * touch: it never leaves the shop).
 *
 *   tsx src/dp-study-main.ts run --shops 16 --seeds 1 --out dp-16.json [--epsilons inf,8,4,2,1]
 *   tsx src/dp-study-main.ts table dp-16.json dp-64.json > table.md
 *
 * Per (shops, seed): one data set, one local-only model per shop, then for every ε one
 * DP federated run of `rounds` rounds from the same initial model, its last global
 * model, and (with --personalise) each shop's fine-tune-and-choose (personalise.ts).
 *
 * Privacy unit: one shop's whole contribution over the task's rounds (user level), (ε,
 * δ) from the KLS21 RDP curve of the plan (dp-accountant.ts) composed over `rounds`,
 * with the noise sized for t = minSurvivors: the complete-graph threshold the
 * coordinator picks for n shops with its defaults (corruptFraction 0.05, dropout
 * tolerance 0.1; cohort.ts chooseRoundShape). ε = ∞ is the same path with z = 0
 * (clipping, rotation and rounding, no noise), so the columns differ by the noise only.
 *
 * δ: 1e-5 by default, below 1/n for every cohort here (n ≤ 128) as the usual rule asks
 * (δ ≪ 1/n: a mechanism that publishes one shop's data outright with probability δ·n
 * must not pass), and the value most DP-FL papers report.
 *
 * Personalisation is post-processing for the OTHER shops' privacy: fine-tuning on a
 * shop's own data and choosing on its own validation days uses only the DP global
 * model and that shop's own data.
 */
import { writeFile } from 'node:fs/promises';
import { DEFAULT_CORRUPT_FRACTION, chooseRoundShape } from '@tally/coordinator';
import { planDp, planDpForTarget, planEpsilon, type DpPlan } from '@tally/secagg';
import { trainLocalOnly } from './baselines.ts';
import type { DemandConfigInput } from './config.ts';
import { runDpFedAvg, type DpRoundRecord } from './dp-fedavg.ts';
import { evaluateAll, type Method } from './evaluate.ts';
import { personalise } from './personalise.ts';
import { prepareShops } from './prepare.ts';

export const DP_STUDY_DELTA = 1e-5;
export const DP_STUDY_EPSILONS: readonly number[] = [Infinity, 8, 4, 2, 1];

/** The study's fixed settings (the multi-seed --small configuration, one local epoch per round). */
export interface DpStudySettings {
  readonly rounds: number;
  readonly epochsPerRound: number;
  readonly clipNorm: number;
  readonly delta: number;
  readonly personalise: boolean;
  /** Early stopping of the per-shop fine-tuning (personalisation). */
  readonly finetuneMaxEpochs: number;
  readonly finetunePatience: number;
}

export interface DpStudyCell {
  readonly shops: number;
  readonly seed: number;
  /** null: ∞ (no noise). */
  readonly epsilon: number | null;
  readonly delta: number;
  readonly rounds: number;
  /** t: the fewest survivors the noise is sized for. */
  readonly minSurvivors: number;
  readonly clipNorm: number;
  readonly noiseMultiplier: number;
  /** Per-shop noise σ per lane, in lattice units and in update units (σ/scale). */
  readonly localSigma: number;
  readonly localSigmaUpdateUnits: number;
  /** Noise std per coordinate of the global step (all n shops survive), update units. */
  readonly stepNoiseStd: number;
  readonly bitsNeeded: number;
  readonly l2Sensitivity: number;
  readonly paddedLength: number;
  /** ε actually spent with all n shops' noise in every sum (≤ the target). */
  readonly epsilonAllSurvive: number | null;
  readonly medianWape: Partial<Record<Method, number>>;
  readonly pooledWape: Partial<Record<Method, number>>;
  /** Shops whose personalised model chose global / finetuned / local. */
  readonly choices?: Readonly<Record<string, number>>;
  readonly history: readonly DpRoundRecord[];
  readonly seconds: number;
}

export interface DpStudyFile {
  readonly settings: DpStudySettings & { readonly config: DemandConfigInput };
  readonly localSeconds: Record<string, number>;
  readonly cells: DpStudyCell[];
}

/**
 * The multi-seed table's lighter configuration (seeds.ts SMALL_RUN, repeated here because
 * importing seeds.ts would run its command line): 16-product catalogue, batch 256 with
 * learning rate 0.004 for every arm, local-only stopped after 3 epochs without a better
 * validation WAPE (20 at most). The learning rate is the example's fixed one, not tuned.
 */
const STUDY_BASE = {
  data: { products: 16 },
  training: { batchSize: 256, learningRate: 0.004 },
  baselines: { maxEpochs: 20, patience: 3 },
  backend: 'wasm',
} as const satisfies DemandConfigInput;

/** The study's demand configuration for `shops` shops and data seed `seed`. */
export function studyConfig(shops: number, seed: number, epochsPerRound: number): DemandConfigInput {
  return { ...STUDY_BASE, data: { ...STUDY_BASE.data, shops, seed }, training: { ...STUDY_BASE.training, epochsPerRound } };
}

/** t for n shops: the coordinator's complete-graph threshold with its default assumptions. */
export function studyMinSurvivors(shops: number): number {
  return chooseRoundShape({ graph: 'complete', corruptFraction: DEFAULT_CORRUPT_FRACTION }, shops).t;
}

/** The plan of one cell: z = 0 for ε = ∞, else the smallest z meeting (ε, δ) over `rounds` with t survivors. */
export function studyPlan(shops: number, modelLength: number, epsilon: number, s: Pick<DpStudySettings, 'clipNorm' | 'delta' | 'rounds'>): DpPlan {
  const config = { clipNorm: s.clipNorm, cohortSize: shops, minSurvivors: studyMinSurvivors(shops) };
  return Number.isFinite(epsilon)
    ? planDpForTarget(config, modelLength, { epsilon, delta: s.delta, rounds: s.rounds })
    : planDp({ ...config, noiseMultiplier: 0 }, modelLength);
}

export async function runDpStudy(shops: number, seeds: readonly number[], epsilons: readonly number[], settings: DpStudySettings, out: string): Promise<void> {
  const log = (m: string): void => console.error(`[dp-study ${shops} shops] ${m}`);
  const file: DpStudyFile = { settings: { ...settings, config: studyConfig(shops, seeds[0] ?? 1, settings.epochsPerRound) }, localSeconds: {}, cells: [] };
  for (const seed of seeds) {
    const prepared = await prepareShops(studyConfig(shops, seed, settings.epochsPerRound), { logger: { info: log, warn: log } });
    try {
      const t0 = performance.now();
      const local = await trainLocalOnly(prepared);
      file.localSeconds[String(seed)] = (performance.now() - t0) / 1000;
      log(`seed ${seed}: ${prepared.weightCount} weights; local-only models in ${file.localSeconds[String(seed)]!.toFixed(0)} s`);
      for (const epsilon of epsilons) {
        const started = performance.now();
        const plan = studyPlan(shops, prepared.weightCount, epsilon, settings);
        const fed = await runDpFedAvg(prepared, plan, {
          rounds: settings.rounds,
          trackTestWape: true,
          onRound: (r) =>
            log(
              `seed ${seed} ε ${epsilon}: round ${r.round}: ${r.clipped}/${r.contributors} clipped, median ‖δ‖ ${r.medianUpdateNorm.toFixed(3)}, ` +
                `step noise ${r.meanNoiseStd.toExponential(2)}, validation WAPE ${(r.validationWape * 100).toFixed(1)}% (test ${((r.testWape ?? NaN) * 100).toFixed(1)}%), ${r.seconds.toFixed(1)} s`,
            ),
        });
        const choices = settings.personalise
          ? await personalise(prepared, fed.weights, local, { earlyStopping: { maxEpochs: settings.finetuneMaxEpochs, patience: settings.finetunePatience } })
          : undefined;
        const evaluation = evaluateAll(prepared.shops, prepared.createModel, {
          federated: fed.weights,
          local: local.map((r) => r.weights),
          ...(choices ? { personalised: choices.map((c) => c.weights) } : {}),
        });
        const sigma = Math.sqrt(plan.localSigma2);
        const cell: DpStudyCell = {
          shops,
          seed,
          epsilon: Number.isFinite(epsilon) ? epsilon : null,
          delta: settings.delta,
          rounds: settings.rounds,
          minSurvivors: plan.minSurvivors,
          clipNorm: plan.clipNorm,
          noiseMultiplier: plan.noiseMultiplier,
          localSigma: sigma,
          localSigmaUpdateUnits: sigma / plan.scale,
          stepNoiseStd: fed.history[0]?.meanNoiseStd ?? 0,
          bitsNeeded: plan.bitsNeeded,
          l2Sensitivity: plan.l2Sensitivity,
          paddedLength: plan.paddedLength,
          epsilonAllSurvive: Number.isFinite(epsilon) ? planEpsilon(plan, settings.delta, settings.rounds, shops) : null,
          medianWape: evaluation.summary.medianWape,
          pooledWape: evaluation.summary.pooledWape,
          ...(choices
            ? { choices: Object.fromEntries(['global', 'finetuned', 'local'].map((c) => [c, choices.filter((x) => x.choice === c).length])) }
            : {}),
          history: fed.history,
          seconds: (performance.now() - started) / 1000,
        };
        file.cells.push(cell);
        const w = cell.medianWape;
        log(
          `seed ${seed} ε ${epsilon}: z ${plan.noiseMultiplier.toFixed(3)}, ${plan.bitsNeeded} bits; median WAPE federated ${pct(w.federated)}, ` +
            `personalised ${pct(w.personalised)}, local ${pct(w.local)}; ${cell.seconds.toFixed(0)} s`,
        );
        await writeFile(out, JSON.stringify(file, null, 1) + '\n');
      }
    } finally {
      prepared.dispose();
    }
  }
}

const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`);

function meanSd(values: readonly number[], digits = 1, scale = 100): string {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return 'n/a';
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  if (v.length === 1) return (mean * scale).toFixed(digits);
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return `${(mean * scale).toFixed(digits)} ± ${(sd * scale).toFixed(digits)}`;
}

/** The README table: one row per (shops, ε), cells mean ± sd over the seeds (sd only with ≥ 2 seeds). */
export function studyTable(cells: readonly DpStudyCell[]): string {
  const keys = [...new Set(cells.map((c) => `${c.shops}|${c.epsilon ?? 'inf'}`))];
  keys.sort((a, b) => {
    const [sa, ea] = a.split('|');
    const [sb, eb] = b.split('|');
    const e = (x: string | undefined): number => (x === 'inf' ? Infinity : Number(x));
    return Number(sa) - Number(sb) || e(eb) - e(ea);
  });
  const hasPersonalised = cells.some((c) => c.medianWape.personalised !== undefined);
  const L: string[] = [];
  L.push(
    `| shops (t) | ε | seeds | z | σ per shop (lattice; update units) | noise sd of the global step | bits | clip C | median WAPE, federated + DP |${hasPersonalised ? ' personalised + DP | chosen global/fine-tuned/local (shops, all seeds) |' : ''} local-only | pooled WAPE, federated + DP | seconds per cell |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${hasPersonalised ? ' ---: | ---: |' : ''} ---: | ---: | ---: |`,
  );
  for (const key of keys) {
    const group = cells.filter((c) => `${c.shops}|${c.epsilon ?? 'inf'}` === key);
    const c = group[0]!;
    const w = (m: Method): string => meanSd(group.map((g) => g.medianWape[m] ?? NaN));
    const chosen = ['global', 'finetuned', 'local'].map((k) => group.reduce((n, g) => n + (g.choices?.[k] ?? 0), 0)).join('/');
    L.push(
      `| ${c.shops} (${c.minSurvivors}) | ${c.epsilon ?? '∞'} | ${group.map((g) => g.seed).join(',')} | ${c.noiseMultiplier.toFixed(3)} | ` +
        `${c.localSigma.toFixed(0)}; ${c.localSigmaUpdateUnits.toExponential(2)} | ${c.stepNoiseStd.toExponential(2)} | ${c.bitsNeeded} | ${c.clipNorm} | ` +
        `${w('federated')} |${hasPersonalised ? ` ${w('personalised')} | ${chosen} |` : ''} ${w('local')} | ${meanSd(group.map((g) => g.pooledWape.federated ?? NaN))} | ${meanSd(group.map((g) => g.seconds), 0, 1)} |`,
    );
  }
  return L.join('\n') + '\n';
}

/**
 * The plans alone (no training): for each shop count and ε, z, σ, bits and the noise on
 * each coordinate of the global step when all n shops survive, beside C/√m, the size per
 * coordinate of a mean update of norm C spread evenly (the most signal a round can carry).
 */
export function planTable(shopCounts: readonly number[], epsilons: readonly number[], modelLength: number, s: Pick<DpStudySettings, 'clipNorm' | 'delta' | 'rounds'>): string {
  const L: string[] = [
    `| shops (t) | ε | z | σ per shop (lattice) | bits | noise sd of the global step | noise sd ÷ (C/√m) |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  const signal = s.clipNorm / Math.sqrt(modelLength);
  for (const n of shopCounts) {
    for (const e of epsilons) {
      if (!Number.isFinite(e)) continue;
      const plan = studyPlan(n, modelLength, e, s);
      const step = Math.sqrt(n * plan.localSigma2) / plan.scale / n;
      L.push(
        `| ${n} (${plan.minSurvivors}) | ${e} | ${plan.noiseMultiplier.toFixed(3)} | ${Math.sqrt(plan.localSigma2).toFixed(0)} | ${plan.bitsNeeded} | ` +
          `${step.toExponential(2)} | ${(step / signal).toFixed(2)} |`,
      );
    }
  }
  return L.join('\n') + '\n';
}

