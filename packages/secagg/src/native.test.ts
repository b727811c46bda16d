import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeTestsSkipped } from './_test-kernels.ts';
import { nativeMaskSpeedup, nativeStatus, selfCheck, type AesImplementation, type NativeKernel } from './native.ts';

// The raw addon, as @tally/native exports it (not through secagg's loader).
const raw = (createRequire(import.meta.url)('@tally/native') as { kernel: NativeKernel | null; reason: string | null });

function kernel(): NativeKernel {
  const k = nativeStatus().kernel;
  if (k === null) throw new Error(`the native kernel did not load here: ${nativeStatus().reason}`);
  return k;
}

/** Independent reference: node:crypto's AES-256-CTR with a zero counter block. */
const nodeKeystream = (key: Uint8Array, bytes: number): Uint8Array => new Uint8Array(createCipheriv('aes-256-ctr', key, new Uint8Array(16)).update(new Uint8Array(bytes)));

// Without a C toolchain the install cannot build the kernel (it says so and Tally uses
// WebAssembly): these tests are skipped then, with a warning, except under CI=true.
const missing = nativeTestsSkipped('native kernel tests');

/** Runs `code` (CommonJS) in a fresh worker thread; resolves with the first message it posts. */
function inWorker<T>(code: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', (m: T) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe.skipIf(missing)('@tally/native (the native mask kernel)', () => {
  it('is built by the install and passes its self-check here', () => {
    expect(raw.reason).toBeNull();
    expect(nativeStatus().reason).toBeNull();
    expect(nativeStatus().kernel).toBe(raw.kernel);
  });

  it('offers the AES implementations this CPU runs, fastest first, and starts on the fastest', () => {
    const k = kernel();
    const impls = k.aesImplementations();
    expect(impls.at(-1)).toBe('openssl');
    expect(['vaes512', 'vaes256', 'openssl'].filter((x) => impls.includes(x as never))).toEqual(impls);
    expect(k.aes()).toBe(impls[0]);
  });

  // Every AES implementation this CPU runs, each against node:crypto (not against each other).
  for (const aes of raw.kernel?.aesImplementations() ?? []) {
    describe(`with AES ${aes}`, () => {
      let before: AesImplementation;
      beforeAll(() => {
        before = kernel().aes();
        kernel().useAes(aes);
      });
      afterAll(() => kernel().useAes(before));

    it('keystream equals node:crypto AES-256-CTR, across its 16 KiB chunks and mid-block ends', () => {
      const k = kernel();
      for (const bytes of [0, 1, 15, 16, 17, 16383, 16384, 16385, 3 * 16384 + 5]) {
        const key = new Uint8Array(randomBytes(32));
        const out = new Uint8Array(bytes);
        k.keystream(key, out);
        expect(Buffer.from(out).equals(Buffer.from(nodeKeystream(key, bytes))), `${bytes} bytes`).toBe(true);
      }
    });

    it('addMasks equals the masks added lane by lane in JS, for any lengths, keys and signs', () => {
      const k = kernel();
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 12_000 }),
          fc.array(fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(1 as const, -1 as const)), { minLength: 0, maxLength: 6 }),
          fc.integer(),
          (lanes, masks, seed) => {
            const vec = new Uint32Array(lanes).map((_, i) => (Math.imul(i + seed, 2654435761) >>> 0));
            const want = vec.slice();
            for (const [key, sign] of masks) {
              const ks = new Uint32Array(nodeKeystream(key, lanes * 4).buffer, 0, lanes);
              for (let i = 0; i < lanes; i++) want[i] = (want[i]! + sign * ks[i]!) >>> 0;
            }
            const keys = new Uint8Array(32 * masks.length);
            masks.forEach(([key], i) => keys.set(key, 32 * i));
            k.addMasks(vec, keys, Int8Array.from(masks, ([, s]) => s));
            expect(Buffer.from(vec.buffer).equals(Buffer.from(want.buffer))).toBe(true);
          },
        ),
        { numRuns: 60 },
      );
      // Long enough for several 16 KiB chunks per mask, chunk-major.
      const lanes = 5 * 4096 + 3;
      const key = new Uint8Array(randomBytes(32));
      const vec = new Uint32Array(lanes);
      k.addMasks(vec, key, Int8Array.of(-1));
      const ks = new Uint32Array(nodeKeystream(key, lanes * 4).buffer, 0, lanes);
      expect(vec.every((x, i) => x === ((-ks[i]!) >>> 0))).toBe(true);
    });

    it('addMasks with more masks than one key tile (32) over several 16 KiB chunks and a ragged end', () => {
        const k = kernel();
        const lanes = 3 * 4096 + 77;
        const signs = Int8Array.from({ length: 70 }, (_, j) => (j % 3 === 0 ? -1 : 1));
        const keys = new Uint8Array(randomBytes(32 * signs.length));
        const vec = new Uint32Array(lanes).map((_, i) => Math.imul(i, 40503) >>> 0);
        const want = vec.slice();
        signs.forEach((sign, j) => {
          const ks = new Uint32Array(nodeKeystream(keys.subarray(32 * j, 32 * j + 32), lanes * 4).buffer, 0, lanes);
          for (let i = 0; i < lanes; i++) want[i] = (want[i]! + sign * ks[i]!) >>> 0;
        });
        k.addMasks(vec, keys, signs);
        expect(Buffer.from(vec.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      });

      it('passes the self-check', () => {
        expect(selfCheck(kernel())).toBeNull();
      });
    });
  }

  it.skipIf(kernel().ed25519Verify === undefined)('verifies Ed25519 in a worker thread too (each thread its own key cache)', async () => {
    const path = createRequire(import.meta.url).resolve('@tally/native');
    // RFC 8032 §7.1 TEST 2, then the same with the message's bit 0 flipped, then TEST 2 again (a cache hit).
    const pub = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c';
    const sig = '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00';
    const code = `const { kernel } = require(${JSON.stringify(path)}); const h = (x) => new Uint8Array(Buffer.from(x, 'hex'));
      const v = (m) => kernel.ed25519Verify(h('${sig}'), h(m), h('${pub}'));
      require('node:worker_threads').parentPort.postMessage([v('72'), v('73'), v('72')]);`;
    expect(await inWorker<boolean[]>(code)).toEqual([true, false, true]);
  });

  it('useAes switches only the calling thread (each thread has its own instance)', async () => {
    const k = kernel();
    const before = k.aes();
    const other = k.aesImplementations().at(-1)!;
    const path = createRequire(import.meta.url).resolve('@tally/native');
    const code = `const { kernel } = require(${JSON.stringify(path)}); const first = kernel.aes(); kernel.useAes(${JSON.stringify(other)}); require('node:worker_threads').parentPort.postMessage([first, kernel.aes()]);`;
    const seen = await inWorker<string[]>(code);
    expect(seen).toEqual([k.aesImplementations()[0], other]);
    expect(k.aes()).toBe(before);
  });

  it('useAes refuses a name this CPU does not run, and keeps the one in use', () => {
    const k = kernel();
    const before = k.aes();
    expect(() => k.useAes('aes-ni' as AesImplementation)).toThrow(RangeError);
    expect(() => k.useAes('aes-ni' as AesImplementation)).toThrow(/useAes: expected one of .*openssl \(what this CPU runs\), got "aes-ni"/);
    expect(() => (k.useAes as unknown as () => void)()).toThrow(TypeError);
    expect(k.aes()).toBe(before);
  });

  it('addVector adds and subtracts mod 2^32, also on itself', () => {
    const k = kernel();
    const a = Uint32Array.of(0xffffffff, 5, 0, 7);
    k.addVector(a, Uint32Array.of(1, 0xffffffff, 3, 0), 1);
    expect(Array.from(a)).toEqual([0, 4, 3, 7]);
    k.addVector(a, Uint32Array.of(1, 5, 3, 8), -1);
    expect(Array.from(a)).toEqual([0xffffffff, 0xffffffff, 0, 0xffffffff]);
    k.addVector(a, a, 1);
    expect(Array.from(a)).toEqual([0xfffffffe, 0xfffffffe, 0, 0xfffffffe]);
  });

  it('refuses wrong arguments with a TypeError or RangeError that names them, and changes nothing', () => {
    const k = kernel();
    const vec = new Uint32Array(8).fill(9);
    const key = new Uint8Array(32);
    const bad: [() => void, typeof TypeError | typeof RangeError, RegExp][] = [
      [() => k.addMasks([] as unknown as Uint32Array, key, Int8Array.of(1)), TypeError, /addMasks vec: expected a typed array/],
      [() => k.addMasks(new Uint8Array(6) as unknown as Uint32Array, key, Int8Array.of(1)), RangeError, /addMasks vec: expected 4-byte-aligned memory of a multiple of 4 bytes, got 6 bytes/],
      [() => k.addMasks(vec, new Uint16Array(16) as unknown as Uint8Array, Int8Array.of(1)), TypeError, /addMasks keys: expected a Uint8Array/],
      [() => k.addMasks(vec, new Uint8Array(31), Int8Array.of(1)), RangeError, /addMasks keys: expected 32 bytes per sign/],
      [() => k.addMasks(vec, key, Uint8Array.of(1) as unknown as Int8Array), TypeError, /addMasks signs: expected an Int8Array/],
      [() => k.addMasks(vec, key, Int8Array.of(2)), RangeError, /addMasks signs: expected every sign to be 1 or -1/],
      [() => k.addMasks(vec, new Uint8Array(32 * 4097), new Int8Array(4097).fill(1)), RangeError, /more than 4096 masks/],
      [() => k.addVector(vec, new Uint32Array(7), 1), RangeError, /addVector x: expected as many lanes as acc/],
      [() => k.addVector(vec, vec, 0 as 1), RangeError, /addVector sign: expected 1 or -1/],
      [() => k.keystream(new Uint8Array(16), new Uint8Array(4)), RangeError, /keystream key: expected 32 bytes/],
      [() => k.keystream(key, new Uint32Array(4) as unknown as Uint8Array), TypeError, /keystream out: expected a Uint8Array/],
      [() => k.discardKeystream(key, -1), RangeError, /discardKeystream bytes/],
      [() => (k.addMasks as unknown as (v: Uint32Array) => void)(vec), TypeError, /addMasks: expected \(vec, keys, signs\)/],
      [() => k.roundStochastic(new Float64Array(8) as unknown as Float32Array, 1, 1, new Uint32Array(8), vec), TypeError, /roundStochastic delta: expected a Float32Array/],
      [() => k.roundStochastic(new Float32Array(8), Number.NaN, 1, new Uint32Array(8), vec), RangeError, /roundStochastic factor: expected a finite number/],
      [() => k.roundStochastic(new Float32Array(8), 1, 2 ** 31, new Uint32Array(8), vec), RangeError, /roundStochastic bound: expected a number in \[0, 2\^31 - 1\)/],
      [() => k.roundStochastic(new Float32Array(8), 1, -1, new Uint32Array(8), vec), RangeError, /roundStochastic bound/],
      [() => k.roundStochastic(new Float32Array(8), 1, 1, new Int32Array(8) as unknown as Uint32Array, vec), TypeError, /roundStochastic coins: expected a Uint32Array/],
      [() => k.roundStochastic(new Float32Array(8), 1, 1, new Uint32Array(8), new Float32Array(8) as unknown as Uint32Array), TypeError, /roundStochastic out: expected a Uint32Array/],
      [() => k.roundStochastic(new Float32Array(8), 1, 1, new Uint32Array(7), vec), RangeError, /roundStochastic: expected delta, coins and out of the same length/],
      [() => k.hkdfSha256([] as unknown as Uint8Array, key, key, new Uint8Array(32)), TypeError, /hkdfSha256 ikm: expected a Uint8Array/],
      [() => k.hkdfSha256(key, key, new Uint16Array(2) as unknown as Uint8Array, new Uint8Array(32)), TypeError, /hkdfSha256 info: expected a Uint8Array/],
      [() => k.hkdfSha256(key, key, key, new Uint8Array(255 * 32 + 1)), RangeError, /hkdfSha256 out: expected at most 255 \* 32 bytes/],
      [() => (k.hkdfSha256 as unknown as (a: Uint8Array) => void)(key), TypeError, /hkdfSha256: expected \(ikm, salt, info, out\)/],
      [() => k.shamirEval(new Uint8Array(32), Uint32Array.of(1), new Uint8Array(33)), RangeError, /shamirEval coeffs: expected a non-empty multiple of 33 bytes/],
      [() => k.shamirEval(new Uint8Array(0), Uint32Array.of(1), new Uint8Array(33)), RangeError, /shamirEval coeffs: expected a non-empty multiple of 33 bytes/],
      [() => k.shamirEval(new Uint8Array(33), [1] as unknown as Uint32Array, new Uint8Array(33)), TypeError, /shamirEval xs: expected a Uint32Array/],
      [() => k.shamirEval(new Uint8Array(33), Uint32Array.of(1, 2), new Uint8Array(33)), RangeError, /shamirEval out: expected 33 bytes per x/],
      [() => k.shamirEval(new Uint8Array(33).fill(1), Uint32Array.of(1), new Uint8Array(33)), RangeError, /shamirEval coeffs: expected every coefficient below p/],
      [() => k.shamirEval(new Uint8Array(33), Uint32Array.of(3, 0), new Uint8Array(66)), RangeError, /shamirEval xs: expected no 0/],
    ];
    for (const [call, type, message] of bad) {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    }
    expect(Array.from(vec)).toEqual(new Array(8).fill(9));
  });

  it('the self-check refuses a kernel whose keystream, masked sum, subtraction, rounding, HKDF or Shamir evaluation is wrong', () => {
    const k = kernel();
    expect(selfCheck(k)).toBeNull();
    const flipKeystream: NativeKernel = { ...k, keystream: (key, out) => { k.keystream(key, out); out[100]! ^= 1; } };
    expect(selfCheck(flipKeystream)).toMatch(/keystream differs from node:crypto/);
    const dropSign: NativeKernel = { ...k, addMasks: (v, keys, signs) => k.addMasks(v, keys, signs.map(() => 1)) };
    expect(selfCheck(dropSign)).toMatch(/masked sum differs from the JS one/);
    const noSub: NativeKernel = { ...k, addVector: (a, x) => k.addVector(a, x, 1) };
    expect(selfCheck(noSub)).toMatch(/vector subtraction is wrong/);
    // Rounds half-way lanes down whatever the coin: off by one on some lanes only.
    const floorOnly: NativeKernel = { ...k, roundStochastic: (d, f, b, c, out) => k.roundStochastic(d, f, b, new Uint32Array(c.length).fill(0xffffffff), out) };
    expect(selfCheck(floorOnly)).toMatch(/stochastic rounding differs from the JS one/);
    const shortHkdf: NativeKernel = { ...k, hkdfSha256: (ikm, salt, info, out) => k.hkdfSha256(ikm, salt, info, out.subarray(0, 32)) };
    expect(selfCheck(shortHkdf)).toMatch(/HKDF-SHA-256 differs from RFC 5869/);
    const lastPointWrong: NativeKernel = { ...k, shamirEval: (c, xs, out) => { k.shamirEval(c, xs, out); out[out.length - 1]! ^= 1; } };
    expect(selfCheck(lastPointWrong)).toMatch(/Shamir evaluation differs from BigInt's at x = 65537/);
  });
});

describe('@tally/native: turning it off', () => {
  it('TALLY_NATIVE=0 turns it off, and the loader says so', () => {
    const here = fileURLToPath(new URL('./native.ts', import.meta.url));
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(here)}).then((m) => console.log(JSON.stringify(m.nativeStatus())))`], {
      env: { ...process.env, TALLY_NATIVE: '0' },
      encoding: 'utf8',
    });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ kernel: null, reason: 'turned off (TALLY_NATIVE=0)' });
  });
});

describe.skipIf(missing)('@tally/native: TALLY_NATIVE_AES', () => {
  const here = fileURLToPath(new URL('./prg.ts', import.meta.url));
  const kernelWith = (aes: string): { name: string; detail: string } => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(here)}).then((m) => console.log(JSON.stringify(m.maskKernel())))`], {
      env: { ...process.env, TALLY_NATIVE_AES: aes },
      encoding: 'utf8',
    });
    return JSON.parse(out.trim().split('\n').pop()!) as { name: string; detail: string };
  };

  it('picks a slower AES for comparisons, and the mask kernel line names it', () => {
    expect(kernelWith('openssl')).toEqual({ name: 'native', detail: "@tally/native: AES-256-CTR (openssl: Node's OpenSSL), added in place" });
  });

  it('turns the native kernel off, saying why, for a name this CPU does not run', () => {
    const k = kernelWith('sparc');
    expect(k.name).not.toBe('native');
    expect(k.detail).toMatch(/no native kernel: TALLY_NATIVE_AES=sparc: expected one of .*openssl \(what this CPU runs\), got "sparc"/);
  });
});

describe.skipIf(missing)('nativeMaskSpeedup (scales the thread-pool thresholds)', () => {
  it('is 4 with 512-bit VAES, 2 with 256-bit, 1 with OpenSSL, and follows useAes', () => {
    const k = kernel();
    const before = k.aes();
    try {
      const want = { vaes512: 4, vaes256: 2, openssl: 1 } as const;
      for (const aes of k.aesImplementations()) {
        k.useAes(aes);
        expect(nativeMaskSpeedup(), aes).toBe(want[aes]);
      }
    } finally {
      k.useAes(before);
    }
  });
});
