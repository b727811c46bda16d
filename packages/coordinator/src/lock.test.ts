/** One coordinator per task folder: a second is refused, a killed one's lock is taken over. */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirLockedError, LOCK_FILE, acquireDirLock } from './lock.ts';
import { cleanup, startTest, tempDir } from './_test-setup.ts';

afterEach(cleanup);

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('dataDir lock', () => {
  it('refuses a second coordinator on the same dataDir and task, naming the holder; free again after close()', async () => {
    const first = await startTest({ n: 4 });
    const lockPath = join(first.dataDir, 'test-task', LOCK_FILE);
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    const second = startTest({ n: 4, ids: first.ids, dataDir: first.dataDir });
    await expect(second).rejects.toThrow(DirLockedError);
    await expect(second).rejects.toThrow(new RegExp(`in use by another coordinator \\(pid ${process.pid}, since .*delete ${lockPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    await first.coordinator.close();
    await expect(readFile(lockPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const third = await startTest({ n: 4, ids: first.ids, dataDir: first.dataDir });
    expect(third.coordinator.port).toBeGreaterThan(0);
  });

  it('takes over the lock of a coordinator that was killed (its pid is gone) and says so', async () => {
    const dir = await tempDir();
    const stale = JSON.stringify({ pid: await deadPid(), host: hostname(), since: '2026-01-01T00:00:00.000Z' });
    await writeFile(join(dir, LOCK_FILE), stale);
    const lock = await acquireDirLock(dir);
    expect(lock.tookOver).toBe(stale);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await lock.release();
    await lock.release(); // idempotent
  });

  it('refuses a lock held on another host (it cannot be checked from here)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere.invalid', since: 'x' }));
    await expect(acquireDirLock(dir)).rejects.toThrow(/pid 1 on elsewhere\.invalid/);
  });

  it('a coordinator that fails to start releases the lock', async () => {
    const dir = await tempDir();
    // minClients 4 with 2 enrolled: refused after the lock was taken.
    await expect(startTest({ n: 2, dataDir: dir })).rejects.toThrow(/minClients/);
    await expect(readFile(join(dir, 'test-task', LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
