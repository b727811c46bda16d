/**
 * Worker-thread body for unmask-pool.ts: removes the masks of the jobs it is given
 * from a zero vector (one MaskAccumulator per task) and sends that partial back
 * (transferred, not copied).
 */
import { parentPort } from 'node:worker_threads';
import { removeMasks, type MaskJob } from './unmask.ts';
import type { RoundContext } from './hkdf.ts';

export interface WorkerTask {
  readonly id: number;
  readonly ctx: RoundContext;
  readonly length: number;
  readonly jobs: readonly MaskJob[];
}

export type WorkerReply = { readonly id: number; readonly partial: Uint32Array } | { readonly id: number; readonly error: string };

parentPort?.on('message', (task: WorkerTask) => {
  try {
    const partial = removeMasks(task.length, task.ctx, task.jobs);
    parentPort!.postMessage({ id: task.id, partial } satisfies WorkerReply, [partial.buffer]);
  } catch (err) {
    parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
  }
});
