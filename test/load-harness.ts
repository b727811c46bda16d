/**
 * Shared pieces of the fault and load tests: identities and enrolment, a task
 * config, the deterministic update every test client sends, client nodes hosted in
 * child processes (so a test can SIGKILL one, or spread hundreds over cores), and
 * `runLoad`, one coordinator with N clients completing rounds while its memory is
 * sampled.
 *
 * Everything listens on and connects to 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { generateIdentity, toHex, type KeyPair } from '@tally/secagg';
import {
  parseCoordinatorConfig,
  parseEnrolment,
  quantPlanOf,
  readAuditLog,
  startCoordinator,
  silentLogger,
  type AuditRecord,
  type Coordinator,
  type CoordinatorConfig,
  type CoordinatorEvent,
  type Enrolment,
  type Logger,
} from '@tally/coordinator';
import type { Trainer, TrainOutput } from '@tally/client';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST_ENTRY = fileURLToPath(new URL('./load-client-host.ts', import.meta.url));

// ---- identities, enrolment, config ----------------------------------------------

/** n fresh identities; client i + 1 is enrolled with ids[i]. */
export function identities(n: number): KeyPair[] {
  return Array.from({ length: n }, () => generateIdentity());
}

export function enrolmentJson(ids: readonly KeyPair[]): { clients: { id: number; name: string; publicKey: string }[] } {
  return { clients: ids.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) };
}

export function enrolmentOf(ids: readonly KeyPair[]): Enrolment {
  return parseEnrolment(enrolmentJson(ids), 'test');
}

/** A coordinator config JSON: listen on 127.0.0.1:0, fedavg, one metric ("loss"); `task` overrides. */
export function taskConfigJson(dataDir: string, task: Record<string, unknown>, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    ...rest,
    task: {
      id: 'faults',
      modelLength: 8,
      rounds: 1,
      corruptFraction: 0,
      graph: 'complete',
      deadlines: { trainMs: 60_000, stageMs: 60_000, retryMs: 0 },
      quant: { clipNorm: 1, weightBound: 1000, metricBound: 10 },
      metrics: ['loss'],
      strategy: { name: 'fedavg' },
      ...task,
    },
  };
}

// ---- the update every test client sends -------------------------------------------

/**
 * Client `id`'s update in `round`: a fixed pattern with L2 norm about 0.06 (under
 * any clipNorm ≥ 0.1, so nothing is clipped), sample weight `id`, loss id/100.
 */
export function updateOf(id: number, round: number, modelLength: number): TrainOutput {
  const scale = 1 / (50 * Math.sqrt(modelLength));
  const delta = new Float32Array(modelLength);
  for (let j = 0; j < modelLength; j++) delta[j] = (((id * 7 + j * 3 + round) % 11) - 5) * scale;
  return { delta, weight: id, metrics: [id / 100] };
}

/** A Trainer that returns updateOf(id, round) and records the global model it was handed each round. */
export function trainerFor(id: number, seen?: Map<number, Float32Array>): Trainer {
  return {
    train: async ({ round, weights }) => {
      seen?.set(round, weights.slice());
      return updateOf(id, round, weights.length);
    },
  };
}

/**
 * The model fedavg should produce from `global` and the updates of `ids` in `round`,
 * and the largest error the quantisation allows on any weight: stochastic rounding
 * is off by < 2^-f per client and lane, so by < n/(2^f · Σw) after dividing by Σw
 * (plus float32 rounding of the result).
 */
export function expectedModel(global: Float32Array, ids: readonly number[], round: number, fractionalBits: number): { model: Float64Array; bound: number } {
  const m = global.length;
  const acc = new Float64Array(m);
  let totalWeight = 0;
  for (const id of ids) {
    const u = updateOf(id, round, m);
    totalWeight += u.weight;
    for (let j = 0; j < m; j++) acc[j]! += u.weight * u.delta[j]!;
  }
  const model = new Float64Array(m);
  for (let j = 0; j < m; j++) model[j] = global[j]! + acc[j]! / totalWeight;
  return { model, bound: ids.length / (2 ** fractionalBits * totalWeight) + 1e-6 };
}

/** Largest |a_j - b_j|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
  return worst;
}

// ---- client nodes in a child process --------------------------------------------------

/** What the host process reports for each node when it stops. */
export interface HostedResult {
  readonly id: number;
  readonly status: string;
  readonly rounds: number;
  readonly connections: number;
  readonly reason: string;
}

export interface ClientHost {
  readonly child: ChildProcess;
  /** Resolves when the process has started every node. */
  readonly started: Promise<void>;
  /** Resolves when the process exits (with its exit code, or the signal that ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Per-node results, filled in as nodes stop. */
  readonly results: Map<number, HostedResult>;
  /** Asks the host to close its nodes and exit. Idempotent; safe after exit. */
  stop(): void;
  /** SIGKILL: no close frames, no clean-up, like a crashed machine. */
  kill(): void;
  /** Everything the process wrote to stderr (node log lines, errors). */
  stderr(): string;
}

export interface HostOptions {
  readonly url: string;
  /** Enrolled ids (1-based) and their identities. */
  readonly clients: readonly { readonly id: number; readonly identity: KeyPair }[];
  readonly taskId: string;
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** The nodes' ping interval (0: off); default the node's own default. */
  readonly heartbeatMs?: number;
  /** Log each node's lines to stderr ('info'), or nothing (default). */
  readonly verbose?: boolean;
  /** Copy the host's stderr to this process's stderr as it comes (default false). */
  readonly echoStderr?: boolean;
}

/** Messages between the test and a host process (JSON over the IPC channel). */
export type HostCommand =
  | {
      readonly type: 'start';
      readonly url: string;
      readonly taskId: string;
      readonly clients: readonly { readonly id: number; readonly secretKey: string; readonly publicKey: string }[];
      readonly reconnect: { readonly initialMs: number; readonly maxMs: number };
      readonly heartbeatMs?: number;
      readonly verbose: boolean;
    }
  | { readonly type: 'stop' };

export type HostReport = { readonly type: 'started' } | ({ readonly type: 'done' } & HostedResult);

/**
 * Starts `node --import tsx test/load-client-host.ts` and hands it the nodes to run.
 * The process ends by itself once every node has stopped (task complete) or on stop().
 */
export function spawnClientHost(opts: HostOptions): ClientHost {
  const child = spawn(process.execPath, ['--import', 'tsx', HOST_ENTRY], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    // Bounded: keep the last 256 KiB for diagnosis.
    err = (err + d).slice(-262_144);
    if (opts.echoStderr) process.stderr.write(d);
  });
  const results = new Map<number, HostedResult>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const started = new Promise<void>((resolve, reject) => {
    child.on('message', (m: HostReport) => {
      if (m.type === 'started') resolve();
      else if (m.type === 'done') results.set(m.id, { id: m.id, status: m.status, rounds: m.rounds, connections: m.connections, reason: m.reason });
    });
    void exited.then(({ code, signal }) => reject(new Error(`client host exited (code ${code}, signal ${signal}) before it started: ${err.slice(-2000)}`)));
  });
  started.catch(() => undefined); // observed by the caller; never an unhandled rejection
  const command: HostCommand = {
    type: 'start',
    url: opts.url,
    taskId: opts.taskId,
    clients: opts.clients.map((c) => ({ id: c.id, secretKey: toHex(c.identity.secretKey), publicKey: toHex(c.identity.publicKey) })),
    reconnect: opts.reconnect ?? { initialMs: 20, maxMs: 200 },
    ...(opts.heartbeatMs === undefined ? {} : { heartbeatMs: opts.heartbeatMs }),
    verbose: opts.verbose ?? false,
  };
  child.send(command);
  let running = true;
  void exited.then(() => {
    running = false;
  });
  return {
    child,
    started,
    exited,
    results,
    stop() {
      if (running && child.connected) child.send({ type: 'stop' } satisfies HostCommand);
    },
    kill() {
      if (running) child.kill('SIGKILL');
    },
    stderr: () => err,
  };
}

// ---- the load run -----------------------------------------------------------------

export interface LoadOptions {
  readonly clients: number;
  readonly modelLength: number;
  /** Rounds to run (default 1). */
  readonly rounds?: number;
  /** Child processes the client nodes are spread over (default 2). */
  readonly hosts?: number;
  readonly graph?: 'harary' | 'complete';
  /** Milliseconds between memory samples (default 20). */
  readonly sampleMs?: number;
  /**
   * Milliseconds between forced full GCs that measure live memory (default 250; 0:
   * only at stage closes). Only where a GC can be forced. Collecting often lowers the
   * raw peaks below what a run without it would show.
   */
  readonly retainedEveryMs?: number;
  /** Progress lines (stage closes); default none. */
  readonly log?: (line: string) => void;
  /** Coordinator unmask worker threads (default 2). */
  readonly unmaskThreads?: number;
  /** Print every client node's log lines (default false: only their errors, kept for failure messages). */
  readonly clientLog?: boolean;
}

export interface MemoryFigures {
  /** Sampled at the start, after a full GC when one can be forced. */
  readonly baseline: NodeJS.MemoryUsage;
  /** Largest value of each field over all samples. */
  readonly peak: NodeJS.MemoryUsage;
  /** Largest heapUsed + arrayBuffers of one sample: JS objects plus Buffers/typed arrays of this thread. */
  readonly peakHeapPlusBuffers: number;
  /** Largest live heapUsed + arrayBuffers measured after a forced GC (periodic and at each stage close; null without GC). */
  readonly peakRetained: number | null;
  /** Forced-GC measurements taken. */
  readonly retainedSamples: number;
  /** peakRetained per coordinator stage (GET /status's stage at the time of the measurement). */
  readonly retainedByStage: Readonly<Record<string, number>>;
  readonly samples: number;
}

export interface LoadResult {
  readonly clients: number;
  readonly modelLength: number;
  readonly degree: number | null;
  readonly threshold: number | null;
  /** Wall time until every client was authenticated. */
  readonly connectMs: number;
  /** Per round: the audit record's duration (offer to commit) and its stage timings. */
  readonly rounds: readonly { round: number; ms: number; timings: Readonly<Record<string, number>>; contributors: number | null }[];
  readonly memory: MemoryFigures;
  /** Largest |model − fedavg of the plain updates| over every weight, and the bound allowed. */
  readonly error: { readonly worst: number; readonly bound: number };
}

/** A function that runs a full GC, if this process can get one. */
function gcFunction(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    return typeof f === 'function' ? (f as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * One coordinator in this process, `clients` client nodes spread over `hosts`
 * child processes, all on 127.0.0.1; runs `rounds` rounds and measures.
 *
 * Memory is measured in this process, which holds only the coordinator (and the
 * harness): process.memoryUsage() sampled every `sampleMs` and at each stage
 * close. heapUsed and arrayBuffers are this (main) thread's: V8 objects, and the
 * Buffers and typed arrays that carry the frames and vectors. rss is the whole
 * process, so it includes the coordinator's unmask worker threads. With a GC
 * available (forced via v8 flags when possible), the live size after a full GC
 * every `retainedEveryMs` and at each stage close is recorded too
 * (`peakRetained`): garbage-free, it shows what the coordinator keeps.
 *
 * Heartbeats are off (coordinator limits.heartbeatMs one hour, nodes 0): a host
 * process runs N/hosts nodes on one thread, and a stage's work for all of them
 * (e.g. ShareKeys at N = 300, k = 70: tens of seconds of signature checks and key
 * agreements) keeps that thread from reading pings for longer than the default
 * 15 s interval, so the coordinator would cut live clients. One node per process,
 * as deployed, spends well under a second per stage.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const n = opts.clients;
  const m = opts.modelLength;
  const rounds = opts.rounds ?? 1;
  const hostCount = Math.max(1, Math.min(opts.hosts ?? 2, n));
  const log = opts.log ?? (() => {});
  const gc = gcFunction();
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-load-'));
  const ids = identities(n);
  let config: CoordinatorConfig;
  try {
    config = parseCoordinatorConfig(
      taskConfigJson(
        dataDir,
        {
          id: 'load',
          modelLength: m,
          rounds,
          cohortSize: n,
          minClients: n,
          graph: opts.graph ?? 'harary',
          corruptFraction: 0.05,
          dropoutTolerance: 0.1,
          // Caps, not expectations: a stage ends as soon as every client answered.
          deadlines: { trainMs: 600_000, stageMs: 600_000, retryMs: 0 },
        },
        {
          limits: {
            // Everyone connects at once; the default of 64 pending authentications would make most retry.
            maxPendingAuth: Math.max(64, n),
            maxConnections: Math.max(1000, n + 16),
            // Heartbeats off (see the note on runLoad).
            heartbeatMs: 3_600_000,
          },
        },
      ),
      dataDir,
    );
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const plan = quantPlanOf(config.task);
  const quiet: Logger = silentLogger;

  gc?.();
  const baseline = process.memoryUsage();
  const peak: { -readonly [K in keyof NodeJS.MemoryUsage]: number } = { ...baseline };
  let peakHeapPlusBuffers = baseline.heapUsed + baseline.arrayBuffers;
  let peakRetained: number | null = null;
  let samples = 0;
  const sample = (): void => {
    const u = process.memoryUsage();
    samples++;
    for (const k of Object.keys(peak) as (keyof NodeJS.MemoryUsage)[]) peak[k] = Math.max(peak[k], u[k]);
    peakHeapPlusBuffers = Math.max(peakHeapPlusBuffers, u.heapUsed + u.arrayBuffers);
  };
  let retainedSamples = 0;
  const retainedByStage: Record<string, number> = {};
  let coordinator: Coordinator | undefined;
  const retained = (): void => {
    if (gc === null) return;
    sample(); // the raw value first: the GC is about to discard the garbage
    gc();
    const u = process.memoryUsage();
    const live = u.heapUsed + u.arrayBuffers;
    retainedSamples++;
    peakRetained = Math.max(peakRetained ?? 0, live);
    const stage = coordinator?.status().stage ?? 'starting';
    retainedByStage[stage] = Math.max(retainedByStage[stage] ?? 0, live);
  };
  const sampler = setInterval(sample, opts.sampleMs ?? 20);
  const retainedEvery = opts.retainedEveryMs ?? 250;
  const collector = gc !== null && retainedEvery > 0 ? setInterval(retained, retainedEvery) : undefined;

  const hosts: ClientHost[] = [];
  try {
    coordinator = await startCoordinator({ config, logger: quiet, enrolment: enrolmentOf(ids), unmaskThreads: opts.unmaskThreads ?? 2 });
    const c = coordinator;
    let connected = 0;
    const t0 = performance.now();
    let connectMs = -1;
    const models = new Map<number, Float32Array>();
    c.on((e: CoordinatorEvent) => {
      if (e.type === 'client-connected' && ++connected === n) {
        connectMs = performance.now() - t0;
        log(`all ${n} clients authenticated in ${Math.round(connectMs)} ms`);
      }
      if (e.type === 'stage') {
        sample();
        retained();
        log(`round ${e.report.round} ${e.report.stage}: ${e.report.answered}/${e.report.expected} in ${Math.round(e.report.ms)} ms`);
      }
      if (e.type === 'round' && e.model !== null) models.set(e.summary.round, e.model);
    });

    for (let h = 0; h < hostCount; h++) {
      const mine = ids.map((identity, i) => ({ id: i + 1, identity })).filter((_, i) => i % hostCount === h);
      hosts.push(spawnClientHost({ url: c.url, clients: mine, taskId: 'load', reconnect: { initialMs: 50, maxMs: 1000 }, heartbeatMs: 0, verbose: opts.clientLog ?? false, echoStderr: true }));
    }
    await Promise.all(hosts.map((h) => h.started));
    const summary = await c.done;
    sample();
    if (!summary.finished) throw new Error(`the task stopped at round ${summary.lastRound} without finishing`);

    const { records } = await readAuditLog(join(dataDir, 'load', 'audit.jsonl'));
    const committed = records.filter((r): r is AuditRecord => r.status === 'committed');
    // Exactness: the final model against fedavg over the plain updates, round by round.
    let global: Float32Array = new Float32Array(m);
    let worst = 0;
    let bound = 0;
    for (const r of committed) {
      const exp = expectedModel(global, r.survivors, r.round, plan.fractionalBits);
      const got = models.get(r.round)!;
      worst = Math.max(worst, maxAbsDiff(got, exp.model));
      bound = Math.max(bound, exp.bound);
      global = got;
    }
    return {
      clients: n,
      modelLength: m,
      degree: committed[0]?.degree ?? null,
      threshold: committed[0]?.threshold ?? null,
      connectMs,
      rounds: committed.map((r) => ({
        round: r.round,
        ms: Date.parse(r.endedAt) - Date.parse(r.startedAt),
        timings: r.timings,
        contributors: r.contributors,
      })),
      memory: { baseline, peak: { ...peak }, peakHeapPlusBuffers, peakRetained, retainedSamples, retainedByStage: { ...retainedByStage }, samples },
      error: { worst, bound },
    };
  } finally {
    clearInterval(sampler);
    clearInterval(collector);
    await coordinator?.close();
    for (const h of hosts) h.stop();
    await Promise.all(hosts.map((h) => h.exited));
    await rm(dataDir, { recursive: true, force: true });
  }
}

const MiB = 1024 * 1024;
export const mib = (bytes: number): string => (Math.abs(bytes) < MiB ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / MiB).toFixed(1)} MiB`);

/** A short human-readable report of a load run. */
export function formatLoad(r: LoadResult): string {
  const mem = r.memory;
  const lines = [
    `clients ${r.clients}, model ${r.modelLength} weights (${mib(4 * r.modelLength)} per vector; clients × model = ${mib(4 * r.modelLength * r.clients)})`,
    `graph degree k = ${r.degree}, threshold t = ${r.threshold}; all clients authenticated in ${Math.round(r.connectMs)} ms`,
    ...r.rounds.map(
      (x) =>
        `round ${x.round}: ${x.ms} ms offer-to-commit, ${x.contributors} contributors; stages ${Object.entries(x.timings)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} (ms)`,
    ),
    `coordinator process memory (${mem.samples} samples): baseline heapUsed ${mib(mem.baseline.heapUsed)}, arrayBuffers ${mib(mem.baseline.arrayBuffers)}, rss ${mib(mem.baseline.rss)}`,
    `  peak heapUsed ${mib(mem.peak.heapUsed)} (+${mib(mem.peak.heapUsed - mem.baseline.heapUsed)}), peak arrayBuffers ${mib(mem.peak.arrayBuffers)} (+${mib(mem.peak.arrayBuffers - mem.baseline.arrayBuffers)})`,
    `  peak heapUsed+arrayBuffers ${mib(mem.peakHeapPlusBuffers)} (+${mib(mem.peakHeapPlusBuffers - mem.baseline.heapUsed - mem.baseline.arrayBuffers)}), peak rss ${mib(mem.peak.rss)} (+${mib(mem.peak.rss - mem.baseline.rss)})`,
    mem.peakRetained === null
      ? '  (no GC available: retained size not measured)'
      : `  peak live after a forced GC (${mem.retainedSamples} GCs, periodic and at stage closes): heapUsed+arrayBuffers ${mib(mem.peakRetained)} (+${mib(mem.peakRetained - mem.baseline.heapUsed - mem.baseline.arrayBuffers)})`,
    ...(mem.peakRetained === null
      ? []
      : [
          `  live peak by stage (above baseline): ${Object.entries(mem.retainedByStage)
            .map(([k, v]) => `${k} +${mib(v - mem.baseline.heapUsed - mem.baseline.arrayBuffers)}`)
            .join(', ')}`,
        ]),
    `largest model error vs plain fedavg ${r.error.worst.toExponential(2)} (quantisation bound ${r.error.bound.toExponential(2)})`,
  ];
  return lines.join('\n');
}
