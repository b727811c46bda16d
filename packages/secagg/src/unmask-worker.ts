/**
 * Worker-thread body for unmask-pool.ts. The pool hands each worker batches of jobs one
 * at a time (the next batch goes to whichever worker is free first): the worker adds
 * each batch's masks into its running partial (one MaskAccumulator per unmask, its wasm
 * memory reused from call to call on this thread) and, when told to finish, writes the
 * partial into the SharedArrayBuffer the pool lent it, so nothing model-sized is
 * allocated, cloned or transferred per task.
 */
import { parentPort } from 'node:worker_threads';
import { MaskAccumulator } from './prg.ts';
import { maskRemoval, type MaskJob } from './unmask.ts';
import type { RoundContext } from './hkdf.ts';

export interface WorkerTask {
  readonly id: number;
  readonly ctx: RoundContext;
  readonly length: number;
  /** Start a new partial of `length` zero lanes (dropping any earlier one) before adding `jobs`. */
  readonly fresh: boolean;
  readonly jobs: readonly MaskJob[];
  /** When present, the last task of this partial: write it here (at least `length` lanes, owned by the pool) and end it. */
  readonly out?: SharedArrayBuffer;
}

export type WorkerReply = { readonly id: number } | { readonly id: number; readonly error: string };

/** This thread's partial between tasks of one unmask. */
let partial: MaskAccumulator | undefined;

/** Adds the masks of `task.jobs` to this thread's partial (a new one when `task.fresh`); with `task.out`, writes the partial there and ends it. */
export function runTask(task: WorkerTask): void {
  try {
    if (task.fresh) {
      partial?.dispose();
      partial = new MaskAccumulator(task.length);
    }
    if (partial === undefined || partial.length !== task.length) throw new Error('unmask worker: a batch came without its partial');
    partial.addAll(task.jobs.map((job) => maskRemoval(task.ctx, job))); // chunk-major: see MaskAccumulator.addAll
    if (task.out !== undefined) {
      partial.copyTo(new Uint32Array(task.out, 0, task.length));
      partial.dispose(); // zeroed and kept for the next unmask: warm memory, no page faults
      partial = undefined;
    }
  } catch (err) {
    partial?.dispose(); // a failed partial is never continued
    partial = undefined;
    throw err;
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
