/**
 * A client's other cores for mask expansion (Node only): up to MASK_HELPER_THREADS helper
 * threads per isolate expand the masks of `maskInput`, each into a partial sum that the
 * calling thread then adds with the SIMD kernel.
 *
 * With two helpers ready the caller expands no keystream itself. That is the point:
 * every `cipher.update` returns a fresh native buffer, and on the caller's isolate those
 * 4 bytes per lane per mask of external memory trigger young-generation collections
 * that copy and promote the node's own objects, and then full collections of its heap.
 * In a helper, whose heap holds little but this code, the same collections cost almost
 * nothing. Measured (`bench:round`, n = 50, m = 1e6, 25 clients per thread): with the
 * caller expanding half the masks its thread ran 75 full and 180 young collections per
 * round; with none, 30 and 87. With one helper the caller and the helper share the
 * masks half and half, as before.
 *
 * With the native mask kernel (native.ts), which allocates nothing, helpers take only very
 * large jobs (MASK_HELPER_NATIVE_MIN_WORK): for the rest the hand-off costs more CPU than
 * the second core saves.
 *
 * The call stays synchronous (the protocol step is a pure function): the caller waits
 * for the helpers with Atomics.wait, which Node allows on every thread. Browsers forbid
 * that on the main thread, and have no node:worker_threads: there, and for small jobs
 * (see MASK_HELPER_MIN_MASKS), `maskInput` keeps the single-thread path.
 *
 * A helper never delays or breaks a round: until its thread has loaded (started by
 * `startMaskHelper`, or by the first large job) it gets no work; if it fails or does not
 * answer within MASK_HELPER_TIMEOUT_MS, the caller expands that helper's masks itself
 * and the helper is not used again.
 *
 * What crosses the thread boundary: the derived per-mask PRG keys (secret, within this
 * process; zeroed on both sides after use) and the partial sums, in SharedArrayBuffers
 * that the caller zeroes once it has added them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { nativeKernel, nativeMaskSpeedup } from './native.ts';
import type { MaskAccumulator, SignedKey } from './prg.ts';

/**
 * Fewer masks than this stay on the caller's thread: below it, the hand-off (a message,
 * the wait, adding the partial back: about one mask's worth) eats most of the gain, and
 * SecAgg+ neighbourhoods (k around 2 log n, e.g. 14 at n = 100) stay single-threaded.
 */
export const MASK_HELPER_MIN_MASKS = 24;
/** Shorter vectors stay on the caller's thread (the hand-off costs more than the masks). */
export const MASK_HELPER_MIN_LANES = 65_536;
/**
 * With the native kernel (native.ts) a job must hold at least this many lanes × masks
 * (1 GiB of keystream, ~150 ms on one thread here with OpenSSL's AES; times
 * nativeMaskSpeedup() with VAES, where the same work takes that many times less) before
 * helpers take it. The native kernel allocates nothing, so the helpers' first reason is
 * gone, and their hand-off (the keys out, four passes over a vector-sized partial back)
 * costs throughput:
 * `bench:round --n 50 --m 1e6` (50 masks per client) took 4.45–4.68 s without helpers
 * against 4.76–5.39 s with two per client thread, and 8.4 s of process CPU against 10.
 */
export const MASK_HELPER_NATIVE_MIN_WORK = 2 ** 28;
/** Helper threads per isolate, at most (fewer where the machine has fewer cores). */
export const MASK_HELPER_THREADS = 2;
/** How long the caller waits for a helper's partial before doing that work itself. */
export const MASK_HELPER_TIMEOUT_MS = 60_000;

/** One job for the helper thread (mask-helper-worker.ts). */
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

/** The helper thread's workerData: its body runs only when started with it. */
export const MASK_HELPER_MARK = 'tally-mask-helper';

interface Helper {
  readonly worker: Worker;
  ready: boolean;
  broken: boolean;
  seq: number;
  out: SharedArrayBuffer;
  readonly ctl: Int32Array<SharedArrayBuffer>;
  /** Settles true once the thread has loaded, false if it failed to. */
  readonly loaded: Promise<boolean>;
}

/** This isolate's helpers; empty until started. */
const helpers: Helper[] = [];

/** Where the helper's code lives: the compiled worker in the built package, a tsx entry in the workspace sources. */
function helperUrl(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? './mask-helper-entry.mjs' : './mask-helper-worker.js', import.meta.url);
}

/** How many helpers run here: none without Atomics.wait or a second core, else one per core up to MASK_HELPER_THREADS. */
function helperCount(): number {
  if (typeof Atomics.wait !== 'function') return 0;
  const cores = availableParallelism();
  return cores < 2 ? 0 : Math.min(MASK_HELPER_THREADS, cores);
}

/**
 * Starts this thread's helpers now (they load in the background; idempotent), so that the
 * round's masking finds them ready. Returns false where no helper can run.
 */
export function startMaskHelper(): boolean {
  if (helpers.length === 0) {
    for (let i = 0; i < helperCount(); i++) {
      const h = startOne();
      if (h === undefined) break;
      helpers.push(h);
    }
  }
  return helpers.some((h) => !h.broken);
}

function startOne(): Helper | undefined {
  let worker: Worker;
  try {
    worker = new Worker(helperUrl(), { workerData: MASK_HELPER_MARK });
  } catch {
    return undefined;
  }
  worker.unref(); // never keeps a process alive
  let settle: (ok: boolean) => void = () => undefined;
  const loaded = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const h: Helper = { worker, ready: false, broken: false, seq: 0, out: new SharedArrayBuffer(4), ctl: new Int32Array(new SharedArrayBuffer(8)), loaded };
  worker.once('message', () => {
    h.ready = true;
    settle(true);
  });
  const fail = (): void => {
    h.broken = true;
    settle(false);
  };
  worker.once('error', fail);
  worker.once('exit', fail);
  return h;
}

/** Starts the helpers if needed and resolves once all of them can take work (true) or none can run here (false). */
export async function maskHelperReady(): Promise<boolean> {
  if (!startMaskHelper()) return false;
  const loaded = await Promise.all(helpers.map((h) => h.loaded));
  return loaded.some(Boolean);
}

/** One key and its sign, as `MaskAccumulator.add` and `addAll` take them. */
export type MaskKey = SignedKey;

/**
 * acc += Σ sign·PRG(key) over `masks`, spread over the ready helpers when it is worth it
 * (with a single helper, half stays on this thread); otherwise all on this thread. Same
 * result bit for bit either way (addition mod 2^32 commutes). Returns how many masks the
 * helpers expanded (0: none).
 */
export function addMasksSplit(acc: MaskAccumulator, masks: readonly MaskKey[]): number {
  const lanes = acc.length;
  const large = maskHelpersPay(masks.length, lanes);
  const ready = large ? helpers.filter((h) => h.ready && !h.broken) : [];
  if (ready.length === 0) {
    if (large) startMaskHelper(); // for the next call
    acc.addAll(masks);
    return 0;
  }
  // Two or more helpers: they take everything. One: this thread takes the larger half,
  // as it also pays for adding the partial back.
  const parts = ready.length >= 2 ? ready.length : 2;
  const jobs: { h: Helper; seq: number; masks: readonly MaskKey[] }[] = [];
  let next = 0;
  for (let i = 0; i < ready.length; i++) {
    const take = Math.floor((masks.length - next) / (parts - i));
    const theirs = masks.slice(next, next + take);
    next += take;
    jobs.push({ h: ready[i]!, seq: post(ready[i]!, lanes, theirs), masks: theirs });
  }
  acc.addAll(masks.slice(next));
  let helped = 0;
  for (const job of jobs) {
    const { h } = job;
    if (!waitFor(h, job.seq)) {
      // Failed or silent: do its share here, and never hand it work again.
      h.broken = true;
      void h.worker.terminate();
      acc.addAll(job.masks);
      continue;
    }
    const partial = new Uint32Array(h.out, 0, lanes);
    acc.addVector(partial, 1);
    partial.fill(0); // the partial is a sum of masks: do not leave it lying around
    helped += job.masks.length;
  }
  return helped;
}

/** Whether a job of `masks` masks over `lanes` lanes goes to the helpers (see MASK_HELPER_MIN_MASKS, MASK_HELPER_NATIVE_MIN_WORK). */
export function maskHelpersPay(masks: number, lanes: number): boolean {
  if (masks < MASK_HELPER_MIN_MASKS || lanes < MASK_HELPER_MIN_LANES) return false;
  return nativeKernel() === null || masks * lanes >= MASK_HELPER_NATIVE_MIN_WORK * nativeMaskSpeedup();
}

/** Hands `masks` to helper `h`; returns the job's sequence number. */
function post(h: Helper, lanes: number, masks: readonly MaskKey[]): number {
  if (h.out.byteLength < lanes * 4) h.out = new SharedArrayBuffer(lanes * 4);
  const keys = new Uint8Array(32 * masks.length);
  masks.forEach((m, i) => keys.set(m.key, 32 * i));
  const seq = ++h.seq;
  const job: HelperJob = { seq, lanes, keys, signs: masks.map((m) => m.sign), out: h.out, ctl: h.ctl.buffer };
  h.worker.postMessage(job);
  keys.fill(0); // the worker got a copy
  return seq;
}

/** Blocks until the helper finished `seq` (true) or failed it / timed out (false). */
function waitFor(h: Helper, seq: number): boolean {
  const deadline = performance.now() + MASK_HELPER_TIMEOUT_MS;
  for (;;) {
    if (Atomics.load(h.ctl, CTL_DONE) === seq) return true;
    if (Atomics.load(h.ctl, CTL_FAILED) === seq || h.broken) return false;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(h.ctl, CTL_DONE, seq - 1, Math.min(left, 1000));
  }
}
