/**
 * Worker-thread body for unmask-pool.ts: removes the masks of the jobs it is given
 * from a zero vector (one MaskAccumulator per task, its wasm memory reused from task
 * to task on this thread) and writes that partial into the SharedArrayBuffer the pool
 * lent it, so nothing model-sized is allocated, cloned or transferred per task.
 */
import { parentPort } from 'node:worker_threads';
import { MaskAccumulator } from './prg.ts';
import { maskRemoval, type MaskJob } from './unmask.ts';
import type { RoundContext } from './hkdf.ts';

export interface WorkerTask {
  readonly id: number;
  readonly ctx: RoundContext;
  readonly length: number;
  readonly jobs: readonly MaskJob[];
  /** Where the partial goes: at least `length` uint32 lanes, owned by the pool. */
  readonly out: SharedArrayBuffer;
}

export type WorkerReply = { readonly id: number } | { readonly id: number; readonly error: string };

/** The partial of `task` (Σ of its jobs' mask removals), written into `task.out`. */
export function runTask(task: WorkerTask): void {
  const acc = new MaskAccumulator(task.length);
  try {
    acc.addAll(task.jobs.map((job) => maskRemoval(task.ctx, job))); // chunk-major: see MaskAccumulator.addAll
    acc.copyTo(new Uint32Array(task.out, 0, task.length));
  } finally {
    acc.dispose(); // zeroed and kept for the next task: warm memory, no page faults
  }
}

parentPort?.on('message', (task: WorkerTask) => {
  try {
    runTask(task);
    parentPort!.postMessage({ id: task.id } satisfies WorkerReply);
  } catch (err) {
    parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
  }
});
