/**
 * From a shop's parsed export (sales-csv.ts) to the daily series the features read,
 * in the task's product order and calendar. Runs on the shop: nothing here leaves it.
 *
 * - Lines of products the task does not list are skipped and reported (by product,
 *   with their line numbers).
 * - Several lines for one (day, product) are added up (a till exporting single
 *   sales); units per day are rounded to whole units; the price is the
 *   units-weighted mean, the promo flag is set if any line has it.
 * - A day with no line at all between the first and last day is a gap: reported
 *   with the lines around it, and counted as 0 units (a closed shop sells nothing).
 *   A product the shop sells on other days but not that day also sold 0.
 * - Prices carry forward from the last day that had one (backward at the start);
 *   without a price column every price is 1 (the price feature is then 0).
 */
import { buildCalendar, isoOf } from './calendar.ts';
import { LAG_WINDOW } from './feature-layout.ts';
import type { SalesData } from './features.ts';
import { SalesCsvError, type SalesIssue, type SalesTable } from './sales-csv.ts';
import type { DemandSpec } from './spec.ts';

export interface ShopSales {
  /** One shop (index 0), days firstDay … lastDay of the export. */
  readonly data: SalesData;
  /** Per product of the spec: whether the export has any line for it. */
  readonly carried: readonly boolean[];
  /** Unknown products and gaps (the parse's bad rows are in the table). */
  readonly issues: readonly SalesIssue[];
  readonly firstDate: string;
  readonly lastDate: string;
}

/** Days of history a shop needs: the lags of the first training row, plus that row. */
export const MIN_HISTORY_DAYS = LAG_WINDOW + 1;

export function shopSales(table: SalesTable, spec: Pick<DemandSpec, 'products' | 'holidays'>, shopId = 'shop'): ShopSales {
  const index = new Map(spec.products.map((p, i) => [p, i]));
  const unknown = new Map<string, number[]>();
  const known = table.records.filter((r) => {
    if (index.has(r.product)) return true;
    const lines = unknown.get(r.product) ?? [];
    lines.push(r.line);
    unknown.set(r.product, lines);
    return false;
  });
  const issues: SalesIssue[] = [];
  for (const [product, lines] of unknown) {
    const shown = lines.slice(0, 5).join(', ');
    issues.push({
      kind: 'unknown-product',
      line: lines[0]!,
      message: `product ${JSON.stringify(product)} is not in the task's product list; its ${lines.length} line(s) are skipped (lines ${shown}${lines.length > 5 ? ', …' : ''})`,
    });
  }
  if (known.length === 0) {
    throw new SalesCsvError(
      `${table.source}: none of its products is in the task's list (${spec.products.slice(0, 10).join(', ')}${spec.products.length > 10 ? ', …' : ''}): check trainer.columns.product, or ask the coordinator's operator to add this shop's products to task.model.products`,
    );
  }
  const sorted = [...known].sort((a, b) => a.day - b.day || a.line - b.line);
  const first = sorted[0]!.day;
  const last = sorted[sorted.length - 1]!.day;
  const days = last - first + 1;
  if (days < MIN_HISTORY_DAYS + 1) {
    throw new SalesCsvError(`${table.source}: ${days} days of sales (${isoOf(first)} to ${isoOf(last)}); the demand model needs at least ${MIN_HISTORY_DAYS + 1} (${LAG_WINDOW} days of lags before the first training day)`);
  }
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.day - a.day > 1) {
      issues.push({
        kind: 'gap',
        line: b.line,
        message: `no sales from ${isoOf(a.day + 1)} to ${isoOf(b.day - 1)} (${b.day - a.day - 1} day(s) between line ${a.line} and line ${b.line}); counted as 0 units (closed)`,
      });
    }
  }

  const P = spec.products.length;
  const units = Array.from({ length: P }, () => new Float64Array(days));
  const priceSum = Array.from({ length: P }, () => new Float64Array(days));
  const priceWeight = Array.from({ length: P }, () => new Float64Array(days));
  const promo = Array.from({ length: P }, () => new Uint8Array(days));
  const carried = new Array<boolean>(P).fill(false);
  for (const r of known) {
    const p = index.get(r.product)!;
    const t = r.day - first;
    carried[p] = true;
    units[p]![t]! += r.units;
    if (r.price !== null) {
      // Weight by units; a line of 0 units still tells the shelf price.
      const w = Math.max(r.units, 1e-6);
      priceSum[p]![t]! += w * r.price;
      priceWeight[p]![t]! += w;
    }
    if (r.promo === 1) promo[p]![t] = 1;
  }
  const price = priceSum.map((sum, p) => fillPrices(sum, priceWeight[p]!));
  const calendar = buildCalendar(isoOf(first), days, spec.holidays);
  const data: SalesData = {
    ...calendar,
    products: spec.products,
    shops: [{ id: shopId, firstDay: 0, units: units.map((u) => Int32Array.from(u, Math.round)), price, promo }],
  };
  return { data, carried, issues, firstDate: isoOf(first), lastDate: isoOf(last) };
}

/** Per-day mean prices, carried forward over days without one (backward at the start); 1 when there is none at all. */
function fillPrices(sum: Float64Array, weight: Float64Array): Float32Array {
  const out = new Float32Array(sum.length);
  let firstKnown = -1;
  let last = NaN;
  for (let t = 0; t < sum.length; t++) {
    if (weight[t]! > 0) {
      last = sum[t]! / weight[t]!;
      if (firstKnown < 0) firstKnown = t;
    }
    out[t] = last;
  }
  if (firstKnown < 0) return out.fill(1);
  out.fill(out[firstKnown]!, 0, firstKnown);
  return out;
}
