/** A shop's own head (local-head.ts): split and join, saved and restored, never taken from another task; a damaged file says what to do. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HEAD_FILE, bodyOf, headOf, initialHead, joinBodyHead, loadHead, saveHead } from './local-head.ts';
import { initialWeights } from './model.ts';
import { demandInputs, parseDemandSpec, specJson } from './spec.ts';

const spec = parseDemandSpec({ kind: 'demand', products: ['bread', 'milk'], hidden: [6, 4], holidays: [], federated: 'body' });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-head-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('the head is the output layer of the seeded model; body ‖ head is the whole model', () => {
  const full = initialWeights(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed });
  expect(headOf(spec, full).length).toBe(5);
  expect(Array.from(initialHead(spec))).toEqual(Array.from(full.subarray(full.length - 5)));
  expect(Array.from(joinBodyHead(spec, bodyOf(spec, full), headOf(spec, full)))).toEqual(Array.from(full));
  expect(() => joinBodyHead(spec, full, headOf(spec, full))).toThrow(/expected a body of \d+ and a head of 5 weights/);
});

it('saves and restores a head for its task and declaration only', async () => {
  const d = join(dir, 'state');
  const head = Float32Array.from([0.5, -0.25, 1.5, 2, -3]);
  expect(await loadHead(d, 't', spec)).toEqual({ head: initialHead(spec), restored: false });
  await saveHead(d, 't', spec, head);
  expect(await loadHead(d, 't', spec)).toEqual({ head, restored: true });
  // Another task, or another declaration (another seed): start from that task's initial head.
  expect((await loadHead(d, 'other', spec)).restored).toBe(false);
  const reseeded = parseDemandSpec({ ...JSON.parse(JSON.stringify(spec)), seed: 8 });
  expect(await loadHead(d, 't', reseeded)).toEqual({ head: initialHead(reseeded), restored: false });
  expect(await loadHead(null, 't', spec)).toEqual({ head: initialHead(spec), restored: false });
});

it('a damaged head file is an error naming the file and what to do', async () => {
  const d = join(dir, 'damaged');
  await saveHead(d, 't', spec, initialHead(spec));
  await writeFile(join(d, HEAD_FILE), '{"format":"tally-demand-he');
  await expect(loadHead(d, 't', spec)).rejects.toThrow(/demand-head\.json: not valid JSON .*: delete .*demand-head\.json \(this shop's output layer then starts again from the task's initial weights\)$/);
  await writeFile(join(d, HEAD_FILE), JSON.stringify({ format: 'tally-demand-head/1', taskId: 't', spec: specJson(spec), head: [1, 2] }));
  await expect(loadHead(d, 't', spec)).rejects.toThrow(/demand-head\.json: head: expected 5 finite numbers: delete /);
});
