/**
 * Issue 8, point 2: one dishonest shop against a real coordinator and honest test
 * clients over loopback. Reproduced on the old code: a forged self-mask share made the
 * round reach a wrong sum naming nobody; a weight lane deflated to a total of 1
 * amplified the mean update 300x here, and a count lane off by one, and both were applied.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readAuditLog } from './audit-log.ts';
import type { CoordinatorEvent } from './events.ts';
import { cleanup, connectAll, startTest, waitEvent } from './_test-setup.ts';
import type { TestClientOptions, TestUpdate } from './_test-client.ts';

afterEach(cleanup);

type RoundEvent = Extract<CoordinatorEvent, { type: 'round' }>;
const roundEvent = (round: number) => (e: CoordinatorEvent): e is RoundEvent => e.type === 'round' && e.summary.round === round;
const update = (): TestUpdate => ({ delta: new Float32Array([5, 0, 0, 0]), weight: 100, metrics: [0] });

/** A client that flips one bit of the first self-mask share it reveals. */
const forger: Partial<TestClientOptions> = {
  tamperOut: (m) =>
    m.type === 'UnmaskShares'
      ? { ...m, selfMaskShares: m.selfMaskShares.map((r, i) => (i === 0 ? { ...r, share: Uint8Array.from(r.share, (b, j) => (j === 32 ? b ^ 1 : b)) } : r)) }
      : m,
};

describe('a dishonest client', () => {
  it('forging a self-mask share: it is named in the audit log, the round still commits exactly, and it is excluded from later rounds', async () => {
    const s = await startTest({ n: 6, task: { cohortSize: 6, minClients: 5, threshold: 3, rounds: 2 } });
    const clients = await connectAll(s.coordinator.url, s.ids, (i) => (i === 0 ? forger : {}));
    const r1 = await waitEvent(s, roundEvent(1));
    expect(r1.summary.reason ?? r1.summary.status).toBe('committed');
    await s.coordinator.done;
    const audit = (await readAuditLog(`${s.dataDir}/test-task/audit.jsonl`)).records;
    const forgerId = clients[0]!.clientId;
    const first = audit.find((r) => r.round === 1 && r.status === 'committed')!;
    expect(first.forgers).toEqual([forgerId]);
    expect(first.contributors).toBe(first.survivors.length);
    for (const r of audit.filter((x) => x.round === 2)) expect(r.cohort).not.toContain(forgerId);
    expect(s.lines.some((l) => /client \d+ revealed a forged share .* excluded from the task's later rounds/.test(l))).toBe(true);
  });

  it('a forger named before a coordinator restart is still excluded after it (the audit log is the record)', async () => {
    const task = { cohortSize: 6, minClients: 5, threshold: 3, rounds: 3 };
    const s = await startTest({ n: 6, task });
    const clients = await connectAll(s.coordinator.url, s.ids, (i) => (i === 0 ? forger : {}));
    const forgerId = clients[0]!.clientId;
    await waitEvent(s, roundEvent(1));
    await s.coordinator.close();
    for (const c of clients) c.close();
    const log = `${s.dataDir}/test-task/audit.jsonl`;
    const before = (await readAuditLog(log)).records;
    expect(before.find((r) => r.round === 1 && r.status === 'committed')?.forgers).toEqual([forgerId]);

    // The same data folder and identities: the checkpoint resumes the task, every client (the forger too, now honest) reconnects.
    const again = await startTest({ n: 6, task, ids: s.ids, dataDir: s.dataDir });
    await connectAll(again.coordinator.url, again.ids);
    const summary = await again.coordinator.done;
    expect(summary.finished).toBe(true);
    const after = (await readAuditLog(log)).records.slice(before.length);
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) expect(r.cohort).not.toContain(forgerId);
    expect(again.lines.some((l) => new RegExp(`client\\(s\\) ${forgerId} revealed forged shares in earlier rounds`).test(l))).toBe(true);
  });

  const cheat = async (tamperLanes: NonNullable<TestClientOptions['tamperLanes']>): Promise<{ status: string; reason: string | undefined; lines: string[] }> => {
    const s = await startTest({ n: 4, task: { rounds: 1 } });
    await connectAll(s.coordinator.url, s.ids, (i) => ({ update, ...(i === 0 ? { tamperLanes } : {}) }));
    const ev = await waitEvent(s, roundEvent(1));
    await s.coordinator.close();
    return { status: ev.summary.status, reason: ev.summary.reason, lines: s.lines };
  };

  it('deflating the total weight to 1 (amplifying the mean 300x) is refused, with a reason code, and nothing is applied', async () => {
    // Honest weights 100 each: the cheater writes 1 − 300 so that Σw = 1.
    const r = await cheat((lanes, plan) => {
      lanes[plan.weightLane] = (1 - 300) >>> 0;
    });
    expect(r.status).toBe('aborted');
    expect(r.reason).toMatch(/aggregate refused \(AGG_NORM\)/);
    expect(r.reason).not.toMatch(/\d{3,}/); // no aggregate value reaches the clients
    expect(r.lines.some((l) => /refusing the aggregate \(AGG_NORM\): ‖Σ w·δ‖ = /.test(l))).toBe(true);
  });

  it('a count lane that does not match the survivors (inflated contributors) is refused', async () => {
    const r = await cheat((lanes, plan) => {
      lanes[plan.countLane] = 0; // "not here", while its update still counts (weight 0 keeps decodeSum's bounds)
      lanes[plan.weightLane] = 0;
    });
    expect(r.status).toBe('aborted');
    expect(r.reason).toMatch(/aggregate refused \(AGG_CONTRIBUTORS\)/);
  });

  it('an inflated weight beyond survivors × weightBound is refused', async () => {
    const r = await cheat((lanes, plan) => {
      lanes[plan.weightLane] = 10_000;
    });
    expect(r.status).toBe('aborted');
    expect(r.reason).toMatch(/weight/);
  });
});
