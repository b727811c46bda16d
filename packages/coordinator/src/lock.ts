/**
 * One coordinator per task folder (`<dataDir>/<task.id>/`): two processes appending to
 * one audit log and racing on one checkpoint would corrupt both. The lock is a file
 * created with O_EXCL holding the owner's pid and host; a lock whose process is gone
 * (a coordinator that was killed) is taken over, and the take-over is reported.
 *
 * Limits: a lock written by another host cannot be checked and is always refused
 * (the message says how to remove it); pid reuse after a crash could keep a stale lock
 * alive until that process ends.
 */
import { open, readFile, unlink, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'coordinator.lock';

export interface DirLock {
  readonly path: string;
  /** Set when a stale lock (its process gone) was taken over: what it said. */
  readonly tookOver: string | null;
  /** Removes the lock file. Idempotent. */
  release(): Promise<void>;
}

/** A second coordinator on the same folder: refused at start-up. `code` is `ELOCKED`. */
export class DirLockedError extends Error {
  override readonly name = 'DirLockedError';
  readonly code = 'ELOCKED';
}

interface LockBody {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireDirLock(dir: string): Promise<DirLock> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  let tookOver: string | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      const body: LockBody = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await fh.writeFile(`${JSON.stringify(body)}\n`);
      await fh.close();
      let released = false;
      return {
        path,
        tookOver,
        async release() {
          if (released) return;
          released = true;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    let held: Partial<LockBody> = {};
    try {
      held = JSON.parse(text) as Partial<LockBody>;
    } catch {
      // An unreadable lock (torn write at a crash) is stale: nobody holds it in a usable state.
    }
    const pid = typeof held.pid === 'number' && Number.isSafeInteger(held.pid) ? held.pid : null;
    const sameHost = held.host === undefined || held.host === hostname();
    if (pid !== null && (!sameHost || alive(pid))) {
      const who = `pid ${pid}${sameHost ? '' : ` on ${held.host}`}${held.since ? `, since ${held.since}` : ''}`;
      throw new DirLockedError(
        `${dir} is in use by another coordinator (${who}); one task folder takes one coordinator: stop the other one, or use another dataDir. If it is gone, delete ${path}`,
      );
    }
    tookOver = text.trim() || '(empty)';
    await unlink(path).catch(() => undefined);
  }
  throw new DirLockedError(`${dir}: could not take the lock ${path} (another coordinator is starting at the same time?)`);
}
