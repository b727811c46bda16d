import { describe, expect, it } from 'vitest';
import { LanePool } from './lane-pool.ts';

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
});
