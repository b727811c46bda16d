/**
 * Unmasking split over worker threads. Each mask is independent, so the jobs (costliest
 * first) are cut into batches, about BATCHES_PER_THREAD per thread, and each batch goes
 * to whichever worker is free first: on a shared machine a thread that gets less CPU
 * simply takes fewer batches, where a fixed split waits for the slowest thread. Each
 * worker adds its batches into one running partial and finally writes it into a
 * SharedArrayBuffer the pool keeps for it
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
import { nativeKernel, nativeMaskSpeedup } from './native.ts';

export interface UnmaskPoolOptions {
  /** Worker threads. Default: the machine's available parallelism, at most 8. */
  readonly threads?: number;
  /**
   * Plans whose work (masks × lanes) is below this run on the calling thread, where the
   * message round trips would cost more than the second core saves. Default
   * INLINE_BELOW_LANES (INLINE_BELOW_LANES_NATIVE with the native mask kernel); 0 sends
   * every plan of two or more masks to the workers.
   */
  readonly inlineBelowLanes?: number;
}

/**
 * Default `inlineBelowLanes`: 2^22 lanes of masks, 16 MB of keystream, about 4 ms on one
 * thread here, where each batch costs a message round trip of 0.1 to 1 ms on the loaded
 * 2-core VM. Measured (bench:secagg --compare, n = 10, m = 1e4 and 1e5 with dropouts,
 * load 8): the pool took 12 to 27x the one-thread time on such plans.
 */
export const INLINE_BELOW_LANES = 2 ** 22;

/**
 * The default with the native mask kernel (native.ts) on OpenSSL's AES, which expands a
 * mask about 2-4x faster: 2^26 lanes of masks, about 45 ms on one thread here; times
 * nativeMaskSpeedup() with VAES (the same time's worth of work: at 2^26 the pool took
 * 1.55x one thread at n = 100, k = 99, m = 1e6 with 512-bit VAES). Measured (bench:secagg,
 * `--reps 5`, medians of the pool over one thread): 1.69 at n = 10, m = 1e6 (1e7 lanes)
 * and 1.36 at n = 100, k = 99, m = 1e5 (1e7 lanes) with the old default, against 0.94 at
 * n = 100, k = 99, m = 1e6 (1e8 lanes) and 0.87 at k = 14 with 10% dropouts (2.3e8 lanes).
 */
export const INLINE_BELOW_LANES_NATIVE = 2 ** 26;

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

/**
 * Batches per thread in one unmask. More batches balance better when threads get unequal
 * CPU; each costs one message round trip (tens of µs) and one more pass of the partial
 * through memory (MaskAccumulator.addAll streams it once per call).
 */
const BATCHES_PER_THREAD = 4;
/** But no batch smaller than this many lanes of masks (8 MB of keystream, ~2 ms), so the round trips stay a few per cent. */
const MIN_BATCH_LANES = 2 ** 21;

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
  const inlineBelow = options.inlineBelowLanes ?? (nativeKernel() !== null ? INLINE_BELOW_LANES_NATIVE * nativeMaskSpeedup() : INLINE_BELOW_LANES);
  if (!Number.isSafeInteger(inlineBelow) || inlineBelow < 0) throw new RangeError(`inlineBelowLanes: expected a non-negative integer, got ${inlineBelow}`);
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
      await Promise.all(workers.map((w, i) => run(w, { id: nextId++, ctx, length, fresh: true, jobs, out: outFor(i, length) })));
      // And the main thread's side: the SIMD add of a partial.
      const acc = new MaskAccumulator(length);
      acc.addVector(new Uint32Array(outFor(0, length), 0, length));
      acc.dispose();
    }),
    unmask: (plan) => serial(async () => {
      if (closed) throw new Error('unmask pool is closed');
      const jobs = maskJobs(plan);
      const lanes = plan.masked.length;
      if (threads === 1 || jobs.length < 2 || jobs.length * lanes < inlineBelow) return unmask(plan);
      const queue = batches(jobs, threads, lanes);
      const used = Math.min(threads, queue.length);
      while (workers.length < used) workers.push(spawnWorker());
      const bufs = Array.from({ length: used }, (_, i) => outFor(i, lanes));
      // Each worker: a fresh partial with the next batch, then further batches while any are
      // left, then finish. After a failure no worker gets more work, and the call settles
      // only once every worker has stopped (the next call starts fresh partials).
      let failed = false;
      const drive = async (i: number): Promise<void> => {
        try {
          let fresh = true;
          for (let batch = queue.shift(); batch !== undefined && !failed; batch = queue.shift()) {
            const last = queue.length === 0 ? bufs[i]! : undefined;
            await run(workers[i]!, { id: nextId++, ctx: plan.ctx, length: lanes, fresh, jobs: batch, ...(last === undefined ? {} : { out: last }) });
            fresh = false;
            if (last !== undefined) return;
          }
          if (!failed) await run(workers[i]!, { id: nextId++, ctx: plan.ctx, length: lanes, fresh: false, jobs: [], out: bufs[i]! });
        } catch (err) {
          failed = true;
          throw err;
        }
      };
      const settled = await Promise.allSettled(Array.from({ length: used }, (_, i) => drive(i)));
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
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

/**
 * The jobs, costliest first, cut into about BATCHES_PER_THREAD·threads batches (fewer
 * when they would be under MIN_BATCH_LANES, never fewer than threads) of near-equal estimated cost (consecutive runs of the sorted list); the batches are
 * handed out in this order, so the cheap ones come last and even out the finish.
 */
export function batches(jobs: readonly MaskJob[], threads: number, lanes: number): MaskJob[][] {
  const cost = (j: MaskJob): number => lanes + (j.kind === 'pair' ? PAIR_OVERHEAD_LANES : 0);
  const sorted = [...jobs].sort((a, b) => cost(b) - cost(a));
  const total = sorted.reduce((s, j) => s + cost(j), 0);
  const count = Math.min(sorted.length, threads * BATCHES_PER_THREAD, Math.max(threads, Math.floor(total / MIN_BATCH_LANES)));
  const out: MaskJob[][] = [];
  let cur: MaskJob[] = [];
  let done = 0;
  for (const j of sorted) {
    cur.push(j);
    done += cost(j);
    // Close the batch once the running cost reaches its share of the total.
    if (done >= (total * (out.length + 1)) / count && out.length < count - 1) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
