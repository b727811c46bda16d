/**
 * The randomness stream of the DP step: uniform 32-bit words from AES-256-CTR keyed
 * by 32 fresh bytes of the caller's RandomSource (the OS CSPRNG in production).
 *
 * This is a CTR-DRBG in the sense of NIST SP 800-90A §10.2 without reseeding: one key
 * per client update, at most MAX_WORDS words per key (far below the 2^48 blocks the
 * standard allows). Drawing a few hundred MB straight from the OS per update costs more
 * than the rest of the DP step; the key comes from the OS, so the stream is as
 * unpredictable as the OS CSPRNG to anyone without that key.
 *
 * Contract: the key never leaves this object and is never reused (each stream draws a
 * fresh one).
 */
import { createCipheriv } from 'node:crypto';
import type { Cipher } from 'node:crypto';
import type { RandomSource } from './random.ts';

const CHUNK_WORDS = 65536; // 256 KiB of keystream per refill
const ZERO = new Uint8Array(CHUNK_WORDS * 4);
/** Words one stream may produce (2^36 bytes of keystream); a resource bound. */
const MAX_WORDS = 2 ** 34;

export class UniformStream {
  private readonly cipher: Cipher;
  private words: Uint32Array = new Uint32Array(0);
  private pos = 0;
  private produced = 0;

  constructor(random: RandomSource) {
    const key = random(32);
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new RangeError(`UniformStream: random source: expected 32 bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
    }
    this.cipher = createCipheriv('aes-256-ctr', key, new Uint8Array(16));
    key.fill(0);
  }

  private refill(): void {
    if (this.produced >= MAX_WORDS) throw new RangeError(`UniformStream: more than ${MAX_WORDS} words drawn from one key`);
    const ks = this.cipher.update(ZERO);
    if (ks.length !== ZERO.length) throw new Error(`UniformStream: expected ${ZERO.length} keystream bytes, got ${ks.length}`);
    if (ks.byteOffset % 4 === 0) this.words = new Uint32Array(ks.buffer, ks.byteOffset, CHUNK_WORDS);
    else {
      // node may hand back a Buffer at any byte offset: copy into an aligned array.
      const words = new Uint32Array(CHUNK_WORDS);
      new Uint8Array(words.buffer).set(ks);
      this.words = words;
    }
    this.pos = 0;
    this.produced += CHUNK_WORDS;
  }

  /** A uniform integer in [0, 2^32). */
  next32(): number {
    if (this.pos === this.words.length) this.refill();
    return this.words[this.pos++]!;
  }

  private bits = 0;
  private bitCount = 0;

  /** A uniform bit (32 per word drawn). */
  nextBit(): number {
    if (this.bitCount === 0) {
      this.bits = this.next32();
      this.bitCount = 32;
    }
    const b = this.bits & 1;
    this.bits >>>= 1;
    this.bitCount--;
    return b;
  }

  /** A uniform integer in [0, n) for an integer 1 ≤ n ≤ 2^32, by rejection (no modulo bias). */
  below(n: number): number {
    // Accept u < floor(2^32 / n)·n: each residue then has exactly floor(2^32/n) preimages.
    const limit = Math.floor(4294967296 / n) * n;
    for (;;) {
      const u = this.next32();
      if (u < limit) return u % n;
    }
  }
}
