/**
 * Process hygiene of `tally coordinator`: SIGTERM exits 143 after the clean shutdown;
 * Ctrl-C under the README's command (`pnpm tally coordinator`, where the terminal's
 * SIGINT reaches pnpm, tsx and the coordinator, and the wrappers forward their copies)
 * still completes the shutdown and prints the summary; a port in use exits 1.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapturedIo, spawnTally } from './_run.ts';
import { main } from './main.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;

/** A coordinator config on a free port with three enrolled shops (`port` overrides). */
async function coordinatorConfig(name: string, port = 0): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    JSON.stringify({
      listen: { host: '127.0.0.1', port },
      dataDir: `data-${name}`,
      enrolment: 'enrolment.json',
      task: {
        id: 'hygiene',
        modelLength: 2,
        rounds: 1,
        cohortSize: 3,
        minClients: 3,
        dropoutTolerance: 0,
        corruptFraction: 0,
        quant: { clipNorm: 10, weightBound: 1000, fractionalBits: 12, metricBound: 100 },
      },
    }),
  );
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-process-'));
  for (const s of ['a', 'b', 'c']) {
    const io = new CapturedIo();
    expect(await main(['keygen', '--out', join(dir, `${s}.key.json`), '--enrol', join(dir, 'enrolment.json')], io), io.stderr).toBe(0);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tally coordinator as a process', () => {
  it('SIGTERM: clean shutdown, summary, exit 143', async () => {
    const run = spawnTally(['coordinator', '--config', await coordinatorConfig('term.json')]);
    await run.waitForStderr(/clients connect to ws:/);
    run.child.kill('SIGTERM');
    const r = await run.result;
    expect(r.stderr).toMatch(/interrupted: aborting the round in progress/);
    expect(r.stderr).toMatch(/task hygiene: stopped at round 0; this run committed 0, aborted 0/);
    expect(r.code, r.stderr).toBe(143);
  });

  it('Ctrl-C under `pnpm tally coordinator` (SIGINT to the whole process group) completes the shutdown', async () => {
    const config = await coordinatorConfig('pnpm.json');
    // A process group of its own, like a terminal's foreground job.
    const child = spawn('npx', ['-y', 'pnpm@12.4.2', 'tally', 'coordinator', '--config', config], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    let onOut = (): void => {};
    const collect = (d: string): void => {
      out += d;
      onOut();
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      onOut = () => /clients connect to ws:/.test(out) && resolve();
      void closed.then(() => reject(new Error(`exited before listening:\n${out}`)));
      onOut();
    });
    process.kill(-child.pid!, 'SIGINT');
    await closed;
    expect(out).toMatch(/interrupted: aborting the round in progress/);
    expect(out).toMatch(/task hygiene: stopped at round 0; this run committed 0, aborted 0/);
  });

  it('a port in use: exit 1 (a run-time failure, as documented), saying so', async () => {
    const holder = new CapturedIo();
    const first = main(['coordinator', '--config', await coordinatorConfig('holder.json')], holder);
    const port = Number((await holder.waitForErr(/clients connect to ws:\/\/127\.0\.0\.1:(\d+)/))[1]);
    const io = new CapturedIo();
    expect(await main(['coordinator', '--config', await coordinatorConfig('second.json', port)], io)).toBe(1);
    expect(io.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    holder.interrupt();
    expect(await first).toBe(130);
  });
});
