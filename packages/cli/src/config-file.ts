/** Reading a JSON config file: every failure is a UsageError that names the file. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from './exit-codes.ts';

export async function readJsonFile(file: string, what: string): Promise<{ json: unknown; baseDir: string; path: string }> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ': no such file; check the path (relative paths are relative to the current directory)' : `: ${(err as Error).message}`;
    throw new UsageError(`cannot read the ${what} ${file}${hint}`);
  }
  try {
    return { json: JSON.parse(text), baseDir: dirname(path), path };
  } catch (err) {
    throw new UsageError(`the ${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Whether `err` is a config validation error (the client's and the coordinator's share the name). */
export function isConfigError(err: unknown): err is Error & { field: string } {
  return err instanceof Error && err.name === 'ConfigError';
}
