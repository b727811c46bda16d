// The coordinator's heartbeat must not drop a client because the coordinator itself
// was busy: after its own event loop stalls, pongs may be sitting unread when the
// next (late) tick fires.
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, cleanup, startTestCoordinator } from './_helpers.ts';

afterEach(cleanup);

/** Blocks this thread (and with it the in-process coordinator) for `ms`. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: the point is that no timer or socket callback can run meanwhile
  }
}

describe('heartbeat', () => {
  it('keeps a client that answered, when the coordinator was stalled past the interval', async () => {
    const s = await startTestCoordinator({ n: 2, limits: { heartbeatMs: 250 } });
    // 250 ms, not less: on a loaded 2-core machine a pong can take tens of ms to be read,
    // which a shorter interval would mistake for a dead client.
    const client = new RawClient(s.coordinator.url, { identity: s.ids[0]! });
    await client.welcome;
    let pings = 0;
    const enough = new Promise<void>((resolve) => {
      client.ws.on('ping', () => {
        pings++;
        // The coordinator has just marked us "no pong yet" and our pong is on its way;
        // freeze before the coordinator can read it, for several intervals.
        if (pings === 1) stall(1000);
        if (pings === 6) resolve();
      });
    });
    const outcome = await Promise.race([enough.then(() => 'still connected'), client.closed.then((c) => `closed ${c.code}`)]);
    expect(outcome).toBe('still connected');
    expect(s.coordinator.status().connectedClients.map((c) => c.id)).toContain(1);
  });
});
