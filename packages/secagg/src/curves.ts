/**
 * The curve operations behind keys.ts, as one interface with two implementations:
 * node:crypto (OpenSSL; curves-node.ts) where the runtime has X25519 and Ed25519, and
 * @noble/curves (pure JS; curves-noble.ts) for runtimes without them and as the
 * cross-check (keys.test.ts runs the RFC vectors and a property through both).
 *
 * The backends do raw operations on well-sized inputs; keys.ts does the argument
 * checks, the strict Ed25519 encoding rules (ed25519-strict.ts) and the error mapping.
 */
export interface CurveBackend {
  readonly name: 'node' | 'noble';
  /** X25519 public key (RFC 7748 §6.1) of a 32-byte secret. */
  x25519PublicKey(secretKey: Uint8Array): Uint8Array;
  /** Raw X25519 output; throws on a low-order peer key (the caller maps it). */
  x25519(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;
  /** Ed25519 public key of a 32-byte seed (RFC 8032 §5.1.5). */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  /** Ed25519 signature (RFC 8032 §5.1.6). */
  sign(seed: Uint8Array, msg: Uint8Array): Uint8Array;
  /** RFC 8032 §5.1.7 verification; may throw on undecodable input (the caller maps it to false). */
  verify(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean;
}
