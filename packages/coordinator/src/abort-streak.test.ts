/** Repeated identical aborts: the pause grows and the audit log stays logarithmic. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKOFF_AFTER, MAX_RETRY_MS, auditsRepeat, retryDelay } from './abort-streak.ts';
import { readAuditLog } from './audit-log.ts';
import { cleanup, connectAll, startTest } from './_test-setup.ts';
import { deterministicUpdate } from './_test-client.ts';

afterEach(cleanup);

describe('retryDelay and auditsRepeat', () => {
  it('keeps retryMs for the first aborts, then doubles up to MAX_RETRY_MS', () => {
    expect(retryDelay(1000, 1)).toBe(1000);
    expect(retryDelay(1000, BACKOFF_AFTER - 1)).toBe(1000);
    expect(retryDelay(1000, BACKOFF_AFTER)).toBe(2000);
    expect(retryDelay(1000, BACKOFF_AFTER + 1)).toBe(4000);
    expect(retryDelay(1000, 100)).toBe(MAX_RETRY_MS);
    expect(retryDelay(0, BACKOFF_AFTER)).toBe(500); // from MIN_BACKOFF_BASE_MS when retryMs is 0
  });

  it('audits the 1st, 2nd, 4th, 8th … of a streak: about log2(n) lines for n aborts', () => {
    const kept = Array.from({ length: 1000 }, (_, i) => i + 1).filter(auditsRepeat);
    expect(kept).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
  });
});

it('a client that declines every offer the same way: the coordinator backs off, says why, and coalesces the audit lines', async () => {
  let declines = 5;
  const s = await startTest({ n: 4, task: { rounds: 1 } });
  await connectAll(s.coordinator.url, s.ids, (i) =>
    i === 0 ? { update: (offer, id) => (declines-- > 0 ? null : deterministicUpdate(id, offer.round, offer.model.length, 1)) } : {},
  );
  const summary = await s.coordinator.done;
  expect(summary).toMatchObject({ finished: true, committed: 1, aborted: 5 });
  const warn = s.lines.filter((l) => l.includes('attempts in a row aborted the same way'));
  // From the 3rd identical abort on, each says why and the pause it takes (500, 1000, 2000 ms with retryMs 0).
  expect(warn).toHaveLength(3);
  expect(warn[0]).toMatch(/3 attempts in a row aborted the same way \(only 3 of 4 offered clients accepted; task\.minClients is 4\); .*now 500 ms, at most 60000 ms/);
  expect(s.lines.filter((l) => /retrying with a new session in (\d+) ms/.test(l)).map((l) => Number(/in (\d+) ms/.exec(l)![1]))).toEqual([0, 0, 500, 1000, 2000]);
  const { records } = await readAuditLog(join(s.dataDir, 'test-task', 'audit.jsonl'));
  // 5 aborts → lines for the 1st, 2nd and 4th (with their place in the streak), then the commit.
  expect(records.map((r) => [r.status, r.repeat])).toEqual([
    ['aborted', undefined],
    ['aborted', 2],
    ['aborted', 4],
    ['committed', undefined],
  ]);
});
