/**
 * Small asserters for untrusted decoded values. Each takes the value and its field
 * path, returns the value narrowed (byte fields copied into fresh plain
 * Uint8Arrays), or throws a ProtocolError that names the path and says what was
 * expected and what was found. The parse entry points catch these and return
 * them; nothing here is exported from the package.
 */

import { ProtocolError, ProtocolErrorCode } from './errors.ts';
import { MAX_CLIENT_ID } from './messages.ts';
import { MAX_ROUND } from '@tally/secagg';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `body` + `sig` -> `body.sig`; odd keys (from a hostile peer) are quoted and truncated. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (IDENT.test(key) && key.length <= 64) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)}]`;
}

export function isPlainObject(u: unknown): u is Record<string, unknown> {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return false;
  const proto: unknown = Object.getPrototypeOf(u);
  return proto === Object.prototype || proto === null;
}

/** A short, safe description of a value for error messages (never echoes large data). */
export function describe(u: unknown): string {
  if (u === undefined) return 'nothing';
  if (u === null) return 'null';
  switch (typeof u) {
    case 'number':
      return Object.is(u, -0) ? '-0' : String(u);
    case 'bigint':
      return `bigint ${u}`;
    case 'boolean':
      return String(u);
    case 'string':
      return u.length <= 40 ? `string ${JSON.stringify(u)}` : `a string of length ${u.length}`;
    case 'object':
      if (u instanceof Uint8Array) return `${u.length} bytes`;
      if (Array.isArray(u)) return `an array of length ${u.length}`;
      if (isPlainObject(u)) return 'a map';
      return `a ${Object.prototype.toString.call(u).slice(8, -1)}`;
    default:
      return typeof u;
  }
}

export function badField(path: string, message: string): never {
  throw new ProtocolError(ProtocolErrorCode.BadField, message, path);
}

/** Throws BadField: `path: expected <expected>, got <description of found>`. */
export function expected(path: string, what: string, found: unknown): never {
  return badField(path, `expected ${what}, got ${describe(found)}`);
}

export function tooLarge(path: string, what: string, limit: number, found: number): never {
  throw new ProtocolError(ProtocolErrorCode.TooLarge, `expected at most ${limit} ${what}, got ${found}`, path);
}

/**
 * A map whose keys are exactly `required` plus any of `optional`. Unknown keys are
 * refused (a peer that sends fields we ignore is a peer we misunderstand). A
 * missing required key is reported by the field's own asserter, which sees
 * `undefined` and says "got nothing".
 */
export function expectMap(
  u: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (!isPlainObject(u)) expected(path, 'a map', u);
  for (const key of Object.keys(u)) {
    if (!required.includes(key) && !optional.includes(key)) {
      badField(at(path, key), `unexpected field (expected only ${[...required, ...optional].join(', ')})`);
    }
  }
  return u;
}

/** Whether an optional key is present. A present key holding `undefined` is present (and its asserter refuses it). */
export function hasKey(obj: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(obj, key);
}

function copyBytes(u: Uint8Array): Uint8Array {
  // A fresh plain Uint8Array: not a Buffer subclass, not a view into the frame.
  return new Uint8Array(u);
}

/** Exactly `len` bytes (or one of several lengths). */
export function expectBytes(u: unknown, path: string, len: number | readonly number[]): Uint8Array {
  const lens = typeof len === 'number' ? [len] : len;
  const want = `${lens.join(' or ')} bytes`;
  if (!(u instanceof Uint8Array)) expected(path, want, u);
  if (!lens.includes(u.length)) badField(path, `expected ${want}, got ${u.length}`);
  return copyBytes(u);
}

/** Between `min` and `max` bytes; over `max` is TooLarge (a configured limit). */
export function expectBytesUpTo(u: unknown, path: string, min: number, max: number): Uint8Array {
  if (!(u instanceof Uint8Array)) expected(path, `${min} to ${max} bytes`, u);
  if (u.length > max) tooLarge(path, 'bytes', max, u.length);
  if (u.length < min) badField(path, `expected at least ${min} bytes, got ${u.length}`);
  return copyBytes(u);
}

export function expectInt(u: unknown, path: string, min: number, max: number, what?: string): number {
  if (typeof u !== 'number' || !Number.isInteger(u) || u < min || u > max || Object.is(u, -0)) {
    expected(path, what ?? `an integer in [${min}, ${max}]`, u);
  }
  return u;
}

/** An integer count with a configured upper limit: above it is TooLarge, below `min` BadField. */
export function expectCount(u: unknown, path: string, min: number, limit: number, what: string): number {
  if (typeof u !== 'number' || !Number.isSafeInteger(u) || u < min || Object.is(u, -0)) {
    expected(path, `an integer >= ${min}`, u);
  }
  if (u > limit) tooLarge(path, what, limit, u);
  return u;
}

export function expectId(u: unknown, path: string): number {
  return expectInt(u, path, 1, MAX_CLIENT_ID, 'a client id (integer in [1, 2^31])');
}

/** Rounds are u32 in key derivation (secagg MAX_ROUND); the wire takes no larger one. */
export function expectRound(u: unknown, path: string): number {
  return expectInt(u, path, 0, MAX_ROUND, 'a round number (integer in [0, 2^32 - 1])');
}

export function expectBool(u: unknown, path: string): boolean {
  if (typeof u !== 'boolean') expected(path, 'a boolean', u);
  return u;
}

/** A finite number >= min (or > min when `exclusive`). */
export function expectFinite(u: unknown, path: string, min: number, exclusive: boolean): number {
  if (typeof u !== 'number' || !Number.isFinite(u) || (exclusive ? u <= min : u < min)) {
    expected(path, `a finite number ${exclusive ? '>' : '>='} ${min}`, u);
  }
  return u;
}

/** A string of at most `max` UTF-16 code units (over is TooLarge), at least `min`. */
export function expectString(u: unknown, path: string, min: number, max: number): string {
  if (typeof u !== 'string') expected(path, 'a string', u);
  if (u.length > max) tooLarge(path, 'characters', max, u.length);
  if (u.length < min) badField(path, `expected at least ${min} characters, got ${u.length}`);
  return u;
}

export function expectPattern(u: unknown, path: string, pattern: RegExp, what: string): string {
  // Bound before matching so a huge string costs nothing.
  if (typeof u !== 'string' || u.length > 256 || !pattern.test(u)) expected(path, what, u);
  return u;
}

export function expectOneOf<T extends string>(u: unknown, path: string, options: readonly T[]): T {
  if (typeof u !== 'string' || !(options as readonly string[]).includes(u)) {
    expected(path, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`, u);
  }
  return u as T;
}

/** An array of at most `max` entries (over is TooLarge), at least `min`. */
export function expectArray(u: unknown, path: string, min: number, max: number): readonly unknown[] {
  if (!Array.isArray(u)) expected(path, 'an array', u);
  if (u.length > max) tooLarge(path, 'entries', max, u.length);
  if (u.length < min) badField(path, `expected at least ${min} entries, got ${u.length}`);
  return u as readonly unknown[];
}

/** Tracks ids already seen in one list; a repeat is BadField at the repeat's path. */
export class UniqueIds {
  readonly #seen = new Set<number>();
  add(id: number, path: string): number {
    if (this.#seen.has(id)) badField(path, `expected a unique id, got ${id} again`);
    this.#seen.add(id);
    return id;
  }
  has(id: number): boolean {
    return this.#seen.has(id);
  }
  get size(): number {
    return this.#seen.size;
  }
}
