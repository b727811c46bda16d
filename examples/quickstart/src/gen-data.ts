/**
 * Writes the quickstart's synthetic shop data: three CSV files whose rows follow
 * one shared linear relation plus noise, so that the federated model has a known
 * answer to find:
 *
 *   demand = 3.0 − 1.5·price + 0.8·promo + 0.5·temperature + N(0, 0.2²)
 *
 * The shops differ (non-IID): sizes 240 / 160 / 320 rows, shop b prices higher,
 * shop c is colder. Seeded, so every run writes the same files.
 *
 *   pnpm exec tsx examples/quickstart/src/gen-data.ts [--out DIR] [--seed N]
 *
 * (default DIR: examples/quickstart/data). The seeded generator is for test data
 * only; Tally's masks and keys come from the OS CSPRNG.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** The relation every shop's data follows: weights [price, promo, temperature] and the bias. */
export const TRUE_MODEL = { weights: [-1.5, 0.8, 0.5], bias: 3.0, noise: 0.2 } as const;

export interface ShopSpec {
  readonly name: string;
  readonly rows: number;
  readonly priceMean: number;
  readonly temperatureMean: number;
}

export const SHOPS: readonly ShopSpec[] = [
  { name: 'shop-a', rows: 240, priceMean: 0, temperatureMean: 0 },
  { name: 'shop-b', rows: 160, priceMean: 0.5, temperatureMean: 0.2 },
  { name: 'shop-c', rows: 320, priceMean: -0.2, temperatureMean: -0.5 },
];

/** A small seeded generator (32-bit LCG, Numerical Recipes constants, output tempered by xorshift). */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    let x = s ^ (s >>> 15);
    x = Math.imul(x, 0x2c1b3c6d) >>> 0;
    x ^= x >>> 12;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Standard normal by the Box–Muller transform. */
function normal(u: () => number): number {
  const a = 1 - u(); // (0, 1]: log stays finite
  return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
}

/** The CSV text of one shop: header `price,promo,temperature,demand`, then `spec.rows` rows. */
export function shopCsv(spec: ShopSpec, seed: number): string {
  const u = generator(seed);
  const lines = ['price,promo,temperature,demand'];
  const [wPrice, wPromo, wTemp] = TRUE_MODEL.weights;
  for (let i = 0; i < spec.rows; i++) {
    const price = spec.priceMean + normal(u);
    const promo = u() < 0.3 ? 1 : 0;
    const temperature = spec.temperatureMean + normal(u);
    const demand = TRUE_MODEL.bias + wPrice * price + wPromo * promo + wTemp * temperature + TRUE_MODEL.noise * normal(u);
    lines.push([price, promo, temperature, demand].map((v) => (Number.isInteger(v) ? String(v) : v.toFixed(4))).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `<dir>/<shop>.csv` for every shop; returns the paths. */
export function writeShopData(dir: string, seed = 42): string[] {
  mkdirSync(dir, { recursive: true });
  return SHOPS.map((spec, i) => {
    const path = join(dir, `${spec.name}.csv`);
    writeFileSync(path, shopCsv(spec, seed * 1000 + i));
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
