import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MaskAccumulator, maskKeystream, type SignedKey } from './prg.ts';
import { onEachKernel } from './_test-kernels.ts';

/** 64 KiB keystream chunks of addAll, in lanes. */
const ADD_ALL_CHUNK_LANES = 16384;

const randomKey = (): Uint8Array => new Uint8Array(randomBytes(32));
const randomSign = (): 1 | -1 => ((randomBytes(1)[0]! & 1) === 0 ? 1 : -1);
const masksOf = (count: number): SignedKey[] => Array.from({ length: count }, () => ({ key: randomKey(), sign: randomSign() }));
const bytesOf = (v: Uint32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function randomLanes(n: number): Uint32Array {
  const out = new Uint32Array(n);
  new Uint8Array(out.buffer).set(randomBytes(n * 4));
  return out;
}

/** The plain path: each mask's whole keystream (maskKeystream) added lane by lane with JS numbers. */
function reference(initial: Uint32Array, masks: readonly SignedKey[]): Uint32Array {
  const out = initial.slice();
  for (const { key, sign } of masks) {
    const ks = maskKeystream(key, out.length);
    for (let i = 0; i < out.length; i++) out[i] = (out[i]! + sign * ks[i]!) >>> 0;
  }
  return out;
}

onEachKernel(suite);

function suite(_kernel: 'native' | 'wasm'): void {
  describe('MaskAccumulator.addAll (chunk-major)', () => {
    const LENGTHS = [0, 1, 5, ADD_ALL_CHUNK_LANES - 1, ADD_ALL_CHUNK_LANES, ADD_ALL_CHUNK_LANES + 1, 2 * ADD_ALL_CHUNK_LANES + 3, 100003];
    for (const backend of ['auto', 'js'] as const) {
      for (const n of LENGTHS) {
        it(`${backend}: equals the plain path and add() mask by mask, exactly, for ${n} lanes`, () => {
          const initial = randomLanes(n);
          const masks = masksOf(7);
          const all = new MaskAccumulator(initial, { backend });
          all.addAll(masks);
          const got = all.result();
          const one = new MaskAccumulator(initial, { backend });
          for (const m of masks) one.add(m.key, m.sign);
          const byAdd = one.result();
          expect(got.length).toBe(n);
          expect(bytesOf(got).equals(bytesOf(reference(initial, masks)))).toBe(true);
          expect(bytesOf(got).equals(bytesOf(byAdd))).toBe(true);
        });
      }
    }

    it('an empty list changes nothing; calls mix with add() and with each other', () => {
      const initial = randomLanes(40000);
      const [a, b, c] = [masksOf(3), masksOf(1), masksOf(4)];
      const acc = new MaskAccumulator(initial);
      acc.addAll([]);
      acc.addAll(a!);
      acc.add(b![0]!.key, b![0]!.sign);
      acc.addAll(c!);
      expect(bytesOf(acc.result()).equals(bytesOf(reference(initial, [...a!, ...b!, ...c!])))).toBe(true);
    });

    it('masks added with +1 and then with -1 cancel', () => {
      const initial = randomLanes(70001);
      const masks = masksOf(5);
      const acc = new MaskAccumulator(initial);
      acc.addAll(masks);
      acc.addAll(masks.map((m) => ({ key: m.key, sign: m.sign === 1 ? -1 : 1 })));
      expect(bytesOf(acc.result()).equals(bytesOf(initial))).toBe(true);
    });

    it('checks every key and sign before any lane changes', () => {
      const initial = randomLanes(20000);
      const acc = new MaskAccumulator(initial);
      const good = masksOf(3);
      expect(() => acc.addAll([...good, { key: new Uint8Array(31), sign: 1 }])).toThrow(/masks\[3\]\.key/);
      expect(() => acc.addAll([...good, { key: randomKey(), sign: 0 as unknown as 1 }])).toThrow(/masks\[3\]\.sign/);
      expect(() => acc.addAll([...good, null as unknown as SignedKey])).toThrow(TypeError);
      expect(() => acc.addAll('keys' as unknown as SignedKey[])).toThrow(TypeError);
      const out = new Uint32Array(initial.length);
      acc.copyTo(out);
      expect(bytesOf(out).equals(bytesOf(initial))).toBe(true);
      acc.dispose();
      expect(() => acc.addAll(good)).toThrow(/disposed/);
    });
  });
}
