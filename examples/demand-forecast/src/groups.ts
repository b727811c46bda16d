/**
 * The results split by shop group, for a shop owner to find their own kind of shop:
 * by age (new: under NEW_SHOP_DAYS of history, vs established) and by size (small:
 * below the median shop's units per day in the test weeks, vs large). Size and age are
 * drawn independently by the generator (data.ts), so the two splits differ.
 */
import { METHODS, median, pooledWapeOf, type EvaluationReport, type Method, type ShopEvaluation } from './evaluate.ts';
import { NEW_SHOP_DAYS } from './targets.ts';

export const GROUPS = ['new', 'established', 'small', 'large'] as const;
export type GroupName = (typeof GROUPS)[number];

export interface GroupSummary {
  readonly group: GroupName;
  readonly shops: readonly string[];
  readonly medianWape: Partial<Record<Method, number>>;
  readonly pooledWape: Partial<Record<Method, number>>;
  /** Mean over the group's shops of WAPE(local) − WAPE(personalised): positive = the shops gain. */
  readonly meanGainOverLocal: number;
  /** Shops whose chosen model is worse than local-only on the test weeks. */
  readonly worseThanLocal: number;
}

export function groupSummaries(report: EvaluationReport): GroupSummary[] {
  const sizes = median(report.shops.map((s) => s.testUnitsPerDay));
  const members: Record<GroupName, (s: ShopEvaluation) => boolean> = {
    new: (s) => s.historyDays < NEW_SHOP_DAYS,
    established: (s) => s.historyDays >= NEW_SHOP_DAYS,
    small: (s) => s.testUnitsPerDay < sizes,
    large: (s) => s.testUnitsPerDay >= sizes,
  };
  const methods = METHODS.filter((m) => report.summary.methods.includes(m));
  return GROUPS.map((group) => {
    const shops = report.shops.filter(members[group]);
    const medianWape: Partial<Record<Method, number>> = {};
    const pooledWape: Partial<Record<Method, number>> = {};
    for (const m of methods) {
      medianWape[m] = median(shops.map((s) => s.metrics[m]?.wape ?? Number.NaN));
      pooledWape[m] = pooledWapeOf(shops, m);
    }
    const gains = shops
      .map((s) => (s.metrics.local?.wape ?? Number.NaN) - (s.metrics.personalised?.wape ?? Number.NaN))
      .filter(Number.isFinite);
    return {
      group,
      shops: shops.map((s) => s.shopId),
      medianWape,
      pooledWape,
      meanGainOverLocal: gains.length === 0 ? Number.NaN : gains.reduce((a, b) => a + b, 0) / gains.length,
      worseThanLocal: gains.filter((g) => g < 0).length,
    };
  });
}
