/**
 * Adds a client to a coordinator's enrolment file (`tally keygen --enrol FILE`),
 * the file format of @tally/coordinator:
 *
 *   { "clients": [ { "id": 1, "name": "shop-a", "publicKey": "<hex>" } ] }
 *
 * For hand-run setups where one person plays operator and shops; in production the
 * shop sends its public key (never the key file) to the operator, who enrols it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface EnrolmentEntry {
  readonly id: number;
  readonly name: string;
  readonly publicKey: string;
}

/** 1-128 printable ASCII characters, as the coordinator requires. */
export const CLIENT_NAME = /^[\x20-\x7e]{1,128}$/;

export class EnrolmentFileError extends Error {
  override readonly name = 'EnrolmentFileError';
}

/** Reads the file's entries ([] when it does not exist); refuses a file that is not an enrolment file. */
export async function readEnrolmentEntries(path: string): Promise<EnrolmentEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new EnrolmentFileError(`cannot read enrolment file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EnrolmentFileError(`enrolment file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const clients = (json as { clients?: unknown } | null)?.clients;
  if (!Array.isArray(clients)) throw new EnrolmentFileError(`enrolment file ${path}: expected {"clients": [...]}`);
  return clients.map((c: unknown, i) => {
    const e = c as Partial<EnrolmentEntry> | null;
    if (typeof e?.id !== 'number' || typeof e.name !== 'string' || typeof e.publicKey !== 'string') {
      throw new EnrolmentFileError(`enrolment file ${path}: clients[${i}]: expected {id, name, publicKey}`);
    }
    return { id: e.id, name: e.name, publicKey: e.publicKey };
  });
}

/**
 * The entry `name`/`publicKey` would get in `entries`: the next free id. Refuses
 * a name or key already there (ids are never reused for another party).
 */
export function nextEntry(entries: readonly EnrolmentEntry[], name: string, publicKey: string, path: string): EnrolmentEntry {
  const key = publicKey.toLowerCase();
  const sameKey = entries.find((e) => e.publicKey.toLowerCase() === key);
  if (sameKey) throw new EnrolmentFileError(`${path} already enrols this key as id ${sameKey.id} (${sameKey.name})`);
  const sameName = entries.find((e) => e.name === name);
  if (sameName) throw new EnrolmentFileError(`${path} already has a client named ${JSON.stringify(name)} (id ${sameName.id}): pass another --name`);
  const id = entries.reduce((m, e) => Math.max(m, e.id), 0) + 1;
  return { id, name, publicKey: key };
}

/** Writes `entries` atomically (temp file + rename). */
export async function writeEnrolmentEntries(path: string, entries: readonly EnrolmentEntry[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const body = `{\n  "clients": [\n${entries.map((e) => `    ${JSON.stringify(e)}`).join(',\n')}\n  ]\n}\n`;
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, body, { flag: 'wx' });
  await rename(tmp, path);
}
