import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.ts';
import { collectingLogger } from './_test-util.ts';
import { tf } from './tf.ts';

// Its own file: a failed wasm start cannot be retried in the same process, and the
// backend is chosen once per process (vitest runs each test file in a fresh one).
describe('initBackend fallback', () => {
  let dir = '';
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('falls back to cpu when the wasm binaries are broken, and says why', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tally-ml-wasm-'));
    // Files that exist but are not WebAssembly: the module itself fails to start.
    for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
      await writeFile(path.join(dir, f), 'not wasm');
    }
    const logger = collectingLogger();
    const choice = await initBackend({ prefer: 'wasm', wasmDir: dir, logger });
    expect(choice.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(logger.lines).toContain(`warn ml: backend wasm unavailable: the wasm module did not initialise from ${dir} (tfjs logged why above)`);
    expect(logger.lines.at(-1)).toBe(`info ml: using backend cpu: ${choice.reason}`);
    expect(choice.reason).toBe(
      `cpu: pure-JS kernels, always available; wasm unavailable: the wasm module did not initialise from ${dir} (tfjs logged why above)`,
    );
    // tfjs-node is not tried when wasm is preferred.
    expect(logger.lines.some((l) => l.includes('tfjs-node'))).toBe(false);
    expect(tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0])).toBe(5);
  });
});
