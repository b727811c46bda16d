import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from './bytes.ts';
import { openShare, sealShare, SEAL_OVERHEAD, shareAad, shareKey, shareKeyPair } from './aead.ts';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import type { RoundContext } from './hkdf.ts';
import { generateX25519 } from './keys.ts';

const ctx = (sessionByte: number, round: number): RoundContext => ({ session: new Uint8Array(16).fill(sessionByte), round });

function expectDecryptFailed(f: () => unknown): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SecAggError);
  expect((err as SecAggError).code).toBe(SecAggErrorCode.DecryptFailed);
}

describe('shareAad', () => {
  it('has the documented layout', () => {
    const aad = shareAad(ctx(0xaa, 7), 3, 0x01020304);
    const expected =
      toHex(new TextEncoder().encode('tally/v1/share')) + '00000010' + 'aa'.repeat(16) + '00000007' + '00000003' + '01020304';
    expect(toHex(aad)).toBe(expected);
  });

  it('rejects bad ids and contexts', () => {
    expect(() => shareAad(ctx(1, 1), -1, 2)).toThrow(RangeError);
    expect(() => shareAad(ctx(1, 1), 1, 2 ** 32)).toThrow(RangeError);
    expect(() => shareAad({ session: new Uint8Array(8), round: 1 }, 1, 2)).toThrow(RangeError);
  });
});

describe('shareKey', () => {
  const u = generateX25519();
  const v = generateX25519();
  const c = ctx(1, 5);

  it('both ends derive the same u->v key; u->v differs from v->u', () => {
    const atU = shareKey(u.secretKey, v.publicKey, c, 1, 2);
    const atV = shareKey(v.secretKey, u.publicKey, c, 1, 2);
    expect(toHex(atU)).toBe(toHex(atV));
    expect(atU.length).toBe(32);
    const reverse = shareKey(v.secretKey, u.publicKey, c, 2, 1);
    expect(toHex(reverse)).not.toBe(toHex(atU));
    expect(toHex(shareKey(u.secretKey, v.publicKey, c, 2, 1))).toBe(toHex(reverse));
  });

  it('depends on the round and session', () => {
    const k = toHex(shareKey(u.secretKey, v.publicKey, c, 1, 2));
    expect(toHex(shareKey(u.secretKey, v.publicKey, ctx(1, 6), 1, 2))).not.toBe(k);
    expect(toHex(shareKey(u.secretKey, v.publicKey, ctx(2, 5), 1, 2))).not.toBe(k);
  });

  it('refuses a low-order peer key with BadMessage', () => {
    expect(() => shareKey(u.secretKey, new Uint8Array(32), c, 1, 2)).toThrow(expect.objectContaining({ code: SecAggErrorCode.BadMessage }));
  });
});

describe('sealShare / openShare', () => {
  const key = new Uint8Array(32).fill(0x42);
  const c = ctx(9, 3);
  const aad = shareAad(c, 1, 2);

  it('property: roundtrip for any plaintext; output is nonce || ct || tag', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (pt) => {
        const sealed = sealShare(key, pt, aad);
        expect(sealed.length).toBe(pt.length + SEAL_OVERHEAD);
        expect(toHex(openShare(key, sealed, aad))).toBe(toHex(pt));
      }),
      { numRuns: 50 },
    );
  });

  it('uses the injected nonce and fresh random nonces by default', () => {
    const pt = new Uint8Array([1, 2, 3]);
    const sealed = sealShare(key, pt, aad, (n) => new Uint8Array(n).fill(0x11));
    expect(toHex(sealed.subarray(0, 12))).toBe('11'.repeat(12));
    expect(toHex(sealShare(key, pt, aad))).not.toBe(toHex(sealShare(key, pt, aad)));
  });

  it('fails with DecryptFailed under any other AAD (round, session, sender, receiver)', () => {
    const sealed = sealShare(key, new Uint8Array(33).fill(5), aad);
    for (const other of [shareAad(ctx(9, 4), 1, 2), shareAad(ctx(8, 3), 1, 2), shareAad(c, 3, 2), shareAad(c, 1, 3), shareAad(c, 2, 1)]) {
      expectDecryptFailed(() => openShare(key, sealed, other));
    }
    expectDecryptFailed(() => openShare(new Uint8Array(32).fill(0x43), sealed, aad));
  });

  it('fails with DecryptFailed on any flipped bit', () => {
    const sealed = sealShare(key, new Uint8Array(33).fill(5), aad);
    for (let i = 0; i < sealed.length; i++) {
      const t = sealed.slice();
      t[i]! ^= 0x80;
      expectDecryptFailed(() => openShare(key, t, aad));
    }
  });

  it('fails with DecryptFailed on truncated or extended input', () => {
    const sealed = sealShare(key, new Uint8Array(33).fill(5), aad);
    for (const n of [0, 1, 12, SEAL_OVERHEAD - 1, SEAL_OVERHEAD, sealed.length - 1]) {
      expectDecryptFailed(() => openShare(key, sealed.subarray(0, n), aad));
    }
    const longer = new Uint8Array(sealed.length + 1);
    longer.set(sealed);
    expectDecryptFailed(() => openShare(key, longer, aad));
    expectDecryptFailed(() => openShare(key, 'x' as unknown as Uint8Array, aad));
  });

  it('validates key and nonce sizes', () => {
    expect(() => sealShare(new Uint8Array(16), new Uint8Array(1), aad)).toThrow(RangeError);
    expect(() => sealShare(key, new Uint8Array(1), aad, () => new Uint8Array(8))).toThrow(RangeError);
    expect(() => openShare(new Uint8Array(16), new Uint8Array(40), aad)).toThrow(RangeError);
  });
});

describe('shareKeyPair', () => {
  it('gives the same keys as shareKey in both directions, from one agreement', () => {
    const a = generateX25519();
    const b = generateX25519();
    const ctx = { session: new Uint8Array(16).fill(3), round: 5 };
    const pair = shareKeyPair(a.secretKey, b.publicKey, ctx, 1, 2);
    expect(pair.send).toEqual(shareKey(a.secretKey, b.publicKey, ctx, 1, 2));
    expect(pair.receive).toEqual(shareKey(b.secretKey, a.publicKey, ctx, 2, 1));
    expect(pair.send).not.toEqual(pair.receive);
  });
});
