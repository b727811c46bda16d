import { describe, expect, it } from 'vitest';
import {
  SecAggErrorCode,
  clientStep,
  completeGraph,
  createClient,
  generateIdentity,
  osRandom,
  unmask,
  type ClientState,
  type KeyPair,
  type ServerMessage,
} from '@tally/secagg';
import type { StageReport } from './logger.ts';
import { RoundDriver } from './round.ts';

const LANES = 6;

/** A driver over n in-memory clients; `pump()` runs messages until nothing is in flight. */
function setup(n: number, threshold: number) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const identities = new Map<number, KeyPair>(ids.map((id) => [id, generateIdentity()]));
  const inputs = new Map(ids.map((id) => [id, Uint32Array.from({ length: LANES }, (_, j) => (id * 1000 + j) >>> 0)]));
  const clients = new Map<number, ClientState>(ids.map((id) => [id, createClient({ identity: identities.get(id)!, input: inputs.get(id)! })]));
  const inbox: { to: number; msg: ServerMessage }[] = [];
  const reports: StageReport[] = [];
  const silent = new Set<number>();
  const driver = new RoundDriver({
    session: osRandom(16),
    round: 1,
    roster: ids.map((id) => ({ id, identityKey: identities.get(id)!.publicKey })),
    graph: completeGraph(ids),
    threshold,
    vectorLength: LANES,
    activeAdversary: true,
    stageMs: 60_000,
    maxShareCiphertext: 256,
    send: (to, msg) => inbox.push({ to, msg }),
    onStage: (r) => reports.push(r),
  });
  /** Runs one queued message through its client's machine; returns what the client sent. */
  const run = (next: { to: number; msg: ServerMessage }) => {
    const step = clientStep(clients.get(next.to)!, next.msg);
    clients.set(next.to, step.state);
    for (const m of step.outbox) expect(driver.deliver({ type: 'message', from: next.to, msg: m })).toBeNull();
    return step.outbox;
  };
  const pump = (): void => {
    for (let next = inbox.shift(); next; next = inbox.shift()) if (!silent.has(next.to)) run(next);
  };
  const plainSum = (of: readonly number[]): Uint32Array => {
    const s = new Uint32Array(LANES);
    for (const id of of) for (let j = 0; j < LANES; j++) s[j] = (s[j]! + inputs.get(id)![j]!) >>> 0;
    return s;
  };
  return { driver, pump, run, reports, silent, plainSum, inbox };
}

describe('RoundDriver', () => {
  it('runs all five stages and reports each', async () => {
    const t = setup(4, 3);
    t.pump();
    const report = await t.driver.done;
    expect(report.outcome.kind).toBe('ready');
    if (report.outcome.kind !== 'ready') return;
    expect(unmask(report.outcome.plan)).toEqual(t.plainSum([1, 2, 3, 4]));
    expect(t.reports.map((r) => [r.stage, r.answered, r.expected, r.drops.length])).toEqual([
      ['AdvertiseKeys', 4, 4, 0],
      ['ShareKeys', 4, 4, 0],
      ['MaskedInput', 4, 4, 0],
      ['ConsistencyCheck', 4, 4, 0],
      ['Unmask', 4, 4, 0],
    ]);
    expect(Object.keys(report.timings)).toEqual(['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask']);
  });

  it('keeps an excluded client out of every later stage, even one that already answered', async () => {
    const t = setup(5, 3);
    // Client 1 answers AdvertiseKeys, then is excluded while the others have not answered yet.
    const [mine] = t.inbox.splice(t.inbox.findIndex((m) => m.to === 1), 1);
    const sent = t.run(mine!);
    t.driver.exclude(1, 'protocol error WIRE_WRONG_STAGE');
    t.silent.add(1);
    expect(t.driver.deliver({ type: 'message', from: 1, msg: sent[0]! })?.code).toBe(SecAggErrorCode.InvalidTransition);
    t.pump();
    const report = await t.driver.done;
    expect(report.outcome.kind).toBe('ready');
    if (report.outcome.kind !== 'ready') return;
    expect(report.outcome.survivors).toEqual([2, 3, 4, 5]);
    // It had answered AdvertiseKeys, so it is dropped as ShareKeys opens, and never sent KeyList.
    expect(report.drops.get(1)).toEqual({ stage: 'ShareKeys', reason: 'protocol error WIRE_WRONG_STAGE' });
    expect(t.reports[1]!.drops).toEqual([{ id: 1, reason: 'protocol error WIRE_WRONG_STAGE' }]);
    expect(unmask(report.outcome.plan)).toEqual(t.plainSum([2, 3, 4, 5]));
  });

  it('closes a stage on its deadline event and aborts below threshold', async () => {
    const t = setup(4, 3);
    t.silent.add(1);
    t.silent.add(2);
    t.pump();
    expect(t.driver.stage).toBe('AdvertiseKeys');
    t.driver.deliver({ type: 'deadline' });
    const report = await t.driver.done;
    expect(report.outcome).toMatchObject({ kind: 'aborted', stage: 'AdvertiseKeys' });
    expect(t.reports[0]).toMatchObject({ stage: 'AdvertiseKeys', answered: 2, expected: 4 });
    expect(t.reports[0]!.drops).toEqual([
      { id: 1, reason: 'no answer before the deadline' },
      { id: 2, reason: 'no answer before the deadline' },
    ]);
  });

  it('cancel() ends the round as aborted', async () => {
    const t = setup(3, 2);
    t.driver.cancel('coordinator closed');
    expect((await t.driver.done).outcome).toEqual({ kind: 'aborted', stage: 'AdvertiseKeys', reason: 'coordinator closed' });
    expect(t.driver.deliver({ type: 'deadline' })).toBeNull();
  });
});
