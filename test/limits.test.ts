/**
 * The coordinator's resource caps, each hit by a hostile or broken peer over a real
 * socket while honest client nodes go on with their round. The defaults are those
 * of packages/coordinator/src/config.ts; the last test checks that its header says so.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOSE_CODES, PRE_AUTH_BUDGET, encode, type ErrorNotice } from '@tally/wire';
import { DEFAULT_DEADLINES, DEFAULT_LIMITS, maxPayloadFor, type CoordinatorEvent } from '@tally/coordinator';
import type { Trainer } from '@tally/client';
import {
  RawClient,
  cleanup,
  isCommitted,
  startNode,
  startTestCoordinator,
  trivialTrainer,
  waitEvent,
  type Started,
} from './_helpers.ts';

afterEach(cleanup);

const notice = (m: { type: string }): m is ErrorNotice => m.type === 'ErrorNotice';

/** A trainer that waits for `release()`: it holds the offer open while a test does its worst. */
function gatedTrainer(): { trainer: Trainer; release: () => void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const startedP = new Promise<void>((resolve) => (started = resolve));
  return {
    trainer: {
      async train(input) {
        started();
        await gate;
        return trivialTrainer.train(input);
      },
    },
    release,
    started: startedP,
  };
}

const connected = (id: number) => (e: CoordinatorEvent): e is Extract<CoordinatorEvent, { type: 'client-connected' }> =>
  e.type === 'client-connected' && e.id === id;
const disconnected = (id: number) => (e: CoordinatorEvent): e is Extract<CoordinatorEvent, { type: 'client-disconnected' }> =>
  e.type === 'client-disconnected' && e.id === id;

/** Honest nodes for enrolled ids 1 and 2 (identities 0 and 1), the second one gated. */
function twoNodes(s: Started, gated = gatedTrainer()) {
  const a = startNode(s.coordinator.url, s.ids[0]!);
  const b = startNode(s.coordinator.url, s.ids[1]!, { trainer: gated.trainer });
  return { a, b, gated };
}

describe('resource caps', () => {
  it('limits.maxConnections: one socket too many gets HTTP 503 while the honest round goes on', async () => {
    const s = await startTestCoordinator({ n: 2, limits: { maxConnections: 4, maxPendingAuth: 4 } });
    const url = s.coordinator.url;
    const a = startNode(url, s.ids[0]!);
    await waitEvent(s, connected(1));
    const idle = [new RawClient(url), new RawClient(url)]; // never authenticate
    await Promise.all(idle.map((c) => c.waitFor((m) => m.type === 'Challenge')));
    const gated = gatedTrainer();
    const b = startNode(url, s.ids[1]!, { trainer: gated.trainer });
    await gated.started; // the round is open and four sockets are up

    const extra = new RawClient(url);
    await expect(extra.opened).rejects.toThrow(/503/);
    await s.log.waitFor(/^WARN refused a connection from 127\.0\.0\.1: 4 open \(limits\.maxConnections\)/);

    gated.release();
    const ev = await waitEvent(s, isCommitted(1));
    expect(ev.summary).toMatchObject({ survivors: 2, contributors: 2 });
    for (const c of idle) expect(c.isClosed).toBe(false);
    expect((await a.node.done).status).toBe('completed');
    expect((await b.node.done).status).toBe('completed');
  });

  it('limits.maxPendingAuth: unauthenticated sockets beyond the cap get HTTP 503; the auth timeout frees the slots', async () => {
    const s = await startTestCoordinator({ n: 2, limits: { maxPendingAuth: 2, authTimeoutMs: 300 } });
    const url = s.coordinator.url;
    const a = startNode(url, s.ids[0]!);
    await waitEvent(s, connected(1));
    const idle = [new RawClient(url), new RawClient(url)];
    await Promise.all(idle.map((c) => c.waitFor((m) => m.type === 'Challenge')));
    const extra = new RawClient(url);
    await expect(extra.opened).rejects.toThrow(/503/);
    await s.log.waitFor(/^WARN refused a connection from 127\.0\.0\.1: 2 not yet authenticated \(limits\.maxPendingAuth\)/);

    // The second honest node is refused too while the slots are held (it retries with backoff),
    // and gets in once limits.authTimeoutMs closes the idle sockets.
    const b = startNode(url, s.ids[1]!);
    for (const c of idle) {
      expect(await c.closed).toMatchObject({ code: CLOSE_CODES.WIRE_POLICY_REFUSED });
      expect((await c.waitFor(notice)).code).toBe('WIRE_POLICY_REFUSED');
    }
    const ev = await waitEvent(s, isCommitted(1));
    expect(ev.summary).toMatchObject({ survivors: 2, contributors: 2 });
    expect((await a.node.done).status).toBe('completed');
    expect((await b.node.done).status).toBe('completed');
  });

  it('limits.authTimeoutMs: a silent socket and one that stops after Hello are closed with 1008', async () => {
    const s = await startTestCoordinator({ n: 3, limits: { authTimeoutMs: 200 } });
    const url = s.coordinator.url;
    const { a, b, gated } = twoNodes(s);
    await gated.started;
    const silent = new RawClient(url);
    const halfway = new RawClient(url);
    await halfway.waitFor((m) => m.type === 'Challenge');
    halfway.send({ type: 'Hello', identityKey: s.ids[2]!.publicKey, clientVersion: 'half/0' }); // enrolled, but no AuthResponse
    for (const c of [silent, halfway]) {
      expect(await c.closed).toMatchObject({ code: CLOSE_CODES.WIRE_POLICY_REFUSED });
      expect((await c.waitFor(notice)).message).toMatch(/no authentication within 200 ms \(limits\.authTimeoutMs\)/);
    }
    gated.release();
    expect((await waitEvent(s, isCommitted(1))).summary).toMatchObject({ survivors: 2 });
    expect((await a.node.done).status).toBe('completed');
    expect((await b.node.done).status).toBe('completed');
  });

  it('maxPayload: a frame of exactly maxPayload bytes is read (and refused as MessagePack); one byte more is closed with 1009 unread', async () => {
    const s = await startTestCoordinator({ n: 3 });
    const url = s.coordinator.url;
    const maxPayload = maxPayloadFor(4 + 3 + 1, 2);
    await s.log.waitFor(new RegExp(`^INFO listening on .* maxPayload ${maxPayload} bytes`));
    const { a, b, gated } = twoNodes(s);
    await gated.started; // the round's cohort is 1 and 2; the abuser (enrolled id 3) is outside it

    const abuser = new RawClient(url, { identity: s.ids[2]! });
    await abuser.welcome;
    abuser.sendRaw(new Uint8Array(maxPayload)); // zeros: the MessagePack value 0, then trailing bytes
    expect(await abuser.closed).toMatchObject({ code: CLOSE_CODES.WIRE_MALFORMED });
    expect((await abuser.waitFor(notice)).code).toBe('WIRE_MALFORMED');
    await waitEvent(s, disconnected(3));

    const again = new RawClient(url, { identity: s.ids[2]! });
    await again.welcome;
    const mark = again.received.length;
    again.sendRaw(new Uint8Array(maxPayload + 1));
    expect(await again.closed).toMatchObject({ code: CLOSE_CODES.WIRE_TOO_LARGE });
    expect(again.notices(mark)).toEqual([]); // ws refuses the frame before the coordinator sees it

    const stranger = new RawClient(url); // before authentication, the same bound
    await stranger.waitFor((m) => m.type === 'Challenge');
    stranger.sendRaw(new Uint8Array(maxPayload + 1));
    expect(await stranger.closed).toMatchObject({ code: CLOSE_CODES.WIRE_TOO_LARGE });

    gated.release();
    expect((await waitEvent(s, isCommitted(1))).summary).toMatchObject({ survivors: 2, contributors: 2 });
    expect((await a.node.done).status).toBe('completed');
    expect((await b.node.done).status).toBe('completed');
  });

  it('before authentication: a frame over PRE_AUTH_BUDGET (1 KiB) is closed with 1009 from its header, before its payload is sent', async () => {
    // A huge authTimeoutMs, so that only the frame cap can close these sockets.
    const s = await startTestCoordinator({ n: 2, limits: { authTimeoutMs: 600_000 } });
    const url = s.coordinator.url;
    const maxPayload = maxPayloadFor(4 + 3 + 1, 2);
    expect(maxPayload).toBeGreaterThan(PRE_AUTH_BUDGET.bytes);

    // Only the header of a masked binary frame announcing maxPayload bytes (RFC 6455 §5.2): no payload follows.
    const stranger = new RawClient(url);
    await stranger.waitFor((m) => m.type === 'Challenge');
    const header = Buffer.alloc(2 + 8 + 4);
    header[0] = 0x82; // FIN, binary
    header[1] = 0x80 | 127; // masked, 64-bit length
    header.writeBigUInt64BE(BigInt(maxPayload), 2);
    (stranger.ws as unknown as { _socket: import('node:net').Socket })._socket.write(header);
    expect(await stranger.closed).toMatchObject({ code: CLOSE_CODES.WIRE_TOO_LARGE });

    // A whole frame one byte over the cap: closed with 1009 too, and a frame of exactly 1 KiB is read (refused as MessagePack).
    const over = new RawClient(url);
    await over.waitFor((m) => m.type === 'Challenge');
    over.sendRaw(new Uint8Array(PRE_AUTH_BUDGET.bytes + 1));
    expect(await over.closed).toMatchObject({ code: CLOSE_CODES.WIRE_TOO_LARGE });
    const at = new RawClient(url);
    await at.waitFor((m) => m.type === 'Challenge');
    at.sendRaw(new Uint8Array(PRE_AUTH_BUDGET.bytes));
    expect(await at.closed).toMatchObject({ code: CLOSE_CODES.WIRE_MALFORMED });

    // After authentication the task's maxPayload applies again: an honest round commits.
    const a = startNode(url, s.ids[0]!);
    const b = startNode(url, s.ids[1]!);
    expect((await waitEvent(s, isCommitted(1))).summary).toMatchObject({ survivors: 2 });
    expect((await a.node.done).status).toBe('completed');
    expect((await b.node.done).status).toBe('completed');
  });

  it('after authentication each frame is bounded by its type: a 64 KiB OfferReply is refused with 1009 unread', async () => {
    const s = await startTestCoordinator({ n: 3 });
    const { a, b, gated } = twoNodes(s);
    await gated.started;
    const abuser = new RawClient(s.coordinator.url, { identity: s.ids[2]! });
    await abuser.welcome;
    abuser.sendRaw(encode({ type: 'OfferReply', session: new Uint8Array(16), round: 1, accept: false, reason: 'x'.repeat(65_536) } as never));
    expect(await abuser.closed).toMatchObject({ code: CLOSE_CODES.WIRE_TOO_LARGE });
    expect((await abuser.waitFor(notice)).message).toMatch(/bytes for a OfferReply frame/);
    gated.release();
    expect((await waitEvent(s, isCommitted(1))).summary).toMatchObject({ survivors: 2 });
    expect((await a.node.done).status).toBe('completed');
    expect((await b.node.done).status).toBe('completed');
  });

  it('limits.maxBufferedBytes: a client that stops reading while big models are sent to it is dropped; the round retries without it', async () => {
    // A 2^21-weight model: each TaskOffer is 8 MiB, more than loopback takes from a reader
    // that has paused. The cap is the smallest config.ts allows (one TaskOffer), so the first
    // offer still fits; the second one, in the retry, does not. The heartbeat is off so that
    // no tick checks an honest node in the middle of its own 8 MiB.
    const modelLength = 2 ** 21;
    const cap = 4 * modelLength + 64 * 1024;
    const s = await startTestCoordinator({
      n: 3,
      task: { modelLength, deadlines: { trainMs: 2000, stageMs: 60_000, retryMs: 0 } },
      limits: { maxBufferedBytes: cap, heartbeatMs: 600_000 },
    });
    const url = s.coordinator.url;
    const reader = new RawClient(url, { identity: s.ids[2]! });
    await reader.welcome;
    reader.ws.pause(); // stops reading the socket: TCP back-pressure reaches the coordinator

    // With the paused client, minClients (2) is met: each attempt offers to both. The paused one never
    // answers, so the first attempt aborts when task.deadlines.trainMs fires, and the retry offers again.
    const a = startNode(url, s.ids[0]!);
    await a.log.waitForCount(/the offer is within policy/, 2); // the second TaskOffer went to both in one pass
    // Any send to the paused client now finds more than the cap waiting: provoke one (a notice).
    reader.send({ type: 'Hello', identityKey: s.ids[2]!.publicKey, clientVersion: 'paused/0' });
    const gone = await waitEvent(s, disconnected(3));
    expect(gone.code).toBe(1006); // terminated, no close handshake
    expect(s.log.lines).toContainEqual(
      expect.stringMatching(new RegExp(`^WARN dropping id 3 \\(shop-3\\): over ${cap} bytes \\(limits\\.maxBufferedBytes\\) waiting to be sent: the client is not reading`)),
    );

    const b = startNode(url, s.ids[1]!);
    const ev = await waitEvent(s, isCommitted(1));
    expect(ev.summary).toMatchObject({ survivors: 2, contributors: 2 });
    expect((await a.node.done).status).toBe('completed');
    expect((await b.node.done).status).toBe('completed');
  });
});

describe('documented defaults', () => {
  it("config.ts's header states every default of limits and task.deadlines", async () => {
    const source = await readFile(fileURLToPath(new URL('../packages/coordinator/src/config.ts', import.meta.url)), 'utf8');
    const header = source.slice(0, source.indexOf('*/'));
    for (const [key, value] of Object.entries({ ...DEFAULT_LIMITS, ...DEFAULT_DEADLINES })) {
      expect(header, key).toMatch(new RegExp(`"${key}": ${value},?\\s`));
    }
  });

});
