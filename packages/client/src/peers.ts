/**
 * The shop's copy of the enrolment list: which client ids exist and the identity
 * key each was enrolled with. The coordinator's operator publishes its enrolment
 * file to every shop; the node checks each RoundStart roster against it (policy
 * rule `peers`), so that the coordinator cannot slip in keys of its own.
 *
 * The file is the coordinator's enrolment format (packages/coordinator/src/enrolment.ts):
 *
 * ```json
 * { "clients": [ { "id": 1, "name": "shop-a", "publicKey": "<64 hex chars: Ed25519 public key>" } ] }
 * ```
 *
 * Only `id` and `publicKey` are used; other fields (`name`) are not checked, so the
 * operator's file can be published as it is. Ids and keys must be unique, as the
 * coordinator requires: a list where they are not is not one the coordinator runs.
 */
import { fromHex, toHex } from '@tally/secagg';
import { MAX_CLIENT_ID } from '@tally/wire';

/** Largest peer list accepted (the coordinator's MAX_ENROLLED): a resource bound. */
export const MAX_PEERS = 100_000;

const KEY_HEX = /^[0-9a-fA-F]{64}$/;

/** The peer list is wrong; `at` is the path inside the file (`clients[2].publicKey`). */
export class PeerListError extends Error {
  override readonly name = 'PeerListError';
  readonly at: string;
  constructor(at: string, message: string) {
    super(at === '' ? message : `${at}: ${message}`);
    this.at = at;
  }
}

/** Validates a parsed enrolment file; returns enrolled id -> identity public key. Throws PeerListError. */
export function parsePeerList(json: unknown): ReadonlyMap<number, Uint8Array> {
  if (!isObject(json)) throw new PeerListError('', `expected an enrolment file {"clients": [...]}, got ${what(json)}`);
  const list = json['clients'];
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_PEERS) {
    throw new PeerListError('clients', `expected a list of 1 to ${MAX_PEERS} enrolled clients, got ${what(list)}`);
  }
  const byId = new Map<number, Uint8Array>();
  const idOfKey = new Map<string, number>();
  list.forEach((u, i) => {
    const at = `clients[${i}]`;
    if (!isObject(u)) throw new PeerListError(at, `expected an object {id, name, publicKey}, got ${what(u)}`);
    const id = u['id'];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_CLIENT_ID) {
      throw new PeerListError(`${at}.id`, `expected an integer in [1, ${MAX_CLIENT_ID}], got ${what(id)}`);
    }
    const hex = u['publicKey'];
    if (typeof hex !== 'string' || !KEY_HEX.test(hex)) {
      throw new PeerListError(`${at}.publicKey`, `expected 64 hex characters (an Ed25519 public key), got ${what(hex)}`);
    }
    const key = hex.toLowerCase();
    if (byId.has(id)) throw new PeerListError(`${at}.id`, `expected a unique id, got ${id} again`);
    const other = idOfKey.get(key);
    if (other !== undefined) throw new PeerListError(`${at}.publicKey`, `expected a unique key, got the key of id ${other} again`);
    byId.set(id, fromHex(key));
    idOfKey.set(key, id);
  });
  return byId;
}

/** The id `publicKey` is enrolled under in `peers`, or null. */
export function peerIdOf(peers: ReadonlyMap<number, Uint8Array>, publicKey: Uint8Array): number | null {
  const hex = toHex(publicKey);
  for (const [id, key] of peers) if (toHex(key) === hex) return id;
  return null;
}

function isObject(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

function what(u: unknown): string {
  if (u === undefined) return 'nothing';
  if (u === null) return 'null';
  if (Array.isArray(u)) return `a list of ${u.length}`;
  if (typeof u === 'string') return JSON.stringify(u.length > 40 ? `${u.slice(0, 37)}...` : u);
  if (typeof u === 'object') return 'an object';
  return `${typeof u} ${String(u)}`;
}
