/**
 * A client's second core for mask expansion (Node only): one helper thread per
 * isolate expands part of the masks of `maskInput` while the calling thread expands
 * the rest; the calling thread then adds the helper's partial sum with the SIMD kernel.
 *
 * The call stays synchronous (the protocol step is a pure function): the caller waits
 * for the helper with Atomics.wait, which Node allows on every thread. Browsers forbid
 * that on the main thread, and have no node:worker_threads: there, and for small jobs
 * (see MASK_HELPER_MIN_MASKS), `maskInput` keeps the single-thread path.
 *
 * The helper never delays or breaks a round: until its thread has loaded (started by
 * `startMaskHelper`, or by the first large job) jobs run on the caller's thread alone;
 * if the helper fails or does not answer within MASK_HELPER_TIMEOUT_MS, the caller
 * expands the helper's masks itself and the helper is not used again.
 *
 * What crosses the thread boundary: the derived per-mask PRG keys (secret, within this
 * process; zeroed on both sides after use) and the partial sum, in a SharedArrayBuffer
 * that the caller zeroes once it has added it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { MaskAccumulator, SignedKey } from './prg.ts';

/**
 * Fewer masks than this stay on the caller's thread: below it, the hand-off (a message,
 * the wait, adding the partial back: about one mask's worth) eats most of the gain, and
 * SecAgg+ neighbourhoods (k around 2 log n, e.g. 14 at n = 100) stay single-threaded.
 */
export const MASK_HELPER_MIN_MASKS = 24;
/** Shorter vectors stay on the caller's thread (the hand-off costs more than the masks). */
export const MASK_HELPER_MIN_LANES = 65_536;
/** How long the caller waits for the helper's partial before doing that work itself. */
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

let helper: Helper | undefined;

/** Where the helper's code lives: the compiled worker in the built package, a tsx entry in the workspace sources. */
function helperUrl(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? './mask-helper-entry.mjs' : './mask-helper-worker.js', import.meta.url);
}

/** True where a helper can run at all: Node's worker threads and at least two cores. */
function helperPossible(): boolean {
  return typeof Atomics.wait === 'function' && availableParallelism() >= 2;
}

/**
 * Starts this thread's helper now (it loads in the background; idempotent), so that the
 * round's masking finds it ready. Returns false where no helper can run.
 */
export function startMaskHelper(): boolean {
  if (helper !== undefined) return !helper.broken;
  if (!helperPossible()) return false;
  let worker: Worker;
  try {
    worker = new Worker(helperUrl(), { workerData: MASK_HELPER_MARK });
  } catch {
    return false;
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
  helper = h;
  return true;
}

/** Starts the helper if needed and resolves once it can take work (true) or cannot run here (false). */
export function maskHelperReady(): Promise<boolean> {
  if (!startMaskHelper()) return Promise.resolve(false);
  return helper!.loaded;
}

/** One key and its sign, as `MaskAccumulator.add` and `addAll` take them. */
export type MaskKey = SignedKey;

/**
 * acc += Σ sign·PRG(key) over `masks`, split between this thread and the helper when
 * it is worth it (and the helper is ready); otherwise all on this thread. Same result
 * bit for bit either way (addition mod 2^32 commutes). Returns how many masks the
 * helper expanded (0: none).
 */
export function addMasksSplit(acc: MaskAccumulator, masks: readonly MaskKey[]): number {
  const h = helper;
  const lanes = acc.length;
  const useHelper = masks.length >= MASK_HELPER_MIN_MASKS && lanes >= MASK_HELPER_MIN_LANES && h !== undefined && h.ready && !h.broken;
  if (!useHelper) {
    if (masks.length >= MASK_HELPER_MIN_MASKS && lanes >= MASK_HELPER_MIN_LANES) startMaskHelper(); // for the next call
    acc.addAll(masks);
    return 0;
  }
  // The caller's share is a little larger: it also pays for adding the partial back.
  const theirs = masks.slice(0, Math.floor(masks.length / 2));
  const ours = masks.slice(theirs.length);
  if (h.out.byteLength < lanes * 4) h.out = new SharedArrayBuffer(lanes * 4);
  const keys = new Uint8Array(32 * theirs.length);
  theirs.forEach((m, i) => keys.set(m.key, 32 * i));
  const seq = ++h.seq;
  const job: HelperJob = { seq, lanes, keys, signs: theirs.map((m) => m.sign), out: h.out, ctl: h.ctl.buffer };
  h.worker.postMessage(job);
  keys.fill(0); // the worker got a copy
  acc.addAll(ours);
  if (!waitFor(h, seq)) {
    // Failed or silent: do its share here, and never hand it work again.
    h.broken = true;
    void h.worker.terminate();
    acc.addAll(theirs);
    return 0;
  }
  const partial = new Uint32Array(h.out, 0, lanes);
  acc.addVector(partial, 1);
  partial.fill(0); // the partial is a sum of masks: do not leave it lying around
  return theirs.length;
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
