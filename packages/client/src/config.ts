/**
 * The client's configuration file, validated field by field. Every error names
 * the field (`policy.minCohort: expected ...`) so that an operator can fix the
 * file without reading code. Unknown fields are refused: a misspelt policy field
 * must not silently fall back to something the shop did not choose.
 *
 *   {
 *     "coordinator": "ws://127.0.0.1:7800",        ws:// or wss:// URL
 *     "keyFile": "keys/shop-a.json",               from `tally keygen`; relative to the config file
 *     "ca": "coordinator-ca.pem",                  optional: PEM CA for a wss:// coordinator
 *     "peers": "enrolment.json",                   optional (strongly advised): the enrolment list the
 *                                                  operator published; relative to the config file
 *     "policy": { "tasks": ["demand"], "minCohort": 3, "minThreshold": 2, "maxRounds": 100,
 *                 "allowPassive": false,           optional (default false)
 *                 "graph": "complete",             optional: "complete" (default) or "harary" to allow SecAgg+
 *                 "minMargin": 1,                  optional: least 2t − k accepted (default 1)
 *                 "maxAttemptsPerRound": 3,        optional: attempts joined per round (default 3)
 *                 "maxEpsilon": 8, "delta": 1e-6,  optional: the shop's lifetime DP budget (ε at δ, across tasks);
 *                                                  a DP round past it is refused (delta required with maxEpsilon)
 *                 "requireDp": false },            optional: refuse tasks without differential privacy (default false)
 *     "reconnect": { "initialMs": 500, "maxMs": 30000 },   optional (these are the defaults)
 *     "stateDir": ".tally-state/shop-a",           optional: where the node keeps its participation record and privacy ledger;
 *                                                  relative to the config file (the CLI's default:
 *                                                  .tally-state/<config file name> beside the config)
 *     "trainer": { ... }                           optional here; passed through to the CLI
 *     "modelDir": "model",                         optional: where received global models are saved
 *   }
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TASK_ID_PATTERN } from '@tally/wire';
import { DEFAULT_RECONNECT, type ReconnectOptions } from './backoff.ts';
import { PeerListError, parsePeerList } from './peers.ts';
import type { Policy } from './policy.ts';

/** A configuration file is wrong; `field` is the dotted path of the offending field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(field === '' ? message : `${field}: ${message}`);
    this.field = field;
  }
}

export interface ClientConfig {
  readonly coordinator: string;
  /** Absolute path of the identity key file. */
  readonly keyFile: string;
  /** Absolute path of a PEM CA bundle for wss://, when set. */
  readonly ca?: string;
  /** Absolute path of the node's state directory (`stateDir`: its participation record and privacy ledger), when set. */
  readonly stateDir?: string;
  /** The peer list (`peers`), read and validated; absent when the config names none. */
  readonly peers?: PeerList;
  readonly policy: Policy;
  readonly reconnect: ReconnectOptions;
  /** Absolute path of the folder where received global models are saved (the CLI's format per trainer kind). */
  readonly modelDir?: string;
  /** The `trainer` section, unvalidated: the composition root knows the trainer kinds. */
  readonly trainer?: Readonly<Record<string, unknown>>;
}

export interface PeerList {
  /** Absolute path of the file it was read from. */
  readonly file: string;
  /** Enrolled client id -> identity public key (ClientNodeOptions.enrolled). */
  readonly enrolled: ReadonlyMap<number, Uint8Array>;
}

export interface ParseClientConfigOptions {
  /** Reads a file named by the config (the peer list) as UTF-8. Default: readFileSync. */
  readonly readFile?: (path: string) => string;
}

/** Largest policy.maxRounds and reconnect delay accepted (sanity bounds, not tuning). */
const MAX_ROUNDS = 1_000_000;
const MAX_DELAY_MS = 24 * 3600 * 1000;

/**
 * Validates a parsed JSON client config. Relative paths resolve against `baseDir`
 * (the config file's directory). The peer list, when named, is read and validated
 * here too, so that a bad one stops the client before it connects. Throws ConfigError.
 */
export function parseClientConfig(json: unknown, baseDir: string, options: ParseClientConfigOptions = {}): ClientConfig {
  const root = object(json, '', ['coordinator', 'keyFile', 'policy'], ['ca', 'peers', 'reconnect', 'trainer', 'stateDir', 'modelDir']);
  const coordinator = wsUrl(root['coordinator'], 'coordinator');
  const keyFile = resolve(baseDir, path(root['keyFile'], 'keyFile'));
  const ca = root['ca'] === undefined ? undefined : resolve(baseDir, path(root['ca'], 'ca'));
  if (ca !== undefined && !coordinator.startsWith('wss:')) {
    throw new ConfigError('ca', `only applies to a wss:// coordinator, but coordinator is ${coordinator}: remove ca, or use wss://`);
  }
  const stateDir = root['stateDir'] === undefined ? undefined : resolve(baseDir, path(root['stateDir'], 'stateDir'));
  const policy = parsePolicy(root['policy'], 'policy');
  const reconnect = root['reconnect'] === undefined ? DEFAULT_RECONNECT : parseReconnect(root['reconnect'], 'reconnect');
  const trainer = root['trainer'] === undefined ? undefined : object(root['trainer'], 'trainer');
  const modelDir = root['modelDir'] === undefined ? undefined : resolve(baseDir, path(root['modelDir'], 'modelDir'));
  // Last: the only check that reads a file.
  const peers = root['peers'] === undefined ? undefined : readPeers(resolve(baseDir, path(root['peers'], 'peers')), options.readFile ?? readUtf8);
  return {
    coordinator,
    keyFile,
    ...(ca === undefined ? {} : { ca }),
    ...(peers === undefined ? {} : { peers }),
    ...(stateDir === undefined ? {} : { stateDir }),
    policy,
    reconnect,
    ...(trainer === undefined ? {} : { trainer }),
    ...(modelDir === undefined ? {} : { modelDir }),
  };
}

function readUtf8(file: string): string {
  return readFileSync(file, 'utf8');
}

/** Reads and validates the peer list at `file`; every error is a ConfigError on `peers` naming the file. */
function readPeers(file: string, read: (path: string) => string): PeerList {
  let text: string;
  try {
    text = read(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? 'no such file (ask the coordinator operator for the enrolment list; the path is relative to the config file)' : errText(err);
    throw new ConfigError('peers', `cannot read the peer list ${file}: ${hint}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('peers', `the peer list ${file} is not valid JSON: ${errText(err)}`);
  }
  try {
    return { file, enrolled: parsePeerList(json) };
  } catch (err) {
    if (err instanceof PeerListError) throw new ConfigError('peers', `${file}: ${err.message}`);
    throw err;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function parsePolicy(u: unknown, field: string): Policy {
  const m = object(u, field, ['tasks', 'minCohort', 'minThreshold', 'maxRounds'], ['allowPassive', 'graph', 'minMargin', 'maxAttemptsPerRound', 'maxEpsilon', 'delta', 'requireDp']);
  const graph = m['graph'];
  if (graph !== undefined && graph !== 'complete' && graph !== 'harary') {
    throw new ConfigError(`${field}.graph`, `expected "complete" (only the complete graph) or "harary" (also allow SecAgg+'s sparse graph), got ${describe(graph)}`);
  }
  const tasksField = `${field}.tasks`;
  const tasks = m['tasks'];
  if (!Array.isArray(tasks) || tasks.length === 0) {
    throw new ConfigError(tasksField, `expected a non-empty list of task ids this client consents to, got ${describe(tasks)}`);
  }
  tasks.forEach((t, i) => {
    if (typeof t !== 'string' || !TASK_ID_PATTERN.test(t)) {
      throw new ConfigError(`${tasksField}[${i}]`, `expected a task id (1-128 of [A-Za-z0-9._-], starting alphanumeric), got ${describe(t)}`);
    }
  });
  return {
    tasks: [...(tasks as string[])],
    minCohort: integer(m['minCohort'], `${field}.minCohort`, 2, 1000, 'a cohort of 1 would hand the coordinator your update in the clear'),
    minThreshold: integer(m['minThreshold'], `${field}.minThreshold`, 1, 1000),
    maxRounds: integer(m['maxRounds'], `${field}.maxRounds`, 1, MAX_ROUNDS),
    allowPassive: m['allowPassive'] === undefined ? false : boolean(m['allowPassive'], `${field}.allowPassive`),
    ...(graph === undefined ? {} : { graph }),
    ...(m['minMargin'] === undefined ? {} : { minMargin: integer(m['minMargin'], `${field}.minMargin`, 1, 1000) }),
    ...(m['maxAttemptsPerRound'] === undefined ? {} : { maxAttemptsPerRound: integer(m['maxAttemptsPerRound'], `${field}.maxAttemptsPerRound`, 1, 1000) }),
    ...dpPolicy(m, field),
  };
}

/** policy.maxEpsilon, policy.delta, policy.requireDp (dp-consent.ts). */
function dpPolicy(m: Record<string, unknown>, field: string): Pick<Policy, 'maxEpsilon' | 'delta' | 'requireDp'> {
  const maxEpsilon = m['maxEpsilon'];
  const delta = m['delta'];
  if (maxEpsilon !== undefined && (typeof maxEpsilon !== 'number' || !Number.isFinite(maxEpsilon) || maxEpsilon <= 0)) {
    throw new ConfigError(`${field}.maxEpsilon`, `expected a finite number > 0 (the most ε this shop spends over all tasks), got ${describe(maxEpsilon)}`);
  }
  if (delta !== undefined && (typeof delta !== 'number' || !(delta > 0 && delta < 1))) {
    throw new ConfigError(`${field}.delta`, `expected a number in (0, 1), e.g. 1e-6 (the δ the budget is counted at), got ${describe(delta)}`);
  }
  if (maxEpsilon !== undefined && delta === undefined) {
    throw new ConfigError(`${field}.delta`, `missing: required with policy.maxEpsilon (ε means nothing without its δ); e.g. 1e-6`);
  }
  return {
    ...(maxEpsilon === undefined ? {} : { maxEpsilon }),
    ...(delta === undefined ? {} : { delta }),
    ...(m['requireDp'] === undefined ? {} : { requireDp: boolean(m['requireDp'], `${field}.requireDp`) }),
  };
}

function parseReconnect(u: unknown, field: string): ReconnectOptions {
  const m = object(u, field, [], ['initialMs', 'maxMs']);
  const initialMs = m['initialMs'] === undefined ? DEFAULT_RECONNECT.initialMs : integer(m['initialMs'], `${field}.initialMs`, 1, MAX_DELAY_MS);
  const maxMs = m['maxMs'] === undefined ? Math.max(initialMs, DEFAULT_RECONNECT.maxMs) : integer(m['maxMs'], `${field}.maxMs`, 1, MAX_DELAY_MS);
  if (maxMs < initialMs) throw new ConfigError(`${field}.maxMs`, `expected at least initialMs (${initialMs}), got ${maxMs}`);
  return { initialMs, maxMs };
}

// ---- small asserters ----------------------------------------------------------

export function describe(u: unknown): string {
  if (u === undefined) return 'nothing';
  if (u === null) return 'null';
  if (Array.isArray(u)) return `a list of ${u.length}`;
  if (typeof u === 'string') return JSON.stringify(u.length > 40 ? `${u.slice(0, 37)}...` : u);
  if (typeof u === 'object') return 'an object';
  return `${typeof u} ${String(u)}`;
}

/** An object with all `required` keys and no key outside `required` ∪ `optional` (when either is given). */
export function object(u: unknown, field: string, required: readonly string[] = [], optional?: readonly string[]): Record<string, unknown> {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) {
    throw new ConfigError(field, `expected an object, got ${describe(u)}`);
  }
  const m = u as Record<string, unknown>;
  const at = (k: string): string => (field === '' ? k : `${field}.${k}`);
  for (const k of required) {
    if (m[k] === undefined) throw new ConfigError(at(k), 'missing (required)');
  }
  if (optional !== undefined) {
    const known = new Set([...required, ...optional]);
    for (const k of Object.keys(m)) {
      if (!known.has(k)) throw new ConfigError(at(k), `unknown field; expected one of ${[...known].join(', ')}`);
    }
  }
  return m;
}

export function integer(u: unknown, field: string, min: number, max: number, why?: string): number {
  if (typeof u !== 'number' || !Number.isInteger(u) || u < min || u > max) {
    throw new ConfigError(field, `expected an integer in [${min}, ${max}], got ${describe(u)}${why === undefined ? '' : ` (${why})`}`);
  }
  return u;
}

export function boolean(u: unknown, field: string): boolean {
  if (typeof u !== 'boolean') throw new ConfigError(field, `expected true or false, got ${describe(u)}`);
  return u;
}

export function string(u: unknown, field: string): string {
  if (typeof u !== 'string' || u.length === 0) throw new ConfigError(field, `expected a non-empty string, got ${describe(u)}`);
  return u;
}

export function path(u: unknown, field: string): string {
  const s = string(u, field);
  if (s.includes('\0')) throw new ConfigError(field, 'expected a file path, got a string with a NUL byte');
  return s;
}

function wsUrl(u: unknown, field: string): string {
  const s = string(u, field);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new ConfigError(field, `expected a ws:// or wss:// URL such as ws://127.0.0.1:7800, got ${describe(s)}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new ConfigError(field, `expected a ws:// or wss:// URL such as ws://127.0.0.1:7800, got protocol ${url.protocol}`);
  }
  return s;
}
