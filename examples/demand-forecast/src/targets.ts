/**
 * The demo's success criteria (issue #4), on median shop WAPE:
 *
 * | target | holds when |
 * | --- | --- |
 * | beats local-only | median WAPE(federated) < median WAPE(local only) |
 * | beats seasonal naive | median WAPE(federated) < median WAPE(seasonal naive) |
 * | near centralised | median WAPE(federated) ≤ 1.10 · median WAPE(centralised), i.e. within 10 % (relative) |
 *
 * A target whose comparison method was not evaluated is reported with `holds: null`.
 */
import type { EvaluationSummary, Method } from './evaluate.ts';

/** "Within 10 % of centralised", as a ratio of WAPEs. */
export const CENTRALISED_TOLERANCE = 0.1;

export const TARGETS = ['beats-local', 'beats-naive', 'near-centralised'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface TargetResult {
  readonly target: TargetName;
  /** null when a method it needs was not evaluated. */
  readonly holds: boolean | null;
  /** One sentence with the numbers, e.g. "federated 37.2 % < local only 37.7 %". */
  readonly detail: string;
}

export function checkTargets(summary: EvaluationSummary): TargetResult[] {
  const w = (m: Method): number | undefined => {
    const v = summary.medianWape[m];
    return v !== undefined && Number.isFinite(v) ? v : undefined;
  };
  const fed = w('federated');
  const cmp = (target: TargetName, other: Method, label: string, limitFactor: number): TargetResult => {
    const o = w(other);
    if (fed === undefined || o === undefined) return { target, holds: null, detail: `${label}: not evaluated` };
    const limit = o * limitFactor;
    const holds = limitFactor === 1 ? fed < limit : fed <= limit;
    const op = limitFactor === 1 ? (holds ? '<' : '≥') : holds ? '≤' : '>';
    const rhs = limitFactor === 1 ? `${label} ${pct(o)}` : `${limitFactor.toFixed(2)} × ${label} ${pct(o)} = ${pct(limit)}`;
    return { target, holds, detail: `median WAPE: federated ${pct(fed)} ${op} ${rhs}` };
  };
  return [
    cmp('beats-local', 'local', 'local only', 1),
    cmp('beats-naive', 'naive', 'seasonal naive', 1),
    cmp('near-centralised', 'centralised', 'centralised', 1 + CENTRALISED_TOLERANCE),
  ];
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}
