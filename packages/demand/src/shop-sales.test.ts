import { describe, expect, it } from 'vitest';
import { parseSalesCsv } from './sales-csv.ts';
import { MIN_HISTORY_DAYS, shopSales } from './shop-sales.ts';

const columns = { date: 'date', product: 'product', units: 'units', price: 'price', promo: 'promo' };
const spec = { products: ['bread', 'milk'], holidays: ['01-01'] };

/** One line per product per day from 2024-12-01, with `skip` days left out and extra lines. */
function exportText(days: number, skip: ReadonlySet<number> = new Set(), extra: string[] = []): string {
  const lines = ['date,product,units,price,promo'];
  for (let d = 0; d < days; d++) {
    if (skip.has(d)) continue;
    const iso = new Date(Date.UTC(2024, 11, 1 + d)).toISOString().slice(0, 10);
    lines.push(`${iso},bread,${10 + (d % 7)},2.00,0`);
    if (d % 2 === 0) lines.push(`${iso},milk,3,${d < 20 ? '1.00' : '1.20'},${d === 4 ? 1 : 0}`);
  }
  return [...lines, ...extra].join('\n');
}

describe('shopSales', () => {
  it('lays the export out per product and day, in the task order, with the holiday calendar', () => {
    const s = shopSales(parseSalesCsv(exportText(40), { columns, source: 's.csv' }), spec);
    expect(s.firstDate).toBe('2024-12-01');
    expect(s.lastDate).toBe('2025-01-09');
    expect(s.data.dates).toHaveLength(40);
    const [bread, milk] = s.data.shops[0]!.units;
    expect(Array.from(bread!.subarray(0, 3))).toEqual([10, 11, 12]);
    // Days without a milk line sold 0; its price carries over; promo set on day 4 only.
    expect(Array.from(milk!.subarray(0, 4))).toEqual([3, 0, 3, 0]);
    expect(s.data.shops[0]!.price[1]![21]).toBeCloseTo(1.2);
    expect(s.data.shops[0]!.price[1]![19]).toBeCloseTo(1.0);
    expect(Array.from(s.data.shops[0]!.promo[1]!.subarray(3, 6))).toEqual([0, 1, 0]);
    // 2025-01-01 is day 31; its eve day 30.
    expect(s.data.holiday[31]).toBe(1);
    expect(s.data.holidayEve[30]).toBe(1);
    expect(s.carried).toEqual([true, true]);
    expect(s.issues).toEqual([]);
  });

  it('adds up several lines of one day and product (a till exporting sessions)', () => {
    const s = shopSales(parseSalesCsv(exportText(40, new Set(), ['2024-12-01,bread,5,2.00,0']), { columns, source: 's.csv' }), spec);
    expect(s.data.shops[0]!.units[0]![0]).toBe(15);
  });

  it('reports unknown products and gaps with line numbers; a gap counts as 0 units', () => {
    const s = shopSales(parseSalesCsv(exportText(40, new Set([10, 11]), ['2024-12-05,gift card,1,25,0', '2024-12-06,gift card,1,25,0']), { columns, source: 's.csv' }), spec);
    const gap = s.issues.find((i) => i.kind === 'gap')!;
    expect(gap.message).toMatch(/no sales from 2024-12-11 to 2024-12-12 \(2 day\(s\) between line \d+ and line \d+\)/);
    const unknown = s.issues.find((i) => i.kind === 'unknown-product')!;
    expect(unknown.message).toMatch(/product "gift card" is not in the task's product list; its 2 line\(s\) are skipped/);
    expect(unknown.line).toBeGreaterThan(50);
    expect(s.data.shops[0]!.units[0]![10]).toBe(0);
  });

  it('refuses an export that sells none of the task products, or is too short for the lags', () => {
    expect(() => shopSales(parseSalesCsv(exportText(40), { columns, source: 's.csv' }), { products: ['tea'], holidays: [] })).toThrow(/none of its products is in the task's list \(tea\)/);
    expect(() => shopSales(parseSalesCsv(exportText(MIN_HISTORY_DAYS), { columns, source: 's.csv' }), spec)).toThrow(/the demand model needs at least/);
  });

  it('marks a product the shop never sells as not carried', () => {
    const s = shopSales(parseSalesCsv(exportText(40), { columns, source: 's.csv' }), { products: ['bread', 'tea', 'milk'], holidays: [] });
    expect(s.carried).toEqual([true, false, true]);
  });
});
