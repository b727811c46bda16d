/**
 * Is an untrusted X25519 public key usable? RFC 7748 §6.1: a low-order point forces
 * a predictable (all-zero) shared secret.
 *
 * X25519 reads u as 255 bits (the top bit of byte 31 is ignored) and reduces it mod
 * p = 2^255 - 19. The points of small order, on the curve (order dividing 8) and on its
 * twist (order dividing 4), have exactly five u-coordinates: 0, 1, p - 1 and the two of
 * order 8 below. Of the 255-bit encodings, seven land on them (p and p + 1 are 0 and 1
 * again). So the check is a comparison with seven constants (the list libsodium also
 * refuses), not an agreement: a KeyList of k neighbours used to cost 3k extra X25519
 * agreements (about a third of a client's KeyList step on the complete graph).
 *
 * `usableByAgreement` is the definition it replaces, kept as the tests' reference: X25519
 * with a clamped scalar (a multiple of the cofactor 8) maps exactly the low-order points
 * to zero, which the agreement refuses.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, utf8 } from './bytes.ts';
import { x25519Shared } from './keys.ts';
import { PUBLIC_KEY_BYTES } from './messages.ts';

/** The 255-bit little-endian encodings of the small-order u-coordinates (top bit clear). */
export const LOW_ORDER_X25519: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0 (order 2)
  '0100000000000000000000000000000000000000000000000000000000000000', // 1 (order 4, twist)
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p - 1 (order 4)
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p, i.e. 0
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p + 1, i.e. 1
].map(fromHex);

/** False for a wrong size or a low-order point; true for every key a real agreement accepts. */
export function isUsableX25519Key(pk: unknown): boolean {
  if (!(pk instanceof Uint8Array) || pk.length !== PUBLIC_KEY_BYTES) return false;
  for (const bad of LOW_ORDER_X25519) {
    let diff = (pk[31]! & 0x7f) ^ bad[31]!;
    for (let i = 0; i < 31; i++) diff |= pk[i]! ^ bad[i]!;
    if (diff === 0) return false;
  }
  return true;
}

const CHECK_SCALAR = sha256(utf8('tally/v1/x25519-key-check'));

/** @internal The check by agreement (the reference `isUsableX25519Key` is tested against). */
export function usableByAgreement(pk: Uint8Array): boolean {
  if (!(pk instanceof Uint8Array) || pk.length !== PUBLIC_KEY_BYTES) return false;
  try {
    x25519Shared(CHECK_SCALAR, pk);
    return true;
  } catch {
    return false;
  }
}
