/**
 * @internal Deterministic RandomSource for tests only: SHA-256(seed || counter)
 * blocks. Never for keys or masks outside tests (those use osRandom).
 */
import { createHash } from 'node:crypto';
import type { RandomSource } from './random.ts';

export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const ctr = Buffer.alloc(8);
      ctr.writeBigUInt64BE(BigInt(counter++));
      const block = createHash('sha256').update(seed).update(ctr).digest();
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}
