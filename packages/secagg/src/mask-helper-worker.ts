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
import { parentPort, workerData } from 'node:worker_threads';
import { CTL_DONE, CTL_FAILED, MASK_HELPER_MARK, type HelperJob } from './mask-helper.ts';
import { MaskAccumulator } from './prg.ts';

export function runHelperJob(job: HelperJob): void {
  const acc = new MaskAccumulator(job.lanes);
  try {
    acc.addAll(job.signs.map((sign, i) => ({ key: job.keys.subarray(32 * i, 32 * i + 32), sign })));
    acc.copyTo(new Uint32Array(job.out, 0, job.lanes));
  } finally {
    acc.dispose(); // zeroed and kept for the next job: warm memory, no page faults
    job.keys.fill(0);
  }
}

// Only as the helper thread that mask-helper.ts started: importing this module anywhere else does nothing.
if (parentPort !== null && workerData === MASK_HELPER_MARK) {
  const port = parentPort;
  port.on('message', (job: HelperJob) => {
    const ctl = new Int32Array(job.ctl);
    try {
      runHelperJob(job);
      Atomics.store(ctl, CTL_DONE, job.seq);
    } catch {
      Atomics.store(ctl, CTL_FAILED, job.seq);
    }
    Atomics.notify(ctl, CTL_DONE);
  });
  port.postMessage('ready');
}
