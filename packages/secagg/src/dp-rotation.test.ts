import { describe, expect, it } from 'vitest';
import { seededRandom } from './_test-random.ts';
import { fwht, paddedLength, rotate, rotationSeed, rotationSigns, unrotate } from './dp-rotation.ts';

function seededVector(seed: string, n: number): Float64Array {
  const bytes = seededRandom(seed)(4 * n);
  const view = new DataView(bytes.buffer);
  return Float64Array.from({ length: n }, (_, i) => view.getUint32(4 * i, true) / 2 ** 32 - 0.5);
}

/** H_D by its definition: H[i][j] = (-1)^popcount(i & j) (Sylvester's construction). */
function hadamardEntry(i: number, j: number): number {
  let x = i & j;
  let parity = 0;
  while (x) {
    parity ^= x & 1;
    x >>>= 1;
  }
  return parity ? -1 : 1;
}

describe('randomized Hadamard rotation', () => {
  it('fwht equals the Hadamard matrix product, by definition, for D = 1 … 64', () => {
    for (let D = 1; D <= 64; D *= 2) {
      const x = seededVector(`fwht-${D}`, D);
      const y = Float64Array.from(x);
      fwht(y);
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let j = 0; j < D; j++) s += hadamardEntry(i, j) * x[j]!;
        expect(y[i]).toBeCloseTo(s, 12);
      }
    }
  });

  it('unrotate inverts rotate and the norm is preserved', () => {
    const D = 4096;
    const signs = rotationSigns(rotationSeed(new Uint8Array([1, 2, 3]), 7), D);
    const x = seededVector('rot', D);
    const y = Float64Array.from(x);
    rotate(y, signs);
    let nx = 0;
    let ny = 0;
    for (let i = 0; i < D; i++) {
      nx += x[i]! ** 2;
      ny += y[i]! ** 2;
    }
    expect(ny).toBeCloseTo(nx, 9);
    unrotate(y, signs);
    for (let i = 0; i < D; i++) expect(Math.abs(y[i]! - x[i]!)).toBeLessThan(1e-12);
  });

  it('spreads a spike evenly: every lane of a rotated c·e_0 is ±c/√D', () => {
    const D = 1024;
    const y = new Float64Array(D);
    y[5] = 3;
    rotate(y, rotationSigns(rotationSeed(new Uint8Array(8), 1), D));
    for (let i = 0; i < D; i++) expect(Math.abs(y[i]!)).toBeCloseTo(3 / 32, 12);
  });

  it('the seed is public and per round: same inputs same signs, another round other signs', () => {
    const s1 = rotationSeed(new Uint8Array([9]), 1);
    expect(rotationSeed(new Uint8Array([9]), 1)).toEqual(s1);
    expect(rotationSeed(new Uint8Array([9]), 2)).not.toEqual(s1);
    expect(rotationSeed(new Uint8Array([8]), 1)).not.toEqual(s1);
    const a = rotationSigns(s1, 256);
    expect(rotationSigns(s1, 256)).toEqual(a);
    // Roughly half the signs are negative (binomial(256, 1/2): 128 ± 4.5·8).
    let neg = 0;
    for (let i = 0; i < 256; i++) neg += (a[i >>> 5]! >>> (i & 31)) & 1;
    expect(Math.abs(neg - 128)).toBeLessThan(36);
  });

  it('pads to the next power of two and refuses bad sizes', () => {
    expect(paddedLength(1)).toBe(1);
    expect(paddedLength(5)).toBe(8);
    expect(paddedLength(1_000_000)).toBe(1_048_576);
    expect(() => paddedLength(0)).toThrow(RangeError);
    expect(() => paddedLength(2 ** 28 + 1)).toThrow(RangeError);
    expect(() => fwht(new Float64Array(6))).toThrow(RangeError);
    expect(() => rotationSigns(new Uint8Array(31), 8)).toThrow(RangeError);
  });
});
