import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import { generateIdentity, generateX25519, signMessage, verifySignature, x25519PublicKey, x25519Shared } from './keys.ts';
import type { RandomSource } from './random.ts';

/** RFC 7748 §5.2: the two X25519(scalar, u-coordinate) test vectors. */
const RFC7748_5_2 = [
  {
    scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  },
  {
    scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
    out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
  },
] as const;

/** RFC 7748 §6.1: Diffie-Hellman between Alice and Bob. */
const RFC7748_6_1 = {
  alicePriv: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePub: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPriv: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPub: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
} as const;

/** RFC 8032 §7.1, TEST 1 (empty message). */
const RFC8032_TEST1 = {
  secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  message: '',
  signature:
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
} as const;

/** Fixed "random" source returning the given bytes, for feeding vectors through generate*. */
const fixed =
  (bytes: Uint8Array): RandomSource =>
  (n) => {
    if (n !== bytes.length) throw new Error(`fixed source: asked for ${n}`);
    return bytes.slice();
  };

function expectCode(f: () => unknown, code: SecAggErrorCode): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SecAggError);
    expect((e as SecAggError).code).toBe(code);
    return;
  }
  throw new Error('expected a SecAggError');
}

describe('X25519', () => {
  for (const [i, v] of RFC7748_5_2.entries()) {
    it(`x25519Shared matches RFC 7748 §5.2 vector ${i + 1}`, () => {
      expect(toHex(x25519Shared(fromHex(v.scalar), fromHex(v.u)))).toBe(v.out);
    });
  }

  it('matches the RFC 7748 §6.1 Alice/Bob exchange through generateX25519 and x25519Shared', () => {
    const v = RFC7748_6_1;
    const alice = generateX25519(fixed(fromHex(v.alicePriv)));
    const bob = generateX25519(fixed(fromHex(v.bobPriv)));
    expect(toHex(alice.publicKey)).toBe(v.alicePub);
    expect(toHex(x25519PublicKey(fromHex(v.bobPriv)))).toBe(v.bobPub);
    expect(toHex(bob.publicKey)).toBe(v.bobPub);
    expect(toHex(x25519Shared(alice.secretKey, bob.publicKey))).toBe(v.shared);
    expect(toHex(x25519Shared(bob.secretKey, alice.publicKey))).toBe(v.shared);
  });

  it('agrees with node:crypto diffieHellman on random key pairs', () => {
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (sa, sb) => {
        const a = generateX25519(fixed(sa));
        const b = generateX25519(fixed(sb));
        const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64(a.secretKey), x: b64(a.publicKey) }, format: 'jwk' });
        const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64(b.publicKey) }, format: 'jwk' });
        expect(toHex(x25519Shared(a.secretKey, b.publicKey))).toBe(toHex(new Uint8Array(diffieHellman({ privateKey, publicKey }))));
      }),
      { numRuns: 20 },
    );
  });

  it('generateX25519 uses the OS source by default and gives distinct keys', () => {
    const a = generateX25519();
    const b = generateX25519();
    expect(a.secretKey.length).toBe(32);
    expect(a.publicKey.length).toBe(32);
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
  });

  it('rejects low-order peer keys with BadMessage', () => {
    const { secretKey } = generateX25519();
    const p = 2n ** 255n - 19n;
    const le = (n: bigint): Uint8Array => {
      const out = new Uint8Array(32);
      for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
      return out;
    };
    // u = 0, 1, p-1 (order 1, 2, 4) and the non-canonical encodings p, p+1 of 0 and 1.
    for (const u of [0n, 1n, p - 1n, p, p + 1n]) expectCode(() => x25519Shared(secretKey, le(u)), SecAggErrorCode.BadMessage);
  });

  it('validates sizes', () => {
    expect(() => x25519Shared(new Uint8Array(31), new Uint8Array(32).fill(9))).toThrow(RangeError);
    expect(() => x25519Shared(new Uint8Array(32), new Uint8Array(33))).toThrow(RangeError);
    expect(() => x25519Shared(new Uint8Array(32), 'x' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => generateX25519(() => new Uint8Array(31))).toThrow(RangeError);
    expect(() => x25519PublicKey(new Uint8Array(33))).toThrow(RangeError);
  });
});

describe('Ed25519', () => {
  it('matches RFC 8032 §7.1 TEST 1 through generateIdentity and signMessage', () => {
    const v = RFC8032_TEST1;
    const id = generateIdentity(fixed(fromHex(v.secretKey)));
    expect(toHex(id.publicKey)).toBe(v.publicKey);
    const sig = signMessage(id.secretKey, fromHex(v.message));
    expect(toHex(sig)).toBe(v.signature);
    expect(verifySignature(sig, fromHex(v.message), id.publicKey)).toBe(true);
  });

  it('property: sign/verify roundtrip; any tampered message, signature or key fails', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (seed, msg, pos, bit) => {
          const id = generateIdentity(fixed(seed));
          const sig = signMessage(id.secretKey, msg);
          expect(verifySignature(sig, msg, id.publicKey)).toBe(true);
          const m2 = msg.slice();
          m2[pos % m2.length]! ^= 1 << bit;
          expect(verifySignature(sig, m2, id.publicKey)).toBe(false);
          const s2 = sig.slice();
          s2[pos % 64]! ^= 1 << bit;
          expect(verifySignature(s2, msg, id.publicKey)).toBe(false);
          const other = generateIdentity(fixed(Uint8Array.from(seed, (b) => b ^ 0xff)));
          expect(verifySignature(sig, msg, other.publicKey)).toBe(false);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('verifySignature returns false, never throws, on garbage', () => {
    const id = generateIdentity();
    const msg = new Uint8Array([1, 2, 3]);
    const sig = signMessage(id.secretKey, msg);
    expect(verifySignature(sig.subarray(0, 63), msg, id.publicKey)).toBe(false);
    expect(verifySignature(sig, msg, id.publicKey.subarray(0, 31))).toBe(false);
    expect(verifySignature(sig, msg, new Uint8Array(32).fill(0xff))).toBe(false); // not a point
    expect(verifySignature(new Uint8Array(64).fill(0xff), msg, id.publicKey)).toBe(false); // S >= L
    expect(verifySignature(null as unknown as Uint8Array, msg, id.publicKey)).toBe(false);
    expect(verifySignature(sig, 'abc' as unknown as Uint8Array, id.publicKey)).toBe(false);
    expect(verifySignature(sig, msg, [1] as unknown as Uint8Array)).toBe(false);
  });

  it('refuses a small-order public key (identity point) even for a signature that satisfies the equation', () => {
    // A = identity (y = 1), R = identity, S = 0: [S]B = R + [k]A holds for every message.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const sig = new Uint8Array(64);
    sig.set(identity, 0);
    expect(verifySignature(sig, new Uint8Array([42]), identity)).toBe(false);
  });

  it('signMessage validates its inputs', () => {
    expect(() => signMessage(new Uint8Array(64), new Uint8Array(1))).toThrow(RangeError);
    expect(() => signMessage(new Uint8Array(32), 'x' as unknown as Uint8Array)).toThrow(TypeError);
  });
});
