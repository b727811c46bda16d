import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.ts';

describe('EventQueue', () => {
  it('handles events one at a time, in order, across async handlers', async () => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new EventQueue<number>(
      async (n) => {
        log.push(`start ${n}`);
        if (n === 1) await gate;
        log.push(`end ${n}`);
      },
      () => {},
      10,
    );
    q.push(1);
    q.push(2);
    q.push(3);
    expect(log).toEqual(['start 1']);
    release();
    await q.idle();
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('reports a throwing handler and goes on', async () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const q = new EventQueue<number>(
      (n) => {
        if (n === 2) throw new Error('boom');
        seen.push(n);
      },
      (err, n) => errors.push([n, (err as Error).message]),
      10,
    );
    [1, 2, 3].forEach((n) => q.push(n));
    await q.idle();
    expect(seen).toEqual([1, 3]);
    expect(errors).toEqual([[2, 'boom']]);
  });

  it('is bounded, except for forced events', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new EventQueue<number>(() => gate, () => {}, 2);
    expect(q.push(1)).toBe(true); // being handled
    expect(q.push(2)).toBe(true);
    expect(q.push(3)).toBe(true);
    expect(q.push(4)).toBe(false);
    expect(q.push(5, true)).toBe(true);
    expect(q.length).toBe(3);
    release();
    await q.idle();
    expect(q.length).toBe(0);
  });
});
