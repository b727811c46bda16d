/**
 * The one way Tally reads a state file that may not exist yet (a checkpoint, an audit
 * log, a shop's saved choice or head): its text, or null when there is no file. Any other
 * error (permissions, a folder in its place) is thrown as it is.
 */
import { readFile } from 'node:fs/promises';

export async function readTextIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
