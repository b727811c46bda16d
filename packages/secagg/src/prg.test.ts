import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import { randomBytes } from 'node:crypto';
import { addMask, addVectors, aesCtrKeystreamFloor, MaskAccumulator, MASK_ACCUMULATOR_POOL_MAX_BYTES, MAX_LANES, maskKeystream } from './prg.ts';
import { onEachKernel } from './_test-kernels.ts';
import { simdAvailable } from './simd.ts';

/** NIST SP 800-38A, Appendix F.5.5 CTR-AES256.Encrypt. */
const SP800_38A_F55 = {
  key: '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
  initCounter: 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff',
  plaintext:
    '6bc1bee22e409f96e93d7e117393172a' + 'ae2d8a571e03ac9c9eb76fac45af8e51' + '30c81c46a35ce411e5fbc1191a0a52ef' + 'f69f2445df4f9b17ad2b417be66c3710',
  ciphertext:
    '601ec313775789a5b7a7f504bbf3d228' + 'f443e3ca4d62b59aca84e990cacaf5c5' + '2b0930daa23de94ce87017ba2d84988d' + 'dfc9c58db67aada613c2dd08457941a6',
} as const;

const CHUNK_LANES = 16384; // prg.ts chunk is 64 KiB (JS loop)
const SIMD_CHUNK_LANES = 65536; // 256 KiB (SIMD path)

const key = (b: number): Uint8Array => new Uint8Array(32).fill(b);

/** Independent keystream: AES-256-ECB over counter blocks 0, 1, 2, ... (128-bit big-endian). */
function ecbCounterStream(k: Uint8Array, blocks: number): Uint8Array {
  const counters = new Uint8Array(blocks * 16);
  const dv = new DataView(counters.buffer);
  for (let i = 0; i < blocks; i++) dv.setUint32(i * 16 + 12, i, false);
  const ecb = createCipheriv('aes-256-ecb', k, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([ecb.update(counters), ecb.final()]));
}

/** The bytes of exactly this view (a result() may be a view into a larger wasm memory). */
const bytesOf = (v: Uint32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function randomLanes(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
  return out;
}

onEachKernel(suite);

function suite(kernel: 'native' | 'wasm'): void {
  describe('AES-256-CTR', () => {
    it('node:crypto aes-256-ctr matches NIST SP 800-38A F.5.5', () => {
      const v = SP800_38A_F55;
      const c = createCipheriv('aes-256-ctr', fromHex(v.key), fromHex(v.initCounter));
      const ct = new Uint8Array(Buffer.concat([c.update(fromHex(v.plaintext)), c.final()]));
      expect(toHex(ct)).toBe(v.ciphertext);
    });
  });

  describe('maskKeystream', () => {
    it('is AES-256 of counter blocks 0,1,2,... read as little-endian uint32 lanes, across chunk boundaries', () => {
      const k = fromHex(SP800_38A_F55.key);
      const lanes = 2 * CHUNK_LANES + 12; // three chunks, last one partial
      const expectedBytes = ecbCounterStream(k, lanes / 4);
      const dv = new DataView(expectedBytes.buffer);
      const got = maskKeystream(k, lanes);
      expect(got.length).toBe(lanes);
      for (let i = 0; i < lanes; i++) {
        if (got[i] !== dv.getUint32(4 * i, true)) throw new Error(`lane ${i}: ${got[i]} != ${dv.getUint32(4 * i, true)}`);
      }
    });

    it('a shorter stream is a prefix of a longer one, including partial blocks', () => {
      const long = maskKeystream(key(9), 100);
      for (const n of [0, 1, 3, 5, 99]) expect(Array.from(maskKeystream(key(9), n))).toEqual(Array.from(long.subarray(0, n)));
    });

    it('different keys give different streams', () => {
      const seen = new Set<string>();
      for (let b = 0; b < 16; b++) seen.add(toHex(new Uint8Array(maskKeystream(key(b), 8).buffer)));
      expect(seen.size).toBe(16);
      const k1 = key(0);
      const k2 = key(0);
      k2[31] = 1;
      expect(toHex(new Uint8Array(maskKeystream(k1, 4).buffer))).not.toBe(toHex(new Uint8Array(maskKeystream(k2, 4).buffer)));
    });

    it('validates its inputs', () => {
      expect(() => maskKeystream(new Uint8Array(16), 1)).toThrow(RangeError);
      expect(() => maskKeystream('k' as unknown as Uint8Array, 1)).toThrow(TypeError);
      expect(() => maskKeystream(key(1), -1)).toThrow(RangeError);
      expect(() => maskKeystream(key(1), 1.5)).toThrow(RangeError);
      expect(() => maskKeystream(key(1), MAX_LANES + 1)).toThrow(RangeError);
      expect(() => maskKeystream(key(1), '1' as unknown as number)).toThrow(TypeError);
    });
  });

  describe('addMask', () => {
    // 16384 lanes and up run on the SIMD kernel: also cross its 65536-lane chunk.
    for (const n of [0, 1, 3, 8, 9, CHUNK_LANES - 1, CHUNK_LANES, CHUNK_LANES + 1, 2 * CHUNK_LANES + 7, SIMD_CHUNK_LANES - 1, SIMD_CHUNK_LANES, SIMD_CHUNK_LANES + 1, 2 * SIMD_CHUNK_LANES + 3]) {
      it(`equals acc ± maskKeystream mod 2^32 for ${n} lanes`, () => {
        const k = key(n & 0xff);
        const ks = maskKeystream(k, n);
        const acc0 = randomLanes(n, n + 1);
        const plus = acc0.slice();
        addMask(plus, k, 1);
        const minus = acc0.slice();
        addMask(minus, k, -1);
        for (let i = 0; i < n; i++) {
          if (plus[i] !== ((acc0[i]! + ks[i]!) >>> 0)) throw new Error(`+1 lane ${i}`);
          if (minus[i] !== ((acc0[i]! - ks[i]!) >>> 0)) throw new Error(`-1 lane ${i}`);
        }
      });
    }

    it('+1 then -1 is the identity', () => {
      const acc0 = randomLanes(CHUNK_LANES + 5, 42);
      const acc = acc0.slice();
      addMask(acc, key(3), 1);
      expect(Array.from(acc.subarray(0, 16))).not.toEqual(Array.from(acc0.subarray(0, 16)));
      addMask(acc, key(3), -1);
      expect(Array.from(acc)).toEqual(Array.from(acc0));
    });

    it('property: masks commute and cancel (what pairwise masking relies on)', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 300 }),
          (k1, k2, values) => {
            const acc0 = Uint32Array.from(values);
            const a = acc0.slice();
            addMask(a, k1, 1);
            addMask(a, k2, -1);
            addMask(a, k1, -1);
            const b = acc0.slice();
            addMask(b, k2, -1);
            expect(Array.from(a)).toEqual(Array.from(b));
          },
        ),
        { numRuns: 50 },
      );
    });

    for (const n of [8, CHUNK_LANES + 5]) {
      it(`writes only inside a subarray view (${n} lanes)`, () => {
        const whole = new Uint32Array(n + 12).fill(7);
        const view = whole.subarray(3, 3 + n);
        addMask(view, key(5), 1);
        const ks = maskKeystream(key(5), n);
        expect(Array.from(whole.subarray(0, 3))).toEqual([7, 7, 7]);
        expect(Array.from(whole.subarray(3 + n))).toEqual(new Array(9).fill(7));
        expect(Array.from(view)).toEqual(Array.from(ks, (x) => (x + 7) >>> 0));
      });
    }

    it('validates its inputs', () => {
      const acc = new Uint32Array(4);
      expect(() => addMask(new Int32Array(4) as unknown as Uint32Array, key(1), 1)).toThrow(TypeError);
      expect(() => addMask(acc, new Uint8Array(31), 1)).toThrow(RangeError);
      expect(() => addMask(acc, key(1), 0 as unknown as 1)).toThrow(RangeError);
      expect(() => addMask(acc, key(1), 2 as unknown as 1)).toThrow(RangeError);
      expect(Array.from(acc)).toEqual([0, 0, 0, 0]);
    });
  });

  describe('aesCtrKeystreamFloor', () => {
    it('accepts the sizes addMask handles and validates like the others', () => {
      for (const n of [0, 1, 4, 65536, 65537]) expect(() => aesCtrKeystreamFloor(key(1), n)).not.toThrow();
      expect(() => aesCtrKeystreamFloor(new Uint8Array(1), 4)).toThrow(RangeError);
      expect(() => aesCtrKeystreamFloor(key(1), -4)).toThrow(RangeError);
    });
  });

  describe('MaskAccumulator', () => {
    const LENGTHS = [0, 1, 3, 4, 5, 16383, 16384, 16385, SIMD_CHUNK_LANES - 1, SIMD_CHUNK_LANES + 1, 100003];
    const randomKey = (): Uint8Array => new Uint8Array(randomBytes(32));
    const randomSign = (): 1 | -1 => ((randomBytes(1)[0]! & 1) === 0 ? 1 : -1);

    /** The reference: the JS addMask loop, applied mask by mask (small vectors take this path in addMask). */
    function reference(initial: Uint32Array, masks: readonly { key: Uint8Array; sign: 1 | -1 }[]): Uint32Array {
      const out = initial.slice();
      for (const { key: k, sign } of masks) {
        const ks = maskKeystream(k, out.length);
        for (let i = 0; i < out.length; i++) out[i] = (out[i]! + sign * ks[i]!) >>> 0;
      }
      return out;
    }

    it('runs on the native kernel, or with it off on the SIMD kernel (Node >= 16.4 ships WebAssembly SIMD)', () => {
      expect(simdAvailable).toBe(true);
      const a = new MaskAccumulator(4);
      expect(a.backend).toBe(kernel === 'native' ? 'native' : 'simd');
      a.dispose();
      expect(new MaskAccumulator(4, { backend: 'js' }).backend).toBe('js');
    });

    for (const backend of ['auto', 'js'] as const) {
      for (const n of LENGTHS) {
        it(`${backend}: equals repeated addMask for ${n} lanes, random keys and signs`, () => {
          const initial = randomLanes(n, n + 7);
          const masks = Array.from({ length: 5 }, () => ({ key: randomKey(), sign: randomSign() }));
          const viaAddMask = initial.slice();
          for (const m of masks) addMask(viaAddMask, m.key, m.sign);
          const acc = new MaskAccumulator(initial, { backend });
          for (const m of masks) acc.add(m.key, m.sign);
          const got = acc.result();
          acc.dispose();
          expect(got.length).toBe(n);
          expect(bytesOf(got).equals(bytesOf(viaAddMask))).toBe(true);
          expect(bytesOf(got).equals(bytesOf(reference(initial, masks)))).toBe(true);
        });
      }
    }

    it('SIMD and JS backends agree exactly', () => {
      for (const n of [7, 16385, 100003]) {
        const initial = randomLanes(n, 99);
        const masks = Array.from({ length: 4 }, () => ({ key: randomKey(), sign: randomSign() }));
        const [simd, js] = (['auto', 'js'] as const).map((backend) => {
          const a = new MaskAccumulator(initial, { backend });
          for (const m of masks) a.add(m.key, m.sign);
          const r = a.result();
          a.dispose();
          return r;
        });
        expect(bytesOf(simd!).equals(bytesOf(js!))).toBe(true);
      }
    });

    it('sign -1 undoes +1, on both backends', () => {
      for (const backend of ['auto', 'js'] as const) {
        const initial = randomLanes(100003, 5);
        const a = new MaskAccumulator(initial, { backend });
        const k1 = randomKey();
        const k2 = randomKey();
        a.add(k1, 1);
        a.add(k2, -1);
        const mid = new Uint32Array(initial.length);
        a.copyTo(mid);
        expect(Array.from(mid.subarray(0, 8))).not.toEqual(Array.from(initial.subarray(0, 8)));
        a.add(k1, -1);
        a.add(k2, 1);
        expect(bytesOf(a.result()).equals(bytesOf(initial))).toBe(true);
        a.dispose();
      }
    });

    it('a length starts from zeros; a subarray initial is read only inside the view and never written', () => {
      const k = randomKey();
      const zeros = new MaskAccumulator(1000);
      zeros.add(k, 1);
      expect(Array.from(zeros.result())).toEqual(Array.from(maskKeystream(k, 1000)));
      zeros.dispose();
      const whole = randomLanes(1010, 3);
      const before = whole.slice();
      const view = whole.subarray(5, 1005);
      const a = new MaskAccumulator(view);
      a.add(k, -1);
      expect(Array.from(a.result())).toEqual(Array.from(view, (x, i) => (x - maskKeystream(k, 1000)[i]!) >>> 0));
      expect(Array.from(whole)).toEqual(Array.from(before));
      a.dispose();
    });

    it('result() hands the vector over and ends the accumulator; later accumulators never write into it', () => {
      for (const backend of ['auto', 'js'] as const) {
        const a = new MaskAccumulator(70000, { backend });
        a.add(key(1), 1);
        const r1 = a.result();
        expect(Array.from(r1.subarray(0, 64))).toEqual(Array.from(maskKeystream(key(1), 64)));
        expect(() => a.add(key(1), 1)).toThrow(/disposed/);
        expect(() => a.result()).toThrow(/disposed/);
        a.dispose(); // no-op: does not zero the caller's vector
        expect(Array.from(r1.subarray(0, 64))).toEqual(Array.from(maskKeystream(key(1), 64)));
        // A later accumulator (on the pooled memory, with SIMD) leaves the handed-over vector as it was, and starts from zero.
        const b = new MaskAccumulator(70000, { backend });
        b.add(key(2), 1);
        expect(Array.from(r1.subarray(0, 64))).toEqual(Array.from(maskKeystream(key(1), 64)));
        expect(Array.from(b.result().subarray(0, 64))).toEqual(Array.from(maskKeystream(key(2), 64)));
        expect(Array.from(r1.subarray(0, 64))).toEqual(Array.from(maskKeystream(key(1), 64)));
      }
    });

    it('copyTo copies the vector and the accumulator stays usable', () => {
      for (const backend of ['auto', 'js'] as const) {
        const a = new MaskAccumulator(16, { backend });
        const r1 = new Uint32Array(16);
        a.copyTo(r1);
        expect(Array.from(r1)).toEqual(new Array(16).fill(0));
        r1.fill(9);
        a.add(key(1), 1);
        const r2 = new Uint32Array(new SharedArrayBuffer(64));
        a.copyTo(r2);
        expect(Array.from(r2)).toEqual(Array.from(maskKeystream(key(1), 16)));
        expect(() => a.copyTo(new Uint32Array(15))).toThrow(RangeError);
        a.dispose();
      }
    });

    it('addVector adds or subtracts a whole vector, same on both backends', () => {
      for (const n of [5, 16384, 70001]) {
        const x = randomLanes(n, 3);
        const init = randomLanes(n, 4);
        for (const backend of ['auto', 'js'] as const) {
          for (const sign of [1, -1] as const) {
            const a = new MaskAccumulator(init, { backend });
            a.addVector(x, sign);
            const got = a.result();
            for (let i = 0; i < n; i++) {
              if (got[i] !== ((init[i]! + sign * x[i]!) >>> 0)) throw new Error(`lane ${i} differs (n=${n}, ${backend}, ${sign})`);
            }
          }
        }
        const a = new MaskAccumulator(n);
        expect(() => a.addVector(new Uint32Array(n + 1))).toThrow(RangeError);
        expect(() => a.addVector(x, 2 as unknown as 1)).toThrow(RangeError);
        a.dispose();
      }
    });

    it('reused memory (after dispose) starts clean, whether smaller or larger than before', () => {
      for (const n of [70000, 10, 70000, 200000, 3]) {
        const a = new MaskAccumulator(n);
        expect(a.backend).toBe(kernel === 'native' ? 'native' : 'simd');
        const now = new Uint32Array(n);
        a.copyTo(now);
        expect(now.every((x) => x === 0)).toBe(true);
        a.add(randomKey(), 1);
        a.dispose();
        a.dispose(); // idempotent
      }
      // Nested: two live at once get separate memories.
      const a = new MaskAccumulator(randomLanes(500, 1));
      const b = new MaskAccumulator(500);
      b.add(key(2), 1);
      expect(Array.from(a.result())).toEqual(Array.from(randomLanes(500, 1)));
      a.dispose();
      b.dispose();
    });

    it('throws after dispose', () => {
      const a = new MaskAccumulator(4);
      a.dispose();
      expect(() => a.add(key(1), 1)).toThrow(/disposed/);
      expect(() => a.result()).toThrow(/disposed/);
    });

    it('validates its inputs', () => {
      expect(() => new MaskAccumulator(-1)).toThrow(RangeError);
      expect(() => new MaskAccumulator(1.5)).toThrow(RangeError);
      expect(() => new MaskAccumulator(MAX_LANES + 1)).toThrow(RangeError);
      expect(() => new MaskAccumulator(new Int32Array(4) as unknown as Uint32Array)).toThrow(TypeError);
      expect(() => new MaskAccumulator(4, { backend: 'gpu' as 'js' })).toThrow(RangeError);
      const a = new MaskAccumulator(4);
      expect(() => a.add(new Uint8Array(31), 1)).toThrow(RangeError);
      expect(() => a.add('k' as unknown as Uint8Array, 1)).toThrow(TypeError);
      expect(() => a.add(key(1), 0 as unknown as 1)).toThrow(RangeError);
      expect(Array.from(a.result())).toEqual([0, 0, 0, 0]);
      a.dispose();
    });

    it('documents a pool bound that holds a 1e6-lane model', () => {
      expect(MASK_ACCUMULATOR_POOL_MAX_BYTES).toBeGreaterThanOrEqual(4e6 + 256 * 1024);
    });
  });

  describe('addVectors', () => {
    it('equals the lane-wise sum mod 2^32, for short (JS) and long (SIMD) vectors and unaligned views', () => {
      for (const n of [0, 3, 16383, 16384, 100003]) {
        const accBuf = randomLanes(n + 1, 5);
        const acc = accBuf.subarray(1); // a view that does not start its buffer
        const before = Uint32Array.from(acc);
        const x = randomLanes(n, 6);
        addVectors(acc, x);
        for (let i = 0; i < n; i++) if (acc[i] !== ((before[i]! + x[i]!) >>> 0)) throw new Error(`lane ${i} of ${n} differs`);
        expect(accBuf[0]).toBe(randomLanes(1, 5)[0]);
      }
    });

    it('refuses vectors of other lengths or types', () => {
      expect(() => addVectors(new Uint32Array(4), new Uint32Array(5))).toThrow(RangeError);
      expect(() => addVectors(new Int32Array(4) as unknown as Uint32Array, new Uint32Array(4))).toThrow(TypeError);
    });
  });
}
