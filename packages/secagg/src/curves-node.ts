/**
 * The node:crypto (OpenSSL) implementation of CurveBackend. Raw 32-byte keys are imported
 * as JWK (RFC 8037 §2, kty "OKP"), which Node maps straight onto OpenSSL's raw-key
 * constructors: measured 8x faster than wrapping them in PKCS#8/SPKI DER (OpenSSL 3's
 * DER decoders cost ~1 ms a key here). Secret keys are imported once and reused while
 * the same Uint8Array holds the same bytes (a round's mask key is used once per
 * neighbour, the identity key for every signature); public identity keys the same way
 * (a roster's keys verify many signatures).
 *
 * OpenSSL's Ed25519 verification is NOT strict: it accepts small-order and non-canonical
 * public keys (curves.test.ts shows it), so keys.ts adds those checks (ed25519-strict.ts).
 * It does refuse S >= L, and X25519 derivation fails on an all-zero output.
 *
 * Verification runs on the native kernel (@tally/native ed25519.c) where it loaded and
 * passed its self-check: the same decisions as OpenSSL's (curves.test.ts compares them on
 * valid, forged and degenerate inputs), in about half the time (32 against 64 µs here:
 * 51-bit field limbs where OpenSSL 3.0's Ed25519 uses 25.5-bit ones, an 8-bit window for
 * B, and each thread's recent public keys kept decoded).
 */
import { createPrivateKey, createPublicKey, diffieHellman, sign, verify, type KeyObject } from 'node:crypto';
import { equalBytes } from './bytes.ts';
import type { CurveBackend } from './curves.ts';
import { nativeKernel } from './native.ts';

type Curve = 'X25519' | 'Ed25519';
const b64url = (raw: Uint8Array): string => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');
/** Node's JWK parser wants an `x` beside `d` but derives the public key from `d` alone (nodeCurvesWork checks that). */
const UNUSED_X = b64url(new Uint8Array(32));

const importSecret = (crv: Curve) => (raw: Uint8Array): KeyObject =>
  createPrivateKey({ key: { kty: 'OKP', crv, d: b64url(raw), x: UNUSED_X }, format: 'jwk' });
const importPublic = (crv: Curve) => (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: 'OKP', crv, x: b64url(raw) }, format: 'jwk' });

/**
 * KeyObjects by the Uint8Array they were imported from, with a copy of its bytes: a hit
 * needs the same array holding the same bytes (a caller may reuse a buffer).
 */
function keyCache(importKey: (raw: Uint8Array) => KeyObject): (raw: Uint8Array) => KeyObject {
  const cache = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly key: KeyObject }>();
  return (raw) => {
    const hit = cache.get(raw);
    if (hit !== undefined && equalBytes(hit.bytes, raw)) return hit.key;
    const key = importKey(raw);
    cache.set(raw, { bytes: Uint8Array.from(raw), key });
    return key;
  };
}

const x25519Secret = keyCache(importSecret('X25519'));
const ed25519Secret = keyCache(importSecret('Ed25519'));
const ed25519Public = keyCache(importPublic('Ed25519'));
/** Peer X25519 keys are each used once per round: imported without a cache. */
const x25519Public = importPublic('X25519');

const rawPublic = (secret: KeyObject): Uint8Array => {
  const x = createPublicKey(secret).export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('node:crypto exported a JWK without x');
  return new Uint8Array(Buffer.from(x, 'base64url'));
};
/** A plain Uint8Array copy: a small Buffer may be a slice of Node's shared pool. */
const bytes = (b: Buffer): Uint8Array => Uint8Array.from(b);

export const nodeCurves: CurveBackend = {
  name: 'node',
  x25519PublicKey: (secretKey) => rawPublic(x25519Secret(secretKey)),
  x25519: (secretKey, peerPublicKey) => bytes(diffieHellman({ privateKey: x25519Secret(secretKey), publicKey: x25519Public(peerPublicKey) })),
  ed25519PublicKey: (seed) => rawPublic(ed25519Secret(seed)),
  sign: (seed, msg) => bytes(sign(null, msg, ed25519Secret(seed))),
  verify: (sig, msg, publicKey) => {
    const native = nativeKernel();
    return native?.ed25519Verify !== undefined ? native.ed25519Verify(sig, msg, publicKey) : verify(null, msg, ed25519Public(publicKey), sig);
  },
};

/**
 * Whether this runtime's node:crypto does X25519 and Ed25519 and agrees with RFC 7748
 * §6.1 and RFC 8032 §7.1 TEST 1 (checked once at load; false means keys.ts uses noble).
 */
export function nodeCurvesWork(): boolean {
  try {
    const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
    const alice = nodeCurves.x25519PublicKey(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const ed = nodeCurves.ed25519PublicKey(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'));
    return (
      equalBytes(alice, hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')) &&
      equalBytes(ed, hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'))
    );
  } catch {
    return false;
  }
}
