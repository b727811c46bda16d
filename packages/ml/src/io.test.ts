import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.ts';
import { loadModel, saveModel } from './io.ts';
import { collectingLogger, tinyModel } from './_test-util.ts';
import { tf } from './tf.ts';
import { flattenWeights } from './weights.ts';

let root = '';
beforeAll(async () => {
  await initBackend({ prefer: 'wasm', logger: collectingLogger() });
  root = await mkdtemp(path.join(tmpdir(), 'tally-ml-io-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('saveModel / loadModel', () => {
  it('round-trips topology and weights through model.json + weights.bin', async () => {
    const model = tinyModel(4, 6, 7);
    const dir = path.join(root, 'a', 'nested');
    await saveModel(model, dir);
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
      format: string;
      weightsManifest: { paths: string[]; weights: { name: string }[] }[];
    };
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0]?.paths).toEqual(['./weights.bin']);
    expect(json.weightsManifest[0]?.weights).toHaveLength(4);
    expect((await readFile(path.join(dir, 'weights.bin'))).byteLength).toBe((4 * 6 + 6 + 6 + 1) * 4);

    const loaded = await loadModel(dir);
    const a = flattenWeights(model);
    const b = flattenWeights(loaded);
    expect(new Uint32Array(b.buffer)).toEqual(new Uint32Array(a.buffer));
    const x = tf.tensor2d([[0.1, -0.2, 0.3, 0.4]]);
    const pa = (model.predict(x) as tf.Tensor).dataSync();
    const pb = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(pb)).toEqual(Array.from(pa));
    // A second load in the same process gets its own variables.
    const again = await loadModel(dir);
    expect(flattenWeights(again)).toEqual(a);
    for (const t of [x]) t.dispose();
    model.dispose();
    loaded.dispose();
    again.dispose();
  });

  it('overwrites atomically and leaves no temp files', async () => {
    const dir = path.join(root, 'b');
    const m1 = tinyModel(2, 3, 1);
    const m2 = tinyModel(2, 3, 99);
    await saveModel(m1, dir);
    await saveModel(m2, dir);
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await loadModel(dir);
    expect(flattenWeights(loaded)).toEqual(flattenWeights(m2));
    for (const m of [m1, m2, loaded]) m.dispose();
  });

  it('refuses weights whose length does not match the manifest', async () => {
    const dir = path.join(root, 'c');
    const model = tinyModel(2, 3);
    await saveModel(model, dir);
    await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(8));
    await expect(loadModel(dir)).rejects.toThrow(/the manifest expects 52 weight bytes, got 8/);
    model.dispose();
  });

  it('says which file is missing', async () => {
    await expect(loadModel(path.join(root, 'nope'))).rejects.toThrow(/cannot read .*nope\/model\.json/);
  });
});
