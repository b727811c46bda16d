/**
 * `writeReport`: the run's results as files in one folder:
 *
 * | file | what |
 * | --- | --- |
 * | report.json | config, backend, per-shop metrics, summary, round history, timings |
 * | report.md | the same as tables, for people |
 * | loss.svg | training loss per federated round (+ test WAPE where recorded) |
 * | forecast.svg | one shop's forecast vs actual over the test weeks |
 * | model/ | the federated model (model.json + weights.bin), when its weights are given |
 *
 * Each file is written to a temp name and renamed, so a reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { saveModel, setFlatWeights } from '@tally/ml';
import { METHODS, type EvaluationReport, type Method, type ShopEvaluation } from './evaluate.ts';
import type { RoundRecord } from './federated.ts';
import { groupSummaries } from './groups.ts';
import type { ShopChoice } from './personalise.ts';
import { forecastChartSvg, lossChartSvg } from './plot.ts';
import type { PreparedShops } from './prepare.ts';
import { checkTargets } from './targets.ts';

export interface ReportInput {
  readonly prepared: PreparedShops;
  readonly evaluation: EvaluationReport;
  /** Federated rounds (from runFedAvg, or built from a secure run's round results). */
  readonly history: readonly RoundRecord[];
  /** The federated model's weights: saved under model/ when given. */
  readonly federatedWeights?: Float32Array;
  /** Shop to plot (index or id). Default: the shop with the median history length. */
  readonly forecastShop?: number | string;
  /** How the federated model was trained, for the report's header. */
  readonly federatedBy?: string;
  /** Extra facts for report.json (timings, epochs chosen, …). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Each shop's personalisation (what it chose on validation). */
  readonly choices?: readonly ShopChoice[];
  /** A section of report.md after the summary (e.g. the targets and the secure-aggregation check), one bullet per line. */
  readonly notes?: { readonly title: string; readonly lines: readonly string[] };
}

export const REPORT_FILES = ['report.json', 'report.md', 'loss.svg', 'forecast.svg'] as const;

export async function writeReport(dir: string, input: ReportInput): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const shop = pickShop(input.evaluation.shops, input.forecastShop);
  const written: string[] = [];
  const put = async (name: string, text: string): Promise<void> => {
    await writeAtomic(path.join(dir, name), text);
    written.push(name);
  };
  await put('report.json', JSON.stringify(reportJson(input, shop.shopId), null, 2) + '\n');
  await put('report.md', reportMarkdown(input, shop.shopId));
  if (input.history.length > 0) await put('loss.svg', lossChartSvg(input.history));
  await put('forecast.svg', forecastChartSvg(input.prepared.data, shop));
  if (input.federatedWeights !== undefined) {
    const model = input.prepared.createModel();
    try {
      setFlatWeights(model, input.federatedWeights);
      await saveModel(model, path.join(dir, 'model'));
      written.push('model/');
    } finally {
      model.dispose();
    }
  }
  return written;
}

export function pickShop(shops: readonly ShopEvaluation[], which?: number | string): ShopEvaluation {
  if (shops.length === 0) throw new RangeError('writeReport: no shops evaluated');
  if (typeof which === 'number') {
    const s = shops[which];
    if (s === undefined) throw new RangeError(`writeReport: no shop ${which} (have ${shops.length})`);
    return s;
  }
  if (typeof which === 'string') {
    const s = shops.find((x) => x.shopId === which);
    if (s === undefined) throw new RangeError(`writeReport: no shop ${which}`);
    return s;
  }
  const sorted = [...shops].sort((a, b) => a.historyDays - b.historyDays || a.shopId.localeCompare(b.shopId));
  return sorted[(sorted.length - 1) >> 1] as ShopEvaluation;
}

function reportJson(input: ReportInput, plotted: string): unknown {
  const { prepared, evaluation } = input;
  return {
    generatedBy: '@tally/example-demand-forecast',
    federatedBy: input.federatedBy ?? 'in-process FedAvg reference loop',
    backend: prepared.backend,
    config: prepared.config,
    weights: prepared.weightCount,
    summary: evaluation.summary,
    targets: checkTargets(evaluation),
    groups: groupSummaries(evaluation),
    ...(input.choices !== undefined
      ? { personalisation: input.choices.map((c) => ({ shopId: c.shopId, final: c.final, blend: c.blend, bestSingle: c.choice, finetuneEpochs: c.finetuneEpochs, validation: c.validation })) }
      : {}),
    shops: evaluation.shops.map((s) => ({
      shopId: s.shopId,
      historyDays: s.historyDays,
      trainRows: s.trainRows,
      testUnitsPerDay: s.testUnitsPerDay,
      metrics: s.metrics,
    })),
    history: input.history,
    forecastShop: plotted,
    ...input.extra,
  };
}

const LABEL: Readonly<Record<Method, string>> = {
  personalised: 'chosen (personalised)',
  federated: 'federated',
  local: 'local only',
  centralised: 'centralised',
  glm: 'Poisson GLM',
  snaive4: '4-week weekday mean',
  naive: 'seasonal naive',
  oracle: 'noise floor',
};

function reportMarkdown(input: ReportInput, plotted: string): string {
  const { prepared, evaluation } = input;
  const methods = METHODS.filter((m) => evaluation.summary.methods.includes(m));
  const d = prepared.data;
  const lines: string[] = [];
  lines.push('# Demand forecast: every arm, per shop', '');
  lines.push(
    `${d.shops.length} shops × ${d.products.length} products, ${d.dates[0]} to ${d.dates.at(-1)}; ` +
      `test: the last ${prepared.config.features.testDays} days. Backend: ${prepared.backend.backend}. ` +
      `Federated model: ${input.federatedBy ?? 'in-process FedAvg reference loop'}, ${input.history.length} rounds.`,
    '',
  );
  lines.push('## Summary', '');
  lines.push(`| | ${methods.map((m) => LABEL[m]).join(' | ')} |`);
  lines.push(`| --- | ${methods.map(() => '---:').join(' | ')} |`);
  const s = evaluation.summary;
  lines.push(`| median shop WAPE | ${methods.map((m) => pct(s.medianWape[m])).join(' | ')} |`);
  lines.push(`| median shop MAE (units) | ${methods.map((m) => num(s.medianMae[m])).join(' | ')} |`);
  lines.push(`| median shop MASE | ${methods.map((m) => num(s.medianMase[m])).join(' | ')} |`);
  lines.push(`| pooled WAPE (all shops' units) | ${methods.map((m) => pct(s.pooledWape[m])).join(' | ')} |`);
  lines.push(`| worst shop WAPE | ${methods.map((m) => pct(s.worstWape[m])).join(' | ')} |`);
  lines.push('');
  lines.push(
    '"noise floor": the generator\'s own expected sales (it knows every effect but not the random draws or stockouts); ' +
      'no method can be expected to beat it. "chosen": each shop\'s model among global, fine-tuned and local-only, picked on its validation days.',
    '',
  );
  lines.push('## By shop group', '');
  lines.push(`| group | shops | ${methods.map((m) => LABEL[m]).join(' | ')} | mean gain of chosen over local | shops worse than local |`);
  lines.push(`| --- | ---: | ${methods.map(() => '---:').join(' | ')} | ---: | ---: |`);
  for (const g of groupSummaries(evaluation)) {
    lines.push(
      `| ${g.group} (median WAPE) | ${g.shops.length} | ${methods.map((m) => pct(g.medianWape[m])).join(' | ')} | ${pts(g.meanGainOverLocal)} | ${g.worseThanLocal} |`,
    );
  }
  lines.push('', '## Targets', '');
  for (const t of checkTargets(evaluation)) lines.push(`- ${t.target}: ${t.holds === null ? 'not evaluated' : t.holds ? 'holds' : '**does not hold**'} (${t.detail})`);
  lines.push('');
  if (input.choices !== undefined) {
    lines.push('## Personalisation (chosen on each shop\'s validation days only)', '');
    lines.push(
      '| shop | forecast used | weight on local | fine-tune epochs kept | validation WAPE: global | fine-tuned | local | used |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const c of input.choices) {
      const used = c.final === 'blend' ? `blend of local and ${c.blend.shared}` : c.final;
      lines.push(
        `| ${c.shopId} | ${used} | ${c.blend.weight} | ${c.finetuneEpochs} | ${pct(c.validation.global)} | ${pct(c.validation.finetuned)} | ${pct(c.validation.local)} | ${pct(c.blend.validationWape)} |`,
      );
    }
    lines.push('');
  }
  if (s.federatedBeatsLocal !== undefined) {
    lines.push(`Federated beats local-only in ${s.federatedBeatsLocal} of ${evaluation.shops.length} shops.`);
  }
  if (s.federatedBeatsNaive !== undefined) {
    lines.push(`Federated beats seasonal naive in ${s.federatedBeatsNaive} of ${evaluation.shops.length} shops.`);
  }
  if (input.notes !== undefined) {
    lines.push('', `## ${input.notes.title}`, '', ...input.notes.lines.map((l) => `- ${l}`));
  }
  lines.push('', '## Per shop (WAPE, MAE in units per product-day)', '');
  lines.push(`| shop | history (days) | training rows | units/day | ${methods.map((m) => LABEL[m]).join(' | ')} |`);
  lines.push(`| --- | ---: | ---: | ---: | ${methods.map(() => '---:').join(' | ')} |`);
  for (const e of evaluation.shops) {
    const cells = methods.map((m) => {
      const met = e.metrics[m];
      return met === undefined ? 'n/a' : `${pct(met.wape)} (${num(met.mae)})`;
    });
    lines.push(`| ${e.shopId} | ${e.historyDays} | ${e.trainRows} | ${e.testUnitsPerDay.toFixed(1)} | ${cells.join(' | ')} |`);
  }
  if (input.history.length > 0) {
    lines.push(
      '',
      '## Rounds',
      '',
      'The kept global model is the round with the lowest validation WAPE; the test WAPE column is a diagnostic, never used to choose.',
      '',
      '| round | loss before | loss after | validation WAPE | test WAPE (diagnostic) | seconds |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of input.history) {
      lines.push(
        `| ${r.round} | ${r.lossBefore.toFixed(4)} | ${r.lossAfter.toFixed(4)} | ${pct(r.validationWape)} | ${r.testWape === undefined ? 'n/a' : pct(r.testWape)} | ${r.seconds.toFixed(2)} |`,
      );
    }
    lines.push('', '![loss per round](loss.svg)');
  }
  lines.push('', `![forecast vs actual for ${plotted}](forecast.svg)`, '');
  return lines.join('\n');
}

function pct(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`;
}

function pts(v: number): string {
  return Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} pt` : 'n/a';
}

function num(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(2);
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
