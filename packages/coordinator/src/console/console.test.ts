import { stat } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, connectAll, startTest, waitEvent } from '../_test-setup.ts';
import type { CoordinatorEvent } from '../events.ts';
import { dropReasonClass } from './metrics.ts';
import type { ConsoleSnapshot } from './state.ts';
import { CONSOLE_TOKEN_FILE, bearerMatches, ensureConsoleToken, readConsoleToken } from './token.ts';

afterEach(cleanup);

const http = (url: string): string => url.replace(/^ws/, 'http');

describe('console token', () => {
  it('is made once per data folder with mode 0600, and a looser file is tightened', async () => {
    const s = await startTest({ n: 2, task: { cohortSize: 2, minClients: 2, threshold: 1 } });
    const file = s.coordinator.console.tokenFile;
    expect(file.endsWith(CONSOLE_TOKEN_FILE)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readConsoleToken(s.dataDir)).toBe(s.coordinator.console.token);
    expect(s.coordinator.console.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = await ensureConsoleToken(s.dataDir);
    expect(again).toMatchObject({ token: s.coordinator.console.token, tightened: false });
    const { chmod } = await import('node:fs/promises');
    await chmod(file, 0o644);
    expect((await ensureConsoleToken(s.dataDir)).tightened).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('matches only "Bearer <token>" exactly', () => {
    const t = 'a'.repeat(43);
    expect(bearerMatches(`Bearer ${t}`, t)).toBe(true);
    expect(bearerMatches(`bearer ${t}`, t)).toBe(true);
    expect(bearerMatches(t, t)).toBe(false);
    expect(bearerMatches(`Bearer ${t}x`, t)).toBe(false);
    expect(bearerMatches(`Bearer ${t.slice(1)}`, t)).toBe(false);
    expect(bearerMatches(undefined, t)).toBe(false);
  });
});

describe('console HTTP', () => {
  it('serves the page and /healthz openly, and every data resource only with the token', async () => {
    const s = await startTest({ n: 2, task: { cohortSize: 2, minClients: 2, threshold: 1 } });
    const base = http(s.coordinator.url);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('/console/app.js');
    expect(html).not.toContain('shop-1');
    for (const asset of ['/console/app.js', '/console/style.css', '/console/uplot.js', '/console/uplot.css']) {
      const r = await fetch(`${base}${asset}`);
      expect(r.status, asset).toBe(200);
      await r.body?.cancel();
    }
    const health = await fetch(`${base}/healthz`);
    expect(await health.json()).toEqual({ ok: true });

    for (const path of ['/status', '/metrics', '/api/state', '/api/events', '/api/audit?q=shop', '/api/model']) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(401);
      const body = await r.text();
      expect(body, path).not.toContain('shop-');
      expect(body, path).not.toContain('test-task');
    }
    const missing = await fetch(`${base}/console/../package.json`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
  });

  it('shows enrolled shops that are not connected, the round history, metrics, audit search and the model', async () => {
    // Three enrolled, two connect: shop-3 stays absent.
    const s = await startTest({ n: 3, task: { rounds: 1, cohortSize: 2, minClients: 2, threshold: 1 } });
    const base = http(s.coordinator.url);
    const headers = { authorization: `Bearer ${s.coordinator.console.token}` };
    await connectAll(s.coordinator.url, s.ids.slice(0, 2));
    await waitEvent(s, (e: CoordinatorEvent): e is CoordinatorEvent => e.type === 'done');

    const snap = (await (await fetch(`${base}/api/state`, { headers })).json()) as ConsoleSnapshot;
    expect(snap.task).toMatchObject({ id: 'test-task', graph: 'complete', k: 1, t: 1, strategy: 'fedavg', quant: { clipNorm: 10, fractionalBits: 16 } });
    expect(snap.progress).toMatchObject({ round: 1, finished: true, lastCommitted: 1, etaMs: 0 });
    expect(snap.shops.map((x) => [x.name, x.roundsContributed])).toEqual([
      ['shop-1', 1],
      ['shop-2', 1],
      ['shop-3', 0],
    ]);
    expect(snap.shops[2]).toMatchObject({ connected: false, lastSeen: null, lastDrop: null });
    expect(snap.history).toHaveLength(1);
    expect(snap.history[0]).toMatchObject({ round: 1, status: 'committed', survivors: 2, clippedCount: 0 });
    expect(Object.keys(snap.history[0]!.timings)).toEqual(expect.arrayContaining(['TaskOffer', 'MaskedInput', 'Unmask', 'Aggregate']));

    const metrics = await (await fetch(`${base}/metrics`, { headers })).text();
    expect(metrics).toContain('tally_rounds_total{status="committed"} 1');
    expect(metrics).toContain('tally_clients_enrolled 3');
    expect(metrics).toMatch(/tally_bytes_received_total [1-9]/);
    expect(metrics).toMatch(/tally_bytes_sent_total [1-9]/);
    expect(metrics).toMatch(/tally_unmask_duration_seconds_count 1/);
    expect(metrics).toMatch(/tally_stage_duration_seconds_count\{stage="ShareKeys"\} 1/);
    expect(metrics).not.toContain('shop-');

    const audit = (await (await fetch(`${base}/api/audit?q=committed`, { headers })).json()) as { total: number; records: { round: number }[] };
    expect(audit.total).toBe(1);
    const none = (await (await fetch(`${base}/api/audit?q=${encodeURIComponent('no-such-thing')}`, { headers })).json()) as { total: number };
    expect(none.total).toBe(0);

    const model = await fetch(`${base}/api/model`, { headers });
    expect(model.headers.get('x-tally-round')).toBe('1');
    const bytes = new Uint8Array(await model.arrayBuffer());
    const done = s.events.find((e) => e.type === 'done');
    expect(done?.type === 'done' && Buffer.from(bytes).equals(Buffer.from(done.summary.model.buffer, done.summary.model.byteOffset, done.summary.model.byteLength))).toBe(true);
  });

  it('streams the state as server-sent events, pushing a new snapshot when a round ends', async () => {
    const s = await startTest({ n: 2, task: { rounds: 1, cohortSize: 2, minClients: 2, threshold: 1 } });
    const ac = new AbortController();
    const res = await fetch(`${http(s.coordinator.url)}/api/events`, { headers: { authorization: `Bearer ${s.coordinator.console.token}` }, signal: ac.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    const next = async (): Promise<ConsoleSnapshot> => {
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (block.includes('event: state') && data) return JSON.parse(data.slice(6)) as ConsoleSnapshot;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += value;
      }
    };
    const first = await next();
    expect(first.progress.lastCommitted).toBe(0);
    await connectAll(s.coordinator.url, s.ids);
    let snap = first;
    while (snap.progress.lastCommitted < 1) snap = await next();
    expect(snap.history.at(-1)).toMatchObject({ round: 1, status: 'committed' });
    ac.abort();
  });
});

describe('dropReasonClass', () => {
  it('folds the reasons round.ts and task.ts write into a closed set', () => {
    expect(dropReasonClass('disconnected')).toBe('disconnected');
    expect(dropReasonClass('no answer before the deadline')).toBe('deadline');
    expect(dropReasonClass('no OfferReply within 1000 ms (task.deadlines.trainMs)')).toBe('deadline');
    expect(dropReasonClass('declined: policy.minCohort')).toBe('declined');
    expect(dropReasonClass('protocol error WIRE_WRONG_STAGE')).toBe('protocol_error');
    expect(dropReasonClass('only 1 neighbours shared keys')).toBe('too_few_neighbours');
    expect(dropReasonClass('something new')).toBe('other');
  });
});
