/**
 * ws frames are masked (client side) and unmasked (coordinator side) by bufferutil's
 * native code where its prebuilt binary loads (an optional dependency of the client,
 * the coordinator, the bench and these tests). Where it does not load, ws keeps its
 * JavaScript loop: same bytes, more CPU.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arch, platform } from 'node:os';
import { describe, expect, it } from 'vitest';

const PREBUILT = ['linux-x64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-ia32'];

describe('native WebSocket masking', () => {
  for (const pkg of ['@tally/client', '@tally/coordinator']) {
    it.skipIf(!PREBUILT.includes(`${platform()}-${arch()}`))(`the ws that ${pkg} uses finds bufferutil and its binary loads`, () => {
      // Resolve from the package's own folder, as its code does (pnpm links each package's dependencies there).
      const dir = realpathSync(join(fileURLToPath(new URL('.', import.meta.url)), 'node_modules', pkg));
      const fromPkg = createRequire(join(dir, 'package.json'));
      const fromWs = createRequire(fromPkg.resolve('ws'));
      const bu = fromWs('bufferutil') as { mask: unknown; unmask: unknown };
      expect(typeof bu.mask).toBe('function');
      expect(typeof bu.unmask).toBe('function');
      // The same transform as RFC 6455 §5.3: XOR with the 4-byte key, repeated.
      const data = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const key = Buffer.from([0xa0, 0x0b, 0xc0, 0x0d]);
      (bu.unmask as (b: Buffer, k: Buffer) => void)(data, key);
      expect([...data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((b, i) => b ^ key[i % 4]!));
    });
  }
});
