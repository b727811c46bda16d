/**
 * A numeric CSV reader for a shop's training data: a header row of column names,
 * then rows of numbers separated by commas. Blank lines are skipped. No quoting
 * inside values (a header name may be wrapped in double quotes), no missing
 * values: every error names the file, line and column so the data can be fixed.
 */

export interface NumericTable {
  readonly columns: readonly string[];
  /** Row-major, rows × columns.length. */
  readonly values: Float64Array;
  readonly rows: number;
}

/** Largest CSV read: a resource bound (about 100 MB of text). */
export const MAX_CSV_BYTES = 100 * 1024 * 1024;

export class CsvError extends Error {
  override readonly name = 'CsvError';
}

export function parseNumericCsv(text: string, source: string): NumericTable {
  if (text.length > MAX_CSV_BYTES) throw new CsvError(`${source}: larger than ${MAX_CSV_BYTES} bytes; sample the data down`);
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (i === lines.length) throw new CsvError(`${source}: empty; expected a header row of column names, then rows of numbers`);
  const headerLine = i + 1;
  const columns = lines[i]!.split(',').map((c) => unquote(c.trim()));
  const seen = new Set<string>();
  columns.forEach((c, j) => {
    if (c === '') throw new CsvError(`${source}:${headerLine}: column ${j + 1} has no name`);
    if (seen.has(c)) throw new CsvError(`${source}:${headerLine}: column ${JSON.stringify(c)} appears twice`);
    seen.add(c);
  });
  const width = columns.length;
  const out: number[] = [];
  let rows = 0;
  for (i++; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    if (cells.length !== width) {
      throw new CsvError(`${source}:${i + 1}: expected ${width} values (one per column of the header), got ${cells.length}`);
    }
    cells.forEach((raw, j) => {
      const cell = raw.trim();
      const v = cell === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(v)) {
        const why = cell === '' ? 'an empty value (missing data is not supported: fill or drop the row)' : JSON.stringify(cell.slice(0, 20));
        throw new CsvError(`${source}:${i + 1}: column ${JSON.stringify(columns[j])}: expected a finite number, got ${why}`);
      }
      out.push(v);
    });
    rows++;
  }
  return { columns, values: Float64Array.from(out), rows };
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}
