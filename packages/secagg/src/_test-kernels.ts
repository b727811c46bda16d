/**
 * Test helper: runs a suite on both mask kernels, the native one (@tally/native, built
 * by the install) and with it turned off (WebAssembly SIMD / JS), so both paths meet the
 * same expectations. Without a C toolchain the install cannot build the native kernel:
 * its half is skipped then (with a warning), except under CI=true, where it must exist.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { _useNative, nativeStatus } from './native.ts';

export type Kernel = 'native' | 'wasm';

/** True (after a warning) where the native kernel is absent and CI does not require it. */
export function nativeTestsSkipped(what: string): boolean {
  const skipped = nativeStatus().kernel === null && process.env['CI'] !== 'true';
  if (skipped) console.warn(`${what} skipped: ${nativeStatus().reason}`);
  return skipped;
}

export function onEachKernel(suite: (kernel: Kernel) => void): void {
  const nativeMissing = nativeTestsSkipped('native-kernel tests');
  for (const kernel of ['native', 'wasm'] as const) {
    describe.skipIf(kernel === 'native' && nativeMissing)(`${kernel} kernel`, () => {
      beforeAll(() => {
        const on = _useNative(kernel === 'native');
        if (kernel === 'native' && !on) throw new Error(`the native kernel did not load: ${nativeStatus().reason}`);
      });
      afterAll(() => {
        _useNative(true);
      });
      suite(kernel);
    });
  }
}
