/**
 * Unmasking split over worker threads. Each mask is independent, so the jobs are
 * dealt out by estimated cost (longest first, to the least-loaded worker); each
 * worker returns a partial vector and the partials are added to the masked sum.
 * Memory: one extra model-sized vector per worker.
 *
 * The result is identical to unmask() (ring arithmetic is exact and commutative).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
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
   * second under tsx), so the first round's unmasking does not pay for it.
   */
  warm(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** Rough cost of one X25519 agreement (noble, pure JS) in lanes of AES-CTR keystream. */
const PAIR_OVERHEAD_LANES = 1_500_000;

export function createUnmaskPool(options: UnmaskPoolOptions = {}): UnmaskPool {
  const threads = options.threads ?? Math.min(availableParallelism(), 8);
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads: expected a positive integer, got ${threads}`);
  const workers: Worker[] = [];
  let closed = false;
  let nextId = 0;

  const spawn = (): Worker => {
    const w = new Worker(unmaskWorkerUrl());
    w.unref();
    return w;
  };

  const run = (w: Worker, task: WorkerTask): Promise<Uint32Array> =>
    new Promise((resolve, reject) => {
      const onMessage = (reply: WorkerReply): void => {
        if (reply.id !== task.id) return;
        w.off('message', onMessage);
        w.off('error', onError);
        if ('error' in reply) reject(new Error(`unmask worker: ${reply.error}`));
        else resolve(reply.partial);
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
    async warm() {
      if (closed) throw new Error('unmask pool is closed');
      while (workers.length < threads) workers.push(spawn());
      const empty = { ctx: { session: new Uint8Array(16), round: 0 }, length: 0, jobs: [] };
      await Promise.all(workers.map((w) => run(w, { id: nextId++, ...empty })));
    },
    async unmask(plan) {
      if (closed) throw new Error('unmask pool is closed');
      const jobs = maskJobs(plan);
      if (threads === 1 || jobs.length < 2) return unmask(plan);
      const groups = deal(jobs, threads, plan.masked.length);
      while (workers.length < groups.length) workers.push(spawn());
      const partials = await Promise.all(
        groups.map((g, i) => run(workers[i]!, { id: nextId++, ctx: plan.ctx, length: plan.masked.length, jobs: g })),
      );
      const acc = new Uint32Array(plan.masked);
      for (const p of partials) for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + p[i]!) >>> 0;
      return acc;
    },
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
