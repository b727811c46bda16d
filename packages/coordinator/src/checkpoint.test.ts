import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskOffer } from '@tally/wire';
import { CheckpointError, loadCheckpoint, readInitialModel, saveCheckpoint, type Checkpoint } from './checkpoint.ts';
import type { CoordinatorEvent } from './events.ts';
import { createStrategy } from './strategies.ts';
import { AUDIT_FILE, readAuditLog } from './audit-log.ts';
import { cleanup, connect, connectAll, startTest, tempDir, waitEvent } from './_test-setup.ts';

afterEach(cleanup);

function sample(round: number, weights = new Float32Array([1.5, -2, 0.25, 3])): Checkpoint {
  const strategy = createStrategy({ name: 'fedavgm' });
  return {
    taskId: 't1',
    round,
    rounds: 2,
    weights,
    strategy: { ...strategy.initState(weights.length), round },
    strategyConfig: strategy.config,
    createdAt: new Date(0).toISOString(),
  };
}

describe('checkpoint files', () => {
  it('round-trips, prunes older rounds and leaves no temp files', async () => {
    const dir = await tempDir();
    await saveCheckpoint(dir, sample(1));
    await saveCheckpoint(dir, sample(2, new Float32Array([9, 8, 7, 6])));
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'model-2.f32', 'strategy-2.bin']);
    const cp = await loadCheckpoint(dir, { taskId: 't1', modelLength: 4 });
    expect(cp).not.toBeNull();
    expect(cp!.round).toBe(2);
    expect(cp!.weights).toEqual(new Float32Array([9, 8, 7, 6]));
    expect(cp!.strategy.strategy).toBe('fedavgm');
    // The weights file is raw little-endian float32.
    const raw = await readFile(join(dir, 'model-2.f32'));
    expect(raw.readFloatLE(4)).toBe(8);
    const record = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8'));
    expect(record).toMatchObject({ format: 'tally-checkpoint/1', taskId: 't1', round: 2, rounds: 2, finished: true, modelLength: 4, weights: { file: 'model-2.f32' } });
  });

  it('is null when there is none, and refuses corrupt weights, another task and another model length', async () => {
    const dir = await tempDir();
    expect(await loadCheckpoint(dir, { taskId: 't1', modelLength: 4 })).toBeNull();
    await saveCheckpoint(dir, sample(3));
    await expect(loadCheckpoint(dir, { taskId: 'other', modelLength: 4 })).rejects.toThrow(/belongs to task "t1"/);
    await expect(loadCheckpoint(dir, { taskId: 't1', modelLength: 5 })).rejects.toThrow(/model of 4 weights but task.modelLength is 5/);
    const f = join(dir, 'model-3.f32');
    const bytes = await readFile(f);
    bytes[0] = bytes[0]! ^ 1;
    await writeFile(f, bytes);
    await expect(loadCheckpoint(dir, { taskId: 't1', modelLength: 4 })).rejects.toThrow(CheckpointError);
    await expect(loadCheckpoint(dir, { taskId: 't1', modelLength: 4 })).rejects.toThrow(/sha256 .* the file is corrupt/);
  });

  it('reads an initial model and refuses one of the wrong size', async () => {
    const dir = await tempDir();
    const f = join(dir, 'init.f32');
    const b = Buffer.alloc(8);
    b.writeFloatLE(0.5, 0);
    b.writeFloatLE(-1, 4);
    await writeFile(f, b);
    expect(await readInitialModel(f, 2)).toEqual(new Float32Array([0.5, -1]));
    expect(await readInitialModel(undefined, 3)).toEqual(new Float32Array(3));
    await expect(readInitialModel(f, 3)).rejects.toThrow(/expected 12 bytes .* got 8/);
  });
});

describe('resuming a task', () => {
  it('resumes at round 2 with the byte-identical model after a restart', async () => {
    const dataDir = await tempDir();
    const first = await startTest({ n: 4, dataDir });
    await connectAll(first.coordinator.url, first.ids);
    const r1 = await waitEvent(first, (e): e is Extract<CoordinatorEvent, { type: 'round' }> => e.type === 'round' && e.summary.status === 'committed');
    expect(r1.summary.round).toBe(1);
    await first.coordinator.close();
    const firstDone = await first.coordinator.done;
    expect(firstDone.lastRound).toBe(1);
    expect(firstDone.finished).toBe(false);

    const second = await startTest({ n: 4, dataDir, ids: first.ids });
    expect(second.coordinator.status().round).toBe(2);
    expect(second.lines).toContainEqual(expect.stringMatching(/resuming at round 2 of 2/));
    // The history survives the restart (it is read back from the audit log).
    expect(second.coordinator.status().history.filter((h) => h.status === 'committed').map((h) => h.round)).toEqual([1]);
    const clients = await connectAll(second.coordinator.url, second.ids);
    const offer = await clients[0]!.waitFor((m): m is TaskOffer => m.type === 'TaskOffer');
    expect(offer.round).toBe(2);
    expect(Buffer.from(offer.model.buffer).equals(Buffer.from(r1.model!.buffer))).toBe(true);
    const done = await second.coordinator.done;
    expect(done).toMatchObject({ finished: true, lastRound: 2, committed: 1, resumedFrom: 1 });
    await second.coordinator.close(); // it holds the task folder's lock until closed (lock.ts)

    // A third start finds the task finished and reports done at once.
    const third = await startTest({ n: 4, dataDir, ids: first.ids });
    expect(await third.coordinator.done).toMatchObject({ finished: true, lastRound: 2, committed: 0 });
    expect(third.coordinator.status()).toMatchObject({ round: 2, stage: 'done', finished: true });
    const late = connect({ url: third.coordinator.url, identity: first.ids[0]! });
    expect(await late.closed).toEqual({ code: 1000, reason: 'task complete' });
  });

  it('restores the audit line of a round committed just before a crash', async () => {
    const dataDir = await tempDir();
    const first = await startTest({ n: 4, dataDir });
    await connectAll(first.coordinator.url, first.ids);
    await waitEvent(first, (e): e is Extract<CoordinatorEvent, { type: 'round' }> => e.type === 'round' && e.summary.status === 'committed');
    await first.coordinator.close();
    // Simulate a crash between the checkpoint (commit point) and the audit append:
    // the committed round's line is missing from the log.
    const taskDir = join(dataDir, 'test-task');
    const auditPath = join(taskDir, AUDIT_FILE);
    const before = await readAuditLog(auditPath);
    const committed = before.records.find((r) => r.status === 'committed')!;
    const kept = before.records.filter((r) => r !== committed);
    await writeFile(auditPath, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));

    const second = await startTest({ n: 4, dataDir, ids: first.ids });
    expect(second.lines).toContainEqual(expect.stringMatching(/round 1 was committed but its audit line is missing/));
    const after = await readAuditLog(auditPath);
    expect(after.records.filter((r) => r.status === 'committed')).toEqual([committed]);
    expect(second.coordinator.status().history.filter((h) => h.status === 'committed').map((h) => h.round)).toEqual([1]);
  });

  it('refuses to resume with another strategy', async () => {
    const dataDir = await tempDir();
    const dir = join(dataDir, 'test-task');
    await saveCheckpoint(dir, { ...sample(1), taskId: 'test-task' });
    await expect(startTest({ n: 4, dataDir })).rejects.toThrow(/"fedavgm", the config says "fedavg"/);
  });
});
