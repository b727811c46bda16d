/**
 * One whole federated round over loopback WebSockets, secure against plaintext:
 * `pnpm bench:round [--quick] [--graph complete|harary] [--n 10,50] [--m 1e5] [--workers 2]`.
 *
 * For each n (clients) and m (model length):
 * - plain (the baseline, round-plain.ts): model out, the raw float32 update back
 *   in one frame, the server sums. Run `--plain-reps` times (default 3; the median
 *   counts): it is cheap and noisy.
 * - secure: a real coordinator (startCoordinator, config built here, dataDir in a
 *   temporary folder, enrolment handed over in-process) and n real client nodes
 *   (startClientNode) whose Trainer returns a fixed random delta. Once.
 * Both use the same worker layout: the clients live in `--workers` worker threads
 * (round-worker.ts), n/workers each, so that the server's event loop is the main
 * thread's alone (the coordinator's unmask pool has threads of its own); and the
 * same deltas (SharedArrayBuffers filled once per configuration).
 *
 * Time: secure from the coordinator's "offering" log line (written just before the
 * TaskOffers are queued) to its 'round' event (emitted once the round committed:
 * checkpoint and audit line written, RoundResults queued); plain from the first
 * model frame queued to the last result frame queued. Per-stage times come from
 * the coordinator's 'stage' events (Aggregate from the audit log).
 *
 * Bytes: counted on the client side, per client TCP socket (round-bytes.ts), from
 * the arrival of the model frame to the socket's close: "up" is what a client
 * sends, "down" what it receives (the model frame included). The upgrade and the
 * auth handshake before the round are reported apart.
 *
 * CPU: thread CPU time during the round (round-cpu.ts) of the server's main
 * thread and of each client worker, and of the whole process (which adds the
 * unmask pool and libuv's threads).
 *
 * Every thread warms its secagg code first (round-warmup.ts), outside the timing; each
 * client thread also starts its mask helper threads there, as a node has them after its first round.
 * Then the same threads take part in --warmup untimed rounds (default 2; --cold: none) of the
 * same kind, n clients, same graph and the same m, each against a server of its own: the
 * timed round is then the third a node's thread runs, its node, wire and coordinator code as
 * warm as in a federation's every later round. One warm-up round is not enough for that: in
 * the second round V8 still optimises about 120 functions (the per-peer ones of secagg,
 * --trace-opt) that reach TurboFan's threshold only then. Measured at n = 50, m = 1e6
 * (interleaved runs, before the native Ed25519): the secure round took 1.34–1.54 s after
 * two warm-up rounds, 1.47–1.58 s after one, 1.51–1.57 s cold, and 1.8–2.0 s after the
 * single 4096-lane warm-up round this bench ran before (V8 had optimised for the small
 * model, and the 1e6-lane loops ran unoptimised or deoptimised in the timed round). The
 * plaintext round gains from the warm-up too (0.42–0.47 s against 0.48–0.52 s cold).
 *
 * Both rounds' new models are compared with the exact weighted mean (float64):
 * the plaintext one differs by float32 rounding, the secure one by its fixed-point
 * quantisation (stochastic rounding at 2^-fractionalBits).
 *
 * Writes bench/results/round.json (round-quick.json with --quick) and prints a table.
 * Target (reported, not asserted): secure within 3x of plaintext at n = 50, m = 1e6.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import {
  AUDIT_FILE,
  GRAPH_KINDS,
  parseCoordinatorConfig,
  parseEnrolment,
  quantPlanOf,
  readAuditLog,
  startCoordinator,
  type Coordinator,
  type GraphKind,
  type Logger,
  type RoundSummary,
} from '@tally/coordinator';
import { generateIdentity, simdAvailable, toHex, type KeyPair } from '@tally/secagg';
import { encode } from '@tally/wire';
import { serverFrameBytes } from './round-bytes.ts';
import { gcCounter, processCpuMs, threadCpuMs, type GcCount } from './round-cpu.ts';
import { startPlainServer, type PlainServer } from './round-plain.ts';
import { fillRandomDelta } from './round-trainer.ts';
import { warmUp } from './round-warmup.ts';
import type { ClientReport, WorkerClient, WorkerJob, WorkerReport } from './round-worker.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    graph: { type: 'string', default: 'complete' },
    n: { type: 'string' },
    m: { type: 'string' },
    workers: { type: 'string', default: '2' },
    'plain-reps': { type: 'string', default: '3' },
    'timeout-s': { type: 'string', default: '600' },
    verbose: { type: 'boolean', default: false },
    cold: { type: 'boolean', default: false },
    warmup: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: pnpm bench:round [--quick] [--graph complete|harary] [--n LIST] [--m LIST] [--workers W] [--plain-reps R] [--timeout-s S] [--warmup W | --cold] [--verbose]
  --quick         n = 10, m = 1e5 only (writes round-quick.json)
  --graph G       the coordinator's task.graph (default complete; harary = SecAgg+ with chooseParams' k, t; writes round-harary.json)
  --n, --m LIST   comma-separated overrides of n in {10,50,100} and m in {1e5,1e6} (writes round-custom.json)
  --workers W     worker threads hosting the clients (default 2)
  --plain-reps R  plaintext rounds per configuration; the median counts (default 3)
  --timeout-s S   give up on one round after S seconds and record the configuration as skipped (default 600)
  --warmup W      untimed rounds of each kind (n clients, same graph and m) before its timed round (default 2:
                  the timed round is then a later round, as warm as a federation's; writes round*-warmupW.json unless 2)
  --cold          the same as --warmup 0: time each side's first round in fresh client threads (writes round*-cold.json)
  --verbose       print the coordinator's log lines`);
  process.exit(0);
}

function positiveInt(s: string, what: string, min = 1): number {
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`--${what}: expected an integer ≥ ${min}, got ${JSON.stringify(s)}`);
  return v;
}
const list = (s: string | undefined, fallback: number[], what: string): number[] =>
  s === undefined ? fallback : s.split(',').map((x) => positiveInt(x, what, 2));

const graph = args.graph as GraphKind;
if (!GRAPH_KINDS.includes(graph)) throw new RangeError(`--graph: expected one of ${GRAPH_KINDS.join(', ')}, got ${args.graph}`);
const NS = list(args.n, args.quick ? [10] : [10, 50, 100], 'n');
const MS = list(args.m, args.quick ? [1e5] : [1e5, 1e6], 'm');
const WORKERS = positiveInt(args.workers, 'workers');
const PLAIN_REPS = positiveInt(args['plain-reps'], 'plain-reps');
const TIMEOUT_MS = positiveInt(args['timeout-s'], 'timeout-s') * 1000;
/**
 * Untimed warm-up rounds before each timed round (0 with --cold): its client threads take
 * part in this many rounds of the same kind, n clients, the same graph and model length,
 * each against a server of its own. A long-running node and coordinator are warm after
 * their first rounds (lazily compiled and optimised code, the client's and the wire's as
 * well as secagg's); without them the timed round also times that compilation.
 */
const DEFAULT_WARMUP = 2;
if (args.cold && args.warmup !== undefined && args.warmup !== '0') throw new RangeError(`--cold is --warmup 0; got both --cold and --warmup ${args.warmup}`);
const WARMUP = args.cold ? 0 : args.warmup === undefined ? DEFAULT_WARMUP : positiveInt(args.warmup, 'warmup', 0);

const TASK_ID = 'bench-round';
/** L2 norm of every delta; below clipNorm so that nothing is clipped. */
const DELTA_NORM = 0.5;
/** Client weights are 1..7; the bounds only set the fixed-point scale, not the cost. */
const QUANT = { clipNorm: 1, weightBound: 100, metricBound: 10 };
/** Generous: the bench measures time, it does not test deadlines. */
const DEADLINE_MS = 600_000;
const STAGES = ['TaskOffer', 'AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask', 'Aggregate'] as const;

interface Cpu {
  /** The server's main thread (coordinator or plaintext server). */
  server: number | null;
  /** Each client worker thread, from its first model frame to its last close. */
  clientWorkers: (number | null)[];
  /** Every thread of the process during the round (adds the unmask pool, libuv, GC helpers). */
  process: number;
  /** Garbage collections: the server's main thread (over the round), each client worker. */
  gc: { server: GcCount | null; clientWorkers: (GcCount | null)[] };
}

interface Side {
  ms: number;
  /** Mean over clients of the bytes each sent (up) and received (down) during the round. */
  upPerClient: number;
  downPerClient: number;
  upMax: number;
  /** Mean bytes per client before the round: upgrade (+ auth handshake when secure). */
  upBefore: number;
  downBefore: number;
  cpu: Cpu;
  model: Float32Array;
  problems: string[];
}

interface SecureSide extends Side {
  k: number;
  t: number;
  fractionalBits: number;
  stagesMs: Record<string, number>;
}

interface PlainSide extends Side {
  collectMs: number;
  aggregateMs: number;
}

interface RoundRecord {
  n: number;
  m: number;
  graph: GraphKind | null;
  k: number | null;
  t: number | null;
  secureMs: number | null;
  plainMs: number | null;
  ratio: number | null;
  /** Mean bytes one client sent during the round. */
  bytesPerClientSecure: number | null;
  bytesPerClientPlain: number | null;
  bytesRatio: number | null;
  /** Mean bytes one client received during the round (the model included). */
  downBytesPerClientSecure: number | null;
  downBytesPerClientPlain: number | null;
  stagesMs: Record<string, number> | null;
  plainStagesMs: { collect: number; aggregate: number } | null;
  plainRunsMs: number[] | null;
  handshakeBytesSecure: { up: number; down: number } | null;
  handshakeBytesPlain: { up: number; down: number } | null;
  cpuMs: { secure: Cpu; plain: Cpu } | null;
  /**
   * Process CPU time (every thread) of the secure round over the plaintext one's: what the
   * wall-clock ratio would be on a machine with spare cores for nothing else; unlike
   * the wall clock, it hardly moves when other programs load the machine.
   */
  cpuRatio: number | null;
  /** Client CPU per client in the secure round (Σ client workers / n): what one real client would spend. */
  clientCpuPerClientMs: number | null;
  /** max |model − exact weighted mean| of each round's new model, and the secure round's quantisation step. */
  maxErrSecure: number | null;
  maxErrPlain: number | null;
  quantStep: number | null;
  skipped?: string;
}

// ---- client workers -------------------------------------------------------------

interface Fleet {
  readonly reports: Promise<WorkerReport[]>;
  terminate(): Promise<void>;
}

const WORKER_ENTRY = new URL('./round-worker-entry.mjs', import.meta.url);

/** Deals the clients round-robin over `WORKERS` threads and starts them. */
function startFleet(base: Omit<WorkerJob, 'clients'>, clients: readonly WorkerClient[]): Fleet {
  const w = Math.min(WORKERS, clients.length);
  const groups = Array.from({ length: w }, (_, j) => clients.filter((_, i) => i % w === j));
  const workers = groups.map((group) => new Worker(WORKER_ENTRY, { workerData: { ...base, clients: group } satisfies WorkerJob }));
  const reports = Promise.all(
    workers.map(
      (worker) =>
        new Promise<WorkerReport>((resolve, reject) => {
          worker.once('message', (r: WorkerReport) => resolve(r));
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`a client worker exited (code ${code}) before reporting`)));
        }),
    ),
  );
  reports.catch(() => undefined); // raced against a timeout; whoever awaits it sees the error
  return {
    reports,
    terminate: async () => {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

/** Fails after `ms` with `what` in the message. */
function timeout(ms: number, what: string): { promise: Promise<never>; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s (--timeout-s)`)), ms);
  });
  promise.catch(() => undefined);
  return { promise, clear: () => clearTimeout(timer) };
}

function summarise(reports: WorkerReport[], expected: number): { clients: ClientReport[]; problems: string[] } {
  const clients = reports.flatMap((r) => r.clients);
  const problems = reports.flatMap((r) => r.problems);
  const orphans = reports.reduce((a, r) => a + r.orphanSockets, 0);
  if (orphans > 0) problems.push(`${orphans} sockets opened by reconnects could not be attributed to a client: byte counts are incomplete`);
  if (clients.length !== expected) problems.push(`expected ${expected} client reports, got ${clients.length}`);
  for (const c of clients) {
    if (c.sockets !== 1) problems.push(`client ${c.id} used ${c.sockets} sockets`);
    if (!c.trained || !c.committed || c.bytes === null) problems.push(`client ${c.id} did not complete the round (${c.outcome})`);
  }
  return { clients, problems };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function bytesSide(clients: ClientReport[]): Pick<Side, 'upPerClient' | 'downPerClient' | 'upMax' | 'upBefore' | 'downBefore'> {
  const b = clients.flatMap((c) => (c.bytes === null ? [] : [c.bytes]));
  return {
    upPerClient: mean(b.map((x) => x.up)),
    downPerClient: mean(b.map((x) => x.down)),
    upMax: Math.max(...b.map((x) => x.up)),
    upBefore: mean(b.map((x) => x.upBefore)),
    downBefore: mean(b.map((x) => x.downBefore)),
  };
}

interface Mark {
  t: number;
  thread: number | null;
  process: number;
  gc: GcCount | null;
}
/** The server thread's GC count runs from one mark() to the next. */
let serverGc = gcCounter();
const mark = (): Mark => {
  const gc = serverGc.read();
  serverGc = gcCounter();
  return { t: performance.now(), thread: threadCpuMs(), process: processCpuMs(), gc };
};
const cpuBetween = (a: Mark, b: Mark, reports: WorkerReport[]): Cpu => ({
  server: a.thread === null || b.thread === null ? null : b.thread - a.thread,
  clientWorkers: reports.map((r) => r.cpuMs),
  process: b.process - a.process,
  gc: { server: b.gc, clientWorkers: reports.map((r) => r.gc) },
});

// ---- the secure round -----------------------------------------------------------

/** The bench's coordinator configuration: n clients, m lanes, one round, generous deadlines. */
function coordinatorConfig(n: number, m: number, dir: string) {
  return parseCoordinatorConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: dir,
      // Every client connects at once; and a loop busy with crypto for seconds answers pings late.
      limits: { maxPendingAuth: Math.max(64, n), heartbeatMs: DEADLINE_MS },
      task: {
        id: TASK_ID,
        modelLength: m,
        rounds: 1,
        cohortSize: n,
        minClients: n,
        graph,
        deadlines: { trainMs: DEADLINE_MS, stageMs: DEADLINE_MS, retryMs: 0 },
        quant: QUANT,
        metrics: ['loss'],
        strategy: { name: 'fedavg' },
      },
    },
    dir,
  );
}

/** A coordinator for one warm-up round (m lanes) on its own temporary folder; warnings go to `problems`. */
async function warmCoordinator(n: number, m: number, enrolment: ReturnType<typeof parseEnrolment>, problems: string[]): Promise<{ coordinator: Coordinator; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-warm-'));
  const logger: Logger = {
    info: () => undefined,
    warn: (msg) => problems.push(`warm-up coordinator: ${msg}`),
    error: (msg) => problems.push(`warm-up coordinator: ERROR ${msg}`),
  };
  return { coordinator: await startCoordinator({ config: coordinatorConfig(n, m, dir), logger, enrolment }), dir };
}

async function secureRound(n: number, m: number, clients: readonly (WorkerClient & { identity: KeyPair })[]): Promise<SecureSide> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-round-'));
  const enrolment = parseEnrolment(
    { clients: clients.map((c) => ({ id: c.id, name: `bench-${c.id}`, publicKey: toHex(c.identity.publicKey) })) },
    'bench',
  );
  const config = coordinatorConfig(n, m, dir);
  const plan = quantPlanOf(config.task);
  // The TaskOffer's size does not depend on the session's bytes, the model's values or (below 128) the threshold.
  const offer = encode({
    type: 'TaskOffer',
    session: new Uint8Array(16),
    round: 1,
    taskId: TASK_ID,
    cohortSize: n,
    threshold: 1,
    graph: 'complete',
    degree: n - 1,
    model: new Float32Array(m),
    quant: {
      clipNorm: plan.clipNorm,
      weightBound: plan.weightBound,
      cohortSize: plan.cohortSize,
      fractionalBits: plan.fractionalBits,
      metricCount: plan.metricCount,
      metricBound: plan.metricBound,
    },
    deadlineMs: DEADLINE_MS,
  });

  let start: Mark | null = null;
  const problems: string[] = [];
  const logger: Logger = {
    info: (msg) => {
      if (start === null && msg.startsWith('round 1: offering to')) start = mark();
      if (args.verbose) console.log(`  [coordinator] ${msg}`);
    },
    warn: (msg) => problems.push(`coordinator: ${msg}`),
    error: (msg) => problems.push(`coordinator: ERROR ${msg}`),
  };

  let coordinator: Coordinator | null = null;
  const warm: { coordinator: Coordinator; dir: string }[] = [];
  let fleet: Fleet | null = null;
  const limit = timeout(TIMEOUT_MS, `the secure round (n = ${n}, m = ${m})`);
  try {
    for (let i = 0; i < WARMUP; i++) warm.push(await warmCoordinator(n, m, enrolment, problems));
    coordinator = await startCoordinator({ config, logger, enrolment });
    const stagesMs: Record<string, number> = {};
    const ended = new Promise<{ end: Mark; summary: RoundSummary; model: Float32Array | null }>((resolve) => {
      coordinator!.on((e) => {
        if (e.type === 'stage') stagesMs[e.report.stage] = e.report.ms;
        if (e.type === 'round') resolve({ end: mark(), summary: e.summary, model: e.model });
      });
    });
    fleet = startFleet(
      {
        mode: 'secure',
        url: coordinator.url,
        taskId: TASK_ID,
        m,
        modelFrameBytes: serverFrameBytes(offer.length),
        enrolled: clients.map((c) => [c.id, c.identity.publicKey] as const),
        warm: { urls: warm.map((w) => w.coordinator.url), m },
      },
      clients,
    );
    // A client thread that fails (its warm-up, say) fails the run now, not at --timeout-s.
    const failed = fleet.reports.then(() => new Promise<never>(() => undefined));
    const { end, summary, model } = await Promise.race([ended, limit.promise, failed]);
    if (summary.status !== 'committed' || model === null) throw new Error(`the secure round aborted: ${summary.reason ?? 'no reason given'}`);
    if (start === null) throw new Error('the coordinator did not log its offer (has its "round 1: offering to" line changed?)');
    const t0: Mark = start;
    await Promise.race([coordinator.done, limit.promise]);
    const reports = await Promise.race([fleet.reports, limit.promise]);
    const audit = await readAuditLog(join(dir, TASK_ID, AUDIT_FILE));
    const record = audit.records.at(-1);
    if (record === undefined) throw new Error('the audit log is empty after a committed round');
    stagesMs['Aggregate'] = record.timings['Aggregate'] ?? NaN;
    const s = summarise(reports, n);
    return {
      ms: end.t - t0.t,
      k: record.degree ?? NaN,
      t: record.threshold ?? NaN,
      fractionalBits: plan.fractionalBits,
      stagesMs,
      ...bytesSide(s.clients),
      cpu: cpuBetween(t0, end, reports),
      model,
      problems: [...problems, ...s.problems],
    };
  } finally {
    limit.clear();
    await coordinator?.close();
    for (const w of warm) await w.coordinator.close();
    await fleet?.terminate();
    await rm(dir, { recursive: true, force: true });
    for (const w of warm) await rm(w.dir, { recursive: true, force: true });
  }
}

// ---- the plaintext round --------------------------------------------------------

async function plainRound(n: number, m: number, clients: readonly WorkerClient[]): Promise<PlainSide> {
  const marks: { start: Mark | null; end: Mark | null } = { start: null, end: null };
  const server = await startPlainServer({
    n,
    model: new Float32Array(m),
    onStart: () => {
      marks.start = mark();
    },
    onEnd: () => {
      marks.end = mark();
    },
  });
  const warm: PlainServer[] = [];
  for (let i = 0; i < WARMUP; i++) {
    const w = await startPlainServer({ n, model: new Float32Array(m) });
    w.done.catch(() => undefined); // a failed warm-up shows in the workers' problems
    warm.push(w);
  }
  const fleet = startFleet(
    {
      mode: 'plain',
      url: server.url,
      taskId: TASK_ID,
      m,
      modelFrameBytes: serverFrameBytes(4 * m),
      enrolled: [],
      warm: { urls: warm.map((w) => w.url), m },
    },
    clients,
  );
  const limit = timeout(TIMEOUT_MS, `the plaintext round (n = ${n}, m = ${m})`);
  try {
    const r = await Promise.race([server.done, limit.promise]);
    const reports = await Promise.race([fleet.reports, limit.promise]);
    const { start, end } = marks;
    if (start === null || end === null) throw new Error('the plaintext server did not report its start and end');
    const s = summarise(reports, n);
    return {
      ms: r.ms,
      collectMs: r.collectMs,
      aggregateMs: r.aggregateMs,
      ...bytesSide(s.clients),
      cpu: cpuBetween(start, end, reports),
      model: r.model,
      problems: s.problems,
    };
  } finally {
    limit.clear();
    await server.close();
    for (const w of warm) await w.close();
    await fleet.terminate();
  }
}

// ---- main -----------------------------------------------------------------------

/** The exact FedAvg step from an all-zero model: Σ w·δ / Σ w, in float64. */
function exactMean(clients: readonly WorkerClient[], m: number): Float64Array {
  const sum = new Float64Array(m);
  let total = 0;
  for (const c of clients) {
    total += c.weight;
    for (let i = 0; i < m; i++) sum[i]! += c.weight * c.delta[i]!;
  }
  for (let i = 0; i < m; i++) sum[i]! /= total;
  return sum;
}

function maxErr(a: Float32Array, exact: Float64Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - exact[i]!));
  return d;
}

const fmtMs = (v: number | null | undefined): string => (v === null || v === undefined || Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const fmtBytes = (v: number | null): string => {
  if (v === null || Number.isNaN(v)) return '-';
  if (v >= 1e6) return `${(v / 1e6).toFixed(3)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return `${v.toFixed(0)}`;
};
const fmtX = (v: number | null): string => (v === null || Number.isNaN(v) ? '-' : `${v.toFixed(2)}x`);
const fmtGc = (g: GcCount | null): string => (g === null ? '-' : `${g.major}/${g.minor} (${fmtMs(g.ms)} ms)`);
const fmtCpu = (c: Cpu): string =>
  `server ${fmtMs(c.server)}, clients ${c.clientWorkers.map(fmtMs).join('+')}, process ${fmtMs(c.process)}; ` +
  `GCs major/minor (pause): server ${fmtGc(c.gc.server)}, clients ${c.gc.clientWorkers.map(fmtGc).join(' + ')}`;

console.log(
  `round bench on ${cpus()[0]?.model ?? 'unknown cpu'} (${availableParallelism()} threads), node ${process.version}, ` +
    `${WORKERS} client worker threads, graph ${graph}, wasm simd ${simdAvailable ? 'on' : 'off'}; times in ms, bytes per client`,
);
console.log(
  ['n', 'm', 'graph', 'k', 't', 'secure', 'plain', 'ratio', 'cpu ratio', 'up sec', 'up plain', 'up ratio', 'down sec', 'down plain', ...STAGES.map((s) => s.replace('ConsistencyCheck', 'Consist.'))].join('\t'),
);

await warmUp();
const records: RoundRecord[] = [];
const empty = {
  graph: null, k: null, t: null, secureMs: null, plainMs: null, ratio: null, bytesPerClientSecure: null, bytesPerClientPlain: null,
  bytesRatio: null, downBytesPerClientSecure: null, downBytesPerClientPlain: null, stagesMs: null, plainStagesMs: null, plainRunsMs: null,
  handshakeBytesSecure: null, handshakeBytesPlain: null, cpuMs: null, cpuRatio: null, clientCpuPerClientMs: null, maxErrSecure: null, maxErrPlain: null, quantStep: null,
};
for (const n of NS) {
  for (const m of MS) {
    // One fixed delta per client, shared with the workers, for every round of this configuration.
    const clients = Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      identity: generateIdentity(),
      weight: 1 + (i % 7),
      delta: fillRandomDelta(new Float32Array(new SharedArrayBuffer(4 * m)), DELTA_NORM),
    }));
    console.error(`# n = ${n}, m = ${m}: ${PLAIN_REPS} plaintext round(s), then the secure round`);
    let sec: SecureSide;
    const plains: PlainSide[] = [];
    try {
      for (let r = 0; r < PLAIN_REPS; r++) plains.push(await plainRound(n, m, clients.map((c) => ({ ...c, identity: null }))));
      sec = await secureRound(n, m, clients);
    } catch (err) {
      const why = (err as Error).message;
      if (process.env.BENCH_STACK) console.error(err);
      records.push({ n, m, ...empty, skipped: why });
      console.log(`${n}\t${m}\tskipped: ${why}`);
      continue;
    }
    const pla = [...plains].sort((a, b) => a.ms - b.ms)[Math.floor(plains.length / 2)]!;
    const exact = exactMean(clients, m);
    const rec: RoundRecord = {
      n,
      m,
      graph: sec.k === n - 1 ? 'complete' : 'harary',
      k: sec.k,
      t: sec.t,
      secureMs: sec.ms,
      plainMs: pla.ms,
      ratio: sec.ms / pla.ms,
      bytesPerClientSecure: sec.upPerClient,
      bytesPerClientPlain: pla.upPerClient,
      bytesRatio: sec.upPerClient / pla.upPerClient,
      downBytesPerClientSecure: sec.downPerClient,
      downBytesPerClientPlain: pla.downPerClient,
      stagesMs: Object.fromEntries(STAGES.map((s) => [s, Math.round(sec.stagesMs[s] ?? NaN)])),
      plainStagesMs: { collect: Math.round(pla.collectMs), aggregate: Math.round(pla.aggregateMs) },
      plainRunsMs: plains.map((p) => Math.round(p.ms)),
      handshakeBytesSecure: { up: sec.upBefore, down: sec.downBefore },
      handshakeBytesPlain: { up: pla.upBefore, down: pla.downBefore },
      cpuMs: { secure: sec.cpu, plain: pla.cpu },
      cpuRatio: sec.cpu.process / pla.cpu.process,
      clientCpuPerClientMs: sec.cpu.clientWorkers.every((x) => x !== null)
        ? sec.cpu.clientWorkers.reduce<number>((a, b) => a + b!, 0) / n
        : null,
      maxErrSecure: maxErr(sec.model, exact),
      maxErrPlain: maxErr(pla.model, exact),
      quantStep: 2 ** -sec.fractionalBits,
    };
    records.push(rec);
    console.log(
      [
        n, m, rec.graph, rec.k, rec.t, fmtMs(rec.secureMs), fmtMs(rec.plainMs), fmtX(rec.ratio), fmtX(rec.cpuRatio),
        fmtBytes(rec.bytesPerClientSecure), fmtBytes(rec.bytesPerClientPlain), fmtX(rec.bytesRatio),
        fmtBytes(rec.downBytesPerClientSecure), fmtBytes(rec.downBytesPerClientPlain),
        ...STAGES.map((s) => fmtMs(rec.stagesMs![s])),
      ].join('\t'),
    );
    console.log(`\t  cpu ms, secure: ${fmtCpu(sec.cpu)}; ${fmtMs(rec.clientCpuPerClientMs)} per client`);
    console.log(
      `\t  cpu ms, plain:  ${fmtCpu(pla.cpu)}; plain runs ${rec.plainRunsMs!.join(', ')} ms (collect ${rec.plainStagesMs!.collect}, aggregate ${rec.plainStagesMs!.aggregate})`,
    );
    console.log(
      `\t  max |model - exact mean|: secure ${rec.maxErrSecure!.toExponential(2)} (step 2^-${sec.fractionalBits}), plain ${rec.maxErrPlain!.toExponential(2)}; ` +
        `handshake bytes up/down: secure ${sec.upBefore.toFixed(0)}/${sec.downBefore.toFixed(0)}, plain ${pla.upBefore.toFixed(0)}/${pla.downBefore.toFixed(0)}`,
    );
    for (const p of [...sec.problems, ...plains.flatMap((x) => x.problems)].slice(0, 10)) console.log(`\t  note: ${p}`);
  }
}

const custom = args.n !== undefined || args.m !== undefined;
const name = `round${args.quick ? '-quick' : ''}${custom ? '-custom' : ''}${graph === 'complete' ? '' : `-${graph}`}${WARMUP === 0 ? '-cold' : WARMUP === DEFAULT_WARMUP ? '' : `-warmup${WARMUP}`}.json`;
const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(here, 'results'), { recursive: true });
const out = join(here, 'results', name);
writeFileSync(
  out,
  JSON.stringify(
    {
      bench: 'round',
      date: new Date().toISOString(),
      cpu: cpus()[0]?.model,
      threads: availableParallelism(),
      node: process.version,
      wasmSimd: simdAvailable,
      clientWorkers: WORKERS,
      plainReps: PLAIN_REPS,
      graph,
      warmUpRounds: WARMUP,
      notes: [
        'secureMs: coordinator "offering" log line (TaskOffers about to be queued) to its round event (checkpoint + audit written, RoundResults queued); one round on a fresh coordinator',
        WARMUP > 0
          ? `warm-up: before each timed round (secure and plain alike) its client threads took part in ${WARMUP} untimed round(s) of the same kind (n clients, same graph, same m), each against a server of its own: the timed round is round ${WARMUP + 1} of those threads; --cold leaves the warm-up out`
          : 'cold (--cold): each timed round is the first its client threads run (after the in-memory secagg warm-up only)',
        'plainMs: first model frame queued to last result frame queued, median of plainRunsMs; the baseline does no auth, persistence or validation',
        'bytes: client side, TCP payload of each client socket (WebSocket headers, masking keys, close handshake included), from the model frame to the close; bytesPerClient* = sent by the client (up), downBytes* = received',
        'handshakeBytes*: per client before the round (HTTP upgrade, and for the secure round Challenge/Hello/AuthResponse/Welcome)',
        'stagesMs: coordinator stage events; TaskOffer includes local training and quantisation; Aggregate (audit log) = unmask + decode + strategy + checkpoint + audit',
        'cpuMs: thread CPU time during the round (/proc/thread-self/schedstat): server main thread, each client worker; process = all threads (adds V8 GC helpers, the unmask pool, libuv)',
        'cpuRatio: process CPU secure / plain; robust to other load on the machine, where the wall-clock ratio is not',
        `all n clients share ${availableParallelism()} CPU threads with the server, so their work is serialised here; clientCpuPerClientMs is what one client of a real deployment would spend`,
      ],
      records,
    },
    null,
    2,
  ),
);
console.log(`wrote ${out}`);
