/**
 * Asserters for the coordinator's own untrusted input: the config file and the
 * enrolment file. Each takes a value and its field path and returns the value
 * narrowed, or throws ConfigError naming the path and saying what was expected
 * and what was found: `task.quant.clipNorm: expected a finite number > 0, got string "1"`.
 * Internal to the package.
 */
import { fieldPath, isPlainObject } from '@tally/wire';

/**
 * A config or enrolment file refused at start-up. `field` is the path inside the
 * file; `source` (optional) names the file. The message is `source: field: why`.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string, options?: { cause?: unknown; source?: string }) {
    const where = [options?.source, field].filter((s) => s !== undefined && s !== '').join(': ');
    super(where === '' ? reason : `${where}: ${reason}`, options);
    this.field = field;
    this.reason = reason;
  }
}

/** `task` + `quant` -> `task.quant`; odd keys are quoted and truncated (the wire's rule). */
export const at = fieldPath;
export { isPlainObject };

/** A short description of a value for messages; never echoes large data. */
export function describe(u: unknown): string {
  if (u === undefined) return 'nothing';
  if (u === null) return 'null';
  switch (typeof u) {
    case 'number':
      return Object.is(u, -0) ? '-0' : String(u);
    case 'string':
      return u.length <= 40 ? `string ${JSON.stringify(u)}` : `a string of length ${u.length}`;
    case 'boolean':
      return String(u);
    case 'bigint':
      return `bigint ${u}`;
    case 'object':
      if (Array.isArray(u)) return `an array of length ${u.length}`;
      if (isPlainObject(u)) return 'an object';
      return `a ${Object.prototype.toString.call(u).slice(8, -1)}`;
    default:
      return typeof u;
  }
}

export function expected(path: string, what: string, found: unknown): never {
  throw new ConfigError(path, `expected ${what}, got ${describe(found)}`);
}

/**
 * An object whose keys are among `required` and `optional`; unknown keys are
 * refused (a misspelt option silently ignored is a default silently used). A
 * missing required key is reported by that field's own asserter ("got nothing").
 */
export function expectObject(u: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (!isPlainObject(u)) expected(path, 'an object', u);
  const known = [...required, ...optional];
  for (const key of Object.keys(u)) {
    if (!known.includes(key)) {
      throw new ConfigError(at(path, key), `unknown key; expected only ${known.join(', ')}`);
    }
  }
  return u;
}

/** Present means "not undefined": JSON has no undefined, so only absent keys are skipped. */
export function has(o: Record<string, unknown>, key: string): boolean {
  return o[key] !== undefined;
}

export function expectInt(u: unknown, path: string, min: number, max: number): number {
  if (typeof u !== 'number' || !Number.isSafeInteger(u) || u < min || u > max) expected(path, `an integer in [${min}, ${max}]`, u);
  return u;
}

export function expectPositive(u: unknown, path: string): number {
  if (typeof u !== 'number' || !Number.isFinite(u) || u <= 0) expected(path, 'a finite number > 0', u);
  return u;
}

/** A fraction in [0, 1). */
export function expectRate(u: unknown, path: string): number {
  if (typeof u !== 'number' || !Number.isFinite(u) || u < 0 || u >= 1) expected(path, 'a fraction in [0, 1)', u);
  return u;
}

export function expectBool(u: unknown, path: string): boolean {
  if (typeof u !== 'boolean') expected(path, 'true or false', u);
  return u;
}

export function expectString(u: unknown, path: string, pattern: RegExp, what: string): string {
  if (typeof u !== 'string' || !pattern.test(u)) expected(path, what, u);
  return u;
}

export function expectOneOf<T extends string>(u: unknown, path: string, options: readonly T[]): T {
  if (typeof u !== 'string' || !(options as readonly string[]).includes(u)) {
    expected(path, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`, u);
  }
  return u as T;
}

export function expectArray(u: unknown, path: string, min: number, max: number): readonly unknown[] {
  if (!Array.isArray(u)) expected(path, `an array of ${min} to ${max} entries`, u);
  if (u.length < min || u.length > max) throw new ConfigError(path, `expected ${min} to ${max} entries, got ${u.length}`);
  return u;
}

/** Re-throws an error from another package's validator (secagg, strategies) as a ConfigError at `path`. */
export function rethrowAt(path: string, err: unknown): never {
  if (err instanceof ConfigError) throw err;
  const message = err instanceof Error ? err.message : String(err);
  throw new ConfigError(path, message, { cause: err });
}
