/** The AES-256-CTR implementations of the kernel: x86 VAES on 4 or 2 blocks per instruction, or Node's OpenSSL. */
export type AesImplementation = 'vaes512' | 'vaes256' | 'openssl';

/** The native mask kernel (src/prg.c); every call is synchronous and checks its arguments. */
export interface NativeKernel {
  /** vec[i] += Σ_j signs[j]·PRG(keys[32j, 32j+32))[i] mod 2^32, chunk-major. */
  addMasks(vec: Uint32Array | Int32Array, keys: Uint8Array, signs: Int8Array): void;
  /** acc[i] += sign·x[i] mod 2^32. */
  addVector(acc: Uint32Array | Int32Array, x: Uint32Array | Int32Array, sign: 1 | -1): void;
  /** out = the first out.length bytes of PRG(key). */
  keystream(key: Uint8Array, out: Uint8Array): void;
  /** Makes `bytes` bytes of PRG(key) and drops them: the AES floor of this kernel, for benchmarks. */
  discardKeystream(key: Uint8Array, bytes: number): void;
  /**
   * out[i] = stochastic rounding of clamp(delta[i]·factor, −bound, bound) with coin
   * coins[i]: floor(x) + (coins[i] < frac(x)·2^32), mod 2^32 (quantize.ts roundInto, lane
   * for lane). All three arrays of one length; bound in [0, 2^31 − 1).
   */
  roundStochastic(delta: Float32Array, factor: number, bound: number, coins: Uint32Array, out: Uint32Array): void;
  /**
   * Shamir shares: out[33j, 33j + 33) = f(xs[j]) for f(x) = Σ_k c_k x^k over GF(2^256 + 297),
   * the c_k the 33-byte big-endian coefficients in `coeffs` (each below the prime). No x may be 0.
   */
  shamirEval(coeffs: Uint8Array, xs: Uint32Array, out: Uint8Array): void;
  /**
   * Whether sig (64 bytes) is a valid Ed25519 signature (RFC 8032 §5.1.7) of msg under
   * publicKey (32 bytes): S < L, the key decodes (canonically), and the encoding of
   * [S]B − [k]A equals R (cofactorless, as OpenSSL). Each thread keeps the keys it
   * verified under decoded (256 slots). Absent where the compiler has no 128-bit integers.
   */
  ed25519Verify?(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean;
  /** @internal Tests: out (32 bytes) = input (64 bytes, little-endian) mod L, the reduction ed25519Verify uses. */
  _ed25519ScReduce?(input: Uint8Array, out: Uint8Array): void;
  /** out = HKDF-SHA-256 (RFC 5869) of ikm with salt and info, out.length bytes (at most 255 · 32). */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, out: Uint8Array): void;
  /** The AES implementations this CPU runs, fastest first ('openssl' always). */
  aesImplementations(): AesImplementation[];
  /** The one this thread's instance uses: the fastest, until useAes. */
  aes(): AesImplementation;
  /** Switches this thread's instance to another implementation this CPU runs; RangeError otherwise. */
  useAes(name: AesImplementation): void;
}
/** null where the addon was not built or does not load; `reason` then says why. */
export declare const kernel: NativeKernel | null;
export declare const reason: string | null;
