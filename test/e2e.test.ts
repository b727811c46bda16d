// End to end: a real coordinator and real client nodes over loopback WebSockets.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { generateIdentity, toHex, type KeyPair } from '@tally/secagg';
import {
  parseCoordinatorConfig,
  parseEnrolment,
  readAuditLog,
  silentLogger as quiet,
  startCoordinator,
  type Coordinator,
  type CoordinatorEvent,
} from '@tally/coordinator';
import { silentLogger, startClientNode, type ClientNode, type Trainer } from '@tally/client';
import { cleanup, configJson, isRound, onCleanup, tempDir } from './_helpers.ts';

const MODEL = 6;
afterEach(cleanup);

/** A deterministic update per client and round: what a shop would send after training. */
function updateOf(id: number, round: number): { delta: Float32Array; weight: number; metrics: number[] } {
  const delta = Float32Array.from({ length: MODEL }, (_, j) => 0.5 * Math.sin(id * 7 + j * 3 + round));
  return { delta, weight: 10 * id, metrics: [0.1 * id] };
}

const trainerFor = (id: number): Trainer => ({
  train: async ({ round }) => updateOf(id, round),
});

interface Harness {
  coordinator: Coordinator;
  events: CoordinatorEvent[];
  dataDir: string;
  ids: KeyPair[];
  nodes: Map<number, ClientNode>;
  startNode(id: number): ClientNode;
  restart(): Promise<void>;
}

async function harness(n: number, task: Record<string, unknown> = {}): Promise<Harness> {
  const dataDir = await tempDir();
  const ids = Array.from({ length: n }, () => generateIdentity());
  const enrolment = parseEnrolment(
    { clients: ids.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) },
    'e2e',
  );
  const json = configJson({
    id: 'e2e',
    modelLength: MODEL,
    rounds: 2,
    cohortSize: n,
    minClients: n, // wait for every node before the first round
    threshold: 3,
    deadlines: { trainMs: 20_000, stageMs: 20_000, retryMs: 0 },
    quant: { clipNorm: 2, weightBound: 100, fractionalBits: 16, metricBound: 10 },
    ...task,
  });
  const h: Harness = {
    coordinator: undefined as unknown as Coordinator,
    events: [],
    dataDir,
    ids,
    nodes: new Map(),
    startNode(id) {
      const node = startClientNode({
        url: h.coordinator.url,
        identity: ids[id - 1]!,
        trainer: trainerFor(id),
        policy: { tasks: ['e2e'], minCohort: 3, minThreshold: 3, maxRounds: 100 },
        logger: silentLogger,
        reconnect: { initialMs: 20, maxMs: 200 },
      });
      h.nodes.set(id, node);
      onCleanup(() => node.close());
      return node;
    },
    async restart() {
      await h.coordinator.close();
      await start();
    },
  };
  let port = 0;
  const start = async (): Promise<void> => {
    const config = parseCoordinatorConfig({ ...json, dataDir, listen: { host: '127.0.0.1', port } }, dataDir);
    h.coordinator = await startCoordinator({ config, enrolment, logger: quiet, unmaskThreads: 2 });
    port = h.coordinator.port; // a restart listens where the nodes reconnect
    h.coordinator.on((e) => h.events.push(e));
    const c = h.coordinator;
    onCleanup(() => c.close());
  };
  await start();
  return h;
}

/** Resolves on the first event (from now on) that matches. */
function nextEvent<T extends CoordinatorEvent>(c: Coordinator, pred: (e: CoordinatorEvent) => e is T): Promise<T> {
  return new Promise((resolve) => {
    const off = c.on((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}


/** FedAvg with server learning rate 1: global + Σ w·δ / Σ w over the contributors. */
function expectedModel(prev: Float32Array, contributors: readonly number[], round: number): Float64Array {
  const out = Float64Array.from(prev);
  let total = 0;
  const acc = new Float64Array(MODEL);
  for (const id of contributors) {
    const u = updateOf(id, round);
    total += u.weight;
    for (let j = 0; j < MODEL; j++) acc[j]! += u.weight * u.delta[j]!;
  }
  for (let j = 0; j < MODEL; j++) out[j]! += acc[j]! / total;
  return out;
}

function expectClose(actual: Float32Array, expected: Float64Array, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let j = 0; j < actual.length; j++) expect(Math.abs(actual[j]! - expected[j]!)).toBeLessThan(tol);
}

// Quantisation: each client's lane is off by at most 2^-16 before the division by Σw ≥ 10.
const TOL = 1e-4;

describe('coordinator and client nodes over loopback WebSockets', () => {
  it('finish a two-round task; each new model is the plain weighted mean of the updates', async () => {
    const h = await harness(5);
    for (let id = 1; id <= 5; id++) h.startNode(id);
    const summary = await h.coordinator.done;
    expect(summary).toMatchObject({ finished: true, lastRound: 2, committed: 2, aborted: 0 });
    const rounds = h.events.filter(isRound);
    expect(rounds.map((e) => e.summary.status)).toEqual(['committed', 'committed']);
    let model: Float32Array = new Float32Array(MODEL);
    for (const e of rounds) {
      expect(e.summary.contributors).toBe(5);
      expect(e.summary.totalWeight).toBe(150); // 10 + 20 + ... + 50, an exact integer lane
      expect(e.summary.metrics?.loss).toBeCloseTo((10 * 0.1 + 20 * 0.2 + 30 * 0.3 + 40 * 0.4 + 50 * 0.5) / 150, 4);
      const expected = expectedModel(model, [1, 2, 3, 4, 5], e.summary.round);
      expectClose(e.model!, expected, TOL);
      model = e.model!;
    }
    // The nodes end when the coordinator says the task is complete.
    for (const node of h.nodes.values()) expect((await node.done).status).toBe('completed');
  });

  it.each(['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask'])(
    'a client lost during %s: the round still commits with the survivors',
    async (stage) => {
      const h = await harness(6, { rounds: 1 });
      for (let id = 1; id <= 6; id++) h.startNode(id);
      // Kill client 6 as the stage opens, i.e. when the stage before it reports.
      const order = ['TaskOffer', 'AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask'];
      const before = order[order.indexOf(stage) - 1]!;
      const off = h.coordinator.on((e) => {
        if (e.type === 'stage' && e.report.stage === before) {
          off();
          void h.nodes.get(6)!.close();
        }
      });
      const summary = await h.coordinator.done;
      expect(summary.committed).toBe(1);
      const audit = await readAuditLog(join(h.dataDir, 'e2e', 'audit.jsonl'));
      const rec = audit.records.at(-1)!;
      expect(rec.status).toBe('committed');
      // Whoever's input is in the sum is listed as a survivor; the model matches exactly them.
      const survivors = rec.survivors as number[];
      expect(survivors.length).toBeGreaterThanOrEqual(5);
      if (!survivors.includes(6)) expect(Object.keys(rec.drops)).toContain('6');
      expectClose(summary.model, expectedModel(new Float32Array(MODEL), survivors, 1), TOL);
    },
  );

  it('aborts a round that falls below threshold, then the next attempt (fresh keys) commits', async () => {
    const h = await harness(5, { rounds: 1, minClients: 4, threshold: 3 });
    for (let id = 1; id <= 5; id++) h.startNode(id);
    // At MaskedInput, three of five leave: 2 < t = 3.
    const off = h.coordinator.on((e) => {
      if (e.type === 'stage' && e.report.stage === 'ShareKeys' && e.report.round === 1) {
        off();
        for (const id of [3, 4, 5]) void h.nodes.get(id)!.close();
      }
    });
    const aborted = await nextEvent(h.coordinator, isRound);
    expect(aborted.summary.status).toBe('aborted');
    expect(aborted.summary.reason).toMatch(/threshold/);
    for (const id of [3, 4, 5]) h.startNode(id); // the shops come back
    const summary = await h.coordinator.done;
    expect(summary).toMatchObject({ finished: true, lastRound: 1, committed: 1, aborted: 1 });
    const audit = await readAuditLog(join(h.dataDir, 'e2e', 'audit.jsonl'));
    const [first, second] = audit.records;
    expect(first!.status).toBe('aborted');
    expect(second!.status).toBe('committed');
    expect(second!.session).not.toBe(first!.session);
    expectClose(summary.model, expectedModel(new Float32Array(MODEL), second!.survivors as number[], 1), TOL);
  });

  it('a coordinator restarted after round 1 resumes at round 2 with the same model; the nodes reconnect by themselves', async () => {
    const h = await harness(4, { rounds: 2 });
    for (let id = 1; id <= 4; id++) h.startNode(id);
    const first = await nextEvent(h.coordinator, isRound);
    expect(first.summary).toMatchObject({ round: 1, status: 'committed' });
    const afterRound1 = Float32Array.from(first.model!);
    await h.restart();
    const summary = await h.coordinator.done;
    expect(summary.resumedFrom).toBe(1);
    expect(summary).toMatchObject({ finished: true, lastRound: 2, committed: 1 });
    const second = h.events.filter(isRound).find((e) => e.summary.round === 2)!;
    // Round 2 started from the checkpointed bytes of round 1.
    expectClose(second.model!, expectedModel(afterRound1, [1, 2, 3, 4], 2), TOL);
    // close() aborts (and audits) a round 2 already under way; the resumed run commits it.
    const audit = await readAuditLog(join(h.dataDir, 'e2e', 'audit.jsonl'));
    expect(audit.records.filter((r) => r.status === 'committed').map((r) => r.round)).toEqual([1, 2]);
  });
});
