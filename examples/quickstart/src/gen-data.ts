/**
 * Writes the quickstart's three sales exports, as three shops' tills would: one
 * line per product sold per day (or per till session), in each till's own layout.
 * The sales themselves come from the demand-forecast example's seeded generator
 * (weekly patterns, seasons, holidays, promotions, price changes, shops of different
 * size and product mix), over the same 150 days.
 *
 * | shop | layout | what it shows |
 * | --- | --- | --- |
 * | shop-a | `date,product,units,price,promo`, ISO dates | the plain case |
 * | shop-b | `Datum;Artikel;Menge;Preis;Aktion`, DD.MM.YYYY, decimal comma, one line per till session | `;` exports, other names, lines to add up |
 * | shop-c | `Date,SKU,Qty,Unit Price` (no promo), a product the task does not list, two days closed, one unreadable line | what gets reported |
 *
 *   pnpm exec tsx examples/quickstart/src/gen-data.ts [--out DIR] [--seed N]
 *
 * (default DIR: examples/quickstart/data). Seeded: every run writes the same files.
 * The seeded generator is for demo data only; Tally's masks and keys come from the
 * OS CSPRNG.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { STEADY_SHOPS, generateSales, type SalesData } from '@tally/example-demand-forecast';

/** The task's catalogue (coordinator.json task.model.products), in model column order. */
export const PRODUCTS = ['bread', 'milk', 'eggs', 'coffee', 'apples', 'cheese'] as const;
export const SHOPS = [{ name: 'shop-a' }, { name: 'shop-b' }, { name: 'shop-c' }] as const;
/** Days in every export. */
export const DAYS = 150;

/** The three shops' sales, seeded. */
export function shopSales(seed = 42): SalesData {
  // Steady shops: every product sold every day (the retail-like defaults would drop products and add closures).
  // baseUnits is now a shop's units per day over all products (it was per product).
  return generateSales({
    ...STEADY_SHOPS,
    seed,
    shops: SHOPS.length,
    products: PRODUCTS.length,
    days: DAYS,
    startDate: '2025-01-06',
    minHistoryDays: DAYS,
    baseUnits: 14 * PRODUCTS.length,
  });
}

const dmy = (iso: string): string => `${iso.slice(8, 10)}.${iso.slice(5, 7)}.${iso.slice(0, 4)}`;
const comma = (v: number): string => v.toFixed(2).replace('.', ',');

/** The export text of shop `s` (0, 1, 2) in its till's layout. */
export function shopCsv(data: SalesData, s: number): string {
  const shop = data.shops[s]!;
  const lines: string[] = [];
  const each = (fn: (t: number, p: number, units: number, price: number, promo: number) => void): void => {
    for (let t = shop.firstDay; t < data.dates.length; t++) {
      for (let p = 0; p < PRODUCTS.length; p++) {
        const units = shop.units[p]![t]!;
        if (units > 0) fn(t, p, units, shop.price[p]![t]!, shop.promo[p]![t]!);
      }
    }
  };
  if (s === 0) {
    lines.push('date,product,units,price,promo');
    each((t, p, units, price, promo) => lines.push(`${data.dates[t]},${PRODUCTS[p]},${units},${price.toFixed(2)},${promo}`));
  } else if (s === 1) {
    lines.push('Datum;Artikel;Menge;Preis;Aktion');
    each((t, p, units, price, promo) => {
      // Two till sessions a day (morning, afternoon): the trainer adds them up.
      const morning = Math.floor(units / 3);
      for (const part of [morning, units - morning]) {
        if (part > 0) lines.push(`${dmy(data.dates[t]!)};${PRODUCTS[p]};${part};${comma(price)};${promo === 1 ? 'ja' : ''}`);
      }
    });
  } else {
    lines.push('Date,SKU,Qty,Unit Price');
    const closed = new Set([data.dates.length - 40, data.dates.length - 39]);
    each((t, p, units, price) => {
      if (closed.has(t)) return;
      lines.push(`${data.dates[t]},${PRODUCTS[p]},${units},${price.toFixed(2)}`);
      if (p === 0 && t % 9 === 0) lines.push(`${data.dates[t]},gift card,1,25.00`);
    });
    lines.splice(200, 0, `${data.dates[shop.firstDay + 30]},milk,n/a,1.10`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `<dir>/<shop>.csv` for every shop; returns the paths. */
export function writeShopData(dir: string, seed = 42): string[] {
  mkdirSync(dir, { recursive: true });
  const data = shopSales(seed);
  return SHOPS.map((spec, i) => {
    const path = join(dir, `${spec.name}.csv`);
    writeFileSync(path, shopCsv(data, i));
    return path;
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, seed: { type: 'string' } } });
  const dir = resolve(values.out ?? join(import.meta.dirname, '..', 'data'));
  const seed = values.seed === undefined ? 42 : Number(values.seed);
  if (!Number.isSafeInteger(seed)) {
    process.stderr.write(`--seed: expected an integer, got ${values.seed}\n`);
    process.exit(2);
  }
  for (const path of writeShopData(dir, seed)) process.stdout.write(`wrote ${path}\n`);
}
