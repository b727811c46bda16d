import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import type { CurveBackend } from './curves.ts';
import { nobleCurves } from './curves-noble.ts';
import { nodeCurves, nodeCurvesWork } from './curves-node.ts';
import { SMALL_ORDER_ENCODINGS, isCanonicalPoint, isCanonicalScalar } from './ed25519-strict.ts';
import { curves, keysOn } from './keys.ts';
import { _useNative, nativeKernel, nativeStatus } from './native.ts';

const BACKENDS: readonly CurveBackend[] = [nodeCurves, nobleCurves];

/** RFC 7748 §5.2: X25519(scalar, u). */
const RFC7748_5_2 = [
  ['a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552'],
  ['4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957'],
] as const;

/** RFC 7748 §5.2 iteration: k = u = 9; after 1 and 1000 iterations of (k, u) <- (X25519(k, u), k). */
const RFC7748_ITERATED = { 1: '422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079', 1000: '684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51' } as const;

/** RFC 7748 §6.1. */
const RFC7748_6_1 = {
  alicePriv: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePub: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPriv: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPub: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
} as const;

/** RFC 8032 §7.1 TEST 1-3: secret key, public key, message, signature. */
const RFC8032 = [
  ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '', 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
  ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72', '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
  ['c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82', '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'],
] as const;

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;

function leToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}
function bigToLe(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

describe('curve backends', () => {
  it('node:crypto runs X25519 and Ed25519 here and is the backend in use', () => {
    expect(nodeCurvesWork()).toBe(true);
    expect(curves.name).toBe('node');
  });

  for (const c of BACKENDS) {
    describe(c.name, () => {
      it('RFC 7748 §5.2 and §6.1 vectors', () => {
        for (const [k, u, out] of RFC7748_5_2) expect(toHex(c.x25519(fromHex(k), fromHex(u)))).toBe(out);
        const v = RFC7748_6_1;
        expect(toHex(c.x25519PublicKey(fromHex(v.alicePriv)))).toBe(v.alicePub);
        expect(toHex(c.x25519PublicKey(fromHex(v.bobPriv)))).toBe(v.bobPub);
        expect(toHex(c.x25519(fromHex(v.alicePriv), fromHex(v.bobPub)))).toBe(v.shared);
        expect(toHex(c.x25519(fromHex(v.bobPriv), fromHex(v.alicePub)))).toBe(v.shared);
      });

      it('RFC 7748 §5.2 iterated vector (1 and 1000 iterations)', () => {
        let k = fromHex('09'.padEnd(64, '0'));
        let u = k;
        for (let i = 1; i <= 1000; i++) {
          const next = c.x25519(k, u);
          u = k;
          k = next;
          if (i === 1) expect(toHex(k)).toBe(RFC7748_ITERATED[1]);
        }
        expect(toHex(k)).toBe(RFC7748_ITERATED[1000]);
      });

      it('RFC 8032 §7.1 TEST 1-3: public key, signature, verification', () => {
        for (const [sk, pk, msg, sig] of RFC8032) {
          expect(toHex(c.ed25519PublicKey(fromHex(sk)))).toBe(pk);
          expect(toHex(c.sign(fromHex(sk), fromHex(msg)))).toBe(sig);
          expect(c.verify(fromHex(sig), fromHex(msg), fromHex(pk))).toBe(true);
          expect(keysOn(c).verifySignature(fromHex(sig), fromHex(msg + '00'), fromHex(pk))).toBe(false);
        }
      });
    });
  }

  it('property: both backends give byte-identical public keys, shared secrets and signatures, and verify each other', () => {
    const node = keysOn(nodeCurves);
    const noble = keysOn(nobleCurves);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), (a, b, msg) => {
        const pa = node.x25519PublicKey(a);
        const pb = noble.x25519PublicKey(b);
        expect(toHex(noble.x25519PublicKey(a))).toBe(toHex(pa));
        expect(toHex(node.x25519PublicKey(b))).toBe(toHex(pb));
        const s1 = node.x25519Shared(a, pb);
        expect(toHex(noble.x25519Shared(a, pb))).toBe(toHex(s1));
        expect(toHex(node.x25519Shared(b, pa))).toBe(toHex(s1));
        const idA = node.generateIdentity(() => a.slice());
        expect(toHex(noble.generateIdentity(() => a.slice()).publicKey)).toBe(toHex(idA.publicKey));
        const sigNode = node.signMessage(a, msg);
        const sigNoble = noble.signMessage(a, msg);
        expect(toHex(sigNoble)).toBe(toHex(sigNode));
        expect(noble.verifySignature(sigNode, msg, idA.publicKey)).toBe(true);
        expect(node.verifySignature(sigNoble, msg, idA.publicKey)).toBe(true);
        const other = concat(msg, new Uint8Array([1]));
        expect(node.verifySignature(sigNode, other, idA.publicKey)).toBe(false);
        expect(noble.verifySignature(sigNode, other, idA.publicKey)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('a reused secret-key buffer with new bytes is not served from the import cache', () => {
    const sk = fromHex(RFC8032[0][0]);
    expect(toHex(nodeCurves.ed25519PublicKey(sk))).toBe(RFC8032[0][1]);
    sk.set(fromHex(RFC8032[1][0]));
    expect(toHex(nodeCurves.ed25519PublicKey(sk))).toBe(RFC8032[1][1]);
    expect(toHex(nodeCurves.sign(sk, fromHex('72')))).toBe(RFC8032[1][3]);
  });
});

describe('strict Ed25519 verification on both backends', () => {
  const identity = SMALL_ORDER_ENCODINGS[0]!;
  /** R = identity, S = 0: [S]B = R + [h]A holds for every message when A is the identity. */
  const universal = concat(identity, new Uint8Array(32));

  it('the small-order table holds the 8 distinct points of E[8], each canonical', () => {
    const seen = new Set(SMALL_ORDER_ENCODINGS.map(toHex));
    expect(seen.size).toBe(8);
    for (const enc of SMALL_ORDER_ENCODINGS) {
      const pt = ed25519.Point.fromBytes(enc, false); // strict decoding: canonical
      expect(pt.isSmallOrder()).toBe(true);
      expect(isCanonicalPoint(enc)).toBe(true);
      expect(toHex(pt.toBytes())).toBe(toHex(enc));
    }
  });

  it('OpenSSL alone accepts a small-order key with a universal signature and non-canonical keys (why the explicit checks exist)', () => {
    const msgs = ['a', 'b'].map((s) => new TextEncoder().encode(s));
    const wasNative = nativeKernel() !== null;
    _useNative(false); // nodeCurves.verify on OpenSSL itself
    try {
      for (const m of msgs) expect(nodeCurves.verify(universal, m, identity)).toBe(true);
      // y = p + 1 encodes the identity non-canonically; x = 0 with the sign bit set likewise.
      expect(nodeCurves.verify(universal, msgs[0]!, bigToLe(P + 1n))).toBe(true);
      const negZero = identity.slice();
      negZero[31]! |= 0x80;
      expect(nodeCurves.verify(universal, msgs[0]!, negZero)).toBe(true);
    } finally {
      _useNative(wasNative);
    }
  });

  for (const c of BACKENDS) {
    const k = keysOn(c);
    it(`${c.name}: refuses every small-order public key, including with the universal signature`, () => {
      const msg = new TextEncoder().encode('any message');
      for (const enc of SMALL_ORDER_ENCODINGS) {
        expect(k.verifySignature(universal, msg, enc)).toBe(false);
        // R = A, S = 0 is the other classic forgery for small-order A.
        expect(k.verifySignature(concat(enc, new Uint8Array(32)), msg, enc)).toBe(false);
      }
    });

    it(`${c.name}: refuses non-canonical public-key encodings (y >= p, or x = 0 with the sign bit)`, () => {
      const msg = new TextEncoder().encode('m');
      for (let y = P; y < 2n ** 255n; y++) {
        for (const sign of [0n, 1n]) {
          const enc = bigToLe(y | (sign << 255n));
          expect(isCanonicalPoint(enc)).toBe(false);
          expect(k.verifySignature(universal, msg, enc)).toBe(false);
        }
      }
      for (const y of [1n, P - 1n]) expect(k.verifySignature(universal, msg, bigToLe(y | (1n << 255n)))).toBe(false);
    });

    it(`${c.name}: refuses the malleated signature (S + L) of a valid one`, () => {
      const [sk, pk, msgHex] = RFC8032[2];
      const sig = c.sign(fromHex(sk), fromHex(msgHex));
      expect(k.verifySignature(sig, fromHex(msgHex), fromHex(pk))).toBe(true);
      const s = leToBig(sig.subarray(32));
      const mall = concat(sig.subarray(0, 32), bigToLe(s + L));
      expect(isCanonicalScalar(mall)).toBe(false);
      expect(k.verifySignature(mall, fromHex(msgHex), fromHex(pk))).toBe(false);
      const top = concat(sig.subarray(0, 32), bigToLe(2n ** 256n - 1n));
      expect(k.verifySignature(top, fromHex(msgHex), fromHex(pk))).toBe(false);
    });
  }
});

/**
 * The native kernel's Ed25519 verification (packages/native/src/ed25519.c), which
 * nodeCurves.verify uses where the kernel loaded: the same decisions as OpenSSL's on
 * valid, forged and degenerate inputs, stricter only on non-canonical key encodings.
 */
describe.skipIf(nativeStatus().kernel?.ed25519Verify === undefined)('native Ed25519 verification', () => {
  const k = nativeStatus().kernel!;
  const native = (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean => k.ed25519Verify!(sig, msg, pub);
  const openssl = (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean => {
    const wasNative = nativeKernel() !== null;
    _useNative(false);
    try {
      return nodeCurves.verify(sig, msg, pub);
    } catch {
      return false; // OpenSSL refuses to import some encodings
    } finally {
      _useNative(wasNative);
    }
  };
  const flip = (b: Uint8Array, bit: number): Uint8Array => {
    const out = Uint8Array.from(b);
    out[(bit >> 3) % out.length]! ^= 1 << (bit & 7);
    return out;
  };

  it('RFC 8032 §7.1 TEST 1-3 verify, and one flipped bit anywhere in R, S, the key or the message does not', () => {
    for (const [, pk, msgHex, sigHex] of RFC8032) {
      const [pub, msg, sig] = [fromHex(pk), fromHex(msgHex), fromHex(sigHex)];
      expect(native(sig, msg, pub)).toBe(true);
      for (let bit = 0; bit < 512; bit += 7) expect(native(flip(sig, bit), msg, pub)).toBe(false);
      for (let bit = 0; bit < 256; bit += 5) expect(native(sig, msg, flip(pub, bit))).toBe(false);
      if (msg.length > 0) expect(native(sig, flip(msg, 3), pub)).toBe(false);
    }
  });

  it('property: the same decision as OpenSSL on valid signatures and on one-bit forgeries of them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), fc.nat(), (seed, msg, bit) => {
        const pub = nodeCurves.ed25519PublicKey(seed);
        const sig = nodeCurves.sign(seed, msg);
        expect(native(sig, msg, pub)).toBe(true);
        for (const [s, m, p] of [
          [flip(sig, bit % 512), msg, pub],
          [sig, msg, flip(pub, bit % 256)],
          [sig, msg.length > 0 ? flip(msg, bit % (8 * msg.length)) : Uint8Array.of(1), pub],
        ] as const) {
          expect(native(s, m, p)).toBe(openssl(s, m, p));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accepts what OpenSSL accepts under small-order keys (keys.ts refuses those keys first), and refuses S >= L', () => {
    const msg = new TextEncoder().encode('any');
    for (const enc of SMALL_ORDER_ENCODINGS) {
      const universal = concat(SMALL_ORDER_ENCODINGS[0]!, new Uint8Array(32));
      const rIsA = concat(enc, new Uint8Array(32));
      expect(native(universal, msg, enc)).toBe(openssl(universal, msg, enc));
      expect(native(rIsA, msg, enc)).toBe(openssl(rIsA, msg, enc));
    }
    const [, pk, msgHex, sigHex] = RFC8032[1];
    const sig = fromHex(sigHex);
    const sPlusL = concat(sig.subarray(0, 32), bigToLe(leToBig(sig.subarray(32)) + L));
    expect(native(sPlusL, fromHex(msgHex), fromHex(pk))).toBe(false);
    expect(native(concat(sig.subarray(0, 32), bigToLe(L)), fromHex(msgHex), fromHex(pk))).toBe(false);
  });

  it('refuses non-canonical key encodings, which OpenSSL decodes (y >= p; x = 0 with the sign bit)', () => {
    const universal = concat(SMALL_ORDER_ENCODINGS[0]!, new Uint8Array(32));
    const msg = new TextEncoder().encode('m');
    expect(native(universal, msg, bigToLe(P + 1n))).toBe(false);
    expect(native(universal, msg, bigToLe(1n | (1n << 255n)))).toBe(false);
    expect(native(universal, msg, SMALL_ORDER_ENCODINGS[0]!)).toBe(true);
    // a y with no x on the curve
    let y = 2n;
    while (ed25519PointOf(y) !== null) y++;
    expect(native(universal, msg, bigToLe(y))).toBe(false);
  });

  it('reduces 512-bit integers mod L exactly (the hash k = H(R ‖ A ‖ M) of every verification)', () => {
    const edges = [0n, 1n, L - 1n, L, L + 1n, 2n * L - 1n, 2n ** 252n, 2n ** 253n - 1n, 2n ** 256n - 1n, 2n ** 511n, 2n ** 512n - 1n, (2n ** 512n / L) * L, (2n ** 512n / L) * L - 1n];
    const check = (v: bigint): void => {
      const input = new Uint8Array(64);
      for (let i = 0, x = v; i < 64; i++, x >>= 8n) input[i] = Number(x & 0xffn);
      const out = new Uint8Array(32);
      k._ed25519ScReduce!(input, out);
      expect(leToBig(out)).toBe(v % L);
    };
    for (const v of edges) check(v);
    fc.assert(fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (b) => check(leToBig(b))), { numRuns: 2000 });
  });

  it('keeps keys apart that share a cache slot (the key\'s first byte)', () => {
    const bySlot = new Map<number, Uint8Array[]>();
    let pair: Uint8Array[] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const seed = new Uint8Array(32).map((_, j) => (i * 31 + j * 7) & 0xff);
      seed[0] = i & 0xff;
      seed[1] = i >> 8;
      const pub = nodeCurves.ed25519PublicKey(seed);
      const list = bySlot.get(pub[0]!) ?? [];
      list.push(seed);
      bySlot.set(pub[0]!, list);
      if (list.length === 2) pair = list;
    }
    const msg = new TextEncoder().encode('slot');
    const [a, b] = pair.map((seed) => ({ pub: nodeCurves.ed25519PublicKey(seed), sig: nodeCurves.sign(seed, msg) }));
    for (let round = 0; round < 3; round++) {
      expect(native(a!.sig, msg, a!.pub)).toBe(true);
      expect(native(b!.sig, msg, b!.pub)).toBe(true);
      expect(native(a!.sig, msg, b!.pub)).toBe(false);
      expect(native(b!.sig, msg, a!.pub)).toBe(false);
    }
  });
});

/** The x of a point with this y, or null when y² − 1 / (d y² + 1) is not a square (noble decides). */
function ed25519PointOf(y: bigint): object | null {
  try {
    return ed25519.Point.fromBytes(bigToLe(y), false);
  } catch {
    return null;
  }
}
