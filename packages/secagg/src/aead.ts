/**
 * Encryption of Shamir shares between clients (routed through the untrusted server):
 * AES-256-GCM, key from X25519 + HKDF, AAD binding session, round, sender and receiver
 * so the server cannot replay a share into another round or re-address it.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { assertBytes, concatBytes, lp, u32be, utf8 } from './bytes.ts';
import { fail, SecAggErrorCode } from './errors.ts';
import { assertRoundContext, deriveKey, KdfLabel } from './hkdf.ts';
import type { RoundContext } from './hkdf.ts';
import { x25519Shared } from './keys.ts';
import { osRandom } from './random.ts';
import type { RandomSource } from './random.ts';

export const SHARE_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes that `sealShare` adds to the plaintext: nonce || ... || tag. */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

const AAD_PREFIX = utf8('tally/v1/share');

/** AAD = "tally/v1/share" || lp(session) || u32be(round) || u32be(sender) || u32be(receiver). */
export function shareAad(ctx: RoundContext, sender: number, receiver: number): Uint8Array {
  assertRoundContext(ctx, 'shareAad ctx');
  return concatBytes(AAD_PREFIX, lp(ctx.session), u32be(ctx.round), u32be(sender), u32be(receiver));
}

/**
 * The key for shares sent from `sender` to `receiver` in round `ctx`. Directional: the
 * ids go into the HKDF info in order, so u->v and v->u use different keys. Both ends
 * compute the same key: the sender with (its c-secret, receiver's c-public), the receiver
 * with (its c-secret, sender's c-public). Throws BadMessage on a low-order peer key.
 */
export function shareKey(cSecretKey: Uint8Array, peerCPublicKey: Uint8Array, ctx: RoundContext, sender: number, receiver: number): Uint8Array {
  const ids = concatBytes(u32be(sender), u32be(receiver));
  return deriveKey(x25519Shared(cSecretKey, peerCPublicKey), KdfLabel.ShareEncryption, ctx, ids);
}

/**
 * Both directional keys between `self` and `peer` from one X25519 agreement:
 * `send` encrypts self -> peer, `receive` opens peer -> self. Same keys as shareKey.
 */
export function shareKeyPair(cSecretKey: Uint8Array, peerCPublicKey: Uint8Array, ctx: RoundContext, self: number, peer: number): { send: Uint8Array; receive: Uint8Array } {
  const shared = x25519Shared(cSecretKey, peerCPublicKey);
  return {
    send: deriveKey(shared, KdfLabel.ShareEncryption, ctx, concatBytes(u32be(self), u32be(peer))),
    receive: deriveKey(shared, KdfLabel.ShareEncryption, ctx, concatBytes(u32be(peer), u32be(self))),
  };
}

/**
 * AES-256-GCM seal: returns nonce(12) || ciphertext || tag(16). The nonce is random:
 * each share key encrypts one message per round, far below the 2^32 random-nonce limit
 * of NIST SP 800-38D §8.3.
 */
export function sealShare(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, random: RandomSource = osRandom): Uint8Array {
  assertBytes(key, SHARE_KEY_BYTES, 'sealShare key');
  assertBytes(plaintext, undefined, 'sealShare plaintext');
  assertBytes(aad, undefined, 'sealShare aad');
  if (typeof random !== 'function') throw new TypeError(`sealShare random: expected RandomSource function, got ${typeof random}`);
  const nonce = random(NONCE_BYTES);
  assertBytes(nonce, NONCE_BYTES, 'sealShare random(12)');
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = cipher.update(plaintext);
  const last = cipher.final();
  return concatBytes(nonce, ct, last, cipher.getAuthTag());
}

/** Opens a `sealShare` output. Any failure (short input, wrong key/AAD, tampering) is DecryptFailed. */
export function openShare(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  assertBytes(key, SHARE_KEY_BYTES, 'openShare key');
  assertBytes(aad, undefined, 'openShare aad');
  if (!(sealed instanceof Uint8Array) || sealed.length < SEAL_OVERHEAD) {
    fail(SecAggErrorCode.DecryptFailed, `share ciphertext too short: expected at least ${SEAL_OVERHEAD} bytes`);
  }
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const ct = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const pt = decipher.update(ct);
    const last = decipher.final(); // throws on a bad tag; pt must not be used before this
    return concatBytes(pt, last);
  } catch {
    fail(SecAggErrorCode.DecryptFailed, 'share ciphertext failed authentication');
  }
}
