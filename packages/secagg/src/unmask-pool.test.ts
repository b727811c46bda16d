import { afterAll, describe, expect, it } from 'vitest';
import { createUnmaskPool } from './unmask-pool.ts';
import { unmask } from './unmask.ts';
import { simulateRound } from './simulation.ts';
import type { Stage } from './messages.ts';

describe('unmask pool (worker threads)', () => {
  const pool = createUnmaskPool({ threads: 2, inlineBelowLanes: 0 });
  afterAll(() => pool.close());

  it('gives exactly the single-thread result and the plain sum', async () => {
    const n = 8;
    const m = 4099;
    const inputs = Array.from({ length: n }, (_, i) => Uint32Array.from({ length: m }, (_, j) => (i * 2654435761 + j * 40503) >>> 0));
    const dropAt = new Map<number, Stage>([
      [2, 'MaskedInput'],
      [7, 'MaskedInput'],
    ]);
    const r = simulateRound({ inputs, threshold: 5, dropAt, skipUnmask: true });
    expect(r.outcome.kind).toBe('ready');
    if (r.outcome.kind !== 'ready') return;
    expect(r.outcome.plan.droppedKeys.map((d) => d.owner)).toEqual([2, 7]);
    const parallel = await pool.unmask(r.outcome.plan);
    expect(parallel).toEqual(unmask(r.outcome.plan));
    expect(parallel).toEqual(r.plainSum);
    // The masked sum itself is not the plain sum (the masks were really there).
    expect(r.outcome.plan.masked).not.toEqual(r.plainSum);
  });

  it('warm() starts the threads and a warmed pool still gives the exact sum', async () => {
    const p = createUnmaskPool({ threads: 2, inlineBelowLanes: 0 });
    await p.warm();
    const r = simulateRound({ inputs: [5, 6, 7, 8].map((x) => new Uint32Array(40).fill(x)), threshold: 3, skipUnmask: true });
    if (r.outcome.kind !== 'ready') throw new Error('round failed');
    expect(await p.unmask(r.outcome.plan)).toEqual(r.plainSum);
    await p.close();
  });

  it('warm(lanes) at a vector length above the default, then an exact sum at that length; a bad length is refused', async () => {
    const p = createUnmaskPool({ threads: 2, inlineBelowLanes: 0 });
    const lanes = 70_001;
    await p.warm(lanes);
    const r = simulateRound({ inputs: [5, 6, 7].map((x) => new Uint32Array(lanes).fill(x)), threshold: 2, skipUnmask: true });
    if (r.outcome.kind !== 'ready') throw new Error('round failed');
    expect(await p.unmask(r.outcome.plan)).toEqual(r.plainSum);
    await expect(p.warm(0)).rejects.toThrow(RangeError);
    await p.close();
  });

  it('close is idempotent and a closed pool refuses work', async () => {
    const p = createUnmaskPool({ threads: 2 });
    await p.close();
    await p.close();
    const r = simulateRound({ inputs: [1, 2, 3].map((x) => new Uint32Array(2).fill(x)), threshold: 2 });
    if (r.outcome.kind !== 'ready') throw new Error('round failed');
    await expect(p.unmask(r.outcome.plan)).rejects.toThrow(/closed/);
  });
});
