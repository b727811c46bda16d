/**
 * The console token: one secret per data folder that opens the operator console,
 * `GET /status`, the console's API and `/metrics`. It lives in
 * `<dataDir>/console-token` (mode 0600, like an SSH key) so that whoever can read the
 * coordinator's own files can open the console, and nobody else; `tally console-token`
 * prints it. 32 bytes from the OS CSPRNG, base64url: nothing to guess.
 *
 * Presented as `Authorization: Bearer <token>`; compared in constant time over
 * SHA-256 digests (so neither the length nor a prefix leaks through timing).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const CONSOLE_TOKEN_FILE = 'console-token';
/** Token bytes before base64url (256 bits). */
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,128}$/;

export interface ConsoleToken {
  readonly token: string;
  /** Absolute path of the file it is kept in. */
  readonly file: string;
  /** The file was readable by group or others and has been set to 0600. */
  readonly tightened: boolean;
}

export function consoleTokenPath(dataDir: string): string {
  return join(dataDir, CONSOLE_TOKEN_FILE);
}

/** Reads the token of `dataDir`; throws (ENOENT included) when there is none or it is malformed. */
export async function readConsoleToken(dataDir: string): Promise<string> {
  const file = consoleTokenPath(dataDir);
  const token = (await readFile(file, 'utf8')).trim();
  if (!TOKEN_PATTERN.test(token)) throw new Error(`${file}: not a console token (expected 32-128 base64url characters); delete it and restart the coordinator to make a new one`);
  return token;
}

/** The token of `dataDir`, made (mode 0600) when there is none yet. A file readable by others is tightened to 0600. */
export async function ensureConsoleToken(dataDir: string): Promise<ConsoleToken> {
  await mkdir(dataDir, { recursive: true });
  const file = consoleTokenPath(dataDir);
  try {
    const fh = await open(file, 'wx', 0o600);
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    try {
      await fh.write(`${token}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { token, file, tightened: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const token = await readConsoleToken(dataDir);
  const mode = (await stat(file)).mode & 0o777;
  const tightened = (mode & 0o077) !== 0;
  if (tightened) await chmod(file, 0o600);
  return { token, file, tightened };
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** True when the `Authorization` header value carries `token` (`Bearer <token>`). Constant time in the candidate. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (typeof header !== 'string') return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m === null) return false;
  return timingSafeEqual(digest(m[1]!), digest(token));
}
