import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeSum,
  encodeUpdate,
  equalBytes,
  generateIdentity,
  planQuantization,
  toHex,
  unmask,
  verifySignature,
  type KeyPair,
} from '@tally/secagg';
import { CLOSE_CODES, authTranscript } from '@tally/wire';
import { maskedInputPool } from './lane-pool.ts';
import { insecureTransportWarning, startClientNode, type ClientNode, type ClientNodeOptions } from './node.ts';
import type { Policy } from './policy.ts';
import type { Trainer, TrainInput, TrainOutput } from './trainer.ts';
import { RecordingLogger, acceptClient, offer, runSecAggRound, startTestServer, type TestServer } from './_test-server.ts';

const POLICY: Policy = { tasks: ['demand'], minCohort: 3, minThreshold: 2, maxRounds: 10 };

/** A trainer that moves every weight by +0.125 and reports 40 samples and loss 1.5. */
const fixedTrainer: Trainer = {
  async train({ weights }: TrainInput): Promise<TrainOutput> {
    return { delta: new Float32Array(weights.length).fill(0.125), weight: 40, metrics: [1.5] };
  },
};

let server: TestServer;
let node: ClientNode | null;
let identity: KeyPair;
let log: RecordingLogger;

beforeEach(async () => {
  server = await startTestServer();
  identity = generateIdentity();
  log = new RecordingLogger();
  node = null;
});

afterEach(async () => {
  await node?.close();
  await server.close();
});

function start(overrides: Partial<ClientNodeOptions> = {}): ClientNode {
  node = startClientNode({
    url: server.url,
    identity,
    trainer: fixedTrainer,
    policy: POLICY,
    logger: log,
    reconnect: { initialMs: 5, maxMs: 20 },
    heartbeatMs: 0,
    ...overrides,
  });
  return node;
}

describe('authentication', () => {
  it('answers the challenge with Hello and a signature over the auth transcript', async () => {
    start();
    const conn = await server.connections.next();
    const hello = await conn.expect('Hello');
    const auth = await conn.expect('AuthResponse');
    expect(equalBytes(hello.identityKey, identity.publicKey)).toBe(true);
    expect(hello.clientVersion).toMatch(/^tally-client\//);
    expect(verifySignature(auth.sig, authTranscript(conn.nonce, identity.publicKey), identity.publicKey)).toBe(true);
    // Bound to this connection's nonce: it does not verify for another one.
    const otherNonce = conn.nonce.map((b) => b ^ 1);
    expect(verifySignature(auth.sig, authTranscript(otherNonce, identity.publicKey), identity.publicKey)).toBe(false);
    conn.send({ type: 'Welcome', clientId: 9, taskId: 'demand' });
    await log.waitFor(/authenticated .* as client 9; the coordinator runs task demand/);
    expect(node!.stats()).toMatchObject({ state: 'ready', clientId: 9, connections: 1 });
  });

  it('stops (incompatible) when the coordinator runs a task outside the policy, without retrying', async () => {
    const n = start();
    await acceptClient(server, { clientId: 1, taskId: 'other-task' });
    const result = await n.done;
    expect(result.status).toBe('incompatible');
    expect(result.reason).toMatch(/task "other-task", which this client does not consent to \(policy\.tasks: /);
    expect(n.stats().connections).toBe(1);
  });

  it.each([
    ['WIRE_NOT_ENROLLED', /ask the coordinator operator to enrol public key ([0-9a-f]{64})/],
    ['WIRE_AUTH_FAILED', /check that keyFile holds the key pair that was enrolled/],
    ['WIRE_DUPLICATE_CONNECTION', /another node is already connected/],
    ['WIRE_POLICY_REFUSED', /refuses this client by its policy \(WIRE_POLICY_REFUSED: refused\)/],
  ] as const)('stops without retrying when refused with %s (its own key: incompatible; the coordinator\'s call: rejected)', async (code, advice) => {
    const n = start();
    const conn = await server.connections.next();
    await conn.expect('Hello');
    await conn.expect('AuthResponse');
    conn.send({ type: 'ErrorNotice', code, message: 'refused' });
    conn.ws.close(CLOSE_CODES[code], code);
    const result = await n.done;
    expect(result.status).toBe(code === 'WIRE_NOT_ENROLLED' || code === 'WIRE_AUTH_FAILED' ? 'incompatible' : 'rejected');
    expect(result.reason).toMatch(advice);
    if (code === 'WIRE_NOT_ENROLLED') expect(result.reason).toContain(toHex(identity.publicKey));
    expect(log.lines.some((l) => l.startsWith('error ') && l.includes(code))).toBe(true);
    expect(n.stats().connections).toBe(1);
    expect(server.connections.size).toBe(0);
  });
});

describe('policy', () => {
  it.each([
    ['tasks', { taskId: 'pricing' }, /task pricing is not in this client's consented tasks/],
    ['minCohort', { cohortSize: 2, threshold: 2 }, /cohort of 2 is below this client's minimum of 3/],
    ['minThreshold', { threshold: 1 }, /threshold 1 is below this client's minimum of 2/],
  ] as const)('refuses an offer that breaks policy.%s, and says which rule', async (rule, change, reason) => {
    let trained = 0;
    start({ trainer: { train: async (i) => (trained++, fixedTrainer.train(i)) } });
    const { conn } = await acceptClient(server);
    conn.send(offer(change));
    const reply = await conn.expect('OfferReply');
    expect(reply.accept).toBe(false);
    expect(reply.reason).toBe('DECLINE_POLICY'); // the code only; the detail stays in this client's log
    await log.waitFor(new RegExp(`refused round 0 of task .*${reason.source}.*\\(policy\\.${rule}\\)`));
    expect(trained).toBe(0);
    expect(node!.stats().offersRefused).toBe(1);
  });

  it('refuses offers once it has contributed to policy.maxRounds rounds', async () => {
    const n = start({ policy: { ...POLICY, maxRounds: 1 } });
    const { conn, identityKey } = await acceptClient(server);
    await playRound(conn, identityKey, 0);
    expect(n.stats().roundsContributed).toBe(1);
    conn.send(offer({ round: 1 }));
    const reply = await conn.expect('OfferReply');
    expect(reply).toMatchObject({ accept: false, round: 1 });
    expect(reply.reason).toBe('DECLINE_POLICY');
    await log.waitFor(/already contributed to 1 rounds.*\(policy\.maxRounds\)/);
  });

  it('leaves the round when RoundStart breaks the policy, and sends nothing for it', async () => {
    start();
    const { conn, identityKey } = await acceptClient(server);
    const o = offer();
    conn.send(o);
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: true });
    const peer = generateIdentity();
    // The offer promised 3 clients; the round starts with 2.
    conn.send({
      type: 'RoundStart',
      session: o.session,
      round: o.round,
      you: 1,
      roster: [
        { id: 1, identityKey },
        { id: 2, identityKey: peer.publicKey },
      ],
      neighbours: [2],
      graph: 'complete',
      degree: 1,
      commitments: [],
      threshold: 1,
      vectorLength: o.model.length + 3 + 1,
      activeAdversary: true,
    });
    await log.waitFor(/leaving the round: round roster of 2 is below .* \(policy\.minCohort\)/);
    // In-order handling: had it advertised keys, AdvertiseKeys would come before this reply.
    conn.send(offer({ round: 1, taskId: 'pricing' }));
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: false, round: 1 });
  });
});

describe('peer list (enrolled)', () => {
  const NO_PEERS = /^warn no peer list \(peers\): without it this client cannot tell enrolled shops from keys the coordinator adds; see SECURITY\.md$/;

  it('without one, warns once at start (not again on reconnect)', async () => {
    start();
    const first = await acceptClient(server);
    await log.waitFor(/authenticated/);
    first.conn.ws.terminate();
    await acceptClient(server);
    await log.waitForCount(/authenticated/, 2);
    expect(log.lines.filter((l) => NO_PEERS.test(l))).toHaveLength(1);
    expect(log.lines[0]).toMatch(NO_PEERS);
  });

  it('with one that enrols this client, says nothing at warn level', async () => {
    start({ enrolled: new Map([[4, identity.publicKey]]) });
    await acceptClient(server, { clientId: 4, taskId: 'demand' });
    await log.waitFor(/authenticated/);
    expect(log.lines.filter((l) => l.startsWith('warn ') && !/no stateDir/.test(l))).toEqual([]);
    expect(log.lines).toContainEqual(expect.stringMatching(/^debug peer list: 1 enrolled clients, this one as id 4/));
  });

  it('warns at start when its own key is not in the list', async () => {
    start({ enrolled: new Map([[1, generateIdentity().publicKey]]) });
    await log.waitFor(/^warn this client's public key [0-9a-f]{64} is not in its peer list of 1: every round will be refused \(policy\.peers\)/);
  });

  it('warns when the coordinator welcomes it under another id than the list enrols its key as', async () => {
    start({ enrolled: new Map([[2, identity.publicKey]]) });
    await acceptClient(server, { clientId: 1, taskId: 'demand' });
    await log.waitFor(/^warn the coordinator calls this client 1, but the peer list enrols its key as 2: every round will be refused/);
  });

  it('leaves a round whose roster holds a key the list does not enrol, and sends nothing for it', async () => {
    const peer = generateIdentity();
    start({ enrolled: new Map([[1, identity.publicKey], [2, peer.publicKey], [3, generateIdentity().publicKey]]) });
    const { conn, identityKey } = await acceptClient(server);
    const o = offer();
    conn.send(o);
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: true });
    conn.send({
      type: 'RoundStart',
      session: o.session,
      round: o.round,
      you: 1,
      roster: [
        { id: 1, identityKey },
        { id: 2, identityKey: peer.publicKey },
        { id: 3, identityKey: generateIdentity().publicKey }, // the coordinator's own key under an enrolled id
      ],
      neighbours: [2, 3],
      graph: 'complete',
      degree: 2,
      commitments: [],
      threshold: 2,
      vectorLength: o.model.length + 3 + 1,
      activeAdversary: true,
    });
    await log.waitFor(/^warn round 0: leaving the round: roster entry id 3 carries another identity key .* \(policy\.peers\)/);
    // In-order handling: had it advertised keys, AdvertiseKeys would come before this reply.
    conn.send(offer({ round: 1, taskId: 'pricing' }));
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: false, round: 1 });
  });

  it.each([
    ['a key of the wrong size', new Map([[1, new Uint8Array(31)]]), RangeError, /enrolled: id 1: expected a 32-byte identity key, got 31 bytes/],
    ['an id that is not a positive integer', new Map([[0, new Uint8Array(32)]]), RangeError, /enrolled: expected positive integer ids, got 0/],
    ['a key that is not bytes', new Map([[1, 'ab' as unknown as Uint8Array]]), TypeError, /enrolled: id 1: expected a Uint8Array/],
  ])('refuses %s in the enrolled option', (_what, enrolled, type, message) => {
    expect(() => start({ enrolled })).toThrow(type);
    expect(() => start({ enrolled })).toThrow(message);
  });
});

describe('rounds', () => {
  it('runs a whole secure-aggregation round with the real server machine, and the sum decodes', async () => {
    const n = start();
    const { conn, identityKey } = await acceptClient(server);
    const { state, peerDeltas } = await playRound(conn, identityKey, 0);
    expect(state.outcome.kind).toBe('ready');
    if (state.outcome.kind !== 'ready') return;
    expect(state.outcome.survivors).toEqual([1, 2, 3]);
    const plan = planQuantization(offer().quant, 3);
    const decoded = decodeSum(plan, unmask(state.outcome.plan));
    expect(decoded.totalWeight).toBe(40 + 10 + 30);
    expect(decoded.contributors).toBe(3);
    // Weighted mean of the three deltas, within the fixed-point error (< 1 unit of 2^-10 per client).
    const expected = [0, 1, 2].map((i) => (40 * 0.125 + 10 * peerDeltas[0]![i]! + 30 * peerDeltas[1]![i]!) / 80);
    decoded.meanDelta.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(3 / (80 * 2 ** 10)));
    expect(Math.abs(decoded.metricMeans[0]! - (40 * 1.5 + 10 * 2 + 30 * 3) / 80)).toBeLessThan(1e-3);

    conn.send({ type: 'RoundResult', session: offer().session, round: 0, status: 'committed', metrics: { loss: 2.125 }, survivors: 3 });
    await log.waitFor(/round 0 committed: 3 survivors, loss=2\.1250/);
    conn.ws.close(1000, 'task complete');
    expect(await n.done).toEqual({ rounds: 1, status: 'completed', reason: 'task complete' });
    expect(n.stats()).toMatchObject({ offersAccepted: 1, roundsContributed: 1, roundsCommitted: 1, roundErrors: 0, state: 'stopped' });
    // MaskedInput.y was lent by the thread's pool and came back once it was on the wire.
    expect(maskedInputPool.idle).toBeGreaterThanOrEqual(1);
  });

  it('queues frames that arrive while the trainer runs and handles them in order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const training = new Promise<void>((r) => (started = r));
    start({
      trainer: {
        async train(input) {
          started();
          await gate;
          return fixedTrainer.train(input);
        },
      },
    });
    const { conn } = await acceptClient(server);
    conn.send(offer({ round: 0 }));
    await training;
    conn.send(offer({ round: 1, taskId: 'pricing' })); // arrives mid-training
    conn.send({ type: 'RoundResult', session: offer().session, round: 0, status: 'aborted', reason: 'ROUND_ABORTED', survivors: 0 });
    release();
    expect(await conn.expect('OfferReply')).toMatchObject({ round: 0, accept: true });
    expect(await conn.expect('OfferReply')).toMatchObject({ round: 1, accept: false });
    await log.waitFor(/round 0 aborted \(ROUND_ABORTED\) without this client/);
  });

  it('declines a round whose update cannot be encoded, naming the cause', async () => {
    start({ trainer: { train: async ({ weights }) => ({ delta: new Float32Array(weights.length).fill(Number.NaN), weight: 1, metrics: [0] }) } });
    const { conn } = await acceptClient(server);
    conn.send(offer());
    const reply = await conn.expect('OfferReply');
    expect(reply.accept).toBe(false);
    expect(reply.reason).toBe('DECLINE_BAD_UPDATE');
    await log.waitFor(/finite delta/);
  });

  it('a decline caused by a trainer error sends a code: no file path or column name reaches the coordinator', async () => {
    const secret = "cannot read /srv/shop-7/sales_2026.csv: column 'margin_eur' is not numeric";
    start({ trainer: { train: async () => Promise.reject(new Error(secret)) } });
    const { conn } = await acceptClient(server);
    conn.send(offer());
    const reply = await conn.expect('OfferReply');
    expect(reply).toEqual({ type: 'OfferReply', session: offer().session, round: 0, accept: false, reason: 'DECLINE_TRAINING_FAILED' });
    for (const leak of ['/srv/shop-7', 'sales_2026', 'margin_eur']) expect(JSON.stringify(reply)).not.toContain(leak);
    await log.waitFor(/local training failed .*\/srv\/shop-7\/sales_2026\.csv/); // the shop's own log keeps the detail
  });

  it('declines when the trainer throws, and stays connected', async () => {
    start({ trainer: { train: async () => Promise.reject(new Error('disk on fire')) } });
    const { conn } = await acceptClient(server);
    conn.send(offer());
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: false, reason: 'DECLINE_TRAINING_FAILED' });
    await log.waitFor(/local training failed for round 0 of task demand: disk on fire/);
    conn.send(offer({ round: 1 }));
    expect(await conn.expect('OfferReply')).toMatchObject({ round: 1, accept: false });
  });

  it('ignores stage messages for rounds it is not in', async () => {
    start();
    const { conn } = await acceptClient(server);
    conn.send({ type: 'SurvivorList', session: new Uint8Array(16), round: 5, survivors: [1, 2, 3] });
    conn.send(offer({ taskId: 'pricing' }));
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: false });
    await log.waitFor(/ignored SurvivorList for round 5/);
    expect(node!.stats().invalidFrames).toBe(0);
  });
});

describe('the model declaration and the global model', () => {
  it('refuses an offer whose model the trainer cannot train, before training, and stops as incompatible (the reply carries only a code)', async () => {
    let trained = 0;
    const seen: unknown[] = [];
    start({
      trainer: {
        train: async (i) => (trained++, fixedTrainer.train(i)),
        checkOffer: (o) => (seen.push(o), o.modelSpec === '{"kind":"demand"}' ? null : 'set trainer.kind to the task kind'),
      },
    });
    const { conn } = await acceptClient(server);
    conn.send(offer({ modelSpec: '{"kind":"image"}' }));
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: false, reason: 'DECLINE_MODEL_MISMATCH' });
    expect(await node!.done).toEqual({ rounds: 0, status: 'incompatible', reason: 'set trainer.kind to the task kind' });
    expect(trained).toBe(0);
    expect(seen).toEqual([{ taskId: 'demand', modelLength: 3, modelSpec: '{"kind":"image"}' }]);
    expect(log.lines.some((l) => /^error refused round 0 of task demand: set trainer.kind/.test(l))).toBe(true);
  });

  it('trains an offer whose declaration the trainer accepts', async () => {
    start({ trainer: { train: (i) => fixedTrainer.train(i), checkOffer: (o) => (o.modelSpec === '{"kind":"demand"}' ? null : 'no') } });
    const { conn } = await acceptClient(server);
    conn.send(offer({ modelSpec: '{"kind":"demand"}' }));
    expect(await conn.expect('OfferReply')).toMatchObject({ accept: true });
  });

  it('hands every GlobalModel to onModel, in order, and keeps running when it throws', async () => {
    const got: [number, boolean, number[]][] = [];
    start({
      onModel: async (m) => {
        got.push([m.round, m.final, Array.from(m.model)]);
        if (m.round === 1) throw new Error('disk full');
      },
    });
    const { conn } = await acceptClient(server);
    conn.send({ type: 'GlobalModel', taskId: 'demand', round: 1, final: false, model: new Float32Array([1, 2]) });
    conn.send({ type: 'GlobalModel', taskId: 'demand', round: 2, final: true, model: new Float32Array([3, 4]) });
    await log.waitFor(/could not keep the global model of round 1: disk full/);
    conn.ws.close(1000, 'task complete');
    expect((await node!.done).status).toBe('completed');
    expect(got).toEqual([
      [1, false, [1, 2]],
      [2, true, [3, 4]],
    ]);
  });
});

describe('reconnect', () => {
  it('backs off, not stops, on a duplicate-connection refusal after a reconnect (its own stale socket)', async () => {
    const n = start();
    const first = await acceptClient(server);
    await log.waitFor(/authenticated/);
    first.conn.ws.terminate();
    const second = await server.connections.next();
    await second.expect('Hello');
    await second.expect('AuthResponse');
    second.send({ type: 'ErrorNotice', code: 'WIRE_DUPLICATE_CONNECTION', message: 'client 1 is already connected' });
    second.ws.close(CLOSE_CODES.WIRE_DUPLICATE_CONNECTION, 'duplicate');
    await log.waitFor(/still holds this client's previous connection/);
    await acceptClient(server);
    expect(n.stats().state).not.toBe('stopped');
    expect(n.stats().connections).toBe(3);
  });

  it('reconnects after the coordinator drops the socket, and authenticates again', async () => {
    const n = start();
    const first = await acceptClient(server);
    await log.waitFor(/authenticated/);
    first.conn.ws.terminate();
    const second = await acceptClient(server);
    await log.waitFor(/connection lost \(code 1006.*reconnecting in/);
    second.conn.send(offer({ taskId: 'pricing' }));
    expect(await second.conn.expect('OfferReply')).toMatchObject({ accept: false });
    expect(n.stats().connections).toBe(2);
  });

  it('keeps retrying while the coordinator is unreachable', async () => {
    const url = server.url;
    await server.close();
    const n = start({ url: url });
    await log.waitFor(/cannot reach ws:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED.*reconnecting/);
    await log.waitForCount(/cannot reach /, 3);
    expect(n.stats().state).not.toBe('stopped');
    await n.close();
    expect((await n.done).status).toBe('closed');
  });

  it('drops a connection whose coordinator stops answering pings, then reconnects', async () => {
    await server.close();
    server = await startTestServer({ autoPong: false });
    start({ heartbeatMs: 30 });
    await acceptClient(server);
    await log.waitFor(/no answer from the coordinator for 30 ms/);
    await acceptClient(server);
  });
});

describe('garbage from the coordinator', () => {
  const garbage: [string, (send: (d: Uint8Array | string) => void) => void][] = [
    ['random bytes', (send) => send(Uint8Array.from([0xc1, 0xff, 0x00, 0x13, 0x37]))],
    ['a text frame', (send) => send('{"type":"Welcome"}')],
    ['an empty frame', (send) => send(new Uint8Array(0))],
    ['MessagePack that is not an envelope', (send) => send(pack([1, 2, 3]))],
    ['an envelope with an unknown type', (send) => send(pack({ v: 1, type: 'Bogus', body: {} }))],
    ['a Welcome with a bad field', (send) => send(pack({ v: 1, type: 'Welcome', body: { clientId: -1, taskId: 'x' } }))],
  ];

  it.each(garbage)('logs %s, closes the connection and reconnects', async (_name, sendGarbage) => {
    const n = start();
    const { conn } = await acceptClient(server);
    sendGarbage((d) => conn.sendRaw(d));
    const { code } = await conn.closed;
    expect([1002, 1003]).toContain(code);
    await log.waitFor(/the coordinator sent an invalid frame \(WIRE_/);
    await acceptClient(server);
    expect(n.stats().invalidFrames).toBe(1);
    expect(n.stats().state).not.toBe('stopped');
  });

  const withBody = (type: string, body: number[]): Uint8Array => {
    const head = pack({ v: 1, type, body: 0 });
    return Uint8Array.from([...head.subarray(0, head.length - 1), ...body]);
  };
  const hardened: [string, Uint8Array, number, RegExp][] = [
    ['an extension type (a timestamp, msgpackr: Date)', withBody('Welcome', [0xd6, 0xff, 0, 0, 0, 0]), CLOSE_CODES.WIRE_MALFORMED, /no extension types/],
    ['an extension type (ext 0x73, msgpackr: Set)', withBody('Welcome', [0xd4, 0x73, 0x90]), CLOSE_CODES.WIRE_MALFORMED, /no extension types/],
    ['nesting 10 000 deep', Uint8Array.from({ length: 10_001 }, (_, i) => (i === 10_000 ? 1 : 0x91)), CLOSE_CODES.WIRE_MALFORMED, /nesting at most/],
    ['a 20 KiB Welcome (over its budget before authentication)', withBody('Welcome', [0xc5, 0x50, 0x00, ...new Uint8Array(0x5000)]), CLOSE_CODES.WIRE_TOO_LARGE, /bytes for a Welcome frame/],
  ];

  it.each(hardened)('refuses %s before decoding it, and reconnects', async (_name, frame, code, why) => {
    const n = start();
    const conn = await server.connections.next();
    await conn.expect('Hello');
    conn.sendRaw(frame);
    expect((await conn.closed).code).toBe(code);
    await log.waitFor(why);
    await server.connections.next();
    expect(n.stats().invalidFrames).toBe(1);
  });

  it('refuses round messages before authentication', async () => {
    start();
    const conn = await server.connections.next();
    await conn.expect('Hello');
    await conn.expect('AuthResponse');
    conn.send(offer());
    expect((await conn.closed).code).toBe(CLOSE_CODES.WIRE_WRONG_STAGE);
    await log.waitFor(/TaskOffer before authentication/);
    await server.connections.next();
  });

  it('stops when the coordinator speaks another protocol version', async () => {
    const n = start();
    const { conn } = await acceptClient(server);
    conn.sendRaw(pack({ v: 2, type: 'Welcome', body: {} }));
    const result = await n.done;
    expect(result.status).toBe('rejected');
    expect(result.reason).toMatch(/another protocol version/);
    expect((await conn.closed).code).toBe(CLOSE_CODES.WIRE_UNSUPPORTED_VERSION);
  });
});

describe('insecureTransportWarning: plain ws:// beyond loopback warns at start', () => {
  it.each(['ws://10.0.0.7:7800', 'ws://fl.example:7800', 'ws://[2001:db8::1]:7800', 'ws://0.0.0.0:7800'])('warns for %s', (url) => {
    expect(insecureTransportWarning(url)).toMatch(/plain ws:\/\/ to a host beyond this machine/);
  });
  it.each(['ws://127.0.0.1:7800', 'ws://localhost:7800', 'ws://[::1]:7800', 'wss://fl.example:443'])('is silent for %s', (url) => {
    expect(insecureTransportWarning(url)).toBeNull();
  });
  it('a node on loopback does not warn about the transport', async () => {
    start();
    await acceptClient(server);
    await log.waitFor(/authenticated/);
    expect(log.lines.filter((l) => /plain ws:/.test(l))).toEqual([]);
  });
});

describe('participation record (stateDir)', () => {
  it('survives a restart: a replayed (session, round) is refused and the rounds counter is kept', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'tally-state-'));
    try {
      const first = start({ stateDir, policy: { ...POLICY, maxRounds: 2 } });
      const one = await acceptClient(server);
      await playRound(one.conn, one.identityKey, 0);
      expect(first.stats().roundsContributed).toBe(1);
      await first.close();
      expect(JSON.parse(await readFile(join(stateDir, 'participation.json'), 'utf8'))).toMatchObject({ v: 1, roundsContributed: 1 });

      // A new process on the same state: the replay of round 0 of the same session is refused.
      const second = start({ stateDir, policy: { ...POLICY, maxRounds: 2 } });
      expect(second.stats().roundsContributed).toBe(1);
      const two = await acceptClient(server);
      two.conn.send(offer({ round: 0 }));
      expect(await two.conn.expect('OfferReply')).toMatchObject({ round: 0, accept: false, reason: 'DECLINE_REPLAYED_ROUND' });
      await log.waitFor(/already took part in this session and round.*\(policy\.freshSession\)/);
      // The counter kept counting: one more round reaches maxRounds 2, after which offers are refused.
      await playRound(two.conn, two.identityKey, 1);
      expect(second.stats().roundsContributed).toBe(2);
      await second.close();
      const third = start({ stateDir, policy: { ...POLICY, maxRounds: 2 } });
      const three = await acceptClient(server);
      three.conn.send(offer({ round: 2 }));
      expect(await three.conn.expect('OfferReply')).toMatchObject({ round: 2, accept: false, reason: 'DECLINE_POLICY' });
      await log.waitFor(/already contributed to 2 rounds.*\(policy\.maxRounds\)/);
      expect(third.stats().roundsContributed).toBe(2);
    } finally {
      await node?.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a damaged record rather than resetting it', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'tally-state-'));
    try {
      await writeFile(join(stateDir, 'participation.json'), '{"v":1,"roundsContributed":');
      expect(() => start({ stateDir })).toThrow(/damaged participation record/);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('without a stateDir, warns once at start that a restart forgets', async () => {
    start();
    await acceptClient(server);
    expect(log.lines.filter((l) => /no stateDir/.test(l))).toHaveLength(1);
  });
});

describe('close()', () => {
  it('is idempotent, closes with 1000 and resolves done as closed', async () => {
    const n = start();
    const { conn } = await acceptClient(server);
    await log.waitFor(/authenticated/);
    const a = n.close();
    const b = n.close();
    await Promise.all([a, b]);
    expect((await conn.closed).code).toBe(1000);
    expect(await n.done).toMatchObject({ status: 'closed', rounds: 0 });
    expect(n.stats().state).toBe('stopped');
  });
});

// ---- helpers ------------------------------------------------------------------------------

/** Offer round `round`, let the node accept, then run the secagg round with two in-memory peers. */
async function playRound(conn: Awaited<ReturnType<typeof acceptClient>>['conn'], nodeKey: Uint8Array, round: number) {
  const o = offer({ round });
  conn.send(o);
  const reply = await conn.expect('OfferReply');
  expect(reply).toMatchObject({ accept: true, round });
  const plan = planQuantization(o.quant, o.model.length);
  const peerDeltas = [new Float32Array([1, -1, 0.5]), new Float32Array([-0.5, 0.25, 2])];
  const peers = [
    { id: 2, identity: generateIdentity(), input: encodeUpdate(plan, { delta: peerDeltas[0]!, weight: 10, metrics: [2] }).lanes },
    { id: 3, identity: generateIdentity(), input: encodeUpdate(plan, { delta: peerDeltas[1]!, weight: 30, metrics: [3] }).lanes },
  ];
  const state = await runSecAggRound(conn, { session: o.session, round, nodeId: 1, nodeKey, peers, threshold: 2 });
  return { state, peerDeltas };
}

/**
 * A minimal MessagePack writer (fixmap, fixarray, fixstr, fixint) for hand-made
 * malformed frames; msgpackr itself stays inside @tally/wire.
 */
type Plain = number | string | Plain[] | { [k: string]: Plain };
function pack(v: Plain): Uint8Array {
  const out: number[] = [];
  const write = (x: Plain): void => {
    if (typeof x === 'number') {
      if (!Number.isInteger(x) || x < -32 || x > 127) throw new RangeError('pack: fixint only');
      out.push(x & 0xff);
    } else if (typeof x === 'string') {
      const b = Buffer.from(x, 'utf8');
      if (b.length > 31) throw new RangeError('pack: fixstr only');
      out.push(0xa0 | b.length, ...b);
    } else if (Array.isArray(x)) {
      out.push(0x90 | x.length);
      x.forEach(write);
    } else {
      const entries = Object.entries(x);
      out.push(0x80 | entries.length);
      for (const [k, val] of entries) {
        write(k);
        write(val);
      }
    }
  };
  write(v);
  return Uint8Array.from(out);
}
