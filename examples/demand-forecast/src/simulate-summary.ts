/**
 * The end of a `simulate` run as text for a terminal: the per-shop table of the four
 * models (MAE and WAPE), the medians and pooled WAPE, whether each target holds, the
 * secure-vs-plaintext check and the timings.
 */
import { METHODS, type Method } from './evaluate.ts';
import type { SimulateResult } from './simulate.ts';

const LABEL: Readonly<Record<Method, string>> = {
  personalised: 'chosen',
  federated: 'federated (SA)',
  local: 'local only',
  centralised: 'centralised',
  glm: 'Poisson GLM',
  snaive4: '4-wk mean',
  naive: 'seasonal naive',
  oracle: 'noise floor',
};

const TARGET_LABEL = {
  'no-shop-loses': 'no shop is more than 0.5 pt worse than its local-only model',
  'beats-best-baseline': 'the chosen models beat the best per-shop baseline at the median',
  'new-shops-gain': 'new shops gain at least 5 pt on average',
} as const;

export function summaryLines(result: Omit<SimulateResult, 'federated'>): string[] {
  const e = result.evaluation;
  const methods = METHODS.filter((m) => e.summary.methods.includes(m));
  const rows: string[][] = [['shop', 'history', ...methods.map((m) => LABEL[m])]];
  for (const s of e.shops) {
    rows.push([s.shopId, `${s.historyDays} d`, ...methods.map((m) => cell(s.metrics[m]?.wape, s.metrics[m]?.mae))]);
  }
  rows.push(['median', '', ...methods.map((m) => cell(e.summary.medianWape[m], e.summary.medianMae[m]))]);
  rows.push(['pooled WAPE', '', ...methods.map((m) => pct(e.summary.pooledWape[m]))]);
  rows.push(['worst shop', '', ...methods.map((m) => pct(e.summary.worstWape[m]))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ').trimEnd();
  const out: string[] = [];
  out.push('', "Forecast error on each shop's held-out last weeks: WAPE (MAE in units per product-day)", '');
  out.push(line(rows[0]!));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1, -3)) out.push(line(r));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(-3)) out.push(line(r));
  if (result.choices !== null) {
    const n = (c: string): number => result.choices?.filter((x) => x.final === c).length ?? 0;
    out.push(
      '',
      `chosen on each shop's validation days: global ${n('global')}, fine-tuned ${n('finetuned')}, local-only ${n('local')}, ` +
        `a blend of local and a shared model ${n('blend')}; federated model of round ${result.bestRound}`,
    );
  }
  out.push('', 'Targets (test weeks):');
  for (const t of result.targets) {
    const mark = t.holds === true ? 'yes' : t.holds === false ? 'NO ' : 'n/a';
    out.push(`  [${mark}] ${TARGET_LABEL[t.target]}: ${t.detail}`);
  }
  const held = result.targets.filter((t) => t.holds !== null);
  out.push(
    held.length === 0
      ? '  (baselines not trained: nothing to compare with)'
      : held.every((t) => t.holds === true)
        ? `  all ${held.length} targets hold`
        : `  ${held.filter((t) => t.holds !== true).length} of ${held.length} targets do not hold`,
  );
  const c = result.secureCheck;
  const dp = result.dp;
  out.push(
    '',
    dp === null
      ? `secure aggregation ${c.ok ? '=' : '≠'} plaintext weighted average of the same updates in ${result.committed} committed round(s)` +
          ` (${result.aborted} aborted): max |difference| ${c.maxAbsDiff.toExponential(2)}, quantisation bound ${c.maxBound.toExponential(2)}` +
          `; pooled test WAPE (diagnostic) ${pct(result.initialTestWape)} at round 0 → ${pct(result.finalTestWape)}`
      : `distributed DP (shop level): ε = ${dp.spent.toPrecision(3)} spent at δ = ${dp.delta} over ${dp.roundsCharged} unmasked round(s) ` +
          `(target ${dp.epsilon}; ${dp.spentSurvivors.toPrecision(3)} if every survivor's noise counts), noise multiplier ${dp.noiseMultiplier.toPrecision(3)} ` +
          `for t = ${dp.threshold}, ${dp.bitsNeeded} of 32 bits; ${result.committed} committed, ${result.aborted} aborted` +
          `; pooled test WAPE (diagnostic) ${pct(result.initialTestWape)} at round 0 → ${pct(result.finalTestWape)}`,
  );
  const t = result.timings;
  out.push(
    `time: ${t.totalSeconds.toFixed(1)} s (federated ${t.federatedSeconds.toFixed(1)} s, local-only ${t.localSeconds.toFixed(1)} s, ` +
      `centralised ${t.centralisedSeconds.toFixed(1)} s, personalisation ${t.personaliseSeconds.toFixed(1)} s, GLM ${t.glmSeconds.toFixed(1)} s) on ${result.backend}`,
  );
  return out;
}

function cell(wape: number | undefined, mae: number | undefined): string {
  return `${pct(wape)} (${mae === undefined || !Number.isFinite(mae) ? 'n/a' : mae.toFixed(2)})`;
}

function pct(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`;
}
