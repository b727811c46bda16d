/**
 * Checkpoints: the global model and the strategy's state after each committed
 * round, in `<dataDir>/<taskId>/`:
 *
 *   model-<round>.f32      the weights: raw little-endian float32, 4·modelLength bytes
 *   strategy-<round>.bin   the strategy state (encodeStrategyState's layout, strategies.ts)
 *   checkpoint.json        the commit record:
 *     { "format": "tally-checkpoint/1", "taskId", "round", "rounds", "finished", "modelLength",
 *       "weights":  { "file": "model-<round>.f32", "sha256": "<hex>" },
 *       "strategy": { "name", "config": {…resolved hyperparameters…}, "file": "strategy-<round>.bin", "sha256": "<hex>" },
 *       "createdAt": "<ISO 8601>" }
 *   (`rounds` is the task's planned round count when written and `finished` is
 *   round ≥ rounds: information for people and tools. On start the coordinator
 *   compares `round` with the config's task.rounds, so raising rounds extends a task.)
 *
 * Every file is written atomically: a temporary file in the same folder, fsync,
 * rename over the target, fsync of the folder. The weight and state files of round
 * r are written first; the rename of checkpoint.json is the commit point, so a
 * crash at any moment leaves either the old checkpoint or the new one, each
 * pointing at complete files. Older weight and state files are pruned after the
 * commit. Loading verifies both sha256 digests and refuses a mismatch.
 */
import type { AuditRecord } from './audit-log.ts';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readTextIfExists } from '@tally/wire';
import { isPlainObject } from './_assert.ts';
import {
  STRATEGY_NAMES,
  decodeStrategyState,
  encodeStrategyState,
  type ResolvedStrategyConfig,
  type StrategyState,
} from './strategies.ts';

export const CHECKPOINT_FORMAT = 'tally-checkpoint/1';
export const CHECKPOINT_FILE = 'checkpoint.json';

export interface Checkpoint {
  readonly taskId: string;
  /** The last committed round (1-based). */
  readonly round: number;
  /** Rounds planned for the task when this was written. */
  readonly rounds: number;
  readonly weights: Float32Array;
  readonly strategy: StrategyState;
  readonly strategyConfig: ResolvedStrategyConfig;
  readonly createdAt: string;
  /**
   * The round's audit record, committed together with the model: if the process dies
   * between this commit and the audit-log append, the next start appends it (see
   * startCoordinator), so a committed round never lacks its audit line.
   */
  readonly audit?: AuditRecord;
}

/** A checkpoint that exists but cannot be used; the message says what to do. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The little-endian bytes of `v` (a view on little-endian hosts). */
export function float32ToBytes(v: Float32Array): Uint8Array {
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(4 * i, v[i]!, true);
  return out;
}

/** Float32 weights from little-endian bytes (copied, so aligned). Refuses a wrong size or a non-finite weight. */
export function bytesToFloat32(bytes: Uint8Array, length: number, what: string): Float32Array {
  if (bytes.length !== 4 * length) {
    throw new CheckpointError(`${what}: expected ${4 * length} bytes (${length} float32 weights), got ${bytes.length}`);
  }
  const out = new Float32Array(length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < length; i++) {
    const x = dv.getFloat32(4 * i, true);
    if (!Number.isFinite(x)) throw new CheckpointError(`${what}: weight ${i} is ${x}; a model must be finite`);
    out[i] = x;
  }
  return out;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** fsync of a folder, so that a rename in it is durable. Some platforms cannot open folders; there it is skipped. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await fh.sync();
  } catch {
    // EISDIR/EINVAL on platforms without directory fsync.
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` atomically: temp file in the same folder, fsync, rename, fsync the folder. */
export async function writeFileAtomic(dir: string, name: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await syncDir(dir);
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Commits `cp` in `dir` (see the top of this file) and prunes the files of older rounds. */
export async function saveCheckpoint(dir: string, cp: Checkpoint): Promise<void> {
  await ensureDir(dir);
  const weights = float32ToBytes(cp.weights);
  const state = encodeStrategyState(cp.strategy);
  const weightsFile = `model-${cp.round}.f32`;
  const strategyFile = `strategy-${cp.round}.bin`;
  await writeFileAtomic(dir, weightsFile, weights);
  await writeFileAtomic(dir, strategyFile, state);
  const record = {
    format: CHECKPOINT_FORMAT,
    taskId: cp.taskId,
    round: cp.round,
    rounds: cp.rounds,
    finished: cp.round >= cp.rounds,
    modelLength: cp.weights.length,
    weights: { file: weightsFile, sha256: sha256Hex(weights) },
    strategy: { name: cp.strategy.strategy, config: cp.strategyConfig, file: strategyFile, sha256: sha256Hex(state) },
    createdAt: cp.createdAt,
    ...(cp.audit === undefined ? {} : { audit: cp.audit }),
  };
  await writeFileAtomic(dir, CHECKPOINT_FILE, `${JSON.stringify(record, null, 2)}\n`);
  await prune(dir, new Set([weightsFile, strategyFile]));
}

/** Removes weight/state files other than `keep`, and temp files left by a crash. */
async function prune(dir: string, keep: ReadonlySet<string>): Promise<void> {
  for (const name of await readdir(dir)) {
    const old = /^(model-\d+\.f32|strategy-\d+\.bin)$/.test(name) && !keep.has(name);
    const tmp = /^\..*\.tmp$/.test(name);
    if (old || tmp) await unlink(join(dir, name)).catch(() => undefined);
  }
}

function field<T>(ok: boolean, value: unknown, what: string, file: string): T {
  if (!ok) throw new CheckpointError(`${file}: ${what} is missing or malformed; restore the file from a backup, or move the folder away to start the task over`);
  return value as T;
}

const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The checkpoint in `dir`, or null when there is none. Refuses (CheckpointError) a
 * checkpoint of another task or model length, and any file whose sha256 differs
 * from the commit record.
 */
export async function loadCheckpoint(dir: string, expect: { taskId: string; modelLength: number }): Promise<Checkpoint | null> {
  const file = join(dir, CHECKPOINT_FILE);
  const text = await readTextIfExists(file);
  if (text === null) return null;
  let u: unknown;
  try {
    u = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${file} is not valid JSON (${(err as Error).message}); restore it from a backup, or move the folder away to start the task over`);
  }
  const o = field<Record<string, unknown>>(isPlainObject(u), u, 'the record', file);
  field(o['format'] === CHECKPOINT_FORMAT, o['format'], `format (expected ${CHECKPOINT_FORMAT})`, file);
  const taskId = field<string>(typeof o['taskId'] === 'string', o['taskId'], 'taskId', file);
  if (taskId !== expect.taskId) {
    throw new CheckpointError(`${file} belongs to task ${JSON.stringify(taskId)}, not ${JSON.stringify(expect.taskId)}; use another dataDir or task id`);
  }
  const round = field<number>(Number.isSafeInteger(o['round']) && (o['round'] as number) >= 1, o['round'], 'round', file);
  const rounds = field<number>(Number.isSafeInteger(o['rounds']) && (o['rounds'] as number) >= 1, o['rounds'], 'rounds', file);
  const modelLength = field<number>(Number.isSafeInteger(o['modelLength']), o['modelLength'], 'modelLength', file);
  if (modelLength !== expect.modelLength) {
    throw new CheckpointError(
      `${file} holds a model of ${modelLength} weights but task.modelLength is ${expect.modelLength}; a model cannot change size mid-task: start a new task id`,
    );
  }
  const w = field<Record<string, unknown>>(isPlainObject(o['weights']), o['weights'], 'weights', file);
  const s = field<Record<string, unknown>>(isPlainObject(o['strategy']), o['strategy'], 'strategy', file);
  const wFile = field<string>(typeof w['file'] === 'string' && FILE_NAME.test(w['file']), w['file'], 'weights.file', file);
  const wSha = field<string>(typeof w['sha256'] === 'string' && HEX64.test(w['sha256']), w['sha256'], 'weights.sha256', file);
  const sFile = field<string>(typeof s['file'] === 'string' && FILE_NAME.test(s['file']), s['file'], 'strategy.file', file);
  const sSha = field<string>(typeof s['sha256'] === 'string' && HEX64.test(s['sha256']), s['sha256'], 'strategy.sha256', file);
  const sConfig = field<ResolvedStrategyConfig>(
    isPlainObject(s['config']) && (STRATEGY_NAMES as readonly unknown[]).includes(s['config']['name']),
    s['config'],
    'strategy.config',
    file,
  );
  const createdAt = field<string>(typeof o['createdAt'] === 'string', o['createdAt'], 'createdAt', file);

  const weightBytes = await readVerified(join(dir, wFile), wSha);
  const stateBytes = await readVerified(join(dir, sFile), sSha);
  const weights = bytesToFloat32(weightBytes, modelLength, join(dir, wFile));
  let strategy: StrategyState;
  try {
    strategy = decodeStrategyState(stateBytes);
  } catch (err) {
    throw new CheckpointError(`${join(dir, sFile)}: ${(err as Error).message}`);
  }
  if (strategy.length !== modelLength) {
    throw new CheckpointError(`${join(dir, sFile)}: strategy state for ${strategy.length} weights, expected ${modelLength}`);
  }
  const audit = o['audit'];
  const auditRecord =
    isPlainObject(audit) && audit['round'] === round && audit['status'] === 'committed' ? (audit as unknown as AuditRecord) : undefined;
  return { taskId, round, rounds, weights, strategy, strategyConfig: sConfig, createdAt, ...(auditRecord === undefined ? {} : { audit: auditRecord }) };
}

async function readVerified(path: string, sha: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CheckpointError(`${path} named by ${CHECKPOINT_FILE} cannot be read (${(err as Error).message}); restore it from a backup, or move the folder away to start over`);
  }
  const got = sha256Hex(bytes);
  if (got !== sha) {
    throw new CheckpointError(`${path}: sha256 is ${got} but ${CHECKPOINT_FILE} says ${sha}: the file is corrupt; restore it from a backup, or move the folder away to start over`);
  }
  return bytes;
}

/** The initial model: the raw little-endian float32 file at `path`, or zeros. */
export async function readInitialModel(path: string | undefined, modelLength: number): Promise<Float32Array> {
  if (path === undefined) return new Float32Array(modelLength);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CheckpointError(`task.initialModel: cannot read ${path} (${(err as Error).message})`);
  }
  try {
    return bytesToFloat32(bytes, modelLength, `task.initialModel ${path}`);
  } catch (err) {
    throw new CheckpointError(`${(err as Error).message}; write it as raw little-endian float32 of task.modelLength weights`);
  }
}
