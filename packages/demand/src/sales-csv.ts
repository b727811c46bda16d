/**
 * A shop's sales export, as a till writes it: CSV with a header row, one line per
 * (day, product) or per sale, in any column order and with any column names. The
 * config maps the columns the model needs (date, product, units; price and promo if
 * the till has them). Parsed with csv-parse (RFC 4180 quoting); the delimiter is
 * detected from the header line or set. Lines that cannot be used are reported
 * with their line numbers and skipped; what is missing altogether (a mapped column,
 * any usable line) is an error.
 *
 * Dates: YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY or MM/DD/YYYY (the last two are
 * ambiguous, so only when set); "auto" takes the first two. Numbers may use a
 * decimal comma when the delimiter is not a comma ("2,49" in a `;` file).
 */
import { parse } from 'csv-parse/sync';
import { isoDay } from './calendar.ts';

export const DELIMITERS = [',', ';', '\t', '|'] as const;
export type Delimiter = (typeof DELIMITERS)[number];
export const DATE_FORMATS = ['auto', 'YYYY-MM-DD', 'DD.MM.YYYY', 'DD/MM/YYYY', 'MM/DD/YYYY'] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

export interface SalesColumns {
  readonly date: string;
  readonly product: string;
  readonly units: string;
  readonly price?: string;
  readonly promo?: string;
}

export interface SalesCsvOptions {
  readonly columns: SalesColumns;
  /** Default 'auto': the most frequent of DELIMITERS in the header line. */
  readonly delimiter?: Delimiter | 'auto';
  /** Default 'auto'. */
  readonly dateFormat?: DateFormat;
  /** For messages: the file's name. */
  readonly source: string;
}

export const ISSUE_KINDS = ['bad-row', 'unknown-product', 'gap'] as const;
export type IssueKind = (typeof ISSUE_KINDS)[number];

/** One problem with the export, located by line (1 = the header). */
export interface SalesIssue {
  readonly kind: IssueKind;
  readonly line: number;
  readonly message: string;
}

export interface SalesRecord {
  readonly line: number;
  /** Days since 1970-01-01. */
  readonly day: number;
  readonly product: string;
  readonly units: number;
  readonly price: number | null;
  readonly promo: 0 | 1 | null;
}

export interface SalesTable {
  readonly source: string;
  readonly delimiter: Delimiter;
  /** The date format used ('auto' only when no line had a readable date). */
  readonly dateFormat: DateFormat;
  readonly records: readonly SalesRecord[];
  readonly issues: readonly SalesIssue[];
}

/** The export cannot be used at all; the message says what to change. */
export class SalesCsvError extends Error {
  override readonly name = 'SalesCsvError';
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'y', 'x', 'ja', 'j', 'oui', 'si', 'sí']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'n', '', 'nein', 'non']);

/** Reads the export. Throws SalesCsvError when nothing usable is in it. */
export function parseSalesCsv(text: string, options: SalesCsvOptions): SalesTable {
  const { source, columns } = options;
  const body = text.replace(/^\uFEFF/, '');
  const headerLine = body.split(/\r?\n/, 1)[0] ?? '';
  if (headerLine.trim() === '') throw new SalesCsvError(`${source}: expected a header row on line 1, got an empty line`);
  const delimiter = options.delimiter === undefined || options.delimiter === 'auto' ? detectDelimiter(headerLine, source) : options.delimiter;
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(body, { delimiter, info: true, relax_column_count: true, skip_empty_lines: true, trim: true }) as typeof rows;
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new SalesCsvError(`${source}: not readable as CSV${e.lines === undefined ? '' : ` at line ${e.lines}`}: ${e.message}`);
  }
  const header = rows[0]?.record ?? [];
  const index = (role: keyof SalesColumns): number | null => {
    const name = columns[role];
    if (name === undefined) return null;
    const i = header.indexOf(name);
    if (i < 0) {
      throw new SalesCsvError(
        `${source}: no column ${JSON.stringify(name)} (trainer.columns.${role}); the header (delimiter ${JSON.stringify(delimiter)}) has ${header.map((h) => JSON.stringify(h)).join(', ')}`,
      );
    }
    return i;
  };
  const at = { date: index('date')!, product: index('product')!, units: index('units')!, price: index('price'), promo: index('promo') };
  const decimalComma = delimiter !== ',';
  let format = options.dateFormat ?? 'auto';
  const records: SalesRecord[] = [];
  const issues: SalesIssue[] = [];
  for (const { record, info } of rows.slice(1)) {
    const line = info.lines;
    const bad = (message: string): void => {
      issues.push({ kind: 'bad-row', line, message });
    };
    const cell = (i: number): string | undefined => record[i];
    const rawDate = cell(at.date);
    const rawProduct = cell(at.product);
    const rawUnits = cell(at.units);
    if (rawDate === undefined || rawProduct === undefined || rawUnits === undefined) {
      bad(`${record.length} fields, too few for the mapped columns (the header has ${header.length})`);
      continue;
    }
    if (format === 'auto') format = guessDateFormat(rawDate) ?? 'auto';
    const day = parseDate(rawDate, format);
    if (day === null) {
      bad(`date ${JSON.stringify(rawDate)} is not ${format === 'auto' ? 'YYYY-MM-DD or DD.MM.YYYY' : format} (set trainer.dateFormat)`);
      continue;
    }
    if (rawProduct === '') {
      bad('empty product');
      continue;
    }
    const units = parseNumber(rawUnits, decimalComma);
    if (units === null || units < 0) {
      bad(`units ${JSON.stringify(rawUnits)} is not a number ≥ 0`);
      continue;
    }
    let price: number | null = null;
    if (at.price !== null) {
      const raw = cell(at.price) ?? '';
      if (raw !== '') {
        price = parseNumber(raw.replace(/^[€$£]\s*|\s*[€$£]$/g, ''), decimalComma);
        if (price === null || price <= 0) {
          bad(`price ${JSON.stringify(raw)} is not a number > 0`);
          continue;
        }
      }
    }
    let promo: 0 | 1 | null = null;
    if (at.promo !== null) {
      const raw = (cell(at.promo) ?? '').toLowerCase();
      if (TRUE_WORDS.has(raw)) promo = 1;
      else if (FALSE_WORDS.has(raw)) promo = 0;
      else {
        bad(`promo ${JSON.stringify(cell(at.promo))} is not a yes/no flag (1/0, true/false, yes/no, x/empty)`);
        continue;
      }
    }
    records.push({ line, day, product: rawProduct, units, price, promo });
  }
  if (records.length === 0) {
    const first = issues[0];
    throw new SalesCsvError(`${source}: no usable sales line${first === undefined ? ' after the header' : `; line ${first.line}: ${first.message}`}`);
  }
  return { source, delimiter, dateFormat: format, records, issues };
}

function detectDelimiter(headerLine: string, source: string): Delimiter {
  let best: Delimiter | null = null;
  let bestCount = 0;
  for (const d of DELIMITERS) {
    const n = headerLine.split(d).length - 1;
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  if (best === null) {
    throw new SalesCsvError(`${source}: the header line has none of the delimiters , ; tab |: set trainer.delimiter, or check that line 1 is the header`);
  }
  return best;
}

function guessDateFormat(s: string): DateFormat | null {
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return 'YYYY-MM-DD';
  if (/^\d{1,2}\.\d{1,2}\.\d{4}$/.test(s)) return 'DD.MM.YYYY';
  return null;
}

/** Days since 1970-01-01, or null. */
export function parseDate(s: string, format: DateFormat): number | null {
  const f = format === 'auto' ? guessDateFormat(s) : format;
  if (f === null || f === 'auto') return null;
  let y: string | undefined;
  let m: string | undefined;
  let d: string | undefined;
  if (f === 'YYYY-MM-DD') [, y, m, d] = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s) ?? [];
  else if (f === 'DD.MM.YYYY') [, d, m, y] = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(s) ?? [];
  else if (f === 'DD/MM/YYYY') [, d, m, y] = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s) ?? [];
  else [, m, d, y] = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s) ?? [];
  if (y === undefined || m === undefined || d === undefined) return null;
  return isoDay(`${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`);
}

function parseNumber(s: string, decimalComma: boolean): number | null {
  const t = decimalComma && /^-?\d+,\d+$/.test(s) ? s.replace(',', '.') : s;
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}
