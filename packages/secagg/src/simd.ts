/**
 * A tiny WebAssembly SIMD kernel for lane-wise uint32 addition and subtraction
 * mod 2^32 over its own linear memory, assembled here from a commented byte table
 * (no toolchain, no binary blob to audit).
 *
 * Exports of the module:
 *   memory                 its linear memory (starts at 0 pages; the caller grows it)
 *   add(acc, src, bytes)   mem[acc + i] += mem[src + i], as uint32 lanes, i < bytes
 *   sub(acc, src, bytes)   mem[acc + i] -= mem[src + i], likewise
 * Contract (the caller must guarantee it): `bytes` is a multiple of 4, both ranges lie
 * inside the memory, and they are either identical or disjoint. Offsets need not be
 * aligned (wasm allows misaligned access), but 16-byte alignment is the fast path.
 * Out-of-bounds access traps (a WebAssembly.RuntimeError in JS) and never reaches memory
 * outside the instance; lanes before the faulting one may already be updated.
 *
 * Each call runs a 64-byte-per-iteration `i32x4` loop (4 vectors, unrolled via the
 * memarg offset), then a 16-byte `i32x4` loop, then a 4-byte scalar tail.
 *
 * Encodings: WebAssembly Core Specification 2.0, §5 (binary format); SIMD opcodes from
 * the fixed-width SIMD proposal, BinarySIMD.md: every SIMD instruction is the prefix
 * 0xfd followed by its opcode as an unsigned LEB128 (so 0xae is the two bytes ae 01).
 */

// ---- LEB128 (Core spec §5.2.2) ------------------------------------------------

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    // Done once the remaining bits are all copies of the sign bit of `b` (bit 6).
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** A vector (Core spec §5.1.3): its length as uleb, then the items. */
const vec = (items: readonly (readonly number[])[]): number[] => [...uleb(items.length), ...items.flat()];

/** A name (Core spec §5.2.4): UTF-8 bytes as a vector. ASCII names only here. */
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** A section (Core spec §5.5.2): id byte, byte length as uleb, contents. */
const section = (id: number, contents: readonly number[]): number[] => [id, ...uleb(contents.length), ...contents];

// ---- the byte table -----------------------------------------------------------

/** Module preamble (§5.5.16): magic "\0asm", version 1. */
const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const VERSION = [0x01, 0x00, 0x00, 0x00];

/** Section ids (§5.5.2). */
const SECTION = { type: 1, function: 3, memory: 5, export: 7, code: 10 } as const;

/** Value and type constructors (§5.3). */
const TYPE = { i32: 0x7f, v128: 0x7b, func: 0x60, emptyBlock: 0x40 } as const;

/** Export descriptors (§5.5.10). */
const EXPORT = { func: 0x00, memory: 0x02 } as const;

/**
 * Instructions used (§5.4). Memory instructions take a memarg after the opcode:
 * uleb(log2 alignment), uleb(offset), see `memarg`.
 */
const OP = {
  block: [0x02],
  loop: [0x03],
  br_if: [0x0d],
  end: [0x0b],
  local_get: [0x20],
  local_set: [0x21],
  local_tee: [0x22],
  i32_load: [0x28],
  i32_store: [0x36],
  i32_const: [0x41],
  i32_lt_u: [0x49],
  i32_ge_u: [0x4f],
  i32_add: [0x6a],
  i32_sub: [0x6b],
  i32_and: [0x71],
  // SIMD (BinarySIMD.md): 0xfd prefix + uleb opcode.
  v128_load: [0xfd, 0x00], // simdop 0x00
  v128_store: [0xfd, 0x0b], // simdop 0x0b
  i32x4_add: [0xfd, 0xae, 0x01], // simdop 0xae
  i32x4_sub: [0xfd, 0xb1, 0x01], // simdop 0xb1
} as const;

/** memarg: alignment as log2 bytes (a hint only), then a constant byte offset. */
const memarg = (log2Align: number, offset: number): number[] => [...uleb(log2Align), ...uleb(offset)];

// Locals of each kernel: params 0..2, then declared locals 3..4.
const ACC = 0;
const SRC = 1;
const BYTES = 2;
const END = 3; // acc + bytes
const STOP = 4; // end of the current loop's range

const get = (l: number): number[] => [...OP.local_get, l];
const set = (l: number): number[] => [...OP.local_set, l];
const tee = (l: number): number[] => [...OP.local_tee, l];
const i32c = (n: number): number[] => [...OP.i32_const, ...sleb(n)];

/**
 * `while (ACC < STOP) { step(); ACC += width; SRC += width }` with STOP = ACC +
 * ((END - ACC) & -width), i.e. as many whole `width`-byte steps as fit.
 * `width` must be a power of two.
 */
function stride(width: number, step: readonly number[]): number[] {
  return [
    // STOP = ACC + ((END - ACC) & -width)
    ...get(END), ...get(ACC), ...OP.i32_sub, ...i32c(-width), ...OP.i32_and, ...get(ACC), ...OP.i32_add, ...set(STOP),
    ...OP.block, TYPE.emptyBlock,
      ...get(ACC), ...get(STOP), ...OP.i32_ge_u, ...OP.br_if, 0, // nothing to do: leave the block
      ...OP.loop, TYPE.emptyBlock,
        ...step,
        ...get(SRC), ...i32c(width), ...OP.i32_add, ...set(SRC),
        ...get(ACC), ...i32c(width), ...OP.i32_add, ...tee(ACC),
        ...get(STOP), ...OP.i32_lt_u, ...OP.br_if, 0, // next iteration
      ...OP.end,
    ...OP.end,
  ];
}

/** mem[ACC + off] = mem[ACC + off] (op) mem[SRC + off] for one 16-byte vector. */
const vectorStep = (op: readonly number[], off: number): number[] => [
  ...get(ACC),
  ...get(ACC), ...OP.v128_load, ...memarg(4, off),
  ...get(SRC), ...OP.v128_load, ...memarg(4, off),
  ...op,
  ...OP.v128_store, ...memarg(4, off),
];

/** mem[ACC] = mem[ACC] (op) mem[SRC] for one 4-byte lane. */
const scalarStep = (op: readonly number[]): number[] => [
  ...get(ACC),
  ...get(ACC), ...OP.i32_load, ...memarg(2, 0),
  ...get(SRC), ...OP.i32_load, ...memarg(2, 0),
  ...op,
  ...OP.i32_store, ...memarg(2, 0),
];

/** One function body (§5.5.13): locals, code, end. `vecOp`/`laneOp` are the i32x4 and i32 operations. */
function kernelBody(vecOp: readonly number[], laneOp: readonly number[]): number[] {
  const code = [
    ...get(ACC), ...get(BYTES), ...OP.i32_add, ...set(END),
    ...stride(64, [0, 16, 32, 48].flatMap((off) => vectorStep(vecOp, off))),
    ...stride(16, vectorStep(vecOp, 0)),
    ...stride(4, scalarStep(laneOp)),
    ...OP.end,
  ];
  const locals = vec([[...uleb(2), TYPE.i32]]); // END, STOP
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/** The whole module, in section order (§5.5.2). */
function assemble(): Uint8Array {
  const kernelType = [TYPE.func, ...vec([[TYPE.i32], [TYPE.i32], [TYPE.i32]]), ...vec([])]; // (i32, i32, i32) -> ()
  const bytes = [
    ...MAGIC,
    ...VERSION,
    ...section(SECTION.type, vec([kernelType])),
    ...section(SECTION.function, vec([uleb(0), uleb(0)])), // add, sub: both type 0
    ...section(SECTION.memory, vec([[0x00, ...uleb(0)]])), // limits: min 0 pages, no max
    ...section(
      SECTION.export,
      vec([
        [...name('memory'), EXPORT.memory, ...uleb(0)],
        [...name('add'), EXPORT.func, ...uleb(0)],
        [...name('sub'), EXPORT.func, ...uleb(1)],
      ]),
    ),
    ...section(SECTION.code, vec([kernelBody(OP.i32x4_add, OP.i32_add), kernelBody(OP.i32x4_sub, OP.i32_sub)])),
  ];
  return Uint8Array.from(bytes);
}

/** The assembled module's bytes (a fresh copy). */
export function simdModuleBytes(): Uint8Array {
  return MODULE_BYTES.slice();
}

const MODULE_BYTES = assemble();

/**
 * The slice of the WebAssembly JS API used here. The project compiles with `lib:
 * ES2022` and Node's types, which do not declare it, so it is typed locally.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  /** Adds `pages` 64 KiB pages; detaches the old `buffer`. Throws RangeError past the engine's limit. */
  grow(pages: number): number;
}
export interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: Readonly<Record<string, unknown>> };
  validate(bytes: Uint8Array): boolean;
}

/** The engine's WebAssembly object, or undefined where there is none. */
export const wasmApi: WasmApi | undefined = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** The exports of one instance. Every instance has its own memory. */
export interface SimdKernel {
  readonly memory: WasmMemory;
  /** mem[acc..acc+bytes) += mem[src..src+bytes) as uint32 lanes mod 2^32. */
  readonly add: (acc: number, src: number, bytes: number) => void;
  /** mem[acc..acc+bytes) -= mem[src..src+bytes) as uint32 lanes mod 2^32. */
  readonly sub: (acc: number, src: number, bytes: number) => void;
}

/** Compiled once at load; undefined where the engine has no WebAssembly SIMD (compiling throws). */
const compiled: object | undefined = (() => {
  if (wasmApi === undefined) return undefined;
  try {
    // Synchronous compile: the module is a few hundred bytes.
    return new wasmApi.Module(MODULE_BYTES);
  } catch {
    return undefined;
  }
})();

/** A fresh instance (its own memory, 0 pages), or undefined without SIMD support. */
export function instantiateSimd(): SimdKernel | undefined {
  if (wasmApi === undefined || compiled === undefined) return undefined;
  try {
    const ex = new wasmApi.Instance(compiled, {}).exports;
    return { memory: ex['memory'] as WasmMemory, add: ex['add'] as SimdKernel['add'], sub: ex['sub'] as SimdKernel['sub'] };
  } catch {
    return undefined;
  }
}

/**
 * Whether this engine runs the SIMD kernel. False means callers use their scalar JS
 * loop instead (same results, slower). Decided by compiling and instantiating once at load.
 */
export const simdAvailable: boolean = instantiateSimd() !== undefined;
