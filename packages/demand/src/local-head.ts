/**
 * A shop's own output layer when a task federates only the body (spec.ts,
 * `"federated": "body"`; FedPer, Arivazhagan et al. 2019, arXiv:1912.00818 §3).
 *
 * The flat weight vector is layer by layer (flattenWeights), so the body is its first
 * demandFederatedCount(spec) entries and the head the rest: the body travels through
 * secure aggregation, the head never leaves the shop. The head starts from the task's
 * seeded initial weights (model.ts) and is kept in `<dir>/demand-head.json`, written
 * atomically after every local training, so a restarted client goes on with its own
 * head. A file of another task or declaration is not used (the head starts again from
 * the seed); a damaged one is an error naming the file and what to do.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tally/ml';
import { readTextIfExists } from '@tally/wire';
import { initialWeights } from './model.ts';
import { demandFederatedCount, demandHeadCount, demandInputs, specJson, type DemandSpec } from './spec.ts';

export const HEAD_FILE = 'demand-head.json';
export const HEAD_FORMAT = 'tally-demand-head/1';

/** The body (federated part) of a full weight vector: a copy. */
export function bodyOf(spec: DemandSpec, full: Float32Array): Float32Array {
  return full.slice(0, demandFederatedCount(spec));
}

/** The head (the shop's own output layer) of a full weight vector: a copy. */
export function headOf(spec: DemandSpec, full: Float32Array): Float32Array {
  return full.slice(demandFederatedCount(spec));
}

/** body ‖ head, checked against the declaration. */
export function joinBodyHead(spec: DemandSpec, body: Float32Array, head: Float32Array): Float32Array {
  const b = demandFederatedCount(spec);
  const h = demandHeadCount(spec);
  if (body.length !== b || head.length !== h) throw new RangeError(`joinBodyHead: expected a body of ${b} and a head of ${h} weights, got ${body.length} and ${head.length}`);
  const full = new Float32Array(b + h);
  full.set(body, 0);
  full.set(head, b);
  return full;
}

/** The head every shop starts from: the output layer of the task's seeded initial model. */
export function initialHead(spec: DemandSpec): Float32Array {
  return headOf(spec, initialWeights(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed }));
}

interface StoredHead {
  readonly format: typeof HEAD_FORMAT;
  readonly taskId: string;
  /** specJson of the declaration the head belongs to. */
  readonly spec: string;
  readonly head: number[];
}

/**
 * The shop's head for `taskId` under `spec`: the saved one when `dir` holds one of the
 * same task and declaration, else the initial head. `dir` null: nothing is read.
 */
export async function loadHead(dir: string | null, taskId: string, spec: DemandSpec): Promise<{ head: Float32Array; restored: boolean }> {
  if (dir === null) return { head: initialHead(spec), restored: false };
  const file = join(dir, HEAD_FILE);
  const text = await readTextIfExists(file);
  if (text === null) return { head: initialHead(spec), restored: false };
  const remedy = `delete ${file} (this shop's output layer then starts again from the task's initial weights)`;
  let u: StoredHead;
  try {
    u = JSON.parse(text) as StoredHead;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}): ${remedy}`);
  }
  if (typeof u !== 'object' || u === null || u.format !== HEAD_FORMAT) throw new Error(`${file}: expected format ${JSON.stringify(HEAD_FORMAT)}: ${remedy}`);
  if (u.taskId !== taskId || u.spec !== specJson(spec)) return { head: initialHead(spec), restored: false };
  const n = demandHeadCount(spec);
  if (!Array.isArray(u.head) || u.head.length !== n || !u.head.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`${file}: head: expected ${n} finite numbers: ${remedy}`);
  }
  return { head: Float32Array.from(u.head), restored: true };
}

/** Saves the head atomically (a crash leaves the previous head or this one). */
export async function saveHead(dir: string, taskId: string, spec: DemandSpec, head: Float32Array): Promise<void> {
  await mkdir(dir, { recursive: true });
  const stored: StoredHead = { format: HEAD_FORMAT, taskId, spec: specJson(spec), head: Array.from(head) };
  await writeFileAtomic(join(dir, HEAD_FILE), `${JSON.stringify(stored)}\n`);
}
