/**
 * Identity key files, as written by `tally keygen`:
 *
 *   { "publicKey": "<64 hex chars>", "secretKey": "<64 hex chars>" }
 *
 * The secret key is the 32-byte Ed25519 seed (RFC 8032 §5.1.5). Whoever holds the
 * file can act as the shop, so it is created with mode 0600 and never overwritten
 * unless asked.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fromHex, signMessage, toHex, utf8, verifySignature, type KeyPair } from '@tally/secagg';

const HEX32 = /^[0-9a-fA-F]{64}$/;

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

export function keyFileJson(pair: KeyPair): string {
  return `${JSON.stringify({ publicKey: toHex(pair.publicKey), secretKey: toHex(pair.secretKey) }, null, 2)}\n`;
}

/**
 * Writes `pair` to `path` with mode 0600. Without `force` an existing file is
 * left alone (KeyFileError). With it, the new file replaces the old one in one
 * rename, so a crash never leaves a half-written key.
 */
export async function writeKeyFile(path: string, pair: KeyPair, force: boolean): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const data = keyFileJson(pair);
  if (!force) {
    let fh;
    try {
      fh = await open(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new KeyFileError(`refusing to overwrite ${path}: it exists and may hold an enrolled key. Pass --force to replace it, or choose another --out`);
      }
      throw err;
    }
    try {
      await fh.writeFile(data);
      await fh.chmod(0o600); // in case a umask-free filesystem ignored the mode
    } finally {
      await fh.close();
    }
    return;
  }
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.chmod(0o600);
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await chmod(path, 0o600);
}

export interface LoadedKey {
  readonly pair: KeyPair;
  /** Set when group or others may read the file: the caller should warn. */
  readonly looseMode: number | null;
}

/** Reads and checks a key file: both keys 32 bytes of hex, and the public key belongs to the secret one. */
export async function readKeyFile(path: string): Promise<LoadedKey> {
  let text: string;
  let mode: number;
  try {
    text = await readFile(path, 'utf8');
    mode = (await stat(path)).mode & 0o777;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? `; create one with: tally keygen --out ${path}` : '';
    throw new KeyFileError(`cannot read key file ${path}: ${(err as Error).message}${hint}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new KeyFileError(`key file ${path} is not valid JSON (${(err as Error).message}); expected {"publicKey": hex, "secretKey": hex} as written by tally keygen`);
  }
  const o = json as Record<string, unknown>;
  for (const k of ['publicKey', 'secretKey'] as const) {
    const v = typeof json === 'object' && json !== null ? o[k] : undefined;
    if (typeof v !== 'string' || !HEX32.test(v)) {
      throw new KeyFileError(`key file ${path}: ${k}: expected 64 hex characters, got ${v === undefined ? 'nothing' : typeof v === 'string' ? `${v.length} characters` : typeof v}`);
    }
  }
  const pair: KeyPair = { publicKey: fromHex(o['publicKey'] as string), secretKey: fromHex(o['secretKey'] as string) };
  const probe = utf8('tally key file check');
  if (!verifySignature(signMessage(pair.secretKey, probe), probe, pair.publicKey)) {
    throw new KeyFileError(`key file ${path}: publicKey does not belong to secretKey; the file is damaged: restore it, or make a new key (tally keygen) and enrol it`);
  }
  return { pair, looseMode: (mode & 0o077) !== 0 ? mode : null };
}
