/**
 * CONFIG.md — the coordinator's configuration (one JSON file)
 * ===========================================================
 *
 * Validated once at start-up by `parseCoordinatorConfig`; every error names the
 * field path and says what was expected and what was found. Unknown keys are
 * refused. Relative paths resolve against the config file's folder (`baseDir`).
 *
 * ```jsonc
 * {
 *   "listen": {
 *     "host": "127.0.0.1",          // default "127.0.0.1"
 *     "port": 7800,                 // default 7800; 0 picks a free port
 *     "tls": { "cert": "cert.pem", "key": "key.pem" }   // optional: https/wss; both PEM paths
 *   },
 *   "dataDir": "./tally-data",      // default; checkpoints and audit log live in <dataDir>/<task.id>/
 *   "enrolment": "./clients.json",  // default; see enrolment.ts
 *   "limits": {                     // every resource bound, with its default
 *     "maxConnections": 1000,       // open WebSockets, authenticated or not; more get HTTP 503
 *     "maxPendingAuth": 64,         // sockets not yet authenticated; more get HTTP 503
 *     "authTimeoutMs": 10000,       // Hello + AuthResponse must arrive within this
 *     "maxBufferedBytes": 67108864, // 64 MiB: a client whose socket buffers more is dropped;
 *                                   //   must hold one TaskOffer (4·modelLength + 64 KiB)
 *     "heartbeatMs": 15000          // ping every interval; no pong by the next one -> terminate
 *   },
 *   "task": {
 *     "id": "demand-v1",            // required; 1-128 of [A-Za-z0-9._-], starting alphanumeric
 *     "modelLength": 1024,          // required; float32 weights in the model
 *     "initialModel": "init.f32",   // optional: raw little-endian float32, 4·modelLength bytes; default all zeros
 *     "model": { "kind": "demand", ... }, // optional: what the model is; sent in every TaskOffer
 *                                   //   (modelSpec) for clients to check; the CLI knows the kinds
 *     "rounds": 10,                 // required; committed rounds to run (numbered 1..rounds)
 *     "cohortSize": 10,             // required; clients offered each round, 2..1000
 *     "minClients": 5,              // required; wait for this many before offering, and abort a
 *                                   //   round when fewer accept; 2..cohortSize
 *     "threshold": 6,               // optional Shamir t; absent: chosen per round (see cohort.ts)
 *     "dropoutTolerance": 0.1,      // optional fraction of a cohort that may drop; used to choose t
 *                                   //   when threshold is absent (default 0.1), checked when present
 *     "corruptFraction": 0.05,      // default 0.05: fraction assumed corrupt and colluding with us
 *     "graph": "complete",          // default "complete"; "harary": SecAgg+ sparse graph
 *     "activeAdversary": true,      // default true: signed adverts + consistency check
 *     "deadlines": {
 *       "trainMs": 120000,          // default: TaskOffer -> OfferReply (local training included)
 *       "stageMs": 30000,           // default: each secagg stage
 *       "retryMs": 1000             // default: pause after an aborted round before the next try
 *     },
 *     "quant": {
 *       "clipNorm": 1,              // required; L2 bound on one client's update
 *       "weightBound": 1000,        // required; largest sample weight of one client (integer)
 *       "fractionalBits": 16,       // optional; default: the largest in [0, 30] that fits the ring
 *       "metricBound": 100          // required; |metric| bound
 *     },
 *     "metrics": ["loss"],          // default []; names of the metrics clients report, in lane order
 *     "strategy": { "name": "fedavg" }, // default fedavg; see strategies.ts
 *     "dp": { "mechanism": "ddgauss", "epsilon": 8, "delta": 1e-6 }  // optional: distributed DP
 *                                   //   (dp-config.ts); needs threshold, no metrics
 *   }
 * }
 * ```
 *
 * The quantisation is checked with secagg's planQuantization for the full cohort
 * (its error says which knob to turn), and the threshold/graph with validateParams
 * both for `cohortSize` and for a roster of only `minClients`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { MAX_ROUND, planQuantization, type DpPlan, type QuantPlan } from '@tally/secagg';
import { DEFAULT_LIMITS as WIRE_LIMITS, MAX_MODEL_SPEC_LENGTH, METRIC_NAME_PATTERN, TASK_ID_PATTERN, isPlainObject } from '@tally/wire';
import {
  ConfigError,
  at,
  expectArray,
  expectBool,
  expectInt,
  expectObject,
  expectOneOf,
  expectPositive,
  expectRate,
  expectString,
  has,
  rethrowAt,
} from './_assert.ts';
import { GRAPH_KINDS, chooseRoundShape, fitRoster, type GraphKind } from './cohort.ts';
import { parseStrategyConfig, type ResolvedStrategyConfig } from './strategies.ts';
import { dpPlanFor, parseTaskDp, type TaskDpConfig } from './dp-config.ts';

export interface TlsConfig {
  /** Absolute path of the PEM certificate (chain). */
  readonly cert: string;
  /** Absolute path of the PEM private key. */
  readonly key: string;
}

export interface ListenConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsConfig | undefined;
}

export interface LimitsConfig {
  readonly maxConnections: number;
  readonly maxPendingAuth: number;
  readonly authTimeoutMs: number;
  readonly maxBufferedBytes: number;
  readonly heartbeatMs: number;
}

export interface DeadlinesConfig {
  readonly trainMs: number;
  readonly stageMs: number;
  readonly retryMs: number;
}

export interface TaskQuantConfig {
  readonly clipNorm: number;
  readonly weightBound: number;
  readonly fractionalBits: number;
  readonly metricBound: number;
}

export interface TaskConfig {
  readonly id: string;
  readonly modelLength: number;
  /** Absolute path, or undefined for an all-zero initial model. */
  readonly initialModel?: string | undefined;
  /** The `model` declaration as JSON text (TaskOffer.modelSpec), or undefined. */
  readonly modelSpec?: string | undefined;
  readonly rounds: number;
  readonly cohortSize: number;
  readonly minClients: number;
  readonly threshold?: number | undefined;
  readonly dropoutTolerance?: number | undefined;
  readonly corruptFraction: number;
  readonly graph: GraphKind;
  readonly activeAdversary: boolean;
  readonly deadlines: DeadlinesConfig;
  readonly quant: TaskQuantConfig;
  readonly metrics: readonly string[];
  readonly strategy: ResolvedStrategyConfig;
  /** Distributed differential privacy (dp-config.ts); absent: rounds sum without noise. */
  readonly dp?: TaskDpConfig | undefined;
}

/** A validated configuration, every default filled in and every path absolute. */
export interface CoordinatorConfig {
  readonly listen: ListenConfig;
  readonly dataDir: string;
  readonly enrolment: string;
  readonly limits: LimitsConfig;
  readonly task: TaskConfig;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 7800;
export const DEFAULT_DATA_DIR = './tally-data';
export const DEFAULT_ENROLMENT = './clients.json';

export const DEFAULT_LIMITS: LimitsConfig = Object.freeze({
  maxConnections: 1000,
  maxPendingAuth: 64,
  authTimeoutMs: 10_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  heartbeatMs: 15_000,
});

export const DEFAULT_DEADLINES: DeadlinesConfig = Object.freeze({
  trainMs: 120_000,
  stageMs: 30_000,
  retryMs: 1_000,
});

export const DEFAULT_CORRUPT_FRACTION = 0.05;
export const DEFAULT_GRAPH: GraphKind = 'complete';
/** The largest fixed-point fraction the default search tries: beyond float32's 24-bit mantissa there is nothing to gain. */
export const MAX_DEFAULT_FRACTIONAL_BITS = 30;
/** Room left in a frame for the envelope and small fields (64 KiB). */
export const FRAME_SLACK_BYTES = 64 * 1024;

/** setTimeout's largest delay, and the wire's bound on TaskOffer.deadlineMs. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Wire bound on list sizes (roster, shares): a larger cohort could not be sent. */
const MAX_COHORT = WIRE_LIMITS.maxCohort;

function path(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

function nonEmptyPath(u: unknown, field: string): string {
  return expectString(u, field, /^[^\0]{1,4096}$/, 'a file path (non-empty string)');
}

function parseListen(u: unknown, baseDir: string): ListenConfig {
  const o = expectObject(u === undefined ? {} : u, 'listen', [], ['host', 'port', 'tls']);
  const host = has(o, 'host') ? expectString(o['host'], 'listen.host', /^[A-Za-z0-9.:_-]{1,255}$/, 'a host name or IP address') : DEFAULT_HOST;
  const port = has(o, 'port') ? expectInt(o['port'], 'listen.port', 0, 65535) : DEFAULT_PORT;
  if (!has(o, 'tls')) return { host, port };
  const t = expectObject(o['tls'], 'listen.tls', ['cert', 'key']);
  return {
    host,
    port,
    tls: { cert: path(baseDir, nonEmptyPath(t['cert'], 'listen.tls.cert')), key: path(baseDir, nonEmptyPath(t['key'], 'listen.tls.key')) },
  };
}

function parseLimits(u: unknown): LimitsConfig {
  const o = expectObject(u === undefined ? {} : u, 'limits', [], Object.keys(DEFAULT_LIMITS));
  const get = (key: keyof LimitsConfig, min: number, max: number): number =>
    has(o, key) ? expectInt(o[key], at('limits', key), min, max) : DEFAULT_LIMITS[key];
  const maxConnections = get('maxConnections', 1, 1_000_000);
  const maxPendingAuth = get('maxPendingAuth', 1, 1_000_000);
  if (maxPendingAuth > maxConnections) {
    throw new ConfigError('limits.maxPendingAuth', `expected at most limits.maxConnections (${maxConnections}), got ${maxPendingAuth}`);
  }
  return {
    maxConnections,
    maxPendingAuth,
    authTimeoutMs: get('authTimeoutMs', 1, MAX_TIMER_MS),
    maxBufferedBytes: get('maxBufferedBytes', 1024, Number.MAX_SAFE_INTEGER),
    heartbeatMs: get('heartbeatMs', 1, MAX_TIMER_MS),
  };
}

function parseDeadlines(u: unknown): DeadlinesConfig {
  const o = expectObject(u === undefined ? {} : u, 'task.deadlines', [], Object.keys(DEFAULT_DEADLINES));
  const get = (key: keyof DeadlinesConfig, min: number): number =>
    has(o, key) ? expectInt(o[key], at('task.deadlines', key), min, MAX_TIMER_MS) : DEFAULT_DEADLINES[key];
  return { trainMs: get('trainMs', 1), stageMs: get('stageMs', 1), retryMs: get('retryMs', 0) };
}

function parseMetrics(u: unknown): string[] {
  if (u === undefined) return [];
  const list = expectArray(u, 'task.metrics', 0, WIRE_LIMITS.maxMetrics);
  const seen = new Set<string>();
  return list.map((x, i) => {
    const name = expectString(x, at('task.metrics', i), METRIC_NAME_PATTERN, 'a metric name (1-64 of [A-Za-z0-9_.-], starting with a letter)');
    if (seen.has(name)) throw new ConfigError(at('task.metrics', i), `expected distinct names, got ${JSON.stringify(name)} twice`);
    seen.add(name);
    return name;
  });
}

/** The largest fractionalBits in [0, MAX_DEFAULT_FRACTIONAL_BITS] that fits, or planQuantization's refusal at 0. */
function defaultFractionalBits(q: Omit<TaskQuantConfig, 'fractionalBits'>, cohortSize: number, metricCount: number, modelLength: number): number {
  for (let f = MAX_DEFAULT_FRACTIONAL_BITS; f > 0; f--) {
    try {
      planQuantization({ ...q, cohortSize, metricCount, fractionalBits: f }, modelLength);
      return f;
    } catch {
      // try a coarser scale
    }
  }
  return 0; // planQuantization at 0 either fits or throws the explanation
}

/** `f()`, with any error it throws re-thrown as a ConfigError at `field`. */
function attempt<T>(f: () => T, field: string): T {
  try {
    return f();
  } catch (err) {
    return rethrowAt(field, err);
  }
}

function parseTask(u: unknown, baseDir: string): TaskConfig {
  const o = expectObject(
    u,
    'task',
    ['id', 'modelLength', 'rounds', 'cohortSize', 'minClients', 'quant'],
    ['initialModel', 'model', 'threshold', 'dropoutTolerance', 'corruptFraction', 'graph', 'activeAdversary', 'deadlines', 'metrics', 'strategy', 'dp'],
  );
  const id = expectString(o['id'], 'task.id', TASK_ID_PATTERN, 'a task id (1-128 of [A-Za-z0-9._-], starting alphanumeric)');
  const metrics = parseMetrics(o['metrics']);
  // The vector (model + weight, clipped, count lanes + metrics) must fit the wire's vector bound.
  const modelLength = expectInt(o['modelLength'], 'task.modelLength', 1, WIRE_LIMITS.maxVectorLength - 3 - metrics.length);
  const rounds = expectInt(o['rounds'], 'task.rounds', 1, MAX_ROUND);
  const cohortSize = expectInt(o['cohortSize'], 'task.cohortSize', 2, MAX_COHORT);
  const minClients = expectInt(o['minClients'], 'task.minClients', 2, cohortSize);
  const threshold = has(o, 'threshold') ? expectInt(o['threshold'], 'task.threshold', 1, cohortSize - 1) : undefined;
  const dropoutTolerance = has(o, 'dropoutTolerance') ? expectRate(o['dropoutTolerance'], 'task.dropoutTolerance') : undefined;
  const corruptFraction = has(o, 'corruptFraction') ? expectRate(o['corruptFraction'], 'task.corruptFraction') : DEFAULT_CORRUPT_FRACTION;
  const graph = has(o, 'graph') ? expectOneOf(o['graph'], 'task.graph', GRAPH_KINDS) : DEFAULT_GRAPH;
  const activeAdversary = has(o, 'activeAdversary') ? expectBool(o['activeAdversary'], 'task.activeAdversary') : true;
  const deadlines = parseDeadlines(o['deadlines']);

  const q = expectObject(o['quant'], 'task.quant', ['clipNorm', 'weightBound', 'metricBound'], ['fractionalBits']);
  const clipNorm = expectPositive(q['clipNorm'], 'task.quant.clipNorm');
  const weightBound = expectInt(q['weightBound'], 'task.quant.weightBound', 1, 2 ** 31 - 1);
  const metricBound = expectPositive(q['metricBound'], 'task.quant.metricBound');
  const fractionalBits = has(q, 'fractionalBits')
    ? expectInt(q['fractionalBits'], 'task.quant.fractionalBits', 0, 52)
    : defaultFractionalBits({ clipNorm, weightBound, metricBound }, cohortSize, metrics.length, modelLength);
  const quant = { clipNorm, weightBound, fractionalBits, metricBound };
  attempt(() => planQuantization({ ...quant, cohortSize, metricCount: metrics.length }, modelLength), 'task.quant');

  const shape = { threshold, dropoutTolerance, corruptFraction, graph };
  const full = attempt(() => chooseRoundShape(shape, cohortSize), threshold === undefined ? 'task' : 'task.threshold');
  try {
    fitRoster(full, minClients, shape);
  } catch (err) {
    const e = err instanceof Error ? err.message : String(err);
    throw new ConfigError('task.minClients', `a round with only ${minClients} clients cannot use threshold ${full.t} (${e}); raise minClients or lower the threshold`, { cause: err });
  }

  let strategy: ResolvedStrategyConfig;
  try {
    strategy = parseStrategyConfig(o['strategy'] ?? { name: 'fedavg' }, 'task.strategy');
  } catch (err) {
    // parseStrategyConfig's messages already start with the path: keep it as the field.
    const msg = err instanceof Error ? err.message : String(err);
    const m = /^(task\.strategy\S*): (.*)$/s.exec(msg);
    throw m ? new ConfigError(m[1]!, m[2]!, { cause: err }) : new ConfigError('task.strategy', msg, { cause: err });
  }

  const dp = has(o, 'dp') ? parseTaskDp(o['dp'], { modelLength, rounds, cohortSize, threshold, clipNorm, metrics }) : undefined;

  return {
    id,
    modelLength,
    ...(has(o, 'initialModel') ? { initialModel: path(baseDir, nonEmptyPath(o['initialModel'], 'task.initialModel')) } : {}),
    ...(has(o, 'model') ? { modelSpec: modelDeclaration(o['model']) } : {}),
    rounds,
    cohortSize,
    minClients,
    ...(threshold === undefined ? {} : { threshold }),
    ...(dropoutTolerance === undefined ? {} : { dropoutTolerance }),
    corruptFraction,
    graph,
    activeAdversary,
    deadlines,
    quant,
    metrics,
    strategy,
    ...(dp === undefined ? {} : { dp }),
  };
}

/**
 * Validates a parsed JSON config and fills in every default (see the top of this
 * file). Relative paths resolve against `baseDir`. Throws ConfigError whose message
 * starts with the field path. Reads no files.
 */
export function parseCoordinatorConfig(json: unknown, baseDir: string): CoordinatorConfig {
  if (typeof baseDir !== 'string' || baseDir === '') throw new TypeError(`baseDir: expected a directory path, got ${String(baseDir)}`);
  const o = expectObject(json, '', ['task'], ['listen', 'dataDir', 'enrolment', 'limits']);
  const listen = parseListen(o['listen'], baseDir);
  const dataDir = path(baseDir, has(o, 'dataDir') ? nonEmptyPath(o['dataDir'], 'dataDir') : DEFAULT_DATA_DIR);
  const enrolment = path(baseDir, has(o, 'enrolment') ? nonEmptyPath(o['enrolment'], 'enrolment') : DEFAULT_ENROLMENT);
  const limits = parseLimits(o['limits']);
  const task = parseTask(o['task'], baseDir);
  const offerBytes = 4 * task.modelLength + FRAME_SLACK_BYTES;
  if (limits.maxBufferedBytes < offerBytes) {
    throw new ConfigError(
      'limits.maxBufferedBytes',
      `expected at least ${offerBytes} bytes (one TaskOffer: 4 · modelLength ${task.modelLength} + 64 KiB), got ${limits.maxBufferedBytes}`,
    );
  }
  return { listen, dataDir, enrolment, limits, task };
}

/** The quantisation plan every round of `task` uses (the config was validated, so this does not throw). */
export function quantPlanOf(task: TaskConfig): QuantPlan {
  return planQuantization({ ...task.quant, cohortSize: task.cohortSize, metricCount: task.metrics.length }, task.modelLength);
}

/** The DP plan of a DP task, or null (the config was validated, so this does not throw). */
export function dpPlanOf(task: TaskConfig): DpPlan | null {
  if (task.dp === undefined || task.threshold === undefined) return null;
  return dpPlanFor(task.dp, { modelLength: task.modelLength, cohortSize: task.cohortSize, threshold: task.threshold, clipNorm: task.quant.clipNorm });
}

/** Reads the JSON file at `file` and parses it, resolving paths against its folder. */
export async function loadCoordinatorConfig(file: string): Promise<CoordinatorConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('', `config file ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseCoordinatorConfig(json, dirname(resolve(file)));
}

/** `task.model`: an object with a string `kind`, kept as JSON text that fits TaskOffer.modelSpec. Its content is the CLI's to check. */
function modelDeclaration(u: unknown): string {
  if (!isPlainObject(u)) throw new ConfigError('task.model', `expected an object with a "kind", got ${JSON.stringify(u)}`);
  const o = u;
  if (typeof o['kind'] !== 'string' || o['kind'] === '') throw new ConfigError('task.model.kind', `expected a model kind (e.g. "demand"), got ${JSON.stringify(o['kind'])}`);
  const json = JSON.stringify(o);
  if (json.length > MAX_MODEL_SPEC_LENGTH) throw new ConfigError('task.model', `expected at most ${MAX_MODEL_SPEC_LENGTH} characters of JSON, got ${json.length}`);
  return json;
}
