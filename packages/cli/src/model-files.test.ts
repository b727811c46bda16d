import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WEIGHTS_FORMAT, writeModelFolder, writeWeightsFolder } from './model-files.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-model-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('the tally-weights format: little-endian float32 in weights.bin, described by model.json with its sha256', async () => {
  const weights = new Float32Array([1.5, -2, 3.25, Math.fround(0.1)]);
  await writeWeightsFolder(join(dir, 'a'), weights, { taskId: 't', round: 3, final: false }, { features: ['price'], target: 'demand' });
  const bin = await readFile(join(dir, 'a', 'weights.bin'));
  expect(bin.length).toBe(16);
  expect([0, 1, 2, 3].map((i) => bin.readFloatLE(4 * i))).toEqual(Array.from(weights));
  expect(JSON.parse(await readFile(join(dir, 'a', 'model.json'), 'utf8'))).toEqual({
    format: WEIGHTS_FORMAT,
    taskId: 't',
    round: 3,
    final: false,
    modelLength: 4,
    weights: 'weights.bin',
    dtype: 'float32-le',
    sha256: createHash('sha256').update(bin).digest('hex'),
    features: ['price'],
    target: 'demand',
  });
});

it('a task without a declaration gets the tally-weights format; a demand declaration the TF.js one', async () => {
  expect(await writeModelFolder(join(dir, 'b'), undefined, new Float32Array([1]), { taskId: 't', round: 1, final: true })).toMatch(/tally-weights/);
  const spec = JSON.stringify({ kind: 'demand', products: ['bread'], hidden: [] });
  // 17 base features + 1 product, one linear output: 18 kernel weights and a bias.
  const weights = Float32Array.from({ length: 19 }, (_, i) => i / 10);
  expect(await writeModelFolder(join(dir, 'c'), spec, weights, { taskId: 't', round: 1, final: true })).toMatch(/TF\.js/);
  const json = JSON.parse(await readFile(join(dir, 'c', 'model.json'), 'utf8')) as { format: string; weightsManifest: unknown[] };
  expect(json.format).toBe('layers-model');
  const bin = await readFile(join(dir, 'c', 'weights.bin'));
  expect(Array.from({ length: 19 }, (_, i) => bin.readFloatLE(4 * i))).toEqual(Array.from(weights));
});

it('a task that federates only the body: the coordinator writes the body alone, in the tally-weights format, and says so', async () => {
  const spec = JSON.stringify({ kind: 'demand', products: ['bread'], hidden: [2], federated: 'body' });
  // Body: 18 inputs → 2 hidden units, (18 + 1) · 2 weights; the shops' output layers (2 + 1) are not here.
  const body = Float32Array.from({ length: 38 }, (_, i) => i / 8);
  expect(await writeModelFolder(join(dir, 'd'), spec, body, { taskId: 't', round: 2, final: true })).toMatch(/the shared body only .*each shop keeps its own output layer/);
  const json = JSON.parse(await readFile(join(dir, 'd', 'model.json'), 'utf8')) as Record<string, unknown>;
  expect(json).toMatchObject({ format: WEIGHTS_FORMAT, modelLength: 38, part: 'body', model: { kind: 'demand', federated: 'body', hidden: [2] } });
  const bin = await readFile(join(dir, 'd', 'weights.bin'));
  expect(bin.length).toBe(38 * 4);
});
