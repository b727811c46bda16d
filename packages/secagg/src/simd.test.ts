import { describe, expect, it } from 'vitest';
import { instantiateSimd, simdAvailable, simdModuleBytes, wasmApi } from './simd.ts';

/** Scalar reference for one kernel call on a byte copy of the memory. */
function reference(mem: Uint8Array, acc: number, src: number, bytes: number, sign: 1 | -1): Uint8Array {
  const out = mem.slice();
  const dv = new DataView(out.buffer);
  for (let i = 0; i < bytes; i += 4) {
    dv.setUint32(acc + i, (dv.getUint32(acc + i, true) + sign * dv.getUint32(src + i, true)) >>> 0, true);
  }
  return out;
}

function fillPattern(mem: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < mem.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    mem[i] = x >>> 24;
  }
}

describe('simd kernel module', () => {
  it('is a valid WebAssembly module (WebAssembly.validate)', () => {
    expect(wasmApi).toBeDefined();
    expect(wasmApi!.validate(simdModuleBytes())).toBe(true);
  });

  it('starts with the wasm magic and version 1 (Core spec §5.5.16)', () => {
    expect(Array.from(simdModuleBytes().subarray(0, 8))).toEqual([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  });

  it('is available on this Node and exports memory, add, sub', () => {
    expect(simdAvailable).toBe(true);
    const k = instantiateSimd()!;
    expect(k.memory.buffer.byteLength).toBe(0);
    expect(typeof k.add).toBe('function');
    expect(typeof k.sub).toBe('function');
  });

  // Every length mod 64 (unrolled loop, vector loop, scalar tail), aligned and not,
  // checking that bytes outside [acc, acc + bytes) are untouched.
  for (const sign of [1, -1] as const) {
    it(`${sign === 1 ? 'add' : 'sub'} matches the scalar reference for lengths 0..260 and unaligned offsets`, () => {
      const k = instantiateSimd()!;
      k.memory.grow(1);
      const mem = new Uint8Array(k.memory.buffer);
      const op = sign === 1 ? k.add : k.sub;
      for (const [acc, src] of [[0, 4096], [4, 8196], [1024, 1040], [12, 30000]] as const) {
        for (let bytes = 0; bytes <= 260; bytes += 4) {
          fillPattern(mem, bytes * 31 + acc);
          const want = reference(mem, acc, src, bytes, sign);
          op(acc, src, bytes);
          if (!Buffer.from(mem).equals(Buffer.from(want))) throw new Error(`acc=${acc} src=${src} bytes=${bytes}: mismatch`);
        }
      }
    });
  }

  it('wraps mod 2^32', () => {
    const k = instantiateSimd()!;
    k.memory.grow(1);
    const u = new Uint32Array(k.memory.buffer);
    u.set([0xffffffff, 0x80000000, 0, 1, 0xfffffffe], 0);
    u.set([1, 0x80000000, 1, 0xffffffff, 3], 16);
    k.add(0, 64, 20);
    expect(Array.from(u.subarray(0, 5))).toEqual([0, 0, 1, 0, 1]);
    k.sub(0, 64, 20);
    expect(Array.from(u.subarray(0, 5))).toEqual([0xffffffff, 0x80000000, 0, 1, 0xfffffffe]);
  });

  it('traps (WebAssembly.RuntimeError) rather than touch memory out of bounds', () => {
    const k = instantiateSimd()!;
    k.memory.grow(1);
    expect(() => k.add(65536 - 16, 0, 32)).toThrow(/out of bounds/);
    expect(() => k.sub(0, 65536 - 4, 8)).toThrow(/out of bounds/);
  });

  it('instances do not share memory', () => {
    const a = instantiateSimd()!;
    const b = instantiateSimd()!;
    a.memory.grow(1);
    b.memory.grow(1);
    new Uint32Array(a.memory.buffer)[0] = 5;
    expect(new Uint32Array(b.memory.buffer)[0]).toBe(0);
  });
});
