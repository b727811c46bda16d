import { describe, expect, it } from 'vitest';
import { currentBackend, initBackend } from './backend.ts';
import { collectingLogger } from './_test-util.ts';
import { tf } from './tf.ts';

// 'auto' on this machine: tfjs-node's native addon is missing (its install cannot
// download libtensorflow), so wasm runs. Where tfjs-node does load, it is chosen.
describe('initBackend auto', () => {
  it('picks the first backend that loads and logs why the others did not', async () => {
    const logger = collectingLogger();
    const choice = await initBackend({ prefer: 'auto', logger });
    expect(['tensorflow', 'wasm', 'cpu']).toContain(choice.backend);
    expect(tf.getBackend()).toBe(choice.backend);
    expect(currentBackend()).toBe(choice.backend);
    const using = logger.lines.find((l) => l.startsWith('info ml: using backend '));
    expect(using).toBe(`info ml: using backend ${choice.backend}: ${choice.reason}`);
    if (choice.backend !== 'tensorflow') {
      expect(logger.lines.some((l) => l.startsWith('warn ml: backend tfjs-node unavailable: '))).toBe(true);
      expect(choice.reason).toContain('tfjs-node unavailable');
    }
    if (choice.backend === 'wasm') expect(choice.reason).toMatch(/^wasm: binaries from .*tfjs-backend-wasm.*dist/);
    // The wasm glue's rethrowing process listeners were taken off again.
    const emitter: NodeJS.EventEmitter = process;
    for (const l of [...emitter.listeners('uncaughtException'), ...emitter.listeners('unhandledRejection')]) {
      expect(String(l)).not.toContain('ExitStatus');
    }
    // Computation works on the chosen backend.
    const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3.5])).dataSync()[0]);
    expect(sum).toBe(6.5);
  });

  it('keeps the first choice for the rest of the process', async () => {
    const first = await initBackend({ logger: collectingLogger() });
    const logger = collectingLogger();
    const again = await initBackend({ prefer: 'cpu', logger });
    expect(again).toEqual(first);
    expect(logger.lines).toEqual([`info ml: backend already initialised: ${first.backend} (${first.reason})`]);
  });

  it('rejects an unknown preference', () => {
    expect(() => initBackend({ prefer: 'gpu' as never })).toThrow(TypeError);
  });
});
