/** One list of things a test started, closed by cleanup() (call it in afterEach), newest first. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const closers: (() => Promise<unknown>)[] = [];

/** Registers `close` to run at the next cleanup() (in reverse order of registration). */
export function onCleanup(close: () => Promise<unknown>): void {
  closers.push(close);
}

export async function cleanup(): Promise<void> {
  for (let c = closers.pop(); c !== undefined; c = closers.pop()) await c();
}

/** A fresh folder under the OS temp dir, removed at the next cleanup(). */
export async function tempDir(prefix = 'tally-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
