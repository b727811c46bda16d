/**
 * Is an untrusted X25519 public key usable? RFC 7748 §6.1: a low-order point forces
 * a predictable (all-zero) shared secret. X25519 with a clamped scalar (a multiple
 * of the cofactor 8) maps exactly the low-order points, of the curve and of its
 * twist, to zero, so one agreement with a fixed scalar decides it. Any other 32
 * bytes are a valid X25519 input (RFC 7748 §5 masks the top bit and reduces mod p).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from './bytes.ts';
import { x25519Shared } from './keys.ts';
import { PUBLIC_KEY_BYTES } from './messages.ts';

const CHECK_SCALAR = sha256(utf8('tally/v1/x25519-key-check'));

/** False for a wrong size or a low-order point; true for every key a real agreement accepts. */
export function isUsableX25519Key(pk: unknown): boolean {
  if (!(pk instanceof Uint8Array) || pk.length !== PUBLIC_KEY_BYTES) return false;
  try {
    x25519Shared(CHECK_SCALAR, pk);
    return true;
  } catch {
    return false;
  }
}
