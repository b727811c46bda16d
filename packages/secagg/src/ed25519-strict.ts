/**
 * Strict Ed25519 input rules checked before either backend verifies (OpenSSL alone
 * accepts inputs that break them; see curves-node.ts):
 * - S < L (RFC 8032 §5.1.7 step 1): else S and S + L both verify (malleability);
 * - the public key A is a canonical encoding (RFC 8032 §5.1.3: y < p, and no sign bit
 *   on x = 0), so one key has one encoding;
 * - A is not of small order: under such a key the signature R = identity, S = 0 (and
 *   others) verifies for every message (Chalkias et al., "Taming the many EdDSAs", 2020).
 */
import { equalBytes, fromHex } from './bytes.ts';

/** L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1), 32 bytes little-endian. */
const L_LE = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
/** p = 2^255 - 19, 32 bytes little-endian. */
const P_LE = fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');

/**
 * The canonical encodings of the 8 points of the torsion subgroup E[8] (orders 1, 2,
 * 4, 4, 8, 8, 8, 8). Non-canonical encodings of them are refused by the canonical check.
 * keys.test.ts checks each is a distinct small-order point and that there are 8.
 */
export const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
].map(fromHex);

/** a < b for 32-byte little-endian integers (public data: not constant time). */
function lessThanLe(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  }
  return false;
}

/** S = sig[32..64) is below the group order L. */
export function isCanonicalScalar(sig: Uint8Array): boolean {
  return lessThanLe(sig.subarray(32, 64), L_LE);
}

/**
 * A 32-byte point encoding is canonical: y (the low 255 bits) < p, and the sign bit is
 * clear when x = 0, i.e. when y = 1 or y = p - 1 (RFC 8032 §5.1.3 step 4).
 */
export function isCanonicalPoint(enc: Uint8Array): boolean {
  const y = Uint8Array.from(enc);
  const sign = y[31]! >> 7;
  y[31]! &= 0x7f;
  if (!lessThanLe(y, P_LE)) return false;
  if (sign === 1) {
    const one = equalBytes(y, SMALL_ORDER_ENCODINGS[0]!);
    const minusOne = equalBytes(y, SMALL_ORDER_ENCODINGS[1]!);
    if (one || minusOne) return false;
  }
  return true;
}

/** The encoding is one of the 8 small-order points (canonical encodings only; see above). */
export function isSmallOrderEncoding(enc: Uint8Array): boolean {
  return SMALL_ORDER_ENCODINGS.some((s) => equalBytes(s, enc));
}

/** Every strict rule above for a signature and its public key. */
export function strictInputsOk(sig: Uint8Array, publicKey: Uint8Array): boolean {
  return isCanonicalScalar(sig) && isCanonicalPoint(publicKey) && !isSmallOrderEncoding(publicKey);
}
