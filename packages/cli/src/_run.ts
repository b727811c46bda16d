/** @internal Test helpers: run the real `tally` binary, or main() in-process with a captured Io. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Io } from './io.ts';

const BIN = fileURLToPath(new URL('./bin.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Spawned {
  readonly child: ChildProcess;
  readonly result: Promise<RunResult>;
  /** Resolves once stderr matches `re`. */
  waitForStderr(re: RegExp): Promise<void>;
}

/** Spawns `node --import tsx packages/cli/src/bin.ts ...args`; killed after `timeoutMs`. */
export function spawnTally(args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let stdout = '';
  let stderr = '';
  let waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    waiters = waiters.filter((w) => (w.re.test(stderr) ? (w.resolve(), false) : true));
  });
  const result = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    result,
    waitForStderr: (re) => (re.test(stderr) ? Promise.resolve() : new Promise((resolve) => waiters.push({ re, resolve }))),
  };
}

export function runTally(args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return spawnTally(args, opts).result;
}

/** An Io that records what a command prints; interrupts are triggered by `interrupt()`. */
export class CapturedIo implements Io {
  stdout = '';
  stderr = '';
  #handlers = new Set<() => void>();
  #lineWaiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];

  out(text: string): void {
    this.stdout += text.endsWith('\n') ? text : `${text}\n`;
  }

  err(text: string): void {
    this.stderr += text.endsWith('\n') ? text : `${text}\n`;
    this.#lineWaiters = this.#lineWaiters.filter((w) => {
      const m = this.stderr.match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  }

  onInterrupt(handler: () => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  interrupt(): void {
    for (const h of [...this.#handlers]) h();
  }

  /** Resolves with the first match of `re` in stderr, now or later. */
  waitForErr(re: RegExp): Promise<RegExpMatchArray> {
    const m = this.stderr.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => this.#lineWaiters.push({ re, resolve }));
  }
}
