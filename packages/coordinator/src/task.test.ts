import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeSum } from '@tally/secagg';
import { CLOSE_CODES, type CoordinatorMessage, type ErrorNotice, type GlobalModel, type RoundResult, type TaskOffer } from '@tally/wire';
import { readAuditLog } from './audit-log.ts';
import { maxPayloadFor } from './coordinator.ts';
import type { CoordinatorEvent } from './events.ts';
import { cleanup, connect, connectAll, startTest, waitEvent } from './_test-setup.ts';
import { deterministicUpdate, type TestClient } from './_test-client.ts';

afterEach(cleanup);

type RoundEvent = Extract<CoordinatorEvent, { type: 'round' }>;
const roundEvent = (round: number) => (e: CoordinatorEvent): e is RoundEvent => e.type === 'round' && e.summary.round === round;

/** Σ lanes mod 2^32 of what `clients` submitted in `round`. */
function plainSum(clients: readonly TestClient[], round: number): Uint32Array {
  const first = clients.map((c) => c.submitted.get(round)).find((s) => s !== undefined)!;
  const sum = new Uint32Array(first.lanes.length);
  for (const c of clients) {
    const s = c.submitted.get(round)!;
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + s.lanes[i]!) >>> 0;
  }
  return sum;
}

describe('a full task', () => {
  it('runs 2 rounds with 4 clients; the unmasked mean equals the plain weighted mean', async () => {
    const s = await startTest({ n: 4 });
    const clients = await connectAll(s.coordinator.url, s.ids);
    const summary = await s.coordinator.done;
    expect(summary.finished).toBe(true);
    expect(summary.lastRound).toBe(2);
    expect(summary.committed).toBe(2);
    // After the last round every client is closed with 1000 'task complete' (after its RoundResult).
    for (const c of clients) expect(await c.closed).toEqual({ code: 1000, reason: 'task complete' });

    let global: Float32Array = new Float32Array(4);
    for (const round of [1, 2]) {
      const ev = await waitEvent(s, roundEvent(round));
      expect(ev.summary.status).toBe('committed');
      // The model each client was offered is the previous round's result.
      const offer = clients[0]!.received.find((m): m is TaskOffer => m.type === 'TaskOffer' && m.round === round)!;
      expect(offer.model).toEqual(global);

      // Exact: the coordinator's result is decodeSum of the plain ring sum, applied with fedavg (x + 1·Δ).
      const sub = clients.map((c) => c.submitted.get(round)!);
      const exact = decodeSum(sub[0]!.plan, plainSum(clients, round));
      const expected = new Float32Array(4);
      for (let i = 0; i < 4; i++) expected[i] = global[i]! + exact.meanDelta[i]!;
      expect(ev.model).toEqual(expected);

      // Integer lanes are exact.
      const totalWeight = sub.reduce((a, x) => a + x.update.weight, 0);
      expect(ev.summary.totalWeight).toBe(totalWeight);
      expect(ev.summary.contributors).toBe(4);
      expect(ev.summary.clippedCount).toBe(0);

      // Float reference: Σ w·δ / Σ w within the quantisation bound n / (2^f · Σw) per lane.
      const bound = 4 / (2 ** 16 * totalWeight) + 1e-6;
      for (let i = 0; i < 4; i++) {
        const ref = sub.reduce((a, x) => a + x.update.weight * x.update.delta[i]!, 0) / totalWeight;
        expect(Math.abs(ev.model![i]! - global[i]! - ref)).toBeLessThanOrEqual(bound);
      }
      const loss = sub.reduce((a, x) => a + x.update.weight * x.update.metrics[0]!, 0) / totalWeight;
      expect(Math.abs(ev.summary.metrics!['loss']! - loss)).toBeLessThanOrEqual(bound);

      for (const c of clients) {
        const result = c.received.find((m): m is RoundResult => m.type === 'RoundResult' && m.round === round)!;
        expect(result.status).toBe('committed');
        expect(result.survivors).toBe(4);
      }
      global = ev.model!;
    }
    expect(summary.model).toEqual(global);
    // The audit log: one line per round, both committed.
    const { records, torn } = await readAuditLog(join(s.dataDir, 'test-task', 'audit.jsonl'));
    expect(torn).toBe(false);
    expect(records.map((r) => [r.round, r.status, r.contributors])).toEqual([
      [1, 'committed', 4],
      [2, 'committed', 4],
    ]);
    expect(records[0]).toMatchObject({ cohort: [1, 2, 3, 4], accepted: [1, 2, 3, 4], survivors: [1, 2, 3, 4], threshold: 2, degree: 3, drops: {} });
    expect(Object.keys(records[0]!.timings)).toEqual(['TaskOffer', 'AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask', 'Aggregate']);
    expect(s.lines.some((l) => /^INFO round 1 stage ShareKeys: 4\/4 answered in \d+ ms$/.test(l))).toBe(true);
  });
});

describe('the model comes back', () => {
  it('sends the declaration in every offer, each committed model to every client, the final one at the end and to a late client', async () => {
    const model = { kind: 'demand', products: ['bread'], hidden: [2] };
    const s = await startTest({ n: 4, task: { model } });
    const clients = await connectAll(s.coordinator.url, s.ids);
    const summary = await s.coordinator.done;
    const models = [1, 2].map((r) => s.events.find(roundEvent(r))!.model!);
    for (const c of clients) {
      expect(await c.closed).toEqual({ code: 1000, reason: 'task complete' });
      const offers = c.received.filter((m): m is TaskOffer => m.type === 'TaskOffer');
      expect(offers.map((o) => JSON.parse(o.modelSpec!) as unknown)).toEqual([model, model]);
      const got = c.received.filter((m): m is GlobalModel => m.type === 'GlobalModel');
      expect(got.map((m) => [m.taskId, m.round, m.final])).toEqual([
        ['test-task', 1, false],
        ['test-task', 2, true],
      ]);
      expect(got.map((m) => m.model)).toEqual(models);
      // The committed model follows its round's RoundResult.
      const i = c.received.findIndex((m) => m.type === 'RoundResult' && m.round === 2);
      expect(c.received[i + 1]).toMatchObject({ type: 'GlobalModel', round: 2 });
    }
    expect(summary.model).toEqual(models[1]);
    // A client that connects after the end gets the final model, then the close.
    const late = connect({ url: s.coordinator.url, identity: s.ids[0]! });
    expect(await late.closed).toEqual({ code: 1000, reason: 'task complete' });
    expect(late.received.filter((m) => m.type === 'GlobalModel')).toEqual([{ type: 'GlobalModel', taskId: 'test-task', round: 2, final: true, model: models[1] }]);
  });
});

describe('drops and retries', () => {
  it('commits when a client disconnects at MaskedInput and survivors ≥ t', async () => {
    const s = await startTest({ n: 4, task: { rounds: 1 } });
    const clients = await connectAll(s.coordinator.url, s.ids, (i) =>
      i === 3
        ? {
            // Client 4 gets its shares, then leaves instead of sending its masked input.
            intercept: (m, c) => {
              if (m.type !== 'ShareBundle') return false;
              void c.close();
              return true;
            },
          }
        : {},
    );
    const summary = await s.coordinator.done;
    expect(summary.finished).toBe(true);
    const ev = await waitEvent(s, roundEvent(1));
    expect(ev.summary.status).toBe('committed');
    expect(ev.summary.survivors).toBe(3);
    expect(ev.summary.contributors).toBe(3);
    const survivors = clients.slice(0, 3);
    expect(ev.summary.totalWeight).toBe(survivors.reduce((a, c) => a + c.submitted.get(1)!.update.weight, 0));
    // Exact: the sum of the three survivors' lanes, unmasked with the dropped client's pairwise masks removed.
    const exact = decodeSum(survivors[0]!.submitted.get(1)!.plan, plainSum(survivors, 1));
    expect(ev.model).toEqual(new Float32Array(exact.meanDelta));

    const { records } = await readAuditLog(join(s.dataDir, 'test-task', 'audit.jsonl'));
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect(r.survivors).toEqual([1, 2, 3]);
    expect(r.drops['4']).toEqual({ stage: 'MaskedInput', reason: 'disconnected' });
    expect(r.revealed).toEqual({ selfMaskOf: [1, 2, 3], maskKeyOf: [4] });
  });

  it('drops a client that stays silent past the stage deadline and goes on', async () => {
    const s = await startTest({ n: 4, task: { rounds: 1, deadlines: { trainMs: 20_000, stageMs: 1500, retryMs: 0 } } });
    await connectAll(s.coordinator.url, s.ids, (i) => (i === 0 ? { intercept: (m) => m.type === 'RoundStart' } : {}));
    await s.coordinator.done;
    const ev = await waitEvent(s, roundEvent(1));
    expect(ev.summary.status).toBe('committed');
    expect(ev.summary.contributors).toBe(3);
    expect(s.lines).toContainEqual(expect.stringMatching(/^INFO round 1 stage AdvertiseKeys: 3\/4 answered \(1 dropped: id 1 no answer before the deadline\) in \d+ ms$/));
  });

  it('aborts a round with too few acceptances and retries it with a new session', async () => {
    let declined = false;
    const s = await startTest({ n: 4, task: { rounds: 1 } });
    const clients = await connectAll(s.coordinator.url, s.ids, (i) =>
      i === 0
        ? {
            update: (offer, id) => {
              if (declined) return deterministicUpdate(id, offer.round, offer.model.length, 1);
              declined = true;
              return null;
            },
          }
        : {},
    );
    const summary = await s.coordinator.done;
    expect(summary).toMatchObject({ finished: true, lastRound: 1, committed: 1, aborted: 1 });
    const rounds = s.events.filter((e): e is RoundEvent => e.type === 'round');
    expect(rounds.map((e) => [e.summary.round, e.summary.status])).toEqual([
      [1, 'aborted'],
      [1, 'committed'],
    ]);
    expect(rounds[0]!.summary.reason).toBe('only 3 of 4 offered clients accepted; task.minClients is 4');
    expect(rounds[0]!.summary.session).not.toBe(rounds[1]!.summary.session);
    await clients[1]!.closed;
    const results = clients[1]!.received.filter((m): m is RoundResult => m.type === 'RoundResult');
    expect(results.map((r) => r.status)).toEqual(['aborted', 'committed']);
    // The cohort gets a code; the detail (counts, config) goes only to the audit log.
    expect(results[0]!.reason).toBe('ROUND_TOO_FEW_ACCEPTED');
    const { records } = await readAuditLog(join(s.dataDir, 'test-task', 'audit.jsonl'));
    expect(records.map((r) => r.status)).toEqual(['aborted', 'committed']);
    expect(records[0]).toMatchObject({ reasonCode: 'ROUND_TOO_FEW_ACCEPTED', reason: 'only 3 of 4 offered clients accepted; task.minClients is 4' });
    expect(records[0]!.drops['1']).toEqual({ stage: 'TaskOffer', reason: 'declined: DECLINE_POLICY' });
  });
});

describe('misbehaving clients', () => {
  it('answers a malformed frame, an oversize frame and a wrong-stage message while the round completes for the others', async () => {
    const s = await startTest({ n: 8, task: { rounds: 1, cohortSize: 8, minClients: 8, threshold: 4 } });
    const maxPayload = maxPayloadFor(s.coordinator.status().task.modelLength + 3 + 1, 8);
    const onRoundStart = (act: (c: TestClient, m: Extract<CoordinatorMessage, { type: 'RoundStart' }>) => void) => ({
      intercept: (m: CoordinatorMessage, c: TestClient) => {
        if (m.type !== 'RoundStart') return false;
        act(c, m);
        return true;
      },
    });
    const clients = await connectAll(s.coordinator.url, s.ids, (i) => {
      if (i === 0) return onRoundStart((c) => c.sendRaw(new Uint8Array([0xc1]))); // never valid MessagePack
      if (i === 1) return onRoundStart((c) => c.sendRaw(new Uint8Array(maxPayload + 1)));
      if (i === 2) {
        return onRoundStart((c, m) =>
          c.send({ type: 'ConsistencySignature', session: m.session, round: m.round, sig: new Uint8Array(64) }),
        );
      }
      return {};
    });
    const [malformed, oversize, wrongStage] = clients as [TestClient, TestClient, TestClient];

    expect(await malformed.closed).toMatchObject({ code: CLOSE_CODES.WIRE_MALFORMED });
    expect(malformed.received).toContainEqual(expect.objectContaining({ type: 'ErrorNotice', code: 'WIRE_MALFORMED' }));
    // Above maxPayload ws refuses the frame before it is read: close 1009, no notice.
    expect(await oversize.closed).toMatchObject({ code: CLOSE_CODES.WIRE_TOO_LARGE });

    const notice = await wrongStage.waitFor((m): m is ErrorNotice => m.type === 'ErrorNotice');
    expect(notice.code).toBe('WIRE_WRONG_STAGE');

    const summary = await s.coordinator.done;
    expect(summary.finished).toBe(true);
    const ev = await waitEvent(s, roundEvent(1));
    expect(ev.summary).toMatchObject({ status: 'committed', survivors: 5, contributors: 5 });
    const honest = clients.slice(3);
    const exact = decodeSum(honest[0]!.submitted.get(1)!.plan, plainSum(honest, 1));
    expect(ev.model).toEqual(new Float32Array(exact.meanDelta));
    // The wrong-stage client was not disconnected for it: it saw the round's result, then the task's end.
    expect(await wrongStage.closed).toEqual({ code: 1000, reason: 'task complete' });
    expect(wrongStage.received).toContainEqual(expect.objectContaining({ type: 'RoundResult', status: 'committed' }));
    const { records } = await readAuditLog(join(s.dataDir, 'test-task', 'audit.jsonl'));
    expect(records[0]!.drops['3']).toEqual({ stage: 'AdvertiseKeys', reason: 'protocol error WIRE_WRONG_STAGE' });
    expect(Object.keys(records[0]!.drops).sort()).toEqual(['1', '2', '3']);
  });
});
