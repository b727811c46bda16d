/**
 * Faults over real loopback sockets: clients that die at each secure-aggregation
 * stage, clients that stall without closing, and a coordinator SIGKILLed in the
 * middle of a round and restarted on the same data folder.
 *
 * How a fault is placed at a stage without sleeping:
 * - the coordinator's `stage` event for stage S fires when S closes, before the next
 *   stage's messages are sent, so a client killed in that listener dies while the
 *   next stage waits for it (TaskOffer closing opens AdvertiseKeys);
 * - a stall is a loopback TCP proxy in front of one client node that reads the
 *   coordinator's frames and, on the frame that opens stage S, stops forwarding
 *   anything the client sends (the socket stays open: a hung peer, not a closed one);
 * - the coordinator child process is SIGKILLed while a proxy holds one client's
 *   answer, so the coordinator is provably waiting inside that stage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyPair } from '@tally/secagg';
import { ProtocolError, decode, parseCoordinatorMessage, type CoordinatorMessage } from '@tally/wire';
import {
  loadCheckpoint,
  parseCoordinatorConfig,
  quantPlanOf,
  readAuditLog,
  silentLogger as quietCoordinator,
  startCoordinator,
  type AuditRecord,
  type Coordinator,
  type CoordinatorEvent,
} from '@tally/coordinator';
import { silentLogger, startClientNode, type ClientNode } from '@tally/client';
import {
  ROOT,
  enrolmentJson,
  enrolmentOf,
  expectedModel,
  identities,
  maxAbsDiff,
  spawnClientHost,
  taskConfigJson,
  trainerFor,
  type ClientHost,
} from './load-harness.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-faults-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const STAGES = ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask'] as const;
type Stage = (typeof STAGES)[number];
/** The stage whose close opens each stage (TaskOffer closing opens AdvertiseKeys). */
const BEFORE: Record<Stage, string> = {
  AdvertiseKeys: 'TaskOffer',
  ShareKeys: 'AdvertiseKeys',
  MaskedInput: 'ShareKeys',
  ConsistencyCheck: 'MaskedInput',
  Unmask: 'ConsistencyCheck',
};
/** The coordinator message that opens each stage. */
const OPENER: Record<Stage, CoordinatorMessage['type']> = {
  AdvertiseKeys: 'RoundStart',
  ShareKeys: 'KeyList',
  MaskedInput: 'ShareBundle',
  ConsistencyCheck: 'SurvivorList',
  Unmask: 'UnmaskRequest',
};
/** Whether `m` is the message that opens `stage` of `round`. */
const opens = (m: CoordinatorMessage, stage: Stage, round: number): boolean => m.type === OPENER[stage] && 'round' in m && m.round === round;
/** Whether a client gone in this stage still has its masked input in the sum (it is in U3). */
const IN_SUM: Record<Stage, boolean> = { AdvertiseKeys: false, ShareKeys: false, MaskedInput: false, ConsistencyCheck: true, Unmask: true };

const TASK = 'faults';
const MODEL = 8;

function node(url: string, id: number, identity: KeyPair, seen?: Map<number, Float32Array>): ClientNode {
  const n = startClientNode({
    url,
    identity,
    trainer: trainerFor(id, seen),
    policy: { tasks: [TASK], minCohort: 2, minThreshold: 2, maxRounds: 100, maxAttemptsPerRound: 1000 }, // retries under fault injection
    logger: silentLogger,
    reconnect: { initialMs: 20, maxMs: 200 },
    heartbeatMs: 0,
  });
  cleanups.push(() => n.close());
  return n;
}

function host(url: string, id: number, identity: KeyPair): ClientHost {
  const h = spawnClientHost({ url, taskId: TASK, clients: [{ id, identity }] });
  cleanups.push(async () => {
    h.kill();
    await h.exited;
  });
  return h;
}

/** An in-process coordinator on 127.0.0.1:0 for `ids`, recording its events. */
async function coordinatorFor(ids: readonly KeyPair[], task: Record<string, unknown>): Promise<{ c: Coordinator; events: CoordinatorEvent[]; dataDir: string; fractionalBits: number }> {
  const dataDir = await tempDir();
  const config = parseCoordinatorConfig(
    taskConfigJson(dataDir, { id: TASK, modelLength: MODEL, cohortSize: ids.length, minClients: ids.length, threshold: 3, ...task }, { limits: { heartbeatMs: 600_000 } }),
    dataDir,
  );
  const c = await startCoordinator({ config, logger: quietCoordinator, enrolment: enrolmentOf(ids), unmaskThreads: 1 });
  cleanups.push(() => c.close());
  const events: CoordinatorEvent[] = [];
  c.on((e) => events.push(e));
  return { c, events, dataDir, fractionalBits: quantPlanOf(config.task).fractionalBits };
}

/** Resolves when `id` has authenticated (now or earlier, per `events`). */
function connected(c: Coordinator, events: readonly CoordinatorEvent[], id: number): Promise<void> {
  if (events.some((e) => e.type === 'client-connected' && e.id === id)) return Promise.resolve();
  return new Promise((resolve) => {
    const off = c.on((e) => {
      if (e.type === 'client-connected' && e.id === id) {
        off();
        resolve();
      }
    });
  });
}

async function auditOf(dataDir: string): Promise<{ raw: string; records: AuditRecord[]; torn: boolean }> {
  const path = join(dataDir, TASK, 'audit.jsonl');
  const raw = await readFile(path, 'utf8');
  const { records, torn } = await readAuditLog(path);
  return { raw, records, torn };
}

/** Every line of the audit log is one whole JSON object, and the file ends with a newline. */
function expectIntactLines(raw: string): void {
  expect(raw.endsWith('\n')).toBe(true);
  for (const line of raw.slice(0, -1).split('\n')) expect(() => JSON.parse(line)).not.toThrow();
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const sum = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0);

// ---- a loopback proxy that can make one client hang --------------------------------

/**
 * Reads WebSocket frames from a server (RFC 6455 §5.2: server frames are not
 * masked) after the HTTP upgrade response, and hands each complete binary
 * message's payload to `onMessage`. Only for the coordinator -> client direction,
 * whose messages ws sends unfragmented and uncompressed (the node turns
 * permessage-deflate off).
 */
class ServerFrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private readonly onMessage: (payload: Buffer) => void;
  constructor(onMessage: (payload: Buffer) => void) {
    this.onMessage = onMessage;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if (fin && opcode === 0x2) this.onMessage(payload);
    }
  }
}

interface StallProxy {
  /** ws://127.0.0.1:<proxy port> for the client node. */
  readonly url: string;
  /** Resolves with the coordinator message on which the proxy started to hold (or cut) the connection. */
  readonly stalled: Promise<CoordinatorMessage>;
  /** Connections the proxy has accepted. */
  connections(): number;
}

/**
 * A TCP proxy on 127.0.0.1:0 to 127.0.0.1:`targetPort`. It forwards everything
 * until the coordinator sends a message matching `when` (the first time, on any
 * connection). Then, before that message reaches the client:
 * - 'hold': the connection goes on forwarding the coordinator's bytes but silently
 *   discards the client's: its answers, pongs and close frames never arrive, while
 *   both sockets stay open (a hung peer);
 * - 'cut': both sockets are destroyed (a network failure; the coordinator sees no close frame).
 * Later connections (after a reconnect) are forwarded normally. Closing either side closes the other.
 */
async function stallProxy(targetPort: number, when: (m: CoordinatorMessage) => boolean, mode: 'hold' | 'cut' = 'hold'): Promise<StallProxy> {
  let resolveStalled!: (m: CoordinatorMessage) => void;
  const stalled = new Promise<CoordinatorMessage>((resolve) => {
    resolveStalled = resolve;
  });
  let armed = true;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    accepted++;
    let holding = false;
    const up = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    const reader = new ServerFrameReader((payload) => {
      if (!armed) return;
      const msg = parseCoordinatorMessage(decode(new Uint8Array(payload)));
      if (msg instanceof ProtocolError || !when(msg)) return;
      armed = false;
      resolveStalled(msg);
      // Before this frame reaches the client: nothing it sends from now on gets through.
      if (mode === 'hold') holding = true;
      else {
        down.destroy();
        up.destroy();
      }
    });
    up.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      if (!down.destroyed) down.write(chunk);
    });
    down.on('data', (chunk: Buffer) => {
      if (!holding) up.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${port}`, stalled, connections: () => accepted };
}

// ---- (a) clients killed at each stage ----------------------------------------------

describe('clients that die in a secagg stage', () => {
  it.each(STAGES)(
    'in %s: one node closes and one client process is SIGKILLed; the round commits with the rest and the audit log names both drops',
    async (stage) => {
      // 6 clients, threshold 3, complete graph: two drops leave 4 ≥ t.
      const ids = identities(6);
      const { c, events, dataDir, fractionalBits } = await coordinatorFor(ids, {});
      const nodes = range(1, 5).map((id) => node(c.url, id, ids[id - 1]!));
      const victimNode = 5;
      const killedHost = host(c.url, 6, ids[5]!);
      await killedHost.started;

      let killedAt: string | null = null;
      c.on((e) => {
        if (e.type === 'stage' && e.report.round === 1 && e.report.stage === BEFORE[stage] && killedAt === null) {
          killedAt = BEFORE[stage];
          killedHost.kill(); // like a crashed machine: no close frame
          void nodes[victimNode - 1]!.close(); // a clean close (1000) mid-round
        }
      });

      const summary = await c.done;
      expect(killedAt).toBe(BEFORE[stage]);
      expect(summary).toMatchObject({ finished: true, lastRound: 1, committed: 1, aborted: 0 });
      expect((await killedHost.exited).signal).toBe('SIGKILL');

      // The stage report names both, with the reason.
      const report = events.find((e): e is Extract<CoordinatorEvent, { type: 'stage' }> => e.type === 'stage' && e.report.stage === stage)!.report;
      expect(report.drops.map((d) => d.id).sort()).toEqual([5, 6]);
      expect(report.drops.every((d) => d.reason === 'disconnected')).toBe(true);

      const { raw, records, torn } = await auditOf(dataDir);
      expectIntactLines(raw);
      expect(torn).toBe(false);
      expect(records).toHaveLength(1);
      const r = records[0]!;
      expect(r.status).toBe('committed');
      expect(r.accepted).toEqual(range(1, 6));
      expect(r.drops).toEqual({ '5': { stage, reason: 'disconnected' }, '6': { stage, reason: 'disconnected' } });
      const inSum = IN_SUM[stage] ? range(1, 6) : range(1, 4);
      expect(r.survivors).toEqual(inSum);
      expect(r.contributors).toBe(inSum.length);
      expect(r.totalWeight).toBe(sum(inSum));
      expect(r.clippedCount).toBe(0);
      // Secrets: the survivors' self masks; the mask keys only of clients that shared keys and then dropped.
      expect(r.revealed.selfMaskOf).toEqual(inSum);
      expect(r.revealed.maskKeyOf).toEqual(stage === 'MaskedInput' ? [5, 6] : []);

      // The model is fedavg over exactly the clients in the sum.
      const round = events.find((e): e is Extract<CoordinatorEvent, { type: 'round' }> => e.type === 'round')!;
      const exp = expectedModel(new Float32Array(MODEL), inSum, 1, fractionalBits);
      expect(maxAbsDiff(round.model!, exp.model)).toBeLessThanOrEqual(exp.bound);

      // The live nodes saw the round commit and the task end.
      for (const id of range(1, 4)) {
        const n = nodes[id - 1]!;
        expect((await n.done).status).toBe('completed');
        expect(n.stats().roundsCommitted).toBe(1);
      }
    },
  );

  it('below the threshold the attempt aborts cleanly and is audited; the retry, with fresh keys, commits once the dropped clients reconnect', async () => {
    // 4 clients, threshold 3: two connections cut in ShareKeys leave 2 < t. Their nodes reconnect by themselves.
    const ids = identities(4);
    const { c, dataDir } = await coordinatorFor(ids, {});
    const port = Number(new URL(c.url).port);
    const cutters = await Promise.all([3, 4].map(() => stallProxy(port, (m) => opens(m, 'ShareKeys', 1), 'cut')));
    const nodes = [node(c.url, 1, ids[0]!), node(c.url, 2, ids[1]!), node(cutters[0]!.url, 3, ids[2]!), node(cutters[1]!.url, 4, ids[3]!)];

    const summary = await c.done;
    expect(summary).toMatchObject({ finished: true, lastRound: 1, committed: 1, aborted: 1 });
    const { raw, records } = await auditOf(dataDir);
    expectIntactLines(raw);
    expect(records.map((r) => r.status)).toEqual(['aborted', 'committed']);
    const [aborted, committed] = records as [AuditRecord, AuditRecord];
    expect(aborted.reason).toBe('aborted in ShareKeys: 2 clients answered in ShareKeys, threshold is 3');
    expect(aborted.drops).toEqual({ '3': { stage: 'ShareKeys', reason: 'disconnected' }, '4': { stage: 'ShareKeys', reason: 'disconnected' } });
    expect([aborted.survivors, aborted.contributors, aborted.totalWeight]).toEqual([[], null, null]);
    expect(aborted.revealed).toEqual({ selfMaskOf: [], maskKeyOf: [] });
    expect(committed.session).not.toBe(aborted.session);
    expect(committed.survivors).toEqual([1, 2, 3, 4]);
    expect(committed.totalWeight).toBe(10);
    for (const n of nodes) expect((await n.done).status).toBe('completed');
    expect(nodes[2]!.stats().connections).toBe(2);
    expect(nodes[3]!.stats().connections).toBe(2);
  });
});

// ---- (b) a client that stalls without closing ----------------------------------------

describe('a client that stalls without closing', () => {
  it.each(STAGES)('in %s: it is dropped at the stage deadline and the round commits', async (stage) => {
    const ids = identities(5);
    // The deadline must fire here: short, but long enough for 4 honest in-process nodes.
    const { c, events, dataDir, fractionalBits } = await coordinatorFor(ids, { deadlines: { trainMs: 60_000, stageMs: 2_000, retryMs: 0 } });
    const port = Number(new URL(c.url).port);
    const proxy = await stallProxy(port, (m) => opens(m, stage, 1));
    const nodes = range(1, 4).map((id) => node(c.url, id, ids[id - 1]!));
    const staller = node(proxy.url, 5, ids[4]!);

    const summary = await c.done;
    expect(summary).toMatchObject({ finished: true, lastRound: 1, committed: 1, aborted: 0 });
    expect((await proxy.stalled).type).toBe(OPENER[stage]);
    // It authenticated and accepted the offer, then went quiet without closing: its socket
    // was still open when the round committed.
    expect(staller.stats().offersAccepted).toBe(1);
    const committedAt = events.findIndex((e) => e.type === 'round');
    expect(events.slice(0, committedAt).some((e) => e.type === 'client-disconnected' && e.id === 5)).toBe(false);

    const { raw, records } = await auditOf(dataDir);
    expectIntactLines(raw);
    const r = records[0]!;
    expect(r.status).toBe('committed');
    expect(r.accepted).toEqual(range(1, 5));
    expect(r.drops).toEqual({ '5': { stage, reason: 'no answer before the deadline' } });
    const inSum = IN_SUM[stage] ? range(1, 5) : range(1, 4);
    expect(r.survivors).toEqual(inSum);
    expect(r.totalWeight).toBe(sum(inSum));
    expect(r.revealed.maskKeyOf).toEqual(stage === 'MaskedInput' ? [5] : []);
    const round = events.find((e): e is Extract<CoordinatorEvent, { type: 'round' }> => e.type === 'round')!;
    const exp = expectedModel(new Float32Array(MODEL), inSum, 1, fractionalBits);
    expect(maxAbsDiff(round.model!, exp.model)).toBeLessThanOrEqual(exp.bound);
    for (const n of nodes) expect((await n.done).status).toBe('completed');
  });
});

// ---- (c) the coordinator killed mid-round and restarted --------------------------------

interface CliCoordinator {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** The first match of `re` in stderr, now or later; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
}

/** `node --import tsx packages/cli/src/bin.ts coordinator --config <file>`, the way an operator runs it. */
function cliCoordinator(configFile: string): CliCoordinator {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'packages/cli/src/bin.ts'), 'coordinator', '--config', configFile, '--exit-on-complete'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
    // A safety net should this test process die without its clean-up: no coordinator outlives the test limit.
    timeout: 120_000,
    killSignal: 'SIGKILL',
  });
  let err = '';
  let waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    waiters = waiters.filter((w) => {
      const m = err.match(w.re);
      if (m) w.resolve(m);
      return m === null;
    });
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      for (const w of waiters) w.reject(new Error(`the coordinator exited (code ${code}, signal ${signal}) before printing ${w.re}:\n${err}`));
      waiters = [];
      resolve({ code, signal });
    });
  });
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  cleanups.push(async () => {
    if (alive) child.kill('SIGKILL');
    await exited;
  });
  return {
    child,
    exited,
    stderr: () => err,
    waitFor(re) {
      const m = err.match(re);
      if (m) return Promise.resolve(m);
      if (!alive) return Promise.reject(new Error(`the coordinator has exited without printing ${re}:\n${err}`));
      return new Promise((resolve, reject) => waiters.push({ re, resolve, reject }));
    },
  };
}

describe('a coordinator SIGKILLed mid-round and restarted', () => {
  it.each(['ShareKeys', 'Unmask'] as const)(
    'killed in round 2 %s: resumes from the round-1 checkpoint, files intact, clients reconnect on their own, rounds 2 and 3 commit',
    async (stage) => {
      const dir = await tempDir();
      const ids = identities(5);
      await writeFile(join(dir, 'clients.json'), JSON.stringify(enrolmentJson(ids)));
      const configJson = (port: number): Record<string, unknown> =>
        taskConfigJson(
          './data',
          { id: TASK, modelLength: MODEL, rounds: 3, cohortSize: 5, minClients: 5, threshold: 3 },
          { listen: { host: '127.0.0.1', port }, enrolment: './clients.json', limits: { heartbeatMs: 600_000 } },
        );
      const configFile = join(dir, 'coordinator.json');
      await writeFile(configFile, JSON.stringify(configJson(0)));
      const taskDir = join(dir, 'data', TASK);
      const fractionalBits = quantPlanOf(parseCoordinatorConfig(configJson(0), dir).task).fractionalBits;

      // -- first run: port 0; the CLI prints where it listens
      const first = cliCoordinator(configFile);
      const [, url, portText] = await first.waitFor(/listening on (ws:\/\/127\.0\.0\.1:(\d+))/);
      const port = Number(portText);

      // Client 5 goes through a proxy that holds its answer in round 2's `stage`, so the
      // coordinator is certainly waiting inside that stage when it is killed.
      const proxy = await stallProxy(port, (m) => opens(m, stage, 2));
      const seen = range(1, 5).map(() => new Map<number, Float32Array>());
      const nodes = range(1, 5).map((id) => node(id === 5 ? proxy.url : url!, id, ids[id - 1]!, seen[id - 1]));

      await proxy.stalled;
      await first.waitFor(/round 1 committed/);
      expect(first.stderr()).not.toMatch(/round 2 committed/);
      first.child.kill('SIGKILL');
      expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

      // -- what the crash left: the round-1 checkpoint (digests verified) and a whole audit log
      const cp1 = await loadCheckpoint(taskDir, { taskId: TASK, modelLength: MODEL });
      expect(cp1?.round).toBe(1);
      const before = await auditOf(join(dir, 'data'));
      expectIntactLines(before.raw);
      expect(before.torn).toBe(false);
      expect(before.records.map((r) => [r.round, r.status])).toEqual([[1, 'committed']]);
      const r1 = before.records[0]!;
      const exp1 = expectedModel(new Float32Array(MODEL), r1.survivors, 1, fractionalBits);
      expect(maxAbsDiff(cp1!.weights, exp1.model)).toBeLessThanOrEqual(exp1.bound);

      // -- restart on the same data folder and port (the nodes keep retrying that URL)
      await writeFile(configFile, JSON.stringify(configJson(port)));
      const second = cliCoordinator(configFile);
      await second.waitFor(/resuming at round 2 of 3 from the checkpoint/);
      expect(await second.exited).toEqual({ code: 0, signal: null });
      expect(second.stderr()).toMatch(/task faults: complete at round 3; this run committed 2, aborted 0 \(resumed from round 1\)/);

      for (const n of nodes) {
        expect((await n.done).status).toBe('completed');
        expect(n.stats().connections).toBeGreaterThanOrEqual(2); // reconnected by itself
      }
      expect(proxy.connections()).toBeGreaterThanOrEqual(2);

      // -- after: every line whole, rounds 1..3 committed once each, the last checkpoint verifies
      const after = await auditOf(join(dir, 'data'));
      expectIntactLines(after.raw);
      expect(after.torn).toBe(false);
      expect(after.records.map((r) => [r.round, r.status])).toEqual([
        [1, 'committed'],
        [2, 'committed'],
        [3, 'committed'],
      ]);
      const cp3 = await loadCheckpoint(taskDir, { taskId: TASK, modelLength: MODEL });
      expect(cp3?.round).toBe(3);
      // Only the last checkpoint's files remain, and no temporary file; the CLI wrote the final model beside them.
      expect((await readdir(taskDir)).sort()).toEqual(['audit.jsonl', 'checkpoint.json', 'final-model', 'model-3.f32', 'strategy-3.bin']);
      const finalBin = await readFile(join(taskDir, 'final-model', 'weights.bin'));
      expect(Float32Array.from({ length: finalBin.length / 4 }, (_, i) => finalBin.readFloatLE(4 * i))).toEqual(cp3!.weights);

      // Round 2 restarted from the round-1 model (nothing of the killed attempt survived),
      // and each round's model is fedavg of its survivors' updates.
      for (const s of seen) expect(s.get(2)).toEqual(cp1!.weights);
      let global: Float32Array = cp1!.weights;
      for (const r of after.records.slice(1)) {
        expect(r.survivors).toEqual(range(1, 5));
        const exp = expectedModel(global, r.survivors, r.round, fractionalBits);
        const offered = seen[0]!.get(r.round + 1) ?? cp3!.weights;
        expect(maxAbsDiff(offered, exp.model)).toBeLessThanOrEqual(exp.bound);
        global = offered;
      }
    },
  );
});
