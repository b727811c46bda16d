import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskInput } from './client.ts';
import { KdfLabel, deriveKey } from './hkdf.ts';
import { generateX25519, x25519Shared } from './keys.ts';
import { MASK_HELPER_MIN_LANES, MASK_HELPER_MIN_MASKS, MASK_HELPER_NATIVE_MIN_WORK, MASK_HELPER_THREADS, addMasksSplit, maskHelperReady, maskHelpersPay, type MaskKey } from './mask-helper.ts';
import { _useNative, nativeMaskSpeedup, nativeStatus } from './native.ts';
import { MaskAccumulator } from './prg.ts';
import { pairInfo, pairSign } from './transcript.ts';

const LANES = MASK_HELPER_MIN_LANES + 1234; // not a multiple of the keystream chunk

const masksOf = (count: number): MaskKey[] =>
  Array.from({ length: count }, (_, i) => ({ key: new Uint8Array(randomBytes(32)), sign: i % 3 === 0 ? -1 : 1 }));

/** The single-thread reference: the scalar JS loop, one mask after another. */
function reference(initial: Uint32Array, masks: readonly MaskKey[]): Uint32Array {
  const acc = new MaskAccumulator(initial, { backend: 'js' });
  for (const m of masks) acc.add(m.key, m.sign);
  return acc.result();
}

describe.skipIf(availableParallelism() < 2)('mask helper thread', () => {
  // The helpers take these jobs on the WebAssembly path; with the native kernel only far
  // larger ones (see the last test).
  beforeAll(() => {
    _useNative(false);
  });
  afterAll(() => {
    _useNative(true);
  });

  it('loads, takes a large job (all of it with two helpers, half with one) and gives the same sum bit for bit', async () => {
    expect(await maskHelperReady()).toBe(true);
    const initial = new Uint32Array(randomBytes(LANES * 4).buffer);
    const masks = masksOf(MASK_HELPER_MIN_MASKS + 3);
    const expected = reference(initial, masks);
    const bytes = (v: Uint32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    for (let run = 0; run < 2; run++) {
      // Twice: the second job reuses the shared buffer the first one left zeroed.
      const acc = new MaskAccumulator(initial);
      // Two or more helpers take every mask, off this thread's heap; a single one takes half.
      expect(addMasksSplit(acc, masks)).toBe(Math.min(MASK_HELPER_THREADS, availableParallelism()) >= 2 ? masks.length : Math.floor(masks.length / 2));
      expect(bytes(acc.result()).equals(bytes(expected))).toBe(true);
    }
  });

  it('keeps small jobs on the calling thread', async () => {
    expect(await maskHelperReady()).toBe(true);
    const initial = new Uint32Array(LANES);
    const few = masksOf(MASK_HELPER_MIN_MASKS - 1);
    const acc = new MaskAccumulator(initial);
    expect(addMasksSplit(acc, few)).toBe(0);
    expect([...acc.result().subarray(0, 8)]).toEqual([...reference(initial, few).subarray(0, 8)]);
    const short = new MaskAccumulator(new Uint32Array(MASK_HELPER_MIN_LANES - 1));
    expect(addMasksSplit(short, masksOf(MASK_HELPER_MIN_MASKS))).toBe(0);
    short.dispose();
  });

  it('maskInput with the helper equals the masks added one by one on one thread', async () => {
    expect(await maskHelperReady()).toBe(true);
    const ctx = { session: new Uint8Array(randomBytes(16)), round: 3 };
    const self = 7;
    const mine = generateX25519();
    const selfSeed = new Uint8Array(randomBytes(32));
    const peers = Array.from({ length: MASK_HELPER_MIN_MASKS + 5 }, (_, i) => ({ id: i < 6 ? i + 1 : i + 2, sPk: generateX25519().publicKey }));
    const input = new Uint32Array(randomBytes(LANES * 4).buffer);
    const masks: MaskKey[] = [
      { key: deriveKey(selfSeed, KdfLabel.SelfMask, ctx), sign: 1 },
      ...peers.map((p) => ({ key: deriveKey(x25519Shared(mine.secretKey, p.sPk), KdfLabel.PairwiseMask, ctx, pairInfo(self, p.id)), sign: pairSign(self, p.id) })),
    ];
    const y = maskInput(input, ctx, self, selfSeed, mine.secretKey, peers);
    const expected = reference(input, masks);
    expect(Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);
    // In place (into = input): the same array comes back, holding the same y.
    const own = input.slice();
    expect(maskInput(own, ctx, self, selfSeed, mine.secretKey, peers, own)).toBe(own);
    expect(Buffer.from(own.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(() => maskInput(input, ctx, self, selfSeed, mine.secretKey, peers, new Uint32Array(3))).toThrow(/maskInput into: expected a Uint32Array of \d+ lanes, got 3/);
    // From a lane source (a checked update written into the masking memory): the same y.
    for (const native of [false, true]) {
      _useNative(native);
      const out = new Uint32Array(LANES);
      const source = { length: LANES, writeInto: (lanes: Uint32Array) => lanes.set(input) };
      expect(maskInput(source, ctx, self, selfSeed, mine.secretKey, peers, out)).toBe(out);
      expect(Buffer.from(out.buffer).equals(Buffer.from(expected.buffer)), `native ${native}`).toBe(true);
    }
    _useNative(false);
  });

  it('its module does nothing in a thread it was not started as (no stray message to that thread\'s parent)', async () => {
    // A client hosted in a worker thread imports the helper's module graph; the body must stay inert there.
    const w = new Worker(new URL('./mask-helper-entry.mjs', import.meta.url), { workerData: 'some other worker' });
    const messages: unknown[] = [];
    w.on('message', (m) => messages.push(m));
    const code = await new Promise<number>((resolve) => w.once('exit', resolve));
    expect(code).toBe(0);
    expect(messages).toEqual([]);
  });

  it('with the native kernel, helpers take only jobs of 2^28 lanes × masks (times its speed-up over OpenSSL) or more, and the sum is the same either way', async () => {
    expect(await maskHelperReady()).toBe(true);
    const on = _useNative(true);
    try {
      if (!on) return expect(nativeStatus().reason).not.toBeNull(); // no native kernel here: the WebAssembly policy holds (tests above)
      expect(maskHelpersPay(MASK_HELPER_MIN_MASKS + 3, LANES)).toBe(false);
      expect(maskHelpersPay(50, 1_000_000)).toBe(false);
      const minWork = MASK_HELPER_NATIVE_MIN_WORK * nativeMaskSpeedup();
      expect(maskHelpersPay(Math.ceil(minWork / 1_000_000), 1_000_000)).toBe(true);
      expect(maskHelpersPay(Math.floor(minWork / 1_000_000) - 1, 1_000_000)).toBe(false);
      expect(maskHelpersPay(MASK_HELPER_MIN_MASKS - 1, minWork)).toBe(false);
      const initial = new Uint32Array(randomBytes(LANES * 4).buffer);
      const masks = masksOf(MASK_HELPER_MIN_MASKS + 3);
      const acc = new MaskAccumulator(initial);
      expect(acc.backend).toBe('native');
      expect(addMasksSplit(acc, masks)).toBe(0); // all on this thread
      expect(Buffer.from(acc.result().buffer, 0, LANES * 4).equals(Buffer.from(reference(initial, masks).buffer))).toBe(true);
    } finally {
      _useNative(false);
    }
  });
});
