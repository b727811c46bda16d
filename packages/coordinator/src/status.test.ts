import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from './status.ts';
import { cleanup, connectAll, startTest } from './_test-setup.ts';

afterEach(cleanup);

const http = (url: string): string => url.replace(/^ws/, 'http');
const auth = (s: { coordinator: { console: { token: string } } }): RequestInit => ({ headers: { authorization: `Bearer ${s.coordinator.console.token}` } });

describe('GET /status', () => {
  it('returns the task, round, stage, connected clients and history as JSON; other paths are 404', async () => {
    const s = await startTest({ n: 4, task: { rounds: 1 } });
    const before = await fetch(`${http(s.coordinator.url)}/status`, auth(s));
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toMatch(/^application\/json/);
    const idle = (await before.json()) as Status;
    expect(idle).toEqual({
      task: { id: 'test-task', rounds: 1, modelLength: 4, metrics: ['loss'], strategy: 'fedavg' },
      round: 1,
      stage: 'waiting for clients',
      finished: false,
      connectedClients: [],
      history: [],
    });

    await connectAll(s.coordinator.url, s.ids);
    await s.coordinator.done;
    const after = (await (await fetch(`${http(s.coordinator.url)}/status`, auth(s))).json()) as Status;
    expect(after).toMatchObject({ round: 1, stage: 'done', finished: true });
    expect(after.history).toHaveLength(1);
    expect(after.history[0]).toMatchObject({ round: 1, status: 'committed', offered: 4, accepted: 4, survivors: 4, contributors: 4, totalWeight: 100 });
    expect(after.history[0]!.metrics!['loss']).toBeCloseTo(0.3, 4);
    expect(after).toEqual(s.coordinator.status());

    const missing = await fetch(`${http(s.coordinator.url)}/nope`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
    const post = await fetch(`${http(s.coordinator.url)}/status`, { ...auth(s), method: 'POST' });
    expect(post.status).toBe(405);
    await post.body?.cancel();
  });

  it('refuses GET /status without the console token (401, no task or shop data)', async () => {
    const s = await startTest({ n: 4 });
    await connectAll(s.coordinator.url, s.ids.slice(0, 1));
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-wrong-token-wrong-token-1234' }, { authorization: s.coordinator.console.token }]) {
      const res = await fetch(`${http(s.coordinator.url)}/status`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const text = await res.text();
      expect(text).not.toContain('shop-1');
      expect(text).not.toContain('test-task');
    }
  });

  it('close() is idempotent and resolves done as not finished', async () => {
    const s = await startTest({ n: 4 });
    await Promise.all([s.coordinator.close(), s.coordinator.close()]);
    await s.coordinator.close();
    expect(await s.coordinator.done).toMatchObject({ finished: false, lastRound: 0, committed: 0 });
    expect(s.coordinator.status().stage).toBe('closed');
  });
});
