import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '@tally/secagg';
import { CLOSE_CODES, type ErrorNotice } from '@tally/wire';
import { cleanup, connect, connectAll, startTest, waitEvent } from './_test-setup.ts';
import type { CoordinatorEvent } from './events.ts';

afterEach(cleanup);

const notice = (m: { type: string }): m is ErrorNotice => m.type === 'ErrorNotice';

describe('authentication', () => {
  it('refuses an unknown key, a bad signature and a duplicate connection while an honest client stays connected', async () => {
    // Only one of the four enrolled clients connects, so no round starts (minClients 4).
    const s = await startTest({ n: 4 });
    const [honest] = await connectAll(s.coordinator.url, s.ids.slice(0, 1));
    expect((await honest!.welcome).clientId).toBe(1);

    const stranger = connect({ url: s.coordinator.url, identity: generateIdentity() });
    expect(await stranger.closed).toMatchObject({ code: CLOSE_CODES.WIRE_NOT_ENROLLED });
    expect((await stranger.waitFor(notice)).code).toBe('WIRE_NOT_ENROLLED');

    const forger = connect({ url: s.coordinator.url, identity: s.ids[1]!, auth: 'bad-signature' });
    expect(await forger.closed).toMatchObject({ code: CLOSE_CODES.WIRE_AUTH_FAILED });
    expect((await forger.waitFor(notice)).code).toBe('WIRE_AUTH_FAILED');

    const twin = connect({ url: s.coordinator.url, identity: s.ids[0]! });
    expect(await twin.closed).toMatchObject({ code: CLOSE_CODES.WIRE_DUPLICATE_CONNECTION });
    expect((await twin.waitFor(notice)).code).toBe('WIRE_DUPLICATE_CONNECTION');

    expect(honest!.ws.readyState).toBe(honest!.ws.OPEN);
    expect(s.coordinator.status().connectedClients).toEqual([{ id: 1, name: 'shop-1' }]);
  });

  it('closes a connection that does not authenticate in time', async () => {
    const s = await startTest({ n: 4, rest: { limits: { authTimeoutMs: 200, maxBufferedBytes: 1 << 20 } } });
    const silent = connect({ url: s.coordinator.url, identity: s.ids[0]!, auth: 'silent' });
    expect(await silent.closed).toMatchObject({ code: CLOSE_CODES.WIRE_POLICY_REFUSED });
    expect((await silent.waitFor(notice)).code).toBe('WIRE_POLICY_REFUSED');
  });

  it('refuses a text frame and a message other than Hello before authentication', async () => {
    const s = await startTest({ n: 4 });
    const text = connect({ url: s.coordinator.url, auth: 'silent' });
    await text.opened;
    text.sendRaw('hello');
    expect(await text.closed).toMatchObject({ code: CLOSE_CODES.WIRE_MALFORMED });

    const early = connect({ url: s.coordinator.url, auth: 'silent' });
    await early.opened;
    early.send({ type: 'AuthResponse', sig: new Uint8Array(64) });
    expect(await early.closed).toMatchObject({ code: CLOSE_CODES.WIRE_WRONG_STAGE });
  });

  it('answers Hello after authentication with a notice, without closing', async () => {
    const s = await startTest({ n: 4 });
    const [c] = await connectAll(s.coordinator.url, s.ids.slice(0, 1));
    c!.send({ type: 'Hello', identityKey: s.ids[0]!.publicKey, clientVersion: 'again' });
    expect((await c!.waitFor(notice)).code).toBe('WIRE_WRONG_STAGE');
    expect(c!.ws.readyState).toBe(c!.ws.OPEN);
  });

  it('caps unauthenticated connections (limits.maxPendingAuth) with HTTP 503', async () => {
    const s = await startTest({ n: 4, rest: { limits: { maxPendingAuth: 1, maxBufferedBytes: 1 << 20 } } });
    const first = connect({ url: s.coordinator.url, auth: 'silent' });
    await first.opened;
    const second = connect({ url: s.coordinator.url, auth: 'silent' });
    await expect(second.opened).rejects.toThrow(/503/);
    // The first one's key is not enrolled: it is closed, which frees the slot.
    first.send({ type: 'Hello', identityKey: generateIdentity().publicKey, clientVersion: 'x' });
    await first.closed;
    const third = connect({ url: s.coordinator.url, identity: s.ids[0]! });
    await third.welcome;
  });

  it('terminates a client that stops answering pings (limits.heartbeatMs)', async () => {
    const s = await startTest({ n: 4, rest: { limits: { heartbeatMs: 100, maxBufferedBytes: 1 << 20 } } });
    const [alive] = await connectAll(s.coordinator.url, s.ids.slice(0, 1));
    const [dead] = await connectAll(s.coordinator.url, s.ids.slice(1, 2), () => ({ autoPong: false }));
    // No close frame: the coordinator drops the socket (1006 on this side).
    expect(await dead!.closed).toMatchObject({ code: 1006 });
    expect(s.lines).toContainEqual(expect.stringMatching(/^WARN dropping id 2 \(shop-2\): no pong since the last heartbeat/));
    expect(alive!.ws.readyState).toBe(alive!.ws.OPEN);
  });

  it('reports clients connecting and leaving', async () => {
    const s = await startTest({ n: 4 });
    const [c] = await connectAll(s.coordinator.url, s.ids.slice(0, 1));
    await waitEvent(s, (e): e is CoordinatorEvent => e.type === 'client-connected');
    await c!.close();
    const left = await waitEvent(s, (e): e is Extract<CoordinatorEvent, { type: 'client-disconnected' }> => e.type === 'client-disconnected');
    expect(left).toMatchObject({ id: 1, name: 'shop-1', code: 1000 });
    expect(s.coordinator.status().connectedClients).toEqual([]);
  });
});
