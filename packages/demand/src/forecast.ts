/**
 * Forecasts of a shop's next days from a saved model folder (the shop's copy:
 * model.json + weights.bin + spec.json + normalisation.json) and the shop's sales
 * export. Recursive: day 1 is predicted from the real history; each later day uses
 * the forecasts before it as its lags (rounded to whole units, as sales are).
 * Future shelf prices are taken as the last known ones and no promotion is assumed.
 * Products the shop has never sold are not forecast.
 *
 * The model used: the shop's own choice when personal.json belongs to the saved global
 * model (same task and round; personal.ts), a blend being the weighted sum of its
 * models' forecasts at every step; otherwise the shared model, and `used` says why.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel, predictRows, type LayersModel } from '@tally/ml';
import { buildCalendar, isoOf, isoDay } from './calendar.ts';
import { BASE_FEATURES } from './feature-layout.ts';
import { buildSplit, type SalesData } from './features.ts';
import { loadNormalisation, type Normalisation } from './normalisation.ts';
import { parseSalesCsv, type SalesIssue } from './sales-csv.ts';
import { shopSales } from './shop-sales.ts';
import { personalParts, readPersonalChoice, type PersonalChoice } from './personal.ts';
import { parseDemandSpec, type DemandSpec } from './spec.ts';
import { SPEC_FILE, describeChoice } from './trainer.ts';

export const MAX_FORECAST_DAYS = 366;

export interface ForecastInput {
  readonly modelDir: string;
  /** The export's text and its name. */
  readonly sales: { readonly text: string; readonly source: string };
  readonly days: number;
}

export interface ProductForecast {
  readonly product: string;
  /** Recent actual units (up to the last 28 days) and their dates. */
  readonly recentDates: readonly string[];
  readonly recent: readonly number[];
  /** One value per forecast day (units, ≥ 0, not rounded). */
  readonly forecast: readonly number[];
}

export interface Forecast {
  readonly dates: readonly string[];
  readonly products: readonly ProductForecast[];
  readonly spec: DemandSpec;
  readonly normalisation: Normalisation;
  /** Problems in the export (bad lines, unknown products, gaps). */
  readonly issues: readonly SalesIssue[];
  /** The model's metadata (task, round, final) when it has it. */
  readonly info: Readonly<Record<string, unknown>>;
  /** The forecast used: the shop's own choice (null: the shared model) and one line saying which and why. */
  readonly used: { readonly choice: PersonalChoice | null; readonly line: string };
}

const RECENT_DAYS = 28;

export async function forecastShop(input: ForecastInput): Promise<Forecast> {
  if (!Number.isInteger(input.days) || input.days < 1 || input.days > MAX_FORECAST_DAYS) {
    throw new RangeError(`--days: expected an integer in [1, ${MAX_FORECAST_DAYS}], got ${input.days}`);
  }
  const spec = await readSpec(input.modelDir);
  const norm = await loadNormalisation(input.modelDir);
  if (norm.products.join('\n') !== spec.products.join('\n')) {
    throw new Error(`${input.modelDir}: normalisation.json and spec.json list different products; the folder mixes two tasks' files: delete it and let the client save the model again`);
  }
  const table = parseSalesCsv(input.sales.text, { ...norm.csv, source: input.sales.source });
  const sales = shopSales(table, spec);
  const global = await loadModel(input.modelDir);
  const loaded: { model: LayersModel; share: number }[] = [];
  try {
    const info = modelInfo(global);
    const choice = await readPersonalChoice(input.modelDir);
    let used: Forecast['used'];
    // With a body-federated task the saved "global" model is the shared body with this shop's own output layer (trainer.ts).
    const shared = spec.federated === 'body' ? 'the shared model (shared body, your own output layer)' : 'the shared model';
    if (choice === null) {
      used = { choice: null, line: `${shared} (no choice of your own saved yet: it is made when a task ends)` };
      loaded.push({ model: global, share: 1 });
    } else if (choice.taskId !== info['taskId'] || choice.round !== info['round']) {
      used = { choice: null, line: `${shared} (the saved choice belongs to task ${choice.taskId} round ${choice.round}, not to this model)` };
      loaded.push({ model: global, share: 1 });
    } else {
      used = { choice, line: describeChoice(choice) };
      for (const part of personalParts(choice)) {
        loaded.push({ model: part.folder === '.' ? global : await loadModel(join(input.modelDir, part.folder)), share: part.share });
      }
    }
    return { ...predict(loaded, spec, norm, sales.data, input.days), spec, normalisation: norm, issues: [...table.issues, ...sales.issues], info, used };
  } finally {
    global.dispose();
    for (const l of loaded) if (l.model !== global) l.model.dispose();
  }
}

async function readSpec(dir: string): Promise<DemandSpec> {
  const file = join(dir, SPEC_FILE);
  let u: unknown;
  try {
    u = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message} (is ${dir} a demand model folder saved by tally client or tally export?)`);
  }
  return parseDemandSpec(u, file);
}

function modelInfo(model: LayersModel): Readonly<Record<string, unknown>> {
  const meta = model.getUserDefinedMetadata() as { tally?: Record<string, unknown> } | undefined;
  return meta?.tally ?? {};
}

function predict(models: readonly { readonly model: LayersModel; readonly share: number }[], spec: DemandSpec, norm: Normalisation, history: SalesData, days: number): Pick<Forecast, 'dates' | 'products'> {
  const shop = history.shops[0]!;
  const D = history.dates.length;
  const P = spec.products.length;
  const total = D + days;
  const calendar = buildCalendar(history.dates[0]!, total, spec.holidays);
  const units = shop.units.map((u) => {
    const a = new Int32Array(total);
    a.set(u);
    return a;
  });
  const price = shop.price.map((pz) => {
    const a = new Float32Array(total);
    a.set(pz);
    a.fill(pz[D - 1]!, D);
    return a;
  });
  const promo = shop.promo.map((pm) => {
    const a = new Uint8Array(total);
    a.set(pm);
    return a;
  });
  const data: SalesData = { ...calendar, products: spec.products, shops: [{ id: shop.id, firstDay: 0, units, price, promo }] };
  const scale = Float32Array.from(norm.scale);
  const refPrice = Float64Array.from(norm.refPrice);
  const inputs = BASE_FEATURES + data.products.length;
  const ctx = { data, shop: data.shops[0]!, scale, refPrice, inputs };
  const out = Array.from({ length: P }, () => new Array<number>(days).fill(0));
  for (let h = 0; h < days; h++) {
    const t = D + h;
    const rows = buildSplit(ctx, t, t + 1);
    const ys = models.map((m) => ({ y: predictRows(m.model, rows.x, inputs, 1), share: m.share }));
    for (let p = 0; p < P; p++) {
      // Σ share · forecast in units (each model's forecast clipped at 0, as in the simulation's blend).
      const v = ys.reduce((acc, m) => acc + m.share * Math.max(0, m.y[p]!) * scale[p]!, 0);
      out[p]![h] = v;
      units[p]![t] = Math.round(v);
    }
  }
  const from = Math.max(0, D - RECENT_DAYS);
  const products: ProductForecast[] = [];
  for (let p = 0; p < P; p++) {
    if (norm.carried[p] !== true) continue;
    products.push({
      product: spec.products[p]!,
      recentDates: history.dates.slice(from, D),
      recent: Array.from(shop.units[p]!.subarray(from, D)),
      forecast: out[p]!,
    });
  }
  const last = isoDay(history.dates[D - 1]!)!;
  return { dates: Array.from({ length: days }, (_, h) => isoOf(last + 1 + h)), products };
}

/** The forecast as CSV: `date,product,units`, units with one decimal. */
export function forecastCsv(f: Pick<Forecast, 'dates' | 'products'>): string {
  const lines = ['date,product,units'];
  f.dates.forEach((d, h) => {
    for (const p of f.products) lines.push(`${d},${csvField(p.product)},${p.forecast[h]!.toFixed(1)}`);
  });
  return `${lines.join('\n')}\n`;
}

/** A fixed-width table, one row per day, one column per product. */
export function forecastTable(f: Pick<Forecast, 'dates' | 'products'>): string {
  const head = ['date', ...f.products.map((p) => p.product)];
  const rows = f.dates.map((d, h) => [d, ...f.products.map((p) => p.forecast[h]!.toFixed(1))]);
  const widths = head.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
