/**
 * A shop's normalisation: per product, the mean daily units m_p and the reference
 * price of the training period (features.ts). Per shop and private: it is saved
 * beside the shop's copy of the model (`normalisation.json` in its modelDir) and
 * never sent anywhere. Forecasts need it to turn the model's relative demand back
 * into units.
 *
 *   { "format": "tally-demand-normalisation/1", "source": "data/sales.csv",
 *     "firstDate": "2024-01-01", "lastDate": "2024-06-30",
 *     "products": [...], "scale": [...], "refPrice": [...], "carried": [true, ...],
 *     "csv": { "columns": { "date": "Datum", ... }, "delimiter": ";", "dateFormat": "DD.MM.YYYY" } }
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DATE_FORMATS, DELIMITERS, type DateFormat, type Delimiter, type SalesColumns } from './sales-csv.ts';

export const NORMALISATION_FILE = 'normalisation.json';
export const NORMALISATION_FORMAT = 'tally-demand-normalisation/1';

export interface Normalisation {
  readonly source: string;
  readonly firstDate: string;
  readonly lastDate: string;
  readonly products: readonly string[];
  readonly scale: readonly number[];
  readonly refPrice: readonly number[];
  readonly carried: readonly boolean[];
  /** How to read this shop's export again (for `tally forecast`): not secret, just the shop's column mapping. */
  readonly csv: { readonly columns: SalesColumns; readonly delimiter: Delimiter; readonly dateFormat: DateFormat };
}

export async function saveNormalisation(dir: string, n: Normalisation): Promise<void> {
  await writeFile(join(dir, NORMALISATION_FILE), `${JSON.stringify({ format: NORMALISATION_FORMAT, ...n }, null, 2)}\n`, { mode: 0o600 });
}

/** Reads and checks `dir/normalisation.json`. Throws Error naming the file and the field. */
export async function loadNormalisation(dir: string): Promise<Normalisation> {
  const file = join(dir, NORMALISATION_FILE);
  let u: Record<string, unknown>;
  try {
    u = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message} (a shop's model folder has it once its client has received a model)`);
  }
  if (u['format'] !== NORMALISATION_FORMAT) throw new Error(`${file}: expected format ${NORMALISATION_FORMAT}, got ${JSON.stringify(u['format'])}`);
  const products = u['products'];
  if (!Array.isArray(products) || !products.every((p) => typeof p === 'string')) throw new Error(`${file}: products: expected a list of names`);
  const nums = (k: string, min: number): number[] => {
    const v = u[k];
    if (!Array.isArray(v) || v.length !== products.length || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= min)) {
      throw new Error(`${file}: ${k}: expected ${products.length} numbers ≥ ${min}`);
    }
    return v as number[];
  };
  const carried = u['carried'];
  if (!Array.isArray(carried) || carried.length !== products.length || !carried.every((c) => typeof c === 'boolean')) throw new Error(`${file}: carried: expected ${products.length} booleans`);
  const str = (k: string): string => {
    const v = u[k];
    if (typeof v !== 'string') throw new Error(`${file}: ${k}: expected a string`);
    return v;
  };
  const csv = u['csv'] as Record<string, unknown> | undefined;
  const cols = csv?.['columns'] as Record<string, unknown> | undefined;
  const colOk = (k: string, optional: boolean): boolean => (optional && cols?.[k] === undefined) || typeof cols?.[k] === 'string';
  if (
    csv === undefined ||
    !DELIMITERS.includes(csv['delimiter'] as Delimiter) ||
    !DATE_FORMATS.includes(csv['dateFormat'] as DateFormat) ||
    !['date', 'product', 'units'].every((k) => colOk(k, false)) ||
    !['price', 'promo'].every((k) => colOk(k, true))
  ) {
    throw new Error(`${file}: csv: expected { columns: { date, product, units, price?, promo? }, delimiter, dateFormat }`);
  }
  return {
    csv: { columns: cols as unknown as SalesColumns, delimiter: csv['delimiter'] as Delimiter, dateFormat: csv['dateFormat'] as DateFormat },
    source: str('source'), firstDate: str('firstDate'), lastDate: str('lastDate'), products: products as string[], scale: nums('scale', 0), refPrice: nums('refPrice', 0), carried: carried as boolean[] };
}
