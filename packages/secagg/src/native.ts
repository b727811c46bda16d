/**
 * The optional native mask kernel (@tally/native: AES-256-CTR masks added in place, with
 * x86 VAES where the CPU has it and the OpenSSL inside Node elsewhere; no per-chunk
 * allocation). prg.ts uses it when it loads and passes its self-check; otherwise the
 * WebAssembly SIMD kernel or the JS loop (same masks, bit for bit; slower).
 *
 * `TALLY_NATIVE=0` in the environment turns it off (comparisons, or to rule it out);
 * `TALLY_NATIVE_AES=vaes256|openssl` makes it use a slower AES than the fastest this CPU
 * runs (comparisons again; a name the CPU cannot run turns the kernel off, saying why).
 * The self-check runs once per thread at load: the native keystream of a fixed key must
 * equal node:crypto's, a native masked sum must equal the JS one, and so must its
 * stochastic rounding on edge cases and its Shamir evaluation, and its HKDF must give
 * RFC 5869's test vector; a
 * kernel that disagrees is never used (a wrong mask would corrupt every aggregate silently).
 */
import { createCipheriv } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AesImplementation, NativeKernel } from '@tally/native';

export type { AesImplementation, NativeKernel };

export interface NativeStatus {
  /** The kernel in use, or null. */
  readonly kernel: NativeKernel | null;
  /** Why there is none (null when there is). */
  readonly reason: string | null;
}

/** Checks a loaded kernel against node:crypto; returns what is wrong, or null. */
export function selfCheck(k: NativeKernel): string | null {
  const key = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
  const zero = new Uint8Array(16);
  // 16 KiB + 20 bytes: crosses the kernel's chunk boundary and ends mid-block.
  const bytes = 16384 + 20;
  const want = createCipheriv('aes-256-ctr', key, zero).update(new Uint8Array(bytes));
  const got = new Uint8Array(bytes);
  k.keystream(key, got);
  if (!want.equals(got)) return 'its keystream differs from node:crypto AES-256-CTR';
  const key2 = key.map((b) => b ^ 0x5a);
  const ks2 = createCipheriv('aes-256-ctr', key2, zero).update(new Uint8Array(bytes));
  const lanes = bytes / 4;
  const vec = new Uint32Array(lanes).map((_, i) => (i * 2654435761) >>> 0);
  const expect = new Uint32Array(vec);
  const a = new Uint32Array(want.buffer, want.byteOffset, lanes);
  const b = new Uint32Array(new Uint8Array(ks2).buffer, 0, lanes);
  for (let i = 0; i < lanes; i++) expect[i] = (expect[i]! + a[i]! - b[i]!) >>> 0;
  const keys = new Uint8Array(64);
  keys.set(key, 0);
  keys.set(key2, 32);
  k.addMasks(vec, keys, Int8Array.of(1, -1));
  for (let i = 0; i < lanes; i++) if (vec[i] !== expect[i]) return `its masked sum differs from the JS one at lane ${i}`;
  k.addVector(vec, expect, -1);
  if (vec.some((x) => x !== 0)) return 'its vector subtraction is wrong';
  return roundingCheck(k) ?? hkdfCheck(k) ?? shamirCheck(k) ?? ed25519Check(k);
}

/**
 * Ed25519 verification (where built) on RFC 8032 §7.1 TEST 2, and three forgeries of it: a
 * flipped message bit, a flipped R bit, and S + L (the same signature, non-canonical S).
 */
function ed25519Check(k: NativeKernel): string | null {
  if (k.ed25519Verify === undefined) return null;
  const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
  const pub = hex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
  const msg = hex('72');
  const sig = hex('92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00');
  if (!k.ed25519Verify(sig, msg, pub)) return 'its Ed25519 verification refuses RFC 8032 TEST 2';
  const badMsg = hex('73');
  const badR = Uint8Array.from(sig);
  badR[0]! ^= 1;
  // S + L: S's top byte 0x0c, L's 0x10 (and the lower bytes add without reaching 2^256).
  const sPlusL = Uint8Array.from(sig);
  let carry = 0;
  const L = hex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
  for (let i = 0; i < 32; i++) {
    const v = sPlusL[32 + i]! + L[i]! + carry;
    sPlusL[32 + i] = v & 0xff;
    carry = v >> 8;
  }
  if (k.ed25519Verify(sig, badMsg, pub) || k.ed25519Verify(badR, msg, pub) || k.ed25519Verify(sPlusL, msg, pub)) {
    return 'its Ed25519 verification accepts a forgery of RFC 8032 TEST 2';
  }
  return null;
}

/** Shamir evaluation against BigInt Horner, with the largest coefficients and points. */
function shamirCheck(k: NativeKernel): string | null {
  const p = 2n ** 256n + 297n;
  const cs = [p - 1n, 2n ** 256n - 1n, 1n, p - 2n, 12345678901234567890n];
  const xs = Uint32Array.of(1, 2, 0xffffffff, 0xfffffffe, 65537);
  const hex = (v: bigint): string => v.toString(16).padStart(66, '0');
  const coeffs = new Uint8Array(Buffer.from(cs.map(hex).join(''), 'hex'));
  const out = new Uint8Array(33 * xs.length);
  k.shamirEval(coeffs, xs, out);
  for (let j = 0; j < xs.length; j++) {
    let y = 0n;
    for (let i = cs.length - 1; i >= 0; i--) y = (y * BigInt(xs[j]!) + cs[i]!) % p;
    if (Buffer.from(out.subarray(33 * j, 33 * j + 33)).toString('hex') !== hex(y)) return `its Shamir evaluation differs from BigInt's at x = ${xs[j]}`;
  }
  return null;
}

/** RFC 5869 Appendix A.1 (HKDF-SHA-256, 42 bytes: across two HMAC blocks). */
function hkdfCheck(k: NativeKernel): string | null {
  const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
  const out = new Uint8Array(42);
  k.hkdfSha256(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), out);
  return Buffer.from(out).toString('hex') === '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865'
    ? null
    : 'its HKDF-SHA-256 differs from RFC 5869 test case A.1';
}

/** The native stochastic rounding against quantize.ts's JS rounding (restated here), on edge cases. */
function roundingCheck(k: NativeKernel): string | null {
  const factor = 3 * 2 ** 14 + 0.5;
  const bound = 1000.25;
  const edges = [0, -0, 1e-45, -1e-45, 0.5 / factor, -0.5 / factor, 1 / factor, -1 / factor, 0.03, -0.03, 0.061, -0.061, 1, -1, 1e30, -1e30, NaN];
  const delta = new Float32Array(edges.length * 3).map((_, i) => edges[i % edges.length]!);
  const coins = new Uint32Array(delta.length).map((_, i) => [0, 0xffffffff, 0x80000000][Math.floor(i / edges.length)]!);
  const got = new Uint32Array(delta.length);
  k.roundStochastic(delta, factor, bound, coins, got);
  for (let i = 0; i < delta.length; i++) {
    const x0 = delta[i]! * factor;
    const x = x0 > bound ? bound : x0 < -bound ? -bound : x0;
    const floor = Math.floor(x);
    const want = (floor + +(coins[i]! < (x - floor) * 4294967296)) >>> 0;
    if (got[i] !== want) return `its stochastic rounding differs from the JS one for ${delta[i]} with coin ${coins[i]}: ${got[i]} instead of ${want}`;
  }
  return null;
}

function load(): NativeStatus {
  if (process.env.TALLY_NATIVE === '0') return { kernel: null, reason: 'turned off (TALLY_NATIVE=0)' };
  let mod: { kernel: NativeKernel | null; reason: string | null };
  try {
    mod = createRequire(import.meta.url)('@tally/native') as typeof mod;
  } catch {
    return { kernel: null, reason: '@tally/native is not installed' };
  }
  if (mod.kernel === null) return { kernel: null, reason: `@tally/native did not load (${mod.reason ?? 'not built'})` };
  const aes = process.env.TALLY_NATIVE_AES;
  if (aes !== undefined && aes !== '') {
    try {
      mod.kernel.useAes(aes as AesImplementation);
    } catch (err) {
      return { kernel: null, reason: `TALLY_NATIVE_AES=${aes}: ${err instanceof Error ? err.message.replace(/^useAes: /, '') : String(err)}` };
    }
  }
  try {
    const wrong = selfCheck(mod.kernel);
    if (wrong !== null) return { kernel: null, reason: `@tally/native failed its self-check: ${wrong}` };
  } catch (err) {
    return { kernel: null, reason: `@tally/native failed its self-check: ${err instanceof Error ? err.message : String(err)}` };
  }
  return { kernel: mod.kernel, reason: null };
}

const loaded = load();
let active: NativeKernel | null = loaded.kernel;

/** The native kernel to use now, or null. */
export function nativeKernel(): NativeKernel | null {
  return active;
}

/**
 * How much faster than OpenSSL's AES-CTR the kernel in use expands masks: 4 with 512-bit
 * VAES, 2 with 256-bit, else 1 (measured here: 50 masks over 1e6 lanes in 6.3, 12 and 27
 * ms). The thread-pool thresholds below which work stays on one thread (unmask-pool.ts,
 * mask-helper.ts) were measured with OpenSSL's speed and scale by this: the hand-off costs
 * the same whatever the kernel, the work it saves is this many times smaller.
 */
export function nativeMaskSpeedup(): number {
  const aes = active?.aes();
  return aes === 'vaes512' ? 4 : aes === 'vaes256' ? 2 : 1;
}

/** Whether the native kernel loaded on this thread, and if not, why. */
export function nativeStatus(): NativeStatus {
  return { kernel: active, reason: active !== null ? null : (loaded.reason ?? 'turned off for this thread') };
}

/**
 * @internal Tests and benchmarks: use the native kernel (true, where it loaded) or not
 * (false) on this thread from now on; returns whether it is now in use.
 */
export function _useNative(on: boolean): boolean {
  active = on ? loaded.kernel : null;
  return active !== null;
}
