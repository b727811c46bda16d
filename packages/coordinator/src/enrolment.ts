/**
 * The enrolment file: which identity keys may join, and the stable id each has.
 *
 * ```json
 * { "clients": [ { "id": 1, "name": "shop-a", "publicKey": "<64 hex chars: Ed25519 public key>" } ] }
 * ```
 *
 * - `id`: integer in [1, 2^31], unique. It is the client's Shamir evaluation point
 *   and its name in logs and the audit log, so it must never be reused for another party.
 * - `name`: 1-128 printable ASCII characters (shown in logs and GET /status).
 * - `publicKey`: the client's long-term Ed25519 public key, 32 bytes as 64 hex
 *   characters (either case), unique.
 */
import { readFile } from 'node:fs/promises';
import { fromHex, toHex } from '@tally/secagg';
import { MAX_CLIENT_ID } from '@tally/wire';
import { ConfigError, at, expectArray, expectInt, expectObject, expectString } from './_assert.ts';

export interface EnrolledClient {
  readonly id: number;
  readonly name: string;
  readonly publicKey: Uint8Array;
}

export interface Enrolment {
  readonly clients: readonly EnrolledClient[];
  byId(id: number): EnrolledClient | undefined;
  byKey(publicKey: Uint8Array): EnrolledClient | undefined;
}

/** Largest enrolment accepted: a resource bound, not a protocol one. */
export const MAX_ENROLLED = 100_000;

const NAME = /^[\x20-\x7e]{1,128}$/;
const KEY_HEX = /^[0-9a-fA-F]{64}$/;

/** Validates a parsed enrolment file. Messages start with `source: clients[i].field`. */
export function parseEnrolment(json: unknown, source = 'enrolment'): Enrolment {
  try {
    const root = expectObject(json, '', ['clients']);
    const list = expectArray(root['clients'], 'clients', 1, MAX_ENROLLED);
    const byId = new Map<number, EnrolledClient>();
    const byKey = new Map<string, EnrolledClient>();
    const clients = list.map((u, i) => {
      const p = at('clients', i);
      const o = expectObject(u, p, ['id', 'name', 'publicKey']);
      const id = expectInt(o['id'], at(p, 'id'), 1, MAX_CLIENT_ID);
      const name = expectString(o['name'], at(p, 'name'), NAME, '1-128 printable ASCII characters');
      const hex = expectString(o['publicKey'], at(p, 'publicKey'), KEY_HEX, '64 hex characters (an Ed25519 public key)').toLowerCase();
      const first = byId.get(id);
      if (first) throw new ConfigError(at(p, 'id'), `expected a unique id, got ${id} again (also ${JSON.stringify(first.name)})`);
      const same = byKey.get(hex);
      if (same) throw new ConfigError(at(p, 'publicKey'), `expected a unique key, got the key of id ${same.id} (${JSON.stringify(same.name)}) again`);
      const client: EnrolledClient = Object.freeze({ id, name, publicKey: fromHex(hex) });
      byId.set(id, client);
      byKey.set(hex, client);
      return client;
    });
    return Object.freeze({
      clients: Object.freeze(clients),
      byId: (id: number) => byId.get(id),
      byKey: (publicKey: Uint8Array) => byKey.get(toHex(publicKey)),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.field, err.reason, { cause: err, source });
    throw err;
  }
}

/** Reads and validates the enrolment file at `path`. */
export async function loadEnrolment(path: string): Promise<Enrolment> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('enrolment', `cannot read the enrolment file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('', `not valid JSON: ${(err as Error).message}`, { cause: err, source: path });
  }
  return parseEnrolment(json, path);
}
