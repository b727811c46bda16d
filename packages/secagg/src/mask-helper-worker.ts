/**
 * Worker-thread body for mask-helper.ts: adds its share of a client's masks into a
 * zero vector (one MaskAccumulator per job, its wasm memory reused from job to job)
 * and writes that partial into the SharedArrayBuffer the helper lent it; then it
 * publishes the job's sequence number in the control word and wakes the waiting
 * thread (Atomics.notify). Nothing model-sized is cloned or transferred per job.
 *
 * Its isolate holds almost nothing but this code, so the garbage collections that the
 * keystream buffers of `cipher.update` trigger (one per ~64 MB of external memory) stay
 * cheap here, where on the client's own thread they mark the client's whole heap.
 */
import { parentPort } from 'node:worker_threads';
import { MaskAccumulator } from './prg.ts';

export interface HelperJob {
  readonly seq: number;
  readonly lanes: number;
  /** The PRG keys, 32 bytes each, back to back; `signs[i]` goes with key i. */
  readonly keys: Uint8Array;
  readonly signs: readonly (1 | -1)[];
  /** Where the partial goes (at least `lanes` uint32 lanes), owned by the helper. */
  readonly out: SharedArrayBuffer;
  /** Int32Array view: [0] = last finished seq, [1] = last failed seq. */
  readonly ctl: SharedArrayBuffer;
}

/** Control word slots (see HelperJob.ctl). */
export const CTL_DONE = 0;
export const CTL_FAILED = 1;

export function runHelperJob(job: HelperJob): void {
  const acc = new MaskAccumulator(job.lanes);
  try {
    for (let i = 0; i < job.signs.length; i++) acc.add(job.keys.subarray(32 * i, 32 * i + 32), job.signs[i]!);
    acc.copyTo(new Uint32Array(job.out, 0, job.lanes));
  } finally {
    acc.dispose(); // zeroed and kept for the next job: warm memory, no page faults
    job.keys.fill(0);
  }
}

parentPort?.on('message', (job: HelperJob) => {
  const ctl = new Int32Array(job.ctl);
  try {
    runHelperJob(job);
    Atomics.store(ctl, CTL_DONE, job.seq);
  } catch {
    Atomics.store(ctl, CTL_FAILED, job.seq);
  }
  Atomics.notify(ctl, CTL_DONE);
});
parentPort?.postMessage('ready');
