/**
 * The two key types of the protocol: X25519 (RFC 7748) for key agreement, Ed25519
 * (RFC 8032) for identity signatures. Runs on node:crypto (OpenSSL) where the runtime
 * has both curves, else on @noble/curves (see curves.ts); both give the same bytes
 * (keys.test.ts). The wrappers fix sizes, map failures onto SecAggError, apply the
 * strict Ed25519 rules of ed25519-strict.ts on either backend, and take randomness
 * from an injectable RandomSource so tests can be deterministic.
 */
import { assertBytes } from './bytes.ts';
import type { CurveBackend } from './curves.ts';
import { nobleCurves } from './curves-noble.ts';
import { nodeCurves, nodeCurvesWork } from './curves-node.ts';
import { strictInputsOk } from './ed25519-strict.ts';
import { fail, SecAggErrorCode } from './errors.ts';
import { osRandom } from './random.ts';
import type { RandomSource } from './random.ts';

/** The backend in use: node:crypto when it works here (checked once at load), else noble. */
export const curves: CurveBackend = nodeCurvesWork() ? nodeCurves : nobleCurves;
/** Which backend runs here: 'node' (OpenSSL) or 'noble' (pure JS). */
export const curveBackend: CurveBackend['name'] = curves.name;

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

/** The key functions of this module over one backend (tests run both; the exports use `curves`). */
export function keysOn(c: CurveBackend) {
  /** A fresh X25519 key pair. RFC 7748 §5: any 32 random bytes are a secret (clamped on use). */
  function generateX25519(random: RandomSource = osRandom): KeyPair {
    const secretKey = randomSeed(random, 'generateX25519');
    return { secretKey, publicKey: x25519PublicKey(secretKey) };
  }

  /** The X25519 public key of `secretKey` (e.g. to check a reconstructed secret against an advertised key). */
  function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
    assertBytes(secretKey, X25519_KEY_BYTES, 'x25519PublicKey secretKey');
    return c.x25519PublicKey(secretKey);
  }

  /**
   * X25519(secretKey, peerPublicKey). The peer key is untrusted: a low-order point would
   * force a predictable all-zero secret (RFC 7748 §6.1), so it is refused with BadMessage.
   * The output is raw DH output: pass it through `deriveKey` before use, never use it as a key.
   */
  function x25519Shared(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
    assertBytes(secretKey, X25519_KEY_BYTES, 'x25519Shared secretKey');
    assertBytes(peerPublicKey, X25519_KEY_BYTES, 'x25519Shared peerPublicKey');
    let shared: Uint8Array;
    try {
      // noble refuses the known low-order u-coordinates; OpenSSL fails on the all-zero output.
      shared = c.x25519(secretKey, peerPublicKey);
    } catch {
      fail(SecAggErrorCode.BadMessage, 'x25519: peer public key is a low-order point');
    }
    // RFC 7748 §6.1: check for the all-zero value; kept even though both backends already refuse.
    let acc = 0;
    for (const b of shared) acc |= b;
    if (acc === 0) fail(SecAggErrorCode.BadMessage, 'x25519: shared secret is all zero (low-order peer key)');
    return shared;
  }

  /** A fresh Ed25519 identity key pair. RFC 8032 §5.1.5: the secret key is a 32-byte seed. */
  function generateIdentity(random: RandomSource = osRandom): KeyPair {
    const secretKey = randomSeed(random, 'generateIdentity');
    return { secretKey, publicKey: c.ed25519PublicKey(secretKey) };
  }

  /** Ed25519 signature (RFC 8032 §5.1.6, deterministic) of `msg` under the 32-byte seed `secretKey`. */
  function signMessage(secretKey: Uint8Array, msg: Uint8Array): Uint8Array {
    assertBytes(secretKey, ED25519_SECRET_KEY_BYTES, 'signMessage secretKey');
    assertBytes(msg, undefined, 'signMessage msg');
    return c.sign(secretKey, msg);
  }

  /**
   * Checks an Ed25519 signature. All inputs are untrusted: any wrong type, size, non-canonical
   * encoding or invalid signature yields false, never an exception. Strict on both backends
   * (ed25519-strict.ts): S < L, a canonical public key, no small-order public key, so a
   * signature cannot be made to verify for more than one message under a degenerate key
   * and no valid signature has a second, malleated form.
   */
  function verifySignature(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
    if (!(sig instanceof Uint8Array) || sig.length !== ED25519_SIGNATURE_BYTES) return false;
    if (!(msg instanceof Uint8Array)) return false;
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
    if (!strictInputsOk(sig, publicKey)) return false;
    try {
      return c.verify(sig, msg, publicKey);
    } catch {
      return false;
    }
  }

  return { generateX25519, x25519PublicKey, x25519Shared, generateIdentity, signMessage, verifySignature };
}

const onDefault = keysOn(curves);
/** A fresh X25519 key pair. RFC 7748 §5: any 32 random bytes are a secret (clamped on use). */
export const generateX25519: (random?: RandomSource) => KeyPair = onDefault.generateX25519;
/** The X25519 public key of `secretKey` (e.g. to check a reconstructed secret against an advertised key). */
export const x25519PublicKey: (secretKey: Uint8Array) => Uint8Array = onDefault.x25519PublicKey;
/** X25519(secretKey, peerPublicKey); refuses low-order peer keys with BadMessage (see keysOn). */
export const x25519Shared: (secretKey: Uint8Array, peerPublicKey: Uint8Array) => Uint8Array = onDefault.x25519Shared;
/** A fresh Ed25519 identity key pair (32-byte seed). */
export const generateIdentity: (random?: RandomSource) => KeyPair = onDefault.generateIdentity;
/** Deterministic Ed25519 signature of `msg` under the 32-byte seed `secretKey`. */
export const signMessage: (secretKey: Uint8Array, msg: Uint8Array) => Uint8Array = onDefault.signMessage;
/** Strict Ed25519 verification of untrusted input: false, never an exception (see keysOn). */
export const verifySignature: (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array) => boolean = onDefault.verifySignature;
