/**
 * The demo's success criteria (issue #11), measured on the test weeks and reported
 * whether or not they hold:
 *
 * | target | holds when |
 * | --- | --- |
 * | no-shop-loses | every shop: WAPE(its chosen model) ≤ WAPE(its local-only model) + 0.5 points |
 * | beats-best-baseline | median WAPE(chosen) < the lower of the per-shop baselines' medians (Poisson GLM, local-only MLP) |
 * | new-shops-gain | mean over new shops (history < NEW_SHOP_DAYS) of WAPE(local) − WAPE(chosen) ≥ 5 points |
 *
 * A target whose methods were not evaluated is reported with `holds: null`.
 */
import { median, type EvaluationReport, type Method } from './evaluate.ts';

/** A shop with less history than this is "new" (it has not seen a full year, so not one Christmas). */
export const NEW_SHOP_DAYS = 365;
/** No shop may lose more than this (WAPE, absolute) against its local-only model. */
export const LOSS_TOLERANCE = 0.005;
/** New shops' mean gain over local-only. */
export const NEW_SHOP_GAIN = 0.05;

export const TARGETS = ['no-shop-loses', 'beats-best-baseline', 'new-shops-gain'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface TargetResult {
  readonly target: TargetName;
  /** null when a method it needs was not evaluated. */
  readonly holds: boolean | null;
  /** One sentence with the numbers. */
  readonly detail: string;
}

export function checkTargets(report: EvaluationReport): TargetResult[] {
  const has = (m: Method): boolean => report.summary.methods.includes(m);
  const out: TargetResult[] = [];
  if (!has('personalised') || !has('local')) {
    for (const target of TARGETS) out.push({ target, holds: null, detail: 'personalised or local-only models not evaluated' });
    return out;
  }
  const w = (s: (typeof report.shops)[number], m: Method): number => s.metrics[m]?.wape ?? Number.NaN;
  const losses = report.shops.map((s) => ({ id: s.shopId, d: w(s, 'personalised') - w(s, 'local') })).filter((x) => Number.isFinite(x.d));
  const worst = losses.reduce((a, b) => (b.d > a.d ? b : a), { id: 'none', d: Number.NEGATIVE_INFINITY });
  out.push({
    target: 'no-shop-loses',
    holds: worst.d <= LOSS_TOLERANCE,
    detail: `largest loss against local-only: ${pts(worst.d)} (${worst.id}); limit ${pts(LOSS_TOLERANCE)}`,
  });
  const med = (m: Method): number => report.summary.medianWape[m] ?? Number.NaN;
  const baselines = (['glm', 'local'] as const).filter(has);
  const best = baselines.reduce((a, m) => (med(m) < med(a) ? m : a), baselines[0]!);
  out.push({
    target: 'beats-best-baseline',
    holds: med('personalised') < med(best),
    detail: `median WAPE: chosen ${pct(med('personalised'))} vs best per-shop baseline (${best}) ${pct(med(best))}`,
  });
  const fresh = report.shops.filter((s) => s.historyDays < NEW_SHOP_DAYS);
  const gains = fresh.map((s) => w(s, 'local') - w(s, 'personalised')).filter(Number.isFinite);
  const gain = gains.length === 0 ? Number.NaN : gains.reduce((a, b) => a + b, 0) / gains.length;
  out.push({
    target: 'new-shops-gain',
    holds: gains.length === 0 ? null : gain >= NEW_SHOP_GAIN,
    detail: `${fresh.length} new shops (< ${NEW_SHOP_DAYS} days): mean gain over local-only ${pts(gain)} (median ${pts(median(gains))}); target ${pts(NEW_SHOP_GAIN)}`,
  });
  return out;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a';
}

function pts(v: number): string {
  return Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} pt` : 'n/a';
}
