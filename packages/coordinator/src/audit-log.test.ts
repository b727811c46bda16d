import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, readAuditLog, type AuditRecord } from './audit-log.ts';
import { cleanup, tempDir } from './_test-setup.ts';

afterEach(cleanup);

function record(round: number, status: 'committed' | 'aborted' = 'committed'): AuditRecord {
  return {
    v: 1,
    taskId: 't',
    round,
    session: '00'.repeat(16),
    status,
    startedAt: new Date(0).toISOString(),
    endedAt: new Date(1000).toISOString(),
    cohort: [1, 2, 3],
    accepted: [1, 2, 3],
    survivors: [1, 2],
    threshold: 2,
    degree: 2,
    drops: { '3': { stage: 'MaskedInput', reason: 'disconnected' } },
    revealed: { selfMaskOf: [1, 2], maskKeyOf: [3] },
    clippedCount: 0,
    contributors: 2,
    totalWeight: 30,
    metrics: { loss: 0.5 },
    timings: { TaskOffer: 3 },
  };
}

describe('audit log', () => {
  it('appends one line per record and reads them back', async () => {
    const path = join(await tempDir(), 'audit.jsonl');
    const { log, contents } = await AuditLog.open(path);
    expect(contents).toEqual({ records: [], torn: false });
    await Promise.all([log.append(record(1)), log.append(record(2, 'aborted')), log.append(record(2))]);
    const text = await readFile(path, 'utf8');
    expect(text.split('\n')).toHaveLength(4); // 3 lines + the final newline
    const back = await readAuditLog(path);
    expect(back.torn).toBe(false);
    expect(back.records.map((r) => [r.round, r.status])).toEqual([
      [1, 'committed'],
      [2, 'aborted'],
      [2, 'committed'],
    ]);
    expect(back.records[0]).toEqual(record(1));
  });

  it('skips a torn final line, and cuts it off before the next append', async () => {
    const path = join(await tempDir(), 'audit.jsonl');
    await writeFile(path, `${JSON.stringify(record(1))}\n`);
    await appendFile(path, JSON.stringify(record(2)).slice(0, 40)); // a crash mid-append
    const torn = await readAuditLog(path);
    expect(torn.torn).toBe(true);
    expect(torn.records.map((r) => r.round)).toEqual([1]);

    const { log, contents } = await AuditLog.open(path);
    expect(contents.torn).toBe(true);
    await log.append(record(2));
    const after = await readAuditLog(path);
    expect(after).toMatchObject({ torn: false });
    expect(after.records.map((r) => r.round)).toEqual([1, 2]);
  });

  it('keeps a whole last record that lost only its newline', async () => {
    const path = join(await tempDir(), 'audit.jsonl');
    await writeFile(path, JSON.stringify(record(1)));
    expect((await readAuditLog(path)).records).toHaveLength(1);
    const { log } = await AuditLog.open(path);
    await log.append(record(2));
    expect((await readAuditLog(path)).records.map((r) => r.round)).toEqual([1, 2]);
  });

  it('refuses a corrupt line before the last', async () => {
    const path = join(await tempDir(), 'audit.jsonl');
    await writeFile(path, `{"round":1,"status":"committed"}\nnot json\n{"round":2,"status":"committed"}\n`);
    await expect(readAuditLog(path)).rejects.toThrow(/audit.jsonl:2: not valid JSON/);
  });
});
