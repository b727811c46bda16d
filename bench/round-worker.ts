/**
 * A worker thread of `bench/round.ts` that hosts a share of the round's clients,
 * so that the coordinator (or the plaintext server) has the main thread to itself.
 *
 * workerData is a WorkerJob. The worker opens the clients (real `startClientNode`s for the secure round, the
 * baseline's `runPlainClient`s for the plaintext one), waits until every socket
 * has closed and posts one WorkerReport with each client's byte counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { startClientNode, type Logger, type Policy } from '@tally/client';
import { maskHelpersPay, type KeyPair } from '@tally/secagg';
import { gcCounter, threadCpuMs, type GcCount } from './round-cpu.ts';
import { ClientBytes, SocketMeter, roundBytes, type RoundBytes } from './round-bytes.ts';
import { runPlainClient } from './round-plain.ts';
import { FixedDeltaTrainer, fillRandomDelta } from './round-trainer.ts';
import { warmUp } from './round-warmup.ts';

export interface WorkerClient {
  /** 1-based, as enrolled. */
  readonly id: number;
  /** The enrolled identity (secure round only). */
  readonly identity: KeyPair | null;
  readonly weight: number;
  /** This client's fixed update (in a SharedArrayBuffer: the secure and the plaintext round share it). */
  readonly delta: Float32Array;
}

export interface WorkerJob {
  readonly mode: 'secure' | 'plain';
  readonly url: string;
  readonly taskId: string;
  readonly m: number;
  readonly clients: readonly WorkerClient[];
  /** The whole enrolment as [id, identity public key] (secure round): every node's peer list. */
  readonly enrolled: readonly (readonly [number, Uint8Array])[];
  /** The model frame on the wire (TaskOffer or plaintext model), WebSocket header included. */
  readonly modelFrameBytes: number;
  /**
   * Rounds to run first, one against each of these servers of the same mode (each with an
   * `m`-lane model), in order, untimed and unmetered (none with bench/round.ts --cold): the
   * thread's code is then as warm as a node's in a federation's later rounds (and the
   * plaintext client's likewise).
   */
  readonly warm: { readonly urls: readonly string[]; readonly m: number };
}

export interface ClientReport {
  readonly id: number;
  readonly sockets: number;
  readonly trained: boolean;
  /** Secure: RoundResult committed received; plain: result frame received. */
  readonly committed: boolean;
  readonly outcome: string;
  readonly bytes: RoundBytes | null;
}

export interface WorkerReport {
  readonly clients: readonly ClientReport[];
  /** CPU time of this thread from its first client's model frame to its last socket's close (null off Linux). */
  readonly cpuMs: number | null;
  /** This thread's garbage collections over the same span (from the trainer's first call). */
  readonly gc: GcCount | null;
  readonly orphanSockets: number;
  readonly problems: readonly string[];
}

const job = workerData as WorkerJob;
const port = parentPort;
if (port === null) throw new Error('round-worker.ts runs as a worker thread of bench/round.ts');

const problems: string[] = [];
const logger = (id: number): Logger => ({
  debug: () => undefined,
  info: () => undefined,
  warn: (msg) => problems.push(`client ${id}: ${msg}`),
  error: (msg) => problems.push(`client ${id}: ERROR ${msg}`),
});

// Same for every client: the round must not fail on the client's own policy.
const policy: Policy = { tasks: [job.taskId], minCohort: 2, minThreshold: 1, maxRounds: 1_000, graph: 'harary' }; // --graph harary runs SecAgg+

const enrolled = new Map(job.enrolled);
/** A client node as the bench runs it (and as a real node runs: its own state folder under `stateRoot`). */
const node = (c: WorkerClient, url: string, trainer: FixedDeltaTrainer, stateRoot: string) =>
  startClientNode({
    url,
    identity: c.identity!,
    trainer,
    policy,
    enrolled, // as a real node is configured: each RoundStart roster is checked against it
    logger: logger(c.id),
    stateDir: join(stateRoot, String(c.id)),
    heartbeatMs: 0, // the bench's event loops are busy for seconds; liveness is not what it measures
    reconnect: { initialMs: 100, maxMs: 1_000 },
  });

/** One of job.warm's rounds: every client of this thread takes part in it (no meters, no marks). */
async function warmRound(w: { readonly url: string; readonly m: number }): Promise<void> {
  const delta = fillRandomDelta(new Float32Array(w.m), 0.5);
  const trainerOf = (c: WorkerClient) => new FixedDeltaTrainer(delta, c.weight, 0.5, () => undefined);
  if (job.mode === 'plain') {
    const results = await Promise.all(job.clients.map((c) => runPlainClient({ url: w.url, taskId: job.taskId, trainer: trainerOf(c), m: w.m })));
    results.forEach((r, i) => {
      if (!r.committed) problems.push(`client ${job.clients[i]!.id}: the warm-up round did not complete (close ${r.closeCode})`);
    });
    return;
  }
  const stateRoot = mkdtempSync(join(tmpdir(), 'tally-bench-warm-'));
  try {
    const nodes = job.clients.map((c) => node(c, w.url, trainerOf(c), stateRoot));
    const results = await Promise.all(nodes.map((n) => n.done));
    nodes.forEach((n, i) => {
      if (n.stats().roundsCommitted < 1) problems.push(`client ${job.clients[i]!.id}: the warm-up round did not commit (${results[i]!.status}: ${results[i]!.reason})`);
    });
  } finally {
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

// Helpers only where a node would start them (maskHelpersPay; k + 1 ≤ n masks per client).
if (job.mode === 'secure') await warmUp({ maskHelpers: maskHelpersPay(job.enrolled.length, job.m) });
for (const url of job.warm.urls) await warmRound({ url, m: job.warm.m });
const meter = new SocketMeter(); // from here on: the warm-up's sockets are closed and not counted
let cpuAtStart: number | null = null;
let gc: ReturnType<typeof gcCounter> | null = null;
const clients = job.clients.map((c) => {
  const bytes = new ClientBytes();
  const trainer = new FixedDeltaTrainer(c.delta, c.weight, 0.5, () => {
    cpuAtStart ??= threadCpuMs();
    gc ??= gcCounter();
    bytes.markRoundStart();
  });
  return { ...c, bytes, trainer };
});

let outcomes: { trained: boolean; committed: boolean; outcome: string }[];
if (job.mode === 'secure') {
  // Each node keeps its participation record in a stateDir of its own, as a real node does (the CLI's default).
  const stateRoot = mkdtempSync(join(tmpdir(), 'tally-bench-clients-'));
  const nodes = clients.map((c) => meter.claim(c.bytes, () => node(c, job.url, c.trainer, stateRoot)));
  const results = await Promise.all(nodes.map((n) => n.done));
  outcomes = nodes.map((n, i) => {
    const s = n.stats();
    return { trained: s.offersAccepted > 0, committed: s.roundsCommitted > 0, outcome: `${results[i]!.status}: ${results[i]!.reason}` };
  });
  rmSync(stateRoot, { recursive: true, force: true });
} else {
  const results = await Promise.all(
    clients.map((c) => meter.claim(c.bytes, () => runPlainClient({ url: job.url, taskId: job.taskId, trainer: c.trainer, m: job.m }))),
  );
  outcomes = results.map((r) => ({ trained: r.trained, committed: r.committed, outcome: `close ${r.closeCode}` }));
}
await meter.allClosed();
meter.dispose();
const cpuAtEnd = threadCpuMs();

port.postMessage({
  clients: clients.map((c, i) => ({
    id: c.id,
    sockets: c.bytes.sockets.length,
    ...outcomes[i]!,
    bytes: roundBytes(c.bytes, job.modelFrameBytes),
  })),
  cpuMs: cpuAtStart === null || cpuAtEnd === null ? null : cpuAtEnd - cpuAtStart,
  gc: gc === null ? null : (gc as ReturnType<typeof gcCounter>).read(),
  orphanSockets: meter.orphans.length,
  problems,
} satisfies WorkerReport);
