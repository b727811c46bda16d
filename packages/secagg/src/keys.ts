/**
 * Thin wrappers over @noble/curves for the two key types of the protocol:
 * X25519 (RFC 7748) for key agreement, Ed25519 (RFC 8032) for identity signatures.
 * The wrappers fix sizes, map failures onto SecAggError, and take randomness from an
 * injectable RandomSource so tests can be deterministic.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { assertBytes } from './bytes.ts';
import { fail, SecAggErrorCode } from './errors.ts';
import { osRandom } from './random.ts';
import type { RandomSource } from './random.ts';

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export const X25519_KEY_BYTES = 32;
export const ED25519_SECRET_KEY_BYTES = 32;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

function randomSeed(random: RandomSource, what: string): Uint8Array {
  if (typeof random !== 'function') throw new TypeError(`${what}: expected RandomSource function, got ${typeof random}`);
  const seed = random(32);
  assertBytes(seed, 32, `${what}: random(32)`);
  return Uint8Array.from(seed); // our own copy: the source may reuse its buffer
}

/** A fresh X25519 key pair. RFC 7748 §5: any 32 random bytes are a secret (clamped on use). */
export function generateX25519(random: RandomSource = osRandom): KeyPair {
  const secretKey = randomSeed(random, 'generateX25519');
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}

/** The X25519 public key of `secretKey` (e.g. to check a reconstructed secret against an advertised key). */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  assertBytes(secretKey, X25519_KEY_BYTES, 'x25519PublicKey secretKey');
  return x25519.getPublicKey(secretKey);
}

/**
 * X25519(secretKey, peerPublicKey). The peer key is untrusted: a low-order point would
 * force a predictable all-zero secret (RFC 7748 §6.1), so it is refused with BadMessage.
 * The output is raw DH output: pass it through `deriveKey` before use, never use it as a key.
 */
export function x25519Shared(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  assertBytes(secretKey, X25519_KEY_BYTES, 'x25519Shared secretKey');
  assertBytes(peerPublicKey, X25519_KEY_BYTES, 'x25519Shared peerPublicKey');
  let shared: Uint8Array;
  try {
    // noble refuses the known low-order u-coordinates before running the ladder.
    shared = x25519.getSharedSecret(secretKey, peerPublicKey);
  } catch {
    fail(SecAggErrorCode.BadMessage, 'x25519: peer public key is a low-order point');
  }
  // RFC 7748 §6.1: check for the all-zero value; kept even though noble already refuses.
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) fail(SecAggErrorCode.BadMessage, 'x25519: shared secret is all zero (low-order peer key)');
  return shared;
}

/** A fresh Ed25519 identity key pair. RFC 8032 §5.1.5: the secret key is a 32-byte seed. */
export function generateIdentity(random: RandomSource = osRandom): KeyPair {
  const secretKey = randomSeed(random, 'generateIdentity');
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** Ed25519 signature (RFC 8032 §5.1.6, deterministic) of `msg` under the 32-byte seed `secretKey`. */
export function signMessage(secretKey: Uint8Array, msg: Uint8Array): Uint8Array {
  assertBytes(secretKey, ED25519_SECRET_KEY_BYTES, 'signMessage secretKey');
  assertBytes(msg, undefined, 'signMessage msg');
  return ed25519.sign(msg, secretKey);
}

/**
 * Checks an Ed25519 signature. All inputs are untrusted: any wrong type, size, non-canonical
 * encoding or invalid signature yields false, never an exception. Strict RFC 8032 decoding
 * (zip215: false), which also refuses small-order public keys, so a signature cannot be
 * made to verify for more than one message under a degenerate key.
 */
export function verifySignature(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(sig instanceof Uint8Array) || sig.length !== ED25519_SIGNATURE_BYTES) return false;
  if (!(msg instanceof Uint8Array)) return false;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  try {
    return ed25519.verify(sig, msg, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
