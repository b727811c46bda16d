/**
 * Unmasking split over worker threads. Each mask is independent, so the jobs are
 * dealt out by estimated cost (longest first, to the least-loaded worker); each
 * worker writes a partial vector into a SharedArrayBuffer the pool keeps for it
 * (reused round after round while the model size stays), and the partials are added
 * to the masked sum with the SIMD kernel (MaskAccumulator.addVector). The main thread
 * only adds: it stays free for the coordinator's sockets while the workers run.
 * Memory: one extra model-sized vector per worker, plus each worker's wasm memory.
 *
 * The result is identical to unmask() (ring arithmetic is exact and commutative).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { generateX25519 } from './keys.ts';
import { MaskAccumulator } from './prg.ts';
import { maskJobs, unmask, type MaskJob, type UnmaskPlan } from './unmask.ts';
import type { WorkerReply, WorkerTask } from './unmask-worker.ts';
import { unmaskWorkerUrl } from './unmask-worker-url.ts';

export interface UnmaskPoolOptions {
  /** Worker threads. Default: the machine's available parallelism, at most 8. */
  readonly threads?: number;
}

export interface UnmaskPool {
  readonly threads: number;
  unmask(plan: UnmaskPlan): Promise<Uint32Array>;
  /**
   * Starts every thread now and resolves once each has loaded its code (about a
   * second under tsx) and run the real mask path once (an X25519 agreement, a key
   * derivation, a SIMD mask expansion into reused wasm memory, the copy into shared
   * memory), so the first round's unmasking pays for none of it. With `lanes` (the
   * task's vector length) that path runs at full length: the shared output buffers and
   * each thread's wasm memory are then allocated and touched too (default 65536 lanes).
   */
  warm(lanes?: number): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * Rough cost of one X25519 agreement plus key derivation in lanes of AES-CTR keystream
 * (node:crypto: ~40 µs, about the keystream for 40k lanes here; noble: ~1 ms).
 */
const PAIR_OVERHEAD_LANES = 50_000;

/** Lanes of the vector `warm()` runs through each thread: enough for the SIMD path. */
const WARM_LANES = 65536;

/** Starts one worker thread; where its entry lives (sources or a build) is unmaskWorkerUrl()'s business. */
function spawnWorker(): Worker {
  const w = new Worker(unmaskWorkerUrl());
  w.unref();
  return w;
}

export function createUnmaskPool(options: UnmaskPoolOptions = {}): UnmaskPool {
  const threads = options.threads ?? Math.min(availableParallelism(), 8);
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads: expected a positive integer, got ${threads}`);
  const workers: Worker[] = [];
  /** One shared output buffer per worker, grown when a bigger model comes. */
  const outs: SharedArrayBuffer[] = [];
  let closed = false;
  let nextId = 0;
  /** The shared buffers are reused, so calls run one after another (a round unmasks once). */
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = tail.then(f, f);
    tail = next.catch(() => undefined);
    return next;
  };

  const outFor = (i: number, lanes: number): SharedArrayBuffer => {
    const have = outs[i];
    if (have !== undefined && have.byteLength >= lanes * 4) return have;
    const fresh = new SharedArrayBuffer(Math.max(lanes * 4, 4));
    outs[i] = fresh;
    return fresh;
  };

  const run = (w: Worker, task: WorkerTask): Promise<void> =>
    new Promise((resolve, reject) => {
      const onMessage = (reply: WorkerReply): void => {
        if (reply.id !== task.id) return;
        w.off('message', onMessage);
        w.off('error', onError);
        if ('error' in reply) reject(new Error(`unmask worker: ${reply.error}`));
        else resolve();
      };
      const onError = (err: Error): void => {
        w.off('message', onMessage);
        reject(err);
      };
      w.on('message', onMessage);
      w.once('error', onError);
      w.postMessage(task);
    });

  return {
    threads,
    warm: (lanes = WARM_LANES) => serial(async () => {
      if (closed) throw new Error('unmask pool is closed');
      if (!Number.isSafeInteger(lanes) || lanes < 1) throw new RangeError(`warm lanes: expected a positive integer, got ${lanes}`);
      // At the task's vector length: the shared buffers and each thread's wasm memory are then
      // allocated and touched before the first round, whose unmask would otherwise pay for it.
      const length = Math.max(lanes, WARM_LANES);
      while (workers.length < threads) workers.push(spawnWorker());
      const ctx = { session: new Uint8Array(16), round: 0 };
      const a = generateX25519();
      const b = generateX25519();
      const jobs: MaskJob[] = [
        { kind: 'self', seed: new Uint8Array(32).fill(1) },
        { kind: 'pair', secretKey: a.secretKey, peerPk: b.publicKey, owner: 1, peer: 2 },
      ];
      await Promise.all(workers.map((w, i) => run(w, { id: nextId++, ctx, length, jobs, out: outFor(i, length) })));
      // And the main thread's side: the SIMD add of a partial.
      const acc = new MaskAccumulator(length);
      acc.addVector(new Uint32Array(outFor(0, length), 0, length));
      acc.dispose();
    }),
    unmask: (plan) => serial(async () => {
      if (closed) throw new Error('unmask pool is closed');
      const jobs = maskJobs(plan);
      if (threads === 1 || jobs.length < 2) return unmask(plan);
      const lanes = plan.masked.length;
      const groups = deal(jobs, threads, lanes);
      while (workers.length < groups.length) workers.push(spawnWorker());
      const bufs = groups.map((_, i) => outFor(i, lanes));
      await Promise.all(groups.map((g, i) => run(workers[i]!, { id: nextId++, ctx: plan.ctx, length: lanes, jobs: g, out: bufs[i]! })));
      const acc = new MaskAccumulator(plan.masked);
      try {
        for (const b of bufs) acc.addVector(new Uint32Array(b, 0, lanes));
        return acc.result();
      } finally {
        acc.dispose();
      }
    }),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** Longest-processing-time-first assignment of jobs to at most `n` groups. */
function deal(jobs: readonly MaskJob[], n: number, lanes: number): MaskJob[][] {
  const cost = (j: MaskJob): number => lanes + (j.kind === 'pair' ? PAIR_OVERHEAD_LANES : 0);
  const sorted = [...jobs].sort((a, b) => cost(b) - cost(a));
  const groups = Array.from({ length: Math.min(n, jobs.length) }, () => ({ load: 0, jobs: [] as MaskJob[] }));
  for (const j of sorted) {
    let best = groups[0]!;
    for (const g of groups) if (g.load < best.load) best = g;
    best.jobs.push(j);
    best.load += cost(j);
  }
  return groups.map((g) => g.jobs);
}
