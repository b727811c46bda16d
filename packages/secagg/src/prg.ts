/**
 * The mask PRG: expands a 32-byte seed into a vector of uint32 lanes.
 *
 * PRG(key) = AES-256-CTR keystream under `key` with a 16-byte all-zero initial counter
 * block, read as little-endian uint32 lanes: lane i = bytes [4i, 4i+4) read LE.
 *
 * Contract (the caller must guarantee it): every `key` is used for exactly one stream.
 * The IV is fixed, so the (key, counter) pair is unique only because each key is
 * fresh: derived by HKDF (hkdf.ts `deriveKey`) from a per-round secret with a
 * per-purpose label, session and round. Never pass a long-term key or a key that also
 * serves another purpose (e.g. AEAD): two vectors masked under one key differ by
 * exactly the difference of their plaintexts, so reuse reveals it.
 *
 * Unauthenticated by design: the masks only hide; integrity comes from elsewhere.
 */
import { createCipheriv } from 'node:crypto';
import type { Cipher } from 'node:crypto';
import { endianness } from 'node:os';
import { assertBytes } from './bytes.ts';
import { nativeKernel, nativeStatus, type NativeKernel } from './native.ts';
import { instantiateSimd, simdAvailable, type SimdKernel } from './simd.ts';

// A Uint32Array view reads host byte order; the lanes are defined as little-endian.
// Big-endian hosts are not supported: fail at load rather than produce wrong masks.
if (endianness() !== 'LE') throw new Error(`prg: expected a little-endian host, got ${endianness()}`);

export const PRG_KEY_BYTES = 32;

/** Upper bound on lanes per stream (1 GiB of keystream). Bigger models should split the vector. */
export const MAX_LANES = 2 ** 28;

/**
 * Keystream is produced in chunks of this many bytes by encrypting one reusable zero
 * buffer with one cipher object. Measured (Node 20, x86-64 AES-NI): 16 KiB-128 KiB are
 * within noise of each other for addMask; 64 KiB keeps the chunk and its acc slice in L2.
 */
const CHUNK_BYTES = 64 * 1024;
const CHUNK_LANES = CHUNK_BYTES / 4;
const ZERO_CHUNK = new Uint8Array(CHUNK_BYTES);
const ZERO_IV = new Uint8Array(16);

function assertKey(key: unknown, what: string): asserts key is Uint8Array {
  assertBytes(key, PRG_KEY_BYTES, what);
}

function assertLanes(lanes: unknown, what: string): asserts lanes is number {
  if (typeof lanes !== 'number') throw new TypeError(`${what}: expected number, got ${typeof lanes}`);
  if (!Number.isInteger(lanes) || lanes < 0 || lanes > MAX_LANES) {
    throw new RangeError(`${what}: expected an integer in [0, ${MAX_LANES}], got ${lanes}`);
  }
}

const newCipher = (key: Uint8Array): Cipher => createCipheriv('aes-256-ctr', key, ZERO_IV);

/** Scratch for the rare case node hands back a Buffer not aligned to 4 bytes. */
let alignedScratch: Uint32Array | undefined;

/**
 * Next `lanes` lanes (lanes <= CHUNK_LANES) of the stream as a Uint32Array view.
 * The view is only valid until the next call.
 */
function nextLanes(cipher: Cipher, lanes: number): Uint32Array {
  const bytes = lanes * 4;
  const input = bytes === CHUNK_BYTES ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, bytes);
  const ks = cipher.update(input);
  if (ks.length !== bytes) throw new Error(`prg: expected ${bytes} keystream bytes, got ${ks.length}`);
  if (ks.byteOffset % 4 === 0) return new Uint32Array(ks.buffer, ks.byteOffset, lanes);
  alignedScratch ??= new Uint32Array(CHUNK_LANES);
  new Uint8Array(alignedScratch.buffer, 0, bytes).set(ks);
  return alignedScratch.subarray(0, lanes);
}

/** The first `lanes` lanes of PRG(key). Allocates; use `addMask` on the hot path. */
export function maskKeystream(key: Uint8Array, lanes: number): Uint32Array {
  assertKey(key, 'maskKeystream key');
  assertLanes(lanes, 'maskKeystream lanes');
  const out = new Uint32Array(lanes);
  const native = nativeKernel();
  if (native !== null) {
    native.keystream(key, new Uint8Array(out.buffer, 0, lanes * 4));
    return out;
  }
  const cipher = newCipher(key);
  for (let off = 0; off < lanes; off += CHUNK_LANES) {
    const n = Math.min(CHUNK_LANES, lanes - off);
    out.set(nextLanes(cipher, n), off);
  }
  return out;
}

/**
 * a[i] = a[i] + k[i] mod 2^32 for i < n. Int32 views with `| 0`: the bits are those of
 * uint32 arithmetic mod 2^32, and V8 keeps the whole loop in 32-bit integer registers.
 * Unrolled by 8: measured ~1.2x over the plain loop (V8 does not unroll or vectorise).
 */
function addLanes(a: Int32Array, k: Int32Array, n: number): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    a[i] = (a[i]! + k[i]!) | 0;
    a[i + 1] = (a[i + 1]! + k[i + 1]!) | 0;
    a[i + 2] = (a[i + 2]! + k[i + 2]!) | 0;
    a[i + 3] = (a[i + 3]! + k[i + 3]!) | 0;
    a[i + 4] = (a[i + 4]! + k[i + 4]!) | 0;
    a[i + 5] = (a[i + 5]! + k[i + 5]!) | 0;
    a[i + 6] = (a[i + 6]! + k[i + 6]!) | 0;
    a[i + 7] = (a[i + 7]! + k[i + 7]!) | 0;
  }
  for (; i < n; i++) a[i] = (a[i]! + k[i]!) | 0;
}

/** a[i] = a[i] - k[i] mod 2^32 for i < n; see addLanes. */
function subLanes(a: Int32Array, k: Int32Array, n: number): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    a[i] = (a[i]! - k[i]!) | 0;
    a[i + 1] = (a[i + 1]! - k[i + 1]!) | 0;
    a[i + 2] = (a[i + 2]! - k[i + 2]!) | 0;
    a[i + 3] = (a[i + 3]! - k[i + 3]!) | 0;
    a[i + 4] = (a[i + 4]! - k[i + 4]!) | 0;
    a[i + 5] = (a[i + 5]! - k[i + 5]!) | 0;
    a[i + 6] = (a[i + 6]! - k[i + 6]!) | 0;
    a[i + 7] = (a[i + 7]! - k[i + 7]!) | 0;
  }
  for (; i < n; i++) a[i] = (a[i]! - k[i]!) | 0;
}

function assertSign(sign: unknown, what: string): asserts sign is 1 | -1 {
  if (sign !== 1 && sign !== -1) throw new RangeError(`${what}: expected 1 or -1, got ${String(sign)}`);
}

/** acc32[i] ±= PRG(key)[i] over the whole of acc32, with the scalar JS loop. */
function addMaskJs(acc32: Int32Array, key: Uint8Array, sign: 1 | -1): void {
  const op = sign === 1 ? addLanes : subLanes;
  const cipher = newCipher(key);
  const total = acc32.length;
  for (let off = 0; off < total; off += CHUNK_LANES) {
    const n = Math.min(CHUNK_LANES, total - off);
    const ks = nextLanes(cipher, n);
    op(acc32.subarray(off, off + n), new Int32Array(ks.buffer, ks.byteOffset, n), n);
  }
}

/**
 * Keystream bytes per step of the SIMD accumulator: one `cipher.update` (which always
 * returns a fresh Buffer in Node 20: node:crypto has no update-into-buffer), one copy
 * into wasm memory, one i32x4 pass. Measured on the 2-core bench VM (Node 20, 15 masks of
 * 4 MB, 7 interleaved runs, medians, ratio to bare `update` at the same chunk size):
 * 16 KiB 1.13x, 24 KiB 1.43x, 32 KiB 0.98-1.32x, 48 KiB 1.11x, 64 KiB 1.17-1.86x,
 * 128 KiB 1.41x, 256 KiB 1.70x. Chunks past glibc's 128 KiB mmap threshold come from
 * mmap and page-fault on every reuse; 32 KiB stays far below it and in L1/L2.
 */
const SIMD_CHUNK_BYTES = 32 * 1024;
const SIMD_ZERO_CHUNK = new Uint8Array(SIMD_CHUNK_BYTES);

/**
 * Keystream bytes per `cipher.update` when several masks are added at once
 * (`MaskAccumulator.addAll`): chunk-major, so each slice of the vector stays in cache
 * while every mask's chunk is added to it, instead of the whole vector streaming through
 * memory once per mask. Below glibc's 128 KiB mmap threshold. Measured on the 2-core
 * bench VM (Node 20, 20 masks of 1e6 lanes, 30 interleaved reps, median ratio to raw
 * AES-CTR in the same rep): mask by mask in 32 KiB chunks (`add`) 1.40; chunk-major in
 * 16 KiB 1.60, 32 KiB 1.26, 64 KiB 1.16, 128 KiB 1.09.
 */
const ADD_ALL_CHUNK_BYTES = 64 * 1024;
const ADD_ALL_ZERO_CHUNK = new Uint8Array(ADD_ALL_CHUNK_BYTES);
/** The keystream scratch at the start of an accumulator's wasm memory: room for either chunk size. */
const SIMD_SCRATCH_BYTES = ADD_ALL_CHUNK_BYTES;
const WASM_PAGE_BYTES = 65536;

/**
 * After use (a disposed MaskAccumulator, a finished SIMD `addMask`) a kernel whose memory
 * is at most this big is kept, zeroed, for the next one on this thread; one at most. A
 * fresh wasm memory costs a page fault per 4 KiB on first touch (measured ~0.5 ms per
 * MB here, about 15% of masking a 1e6-lane vector 17 times); a reused one does not.
 * So at most 64 MiB per thread stays allocated after use.
 */
export const MASK_ACCUMULATOR_POOL_MAX_BYTES = 64 * 1024 * 1024;
let idleKernel: SimdKernel | undefined;

/** A kernel whose memory holds at least `bytes`, all zero; undefined without SIMD or memory. */
function takeKernel(bytes: number): SimdKernel | undefined {
  let kernel = idleKernel;
  idleKernel = undefined;
  kernel ??= instantiateSimd();
  if (kernel === undefined) return undefined;
  const have = kernel.memory.buffer.byteLength;
  try {
    if (have < bytes) kernel.memory.grow(Math.ceil((bytes - have) / WASM_PAGE_BYTES));
  } catch {
    return undefined; // the engine refused the memory (its limit or address space)
  }
  return kernel;
}

/** Zero what was used (no masked data lingers) and keep the kernel if it is small enough. */
function releaseKernel(kernel: SimdKernel, usedBytes: number): void {
  if (kernel.memory.buffer.byteLength > MASK_ACCUMULATOR_POOL_MAX_BYTES) return;
  new Uint8Array(kernel.memory.buffer, 0, usedBytes).fill(0);
  idleKernel = kernel;
}

/**
 * vector ±= PRG(key) where the vector is the `bytes` bytes at offset SIMD_SCRATCH_BYTES of
 * `mem` (the kernel's memory) and [0, SIMD_CHUNK_BYTES) of the scratch before it takes the keystream.
 */
function addMaskSimd(kernel: SimdKernel, mem: Uint8Array, bytes: number, key: Uint8Array, sign: 1 | -1): void {
  const op = sign === 1 ? kernel.add : kernel.sub;
  const cipher = newCipher(key);
  for (let off = 0; off < bytes; off += SIMD_CHUNK_BYTES) {
    const n = Math.min(SIMD_CHUNK_BYTES, bytes - off);
    const ks = cipher.update(n === SIMD_CHUNK_BYTES ? SIMD_ZERO_CHUNK : SIMD_ZERO_CHUNK.subarray(0, n));
    if (ks.length !== n) throw new Error(`prg: expected ${n} keystream bytes, got ${ks.length}`);
    mem.set(ks, 0);
    op(SIMD_SCRATCH_BYTES + off, 0, n);
  }
}

/** One mask to add: its PRG key and the sign it is added with. */
export interface SignedKey {
  readonly key: Uint8Array;
  readonly sign: 1 | -1;
}

/**
 * vector ±= PRG(key) for every mask, chunk-major: one cipher per mask, and for each
 * ADD_ALL_CHUNK_BYTES slice of the vector (at offset SIMD_SCRATCH_BYTES of `mem`) every
 * mask's next keystream chunk in turn, copied into the scratch [0, ADD_ALL_CHUNK_BYTES)
 * and added there. Addition mod 2^32 commutes, so the order does not change the result.
 */
function addMasksSimd(kernel: SimdKernel, mem: Uint8Array, bytes: number, masks: readonly SignedKey[]): void {
  const ciphers = masks.map((m) => newCipher(m.key));
  const ops = masks.map((m) => (m.sign === 1 ? kernel.add : kernel.sub));
  for (let off = 0; off < bytes; off += ADD_ALL_CHUNK_BYTES) {
    const n = Math.min(ADD_ALL_CHUNK_BYTES, bytes - off);
    const zero = n === ADD_ALL_CHUNK_BYTES ? ADD_ALL_ZERO_CHUNK : ADD_ALL_ZERO_CHUNK.subarray(0, n);
    for (let i = 0; i < ciphers.length; i++) {
      const ks = ciphers[i]!.update(zero);
      if (ks.length !== n) throw new Error(`prg: expected ${n} keystream bytes, got ${ks.length}`);
      mem.set(ks, 0);
      ops[i]!(SIMD_SCRATCH_BYTES + off, 0, n);
    }
  }
}

/** Masks per native call: bounds the OpenSSL contexts alive at once (the kernel takes up to 4096). */
const NATIVE_MASKS_PER_CALL = 1024;

/** vec ±= PRG(key) for every mask, on the native kernel, NATIVE_MASKS_PER_CALL at a time. */
function addMasksNative(native: NativeKernel, vec: Uint32Array, masks: readonly SignedKey[]): void {
  for (let from = 0; from < masks.length; from += NATIVE_MASKS_PER_CALL) {
    const batch = masks.slice(from, from + NATIVE_MASKS_PER_CALL);
    const keys = new Uint8Array(PRG_KEY_BYTES * batch.length);
    batch.forEach((m, i) => keys.set(m.key, PRG_KEY_BYTES * i));
    try {
      native.addMasks(vec, keys, Int8Array.from(batch, (m) => m.sign));
    } finally {
      keys.fill(0);
    }
  }
}

/**
 * Which kernel expands masks on this thread (MaskAccumulator's backend 'auto', addMask,
 * addVectors, maskKeystream), and why not a faster one: for start-up logs and benchmarks.
 */
export function maskKernel(): { readonly name: 'native' | 'wasm-simd' | 'js'; readonly detail: string } {
  const native = nativeKernel();
  if (native !== null) {
    const aes = native.aes();
    const how = aes === 'openssl' ? "Node's OpenSSL" : `x86 ${aes === 'vaes512' ? '512' : '256'}-bit VAES`;
    return { name: 'native', detail: `@tally/native: AES-256-CTR (${aes}: ${how}), added in place` };
  }
  const why = nativeStatus().reason ?? 'off';
  if (simdAvailable) return { name: 'wasm-simd', detail: `WebAssembly SIMD; no native kernel: ${why}` };
  return { name: 'js', detail: `JavaScript loop; no WebAssembly SIMD, no native kernel: ${why}` };
}

/** Below this many lanes `addMask` stays on the JS loop (see addMask). */
const ADD_MASK_SIMD_MIN_LANES = 16384;

/**
 * acc[i] = (acc[i] + sign * PRG(key)[i]) mod 2^32, in place, for i < acc.length.
 * For several masks over one vector, `MaskAccumulator` is faster still.
 *
 * From ADD_MASK_SIMD_MIN_LANES lanes (while the vector fits the reusable wasm memory,
 * MASK_ACCUMULATOR_POOL_MAX_BYTES) it runs on the SIMD kernel: the vector is copied into
 * wasm memory and back, which measured 1.35-1.55x faster than the JS loop for 16384 to
 * 1e6 lanes (Node 20, x86-64); below ~4096 lanes the copies cost more than they save.
 * On the SIMD path an exception leaves `acc` untouched.
 */
export function addMask(acc: Uint32Array, key: Uint8Array, sign: 1 | -1): void {
  if (!(acc instanceof Uint32Array)) throw new TypeError(`addMask acc: expected Uint32Array, got ${typeof acc}`);
  assertLanes(acc.length, 'addMask acc.length');
  assertKey(key, 'addMask key');
  assertSign(sign, 'addMask sign');
  const native = nativeKernel();
  if (native !== null) {
    native.addMasks(acc, key, Int8Array.of(sign));
    return;
  }
  const bytes = acc.length * 4;
  const kernel =
    acc.length >= ADD_MASK_SIMD_MIN_LANES && SIMD_SCRATCH_BYTES + bytes <= MASK_ACCUMULATOR_POOL_MAX_BYTES
      ? takeKernel(SIMD_SCRATCH_BYTES + bytes)
      : undefined;
  if (kernel === undefined) {
    addMaskJs(new Int32Array(acc.buffer, acc.byteOffset, acc.length), key, sign);
    return;
  }
  try {
    const mem = new Uint8Array(kernel.memory.buffer);
    const acc8 = new Uint8Array(acc.buffer, acc.byteOffset, bytes);
    mem.set(acc8, SIMD_SCRATCH_BYTES);
    addMaskSimd(kernel, mem, bytes, key, sign);
    acc8.set(mem.subarray(SIMD_SCRATCH_BYTES, SIMD_SCRATCH_BYTES + bytes));
  } finally {
    releaseKernel(kernel, SIMD_SCRATCH_BYTES + bytes);
  }
}

export interface MaskAccumulatorOptions {
  /**
   * 'auto' (default): the WebAssembly SIMD kernel where the engine has it (see
   * `simdAvailable` in simd.ts), else the scalar JS loop. 'js': always the scalar loop
   * (same results; for tests and comparisons).
   */
  readonly backend?: 'auto' | 'js';
}

/**
 * A vector that masks are added to, one after another: the result equals calling
 * `addMask(acc, key, sign)` for each `add(key, sign)` in turn, bit for bit.
 *
 * With the SIMD backend the vector lives in wasm memory for the accumulator's whole
 * life, so each keystream chunk costs one copy into that memory plus one `i32x4.add`
 * (or `sub`) pass; the vector is copied in once at construction and copied out once
 * by `result()`, which returns the wasm memory to the pool. Memory: one vector plus one
 * 64 KiB scratch, reused from accumulator to accumulator.
 *
 * Call `dispose()` when done (e.g. in `finally`): it zeroes the memory and lets the
 * next accumulator reuse it (see MASK_ACCUMULATOR_POOL_MAX_BYTES). Not calling it is
 * safe; the memory is then garbage-collected and not reused.
 *
 * Same key contract as `addMask`: every key is used for exactly one stream.
 */
export class MaskAccumulator {
  /** Lanes in the vector. */
  readonly length: number;
  #kernel: SimdKernel | undefined;
  /** The native kernel (backend 'auto' where it loaded): it works on the vector wherever it lives. */
  #native: NativeKernel | null;
  /** SIMD: the wasm memory as bytes, [chunk | vector] (see addMaskSimd). It does not grow while we hold it, so this view stays valid. */
  #mem: Uint8Array<ArrayBuffer> | undefined;
  /** JS backend: the vector. */
  #js: Int32Array<ArrayBuffer> | undefined;
  #disposed = false;

  constructor(initial: Uint32Array | number, options: MaskAccumulatorOptions = {}) {
    let lanes: number;
    if (typeof initial === 'number') {
      assertLanes(initial, 'MaskAccumulator length');
      lanes = initial;
    } else if (initial instanceof Uint32Array) {
      assertLanes(initial.length, 'MaskAccumulator initial.length');
      lanes = initial.length;
    } else {
      throw new TypeError(`MaskAccumulator initial: expected Uint32Array or number, got ${typeof initial}`);
    }
    const backend = options.backend ?? 'auto';
    if (backend !== 'auto' && backend !== 'js') throw new RangeError(`MaskAccumulator backend: expected 'auto' or 'js', got ${String(backend)}`);
    this.length = lanes;
    this.#native = backend === 'auto' ? nativeKernel() : null;
    // The wasm memory is reused from accumulator to accumulator (no page faults), so the
    // vector lives there even when the native kernel does the work.
    const kernel = backend === 'auto' && lanes > 0 ? takeKernel(SIMD_SCRATCH_BYTES + lanes * 4) : undefined;
    if (kernel !== undefined) {
      this.#kernel = kernel;
      this.#mem = new Uint8Array(kernel.memory.buffer);
      if (typeof initial !== 'number') this.#mem.set(new Uint8Array(initial.buffer, initial.byteOffset, lanes * 4), SIMD_SCRATCH_BYTES);
    } else {
      this.#js = new Int32Array(lanes);
      if (typeof initial !== 'number') this.#js.set(new Int32Array(initial.buffer, initial.byteOffset, lanes));
    }
  }

  /** Which backend this accumulator runs on. */
  get backend(): 'native' | 'simd' | 'js' {
    if (this.#native !== null) return 'native';
    return this.#kernel === undefined ? 'js' : 'simd';
  }

  /** The vector where it lives now (wasm memory or the JS array), as lanes. */
  #lanes(): Uint32Array {
    if (this.#js !== undefined) return new Uint32Array(this.#js.buffer, this.#js.byteOffset, this.length);
    return new Uint32Array(this.#mem!.buffer, SIMD_SCRATCH_BYTES, this.length);
  }

  /** vector[i] = (vector[i] + sign * PRG(key)[i]) mod 2^32 for every lane. */
  add(key: Uint8Array, sign: 1 | -1): void {
    this.#assertLive('add');
    assertKey(key, 'MaskAccumulator.add key');
    assertSign(sign, 'MaskAccumulator.add sign');
    if (this.#native !== null) {
      this.#native.addMasks(this.#lanes(), key, Int8Array.of(sign));
      return;
    }
    if (this.#js !== undefined) {
      addMaskJs(this.#js, key, sign);
      return;
    }
    addMaskSimd(this.#kernel!, this.#mem!, this.length * 4, key, sign);
  }

  /**
   * vector[i] = (vector[i] + Σ sign·PRG(key)[i]) mod 2^32 over `masks`: bit for bit what
   * `add(m.key, m.sign)` for each mask gives, and faster for several masks over a long
   * vector (chunk-major, see ADD_ALL_CHUNK_BYTES). Every key and sign is checked before
   * any lane changes. Same key contract as `add`.
   */
  addAll(masks: readonly SignedKey[]): void {
    this.#assertLive('addAll');
    if (!Array.isArray(masks)) throw new TypeError(`MaskAccumulator.addAll masks: expected an array, got ${typeof masks}`);
    masks.forEach((m: SignedKey | null | undefined, i) => {
      assertKey(m?.key, `MaskAccumulator.addAll masks[${i}].key`);
      assertSign(m?.sign, `MaskAccumulator.addAll masks[${i}].sign`);
    });
    if (this.#native !== null) {
      addMasksNative(this.#native, this.#lanes(), masks);
      return;
    }
    if (this.#js !== undefined) {
      for (const m of masks) addMaskJs(this.#js, m.key, m.sign);
      return;
    }
    addMasksSimd(this.#kernel!, this.#mem!, this.length * 4, masks);
  }

  /**
   * Ends the accumulator and returns its vector. With the SIMD backend the vector is
   * copied out once into a fresh array and the wasm memory goes back to the pool
   * (zeroed), as `dispose` does. Handing the wasm memory itself over, with no copy,
   * measured slower: every accumulator then needed a fresh wasm memory, whose pages
   * fault in on first touch (15 masks of 1e6 lanes: 32.7 ms against 18.2–18.6 ms with
   * the copy; 5 masks of 1e5 lanes: 3.4 ms against 1.7 ms; same run, quiet machine).
   * `add`, `addVector`, `copyTo` and `result` throw afterwards; `dispose` does nothing.
   */
  result(): Uint32Array<ArrayBuffer> {
    this.#assertLive('result');
    const js = this.#js;
    if (js !== undefined) {
      this.#disposed = true;
      this.#js = undefined;
      return new Uint32Array(js.buffer, js.byteOffset, this.length);
    }
    const out = new Uint32Array(this.length);
    this.copyTo(out);
    this.dispose();
    return out;
  }

  /**
   * Hands the vector where it lives (as `length` lanes) to `fill`, which may write any of
   * them, e.g. a checked update rounded straight into it (no array of the caller's own).
   * The view is only valid during the call.
   */
  write(fill: (lanes: Uint32Array) => void): void {
    this.#assertLive('write');
    fill(this.#lanes());
  }

  /** Copies the vector into `dst` (same length; e.g. a SharedArrayBuffer view). The accumulator stays usable. */
  copyTo(dst: Uint32Array): void {
    this.#assertLive('copyTo');
    if (!(dst instanceof Uint32Array) || dst.length !== this.length) {
      throw new RangeError(`MaskAccumulator.copyTo dst: expected a Uint32Array of ${this.length} lanes, got ${dst instanceof Uint32Array ? dst.length : typeof dst}`);
    }
    const bytes = this.length * 4;
    const out = new Uint8Array(dst.buffer, dst.byteOffset, bytes);
    if (this.#js !== undefined) out.set(new Uint8Array(this.#js.buffer, this.#js.byteOffset, bytes));
    else out.set(this.#mem!.subarray(SIMD_SCRATCH_BYTES, SIMD_SCRATCH_BYTES + bytes));
  }

  /** vector[i] = (vector[i] + sign * x[i]) mod 2^32 for every lane (e.g. a worker's partial sum). */
  addVector(x: Uint32Array, sign: 1 | -1 = 1): void {
    this.#assertLive('addVector');
    if (!(x instanceof Uint32Array) || x.length !== this.length) {
      throw new RangeError(`MaskAccumulator.addVector x: expected a Uint32Array of ${this.length} lanes, got ${x instanceof Uint32Array ? x.length : typeof x}`);
    }
    assertSign(sign, 'MaskAccumulator.addVector sign');
    if (this.#native !== null) {
      this.#native.addVector(this.#lanes(), x, sign);
      return;
    }
    const x32 = new Int32Array(x.buffer, x.byteOffset, x.length);
    if (this.#js !== undefined) {
      (sign === 1 ? addLanes : subLanes)(this.#js, x32, this.length);
      return;
    }
    const mem = this.#mem!;
    const op = sign === 1 ? this.#kernel!.add : this.#kernel!.sub;
    const bytes = this.length * 4;
    const x8 = new Uint8Array(x.buffer, x.byteOffset, bytes);
    for (let off = 0; off < bytes; off += SIMD_CHUNK_BYTES) {
      const n = Math.min(SIMD_CHUNK_BYTES, bytes - off);
      mem.set(x8.subarray(off, off + n), 0);
      op(SIMD_SCRATCH_BYTES + off, 0, n);
    }
  }

  /** Zeroes the vector and gives its memory back for reuse. Idempotent; `add` and `result` throw afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#kernel !== undefined) releaseKernel(this.#kernel, SIMD_SCRATCH_BYTES + this.length * 4);
    this.#js?.fill(0);
    this.#kernel = undefined;
    this.#mem = undefined;
    this.#js = undefined;
    this.#native = null;
  }

  #assertLive(what: string): void {
    if (this.#disposed) throw new Error(`MaskAccumulator.${what}: the accumulator was disposed`);
  }
}

/** Kernel for `addVectors`: two SIMD_CHUNK_BYTES scratch chunks, kept for the thread's life. */
let sumKernel: SimdKernel | null | undefined;

/**
 * acc[i] = (acc[i] + x[i]) mod 2^32 in place (the server's running sum of masked inputs).
 * With WebAssembly SIMD, chunk by chunk: both chunks are copied into the kernel's scratch,
 * added as i32x4 and copied back. Measured (2-core VM, 20 adds of 1e6 lanes, medians of 7):
 * 1.43 ms per add against 3.02 ms for the plain `(a + b) >>> 0` loop and 1.94 ms for the
 * unrolled Int32 loop. Without SIMD it runs the unrolled Int32 loop.
 */
export function addVectors(acc: Uint32Array, x: Uint32Array): void {
  if (!(acc instanceof Uint32Array)) throw new TypeError(`addVectors acc: expected Uint32Array, got ${typeof acc}`);
  if (!(x instanceof Uint32Array) || x.length !== acc.length) {
    throw new RangeError(`addVectors x: expected a Uint32Array of ${acc.length} lanes, got ${x instanceof Uint32Array ? x.length : typeof x}`);
  }
  const native = nativeKernel();
  if (native !== null) {
    native.addVector(acc, x, 1);
    return;
  }
  if (sumKernel === undefined) {
    const k = instantiateSimd();
    try {
      k?.memory.grow((2 * SIMD_CHUNK_BYTES) / WASM_PAGE_BYTES || 1);
      sumKernel = k ?? null;
    } catch {
      sumKernel = null;
    }
  }
  const bytes = acc.length * 4;
  if (sumKernel === null || acc.length < ADD_MASK_SIMD_MIN_LANES) {
    addLanes(new Int32Array(acc.buffer, acc.byteOffset, acc.length), new Int32Array(x.buffer, x.byteOffset, x.length), acc.length);
    return;
  }
  const mem = new Uint8Array(sumKernel.memory.buffer);
  const a8 = new Uint8Array(acc.buffer, acc.byteOffset, bytes);
  const x8 = new Uint8Array(x.buffer, x.byteOffset, bytes);
  for (let off = 0; off < bytes; off += SIMD_CHUNK_BYTES) {
    const n = Math.min(SIMD_CHUNK_BYTES, bytes - off);
    mem.set(a8.subarray(off, off + n), 0);
    mem.set(x8.subarray(off, off + n), SIMD_CHUNK_BYTES);
    sumKernel.add(0, SIMD_CHUNK_BYTES, n);
    a8.set(mem.subarray(0, n), off);
  }
}

/**
 * Benchmark baseline: generates and discards `bytes` keystream bytes with the same
 * cipher and zero buffer as the JS `addMask` loop, in 64 KiB chunks. (The SIMD path
 * uses 32 KiB chunks; see SIMD_CHUNK_BYTES for the measurement.) Not for protocol use.
 */
export function aesCtrKeystreamFloor(key: Uint8Array, bytes: number): void {
  assertKey(key, 'aesCtrKeystreamFloor key');
  if (typeof bytes !== 'number') throw new TypeError(`aesCtrKeystreamFloor bytes: expected number, got ${typeof bytes}`);
  if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_LANES * 4) {
    throw new RangeError(`aesCtrKeystreamFloor bytes: expected an integer in [0, ${MAX_LANES * 4}], got ${bytes}`);
  }
  const cipher = newCipher(key);
  for (let off = 0; off < bytes; off += CHUNK_BYTES) {
    const n = Math.min(CHUNK_BYTES, bytes - off);
    cipher.update(n === CHUNK_BYTES ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n));
  }
}
