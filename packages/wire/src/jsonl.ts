/**
 * Append-only JSON Lines files, as both sides keep them: the coordinator's audit log
 * and a shop's privacy ledger. Each record is one line, appended and fsynced whole, so
 * a crash can tear only the last line. Here for want of a package that client and
 * coordinator share other than wire and secagg.
 */
import { readTextIfExists } from './text-file.ts';

export interface JsonLines<T> {
  readonly items: T[];
  /** The last line was incomplete and was skipped (a crash during an append). */
  readonly torn: boolean;
}

/**
 * Every record of the file at `path`, each checked by `parse(line, "path:lineNo")`. A
 * missing file has none. The text after the last newline is either nothing (a clean
 * end) or a torn append: skipped with `torn: true`, unless it parses (a complete record
 * whose newline was lost). A bad line before it throws whatever `parse` throws.
 */
export async function readJsonLines<T>(path: string, parse: (line: string, where: string) => T): Promise<JsonLines<T>> {
  const text = await readTextIfExists(path);
  if (text === null) return { items: [], torn: false };
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const items: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() !== '') items.push(parse(line, `${path}:${i + 1}`));
  });
  let torn = false;
  if (tail.trim() !== '') {
    try {
      items.push(parse(tail, `${path}:${lines.length + 1}`));
    } catch {
      torn = true;
    }
  }
  return { items, torn };
}
