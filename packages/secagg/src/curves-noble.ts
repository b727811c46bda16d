/**
 * The @noble/curves implementation of CurveBackend: pure JS, runs anywhere (browsers),
 * about 10-30x slower than OpenSSL here. Strict RFC 8032 decoding (zip215: false).
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import type { CurveBackend } from './curves.ts';

export const nobleCurves: CurveBackend = {
  name: 'noble',
  x25519PublicKey: (secretKey) => x25519.getPublicKey(secretKey),
  // noble refuses the known low-order u-coordinates before running the ladder.
  x25519: (secretKey, peerPublicKey) => x25519.getSharedSecret(secretKey, peerPublicKey),
  ed25519PublicKey: (seed) => ed25519.getPublicKey(seed),
  sign: (seed, msg) => ed25519.sign(msg, seed),
  verify: (sig, msg, publicKey) => ed25519.verify(sig, msg, publicKey, { zip215: false }),
};
