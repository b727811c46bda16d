import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import { deriveKey, hkdfSha256, KdfLabel } from './hkdf.ts';
import type { RoundContext } from './hkdf.ts';
import { onEachKernel } from './_test-kernels.ts';

const range = (from: number, to: number): string => {
  let s = '';
  for (let i = from; i <= to; i++) s += i.toString(16).padStart(2, '0');
  return s;
};

/** RFC 5869 Appendix A, Test Cases 1-3 (the SHA-256 ones). */
const RFC5869_VECTORS = [
  {
    name: 'A.1 basic',
    ikm: '0b'.repeat(22),
    salt: '000102030405060708090a0b0c',
    info: 'f0f1f2f3f4f5f6f7f8f9',
    length: 42,
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    name: 'A.2 longer inputs/outputs',
    ikm: range(0x00, 0x4f),
    salt: range(0x60, 0xaf),
    info: range(0xb0, 0xff),
    length: 82,
    okm:
      'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c' +
      '59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71' +
      'cc30c58179ec3e87c14c01d5c1f3434f1d87',
  },
  {
    name: 'A.3 zero-length salt/info',
    ikm: '0b'.repeat(22),
    salt: '',
    info: '',
    length: 42,
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
] as const;

const ctx = (sessionByte: number, round: number): RoundContext => ({ session: new Uint8Array(16).fill(sessionByte), round });

// Both implementations: OpenSSL's through the native kernel, and noble's without it.
onEachKernel(() => {
  describe('hkdfSha256', () => {
    for (const v of RFC5869_VECTORS) {
      it(`matches RFC 5869 ${v.name}`, () => {
        const okm = hkdfSha256(fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.length);
        expect(toHex(okm)).toBe(v.okm);
      });
    }

    it('agrees with node:crypto hkdfSync on random inputs', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 1, maxLength: 64 }),
          fc.uint8Array({ maxLength: 64 }),
          fc.uint8Array({ maxLength: 64 }),
          fc.integer({ min: 1, max: 255 * 32 }),
          (ikm, salt, info, length) => {
            const ours = hkdfSha256(ikm, salt, info, length);
            const theirs = new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
            expect(toHex(ours)).toBe(toHex(theirs));
          },
        ),
        { numRuns: 50 },
      );
    });

    it('rejects bad arguments with TypeError/RangeError', () => {
      const b = new Uint8Array(1);
      expect(() => hkdfSha256('x' as unknown as Uint8Array, b, b, 32)).toThrow(TypeError);
      expect(() => hkdfSha256(b, b, b, 255 * 32 + 1)).toThrow(RangeError);
      expect(() => hkdfSha256(b, b, b, -1)).toThrow(RangeError);
      expect(() => hkdfSha256(b, b, b, 1.5)).toThrow(RangeError);
    });
  });

  describe('deriveKey', () => {
    const ikm = new Uint8Array(32).fill(7);

    it('returns 32 bytes, deterministically', () => {
      const a = deriveKey(ikm, KdfLabel.SelfMask, ctx(1, 1));
      expect(a.length).toBe(32);
      expect(toHex(deriveKey(ikm, KdfLabel.SelfMask, ctx(1, 1)))).toBe(toHex(a));
    });

    it('follows the documented salt/info layout', () => {
      const c = ctx(0xab, 0x01020304);
      const salt = fromHex(toHex(new TextEncoder().encode('tally/v1/salt')) + '00000010' + 'ab'.repeat(16) + '01020304');
      const label = new TextEncoder().encode(KdfLabel.PairwiseMask);
      const info = fromHex('000000' + label.length.toString(16).padStart(2, '0') + toHex(label) + 'beef');
      const expected = new Uint8Array(hkdfSync('sha256', ikm, salt, info, 32));
      expect(toHex(deriveKey(ikm, KdfLabel.PairwiseMask, c, fromHex('beef')))).toBe(toHex(expected));
    });

    it('gives distinct keys for distinct labels, sessions, rounds, extra info and ikm', () => {
      const keys = [
        deriveKey(ikm, KdfLabel.PairwiseMask, ctx(1, 1)),
        deriveKey(ikm, KdfLabel.SelfMask, ctx(1, 1)),
        deriveKey(ikm, KdfLabel.ShareEncryption, ctx(1, 1)),
        deriveKey(ikm, KdfLabel.PairwiseMask, ctx(2, 1)),
        deriveKey(ikm, KdfLabel.PairwiseMask, ctx(1, 2)),
        deriveKey(ikm, KdfLabel.PairwiseMask, ctx(1, 0)),
        deriveKey(ikm, KdfLabel.PairwiseMask, ctx(1, 1), new Uint8Array([0])),
        deriveKey(ikm, KdfLabel.PairwiseMask, ctx(1, 1), new Uint8Array([1])),
        deriveKey(new Uint8Array(32).fill(8), KdfLabel.PairwiseMask, ctx(1, 1)),
      ].map(toHex);
      expect(new Set(keys).size).toBe(keys.length);
    });

    it('property: any change of label, session or round changes the key', () => {
      const labels = Object.values(KdfLabel);
      const arb = fc.record({
        label: fc.constantFrom(...labels),
        session: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        round: fc.integer({ min: 0, max: 0xffffffff }),
      });
      fc.assert(
        fc.property(arb, arb, (a, b) => {
          fc.pre(a.label !== b.label || toHex(a.session) !== toHex(b.session) || a.round !== b.round);
          const ka = deriveKey(ikm, a.label, { session: a.session, round: a.round });
          const kb = deriveKey(ikm, b.label, { session: b.session, round: b.round });
          expect(toHex(ka)).not.toBe(toHex(kb));
        }),
        { numRuns: 100 },
      );
    });

    it('validates its inputs', () => {
      expect(() => deriveKey(new Uint8Array(0), KdfLabel.SelfMask, ctx(1, 1))).toThrow(RangeError);
      expect(() => deriveKey(ikm, 'tally/v1/other' as KdfLabel, ctx(1, 1))).toThrow(RangeError);
      expect(() => deriveKey(ikm, KdfLabel.SelfMask, { session: new Uint8Array(15), round: 1 })).toThrow(/expected 16 bytes, got 15/);
      expect(() => deriveKey(ikm, KdfLabel.SelfMask, { session: new Uint8Array(16), round: -1 })).toThrow(RangeError);
      expect(() => deriveKey(ikm, KdfLabel.SelfMask, { session: new Uint8Array(16), round: 2 ** 32 })).toThrow(RangeError);
      expect(() => deriveKey(ikm, KdfLabel.SelfMask, { session: new Uint8Array(16), round: '1' as unknown as number })).toThrow(TypeError);
      expect(() => deriveKey(ikm, KdfLabel.SelfMask, null as unknown as RoundContext)).toThrow(TypeError);
      expect(() => deriveKey(ikm, KdfLabel.SelfMask, ctx(1, 1), [1] as unknown as Uint8Array)).toThrow(TypeError);
    });
  });
});
