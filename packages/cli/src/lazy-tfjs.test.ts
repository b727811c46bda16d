/**
 * TensorFlow.js is heavy (seconds to load, a native or wasm backend): only the
 * commands that train or run the demand model may load it. Checked in a fresh
 * process, where tfjs-core's engine global (`_tfengine`) appears once it is imported.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-lazy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `tally ARGS` in-process in a fresh Node and reports whether TF.js got loaded. */
async function loadsTf(args: readonly string[]): Promise<boolean> {
  const script = `
    import { main } from '@tally/cli';
    const io = { out() {}, err() {}, onInterrupt: () => () => {} };
    await main(${JSON.stringify(args)}, io);
    process.stdout.write(String('_tfengine' in globalThis));
  `;
  const { stdout } = await promisify(execFile)(TSX, ['--input-type=module', '-e', script], { cwd: join(ROOT, 'packages', 'cli') });
  return stdout.trim() === 'true';
}

it('keygen, help and a linear-csv client do not load TF.js; a forecast does', async () => {
  expect(await loadsTf(['keygen', '--out', join(dir, 'k.json')])).toBe(false);
  expect(await loadsTf(['client', '--help'])).toBe(false);
  // A linear-csv client gets as far as reading its data (missing here) without TF.js.
  const config = { coordinator: 'ws://127.0.0.1:9', keyFile: 'k.json', policy: { tasks: ['t'], minCohort: 3, minThreshold: 2, maxRounds: 1 }, trainer: { kind: 'linear-csv', data: 'none.csv', target: 'y' } };
  await writeFile(join(dir, 'shop.json'), JSON.stringify(config));
  expect(await loadsTf(['client', '--config', join(dir, 'shop.json')])).toBe(false);
  // The check itself can fail: `tally forecast` loads TF.js (then fails on the missing folder).
  expect(await loadsTf(['forecast', '--model', join(dir, 'none'), '--sales', join(dir, 'k.json')])).toBe(true);
}, 120_000);
