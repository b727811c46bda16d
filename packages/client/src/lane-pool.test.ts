import { describe, expect, it } from 'vitest';
import { encode, encodeParts } from '@tally/wire';
import { FRAME_HEADROOM, LanePool } from './lane-pool.ts';

describe('LanePool (MaskedInput.y, reused once sent)', () => {
  it('lends a fresh array, lends the same one again only after it came back, and keeps at most two idle', () => {
    const pool = new LanePool();
    const a = pool.take(8);
    const b = pool.take(8); // a is out: b is another array
    expect(b).not.toBe(a);
    expect(a).toHaveLength(8);
    expect(pool.give(a)).toBe(true);
    expect(pool.give(a)).toBe(false); // not lent any more
    expect(pool.take(8)).toBe(a);
    expect(pool.take(5)).toHaveLength(5); // another length: a new array
    const c = pool.take(8);
    pool.give(a);
    pool.give(b);
    pool.give(c);
    expect(pool.idle).toBe(2);
  });

  it('ignores arrays it did not lend', () => {
    const pool = new LanePool();
    expect(pool.give(new Uint32Array(8))).toBe(false);
    expect(pool.idle).toBe(0);
  });

  it('writes the MaskedInput frame around a lent vector, in its own buffer: the bytes of encode(msg)', () => {
    const pool = new LanePool();
    for (const lanes of [1, 70, 20_000]) {
      const y = pool.take(lanes);
      expect(y.byteOffset).toBe(FRAME_HEADROOM);
      y.forEach((_, i) => (y[i] = (i * 2654435761) >>> 0));
      const msg = { type: 'MaskedInput' as const, session: new Uint8Array(16).fill(7), round: 12345, y };
      const frame = pool.frame(y, encodeParts(msg)[0]!);
      expect(frame).not.toBeNull();
      expect(frame!.buffer).toBe(y.buffer); // no copy of the vector
      expect(Buffer.from(frame!).equals(Buffer.from(encode(msg)))).toBe(true);
    }
    // Not lent here, or a head that does not fit: null (the caller encodes a copy instead).
    expect(pool.frame(new Uint32Array(4), new Uint8Array(10))).toBeNull();
    expect(pool.frame(pool.take(4), new Uint8Array(FRAME_HEADROOM + 1))).toBeNull();
  });
});
