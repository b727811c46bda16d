import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { batches, createUnmaskPool } from './unmask-pool.ts';
import { maskJobs, unmask, type MaskJob, type UnmaskPlan } from './unmask.ts';
import { simulateRound } from './simulation.ts';
import { generateX25519 } from './keys.ts';
import type { Stage } from './messages.ts';

const selfJob = (): MaskJob => ({ kind: 'self', seed: new Uint8Array(randomBytes(32)) });
function pairJob(owner: number, peer: number): MaskJob {
  const a = generateX25519();
  return { kind: 'pair', secretKey: a.secretKey, peerPk: generateX25519().publicKey, owner, peer };
}

/** A plan of `selfs` reconstructed self-mask seeds over `lanes` random lanes (no dropped clients). */
function selfPlan(selfs: number, lanes: number): UnmaskPlan {
  const masked = new Uint32Array(lanes);
  new Uint8Array(masked.buffer).set(randomBytes(lanes * 4));
  const selfSeeds = Array.from({ length: selfs }, (_, i) => ({ owner: i + 1, seed: new Uint8Array(randomBytes(32)) }));
  return { ctx: { session: new Uint8Array(randomBytes(16)), round: 3 }, masked, selfSeeds, droppedKeys: [] };
}

describe('unmask pool: batches', () => {
  it('cuts the jobs into at most 4 batches per thread, each job exactly once, costliest (pair) jobs first', () => {
    const jobs = [...Array.from({ length: 30 }, selfJob), ...Array.from({ length: 13 }, (_, i) => pairJob(100, i + 1))];
    // 43.65e6 lanes of work: at most 4 per thread, and at most 20 batches of 2^21 lanes.
    for (const [threads, count] of [[1, 4], [2, 8], [3, 12], [8, 20]] as const) {
      const got = batches(jobs, threads, 1_000_000);
      expect(got.length).toBe(count);
      expect(got.every((b) => b.length > 0)).toBe(true);
      const flat = got.flat();
      expect(flat.length).toBe(jobs.length);
      expect(new Set(flat)).toEqual(new Set(jobs));
      expect(flat.slice(0, 13).every((j) => j.kind === 'pair')).toBe(true);
    }
    expect(batches(jobs.slice(0, 3), 4, 10_000_000).map((b) => b.length)).toEqual([1, 1, 1]);
    expect(batches([], 2, 1_000_000)).toEqual([]);
    // Small work: no batch under 2^21 lanes of masks, but one per thread at least.
    expect(batches(jobs, 2, 100_000).length).toBe(2);
    expect(batches(jobs, 2, 200_000).length).toBe(4);
  });
});

describe('unmask pool: batches handed to whichever worker is free', () => {
  const pool = createUnmaskPool({ threads: 2, inlineBelowLanes: 0 });
  afterAll(() => pool.close());

  it('more batches than threads, with self and pairwise masks: exactly the single-thread result and the plain sum', async () => {
    const n = 12;
    const m = 20_011;
    const inputs = Array.from({ length: n }, (_, i) => Uint32Array.from({ length: m }, (_, j) => (i * 2654435761 + j * 40503) >>> 0));
    const dropAt = new Map<number, Stage>([3, 8, 11].map((id) => [id, 'MaskedInput'] as const));
    const r = simulateRound({ inputs, threshold: 6, dropAt, skipUnmask: true });
    if (r.outcome.kind !== 'ready') throw new Error('round failed');
    const plan = r.outcome.plan;
    expect(maskJobs(plan).length).toBeGreaterThan(8); // more than 4 batches per thread's worth
    const parallel = await pool.unmask(plan);
    expect(parallel).toEqual(unmask(plan));
    expect(parallel).toEqual(r.plainSum);
    expect(await pool.unmask(plan)).toEqual(r.plainSum); // and again, on the reused partials
  });

  it('a failing job rejects the call; the next call starts fresh partials and is exact', async () => {
    const bad = selfPlan(21, 5000);
    const broken: UnmaskPlan = { ...bad, selfSeeds: bad.selfSeeds.map((s, i) => (i === 11 ? { ...s, seed: new Uint8Array(0) } : s)) };
    await expect(pool.unmask(broken)).rejects.toThrow(/unmask worker/);
    const good = selfPlan(21, 5000);
    expect(await pool.unmask(good)).toEqual(unmask(good));
  });

  it('a pool of more threads than batches uses only as many workers as there are batches', async () => {
    const p = createUnmaskPool({ threads: 3, inlineBelowLanes: 0 });
    const plan = selfPlan(2, 3001);
    expect(await p.unmask(plan)).toEqual(unmask(plan));
    await p.close();
  });

  it('by default a small plan runs on the calling thread (exactly the same sum); a bad inlineBelowLanes is refused', async () => {
    const p = createUnmaskPool({ threads: 2 });
    const plan = selfPlan(9, 4001);
    expect(await p.unmask(plan)).toEqual(unmask(plan));
    await p.close();
    expect(() => createUnmaskPool({ inlineBelowLanes: -1 })).toThrow(RangeError);
    expect(() => createUnmaskPool({ inlineBelowLanes: 0.5 })).toThrow(RangeError);
  });
});
