/**
 * Model folders: where a client saves each global model it receives (its modelDir),
 * where the coordinator writes the final model, and what `tally export` writes.
 *
 * A model with a TF.js architecture (a task declaring `"kind": "demand"`) is saved
 * in the TF.js layers format: `model.json` + `weights.bin`, loadable with
 * `tf.loadLayersModel`, plus `spec.json` (the declaration). Any other model is saved
 * in the tally weights format, documented here:
 *
 *   model.json   { "format": "tally-weights/1", "taskId": "...", "round": 5, "final": true,
 *                  "modelLength": 4, "weights": "weights.bin", "dtype": "float32-le",
 *                  "sha256": "<hex of weights.bin>", ...what the trainer adds
 *                  (linear-csv: "features": [...], "target": "demand", the weights being
 *                  [w_1 .. w_F, bias] in that feature order) }
 *   weights.bin  modelLength little-endian IEEE-754 float32 values, nothing else
 *
 * Files are written to a temporary name and renamed, so a reader never sees half a file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const WEIGHTS_FORMAT = 'tally-weights/1';

export interface ModelInfo {
  readonly taskId: string;
  readonly round: number;
  readonly final: boolean;
}

/** Writes `weights` in the tally weights format; `extra` fields join model.json. */
export async function writeWeightsFolder(dir: string, weights: Float32Array, info: ModelInfo, extra: Readonly<Record<string, unknown>> = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const bytes = new Uint8Array(weights.length * 4);
  const view = new DataView(bytes.buffer);
  weights.forEach((w, i) => view.setFloat32(4 * i, w, true));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await writeAtomic(join(dir, 'weights.bin'), bytes);
  const json = { format: WEIGHTS_FORMAT, ...info, modelLength: weights.length, weights: 'weights.bin', dtype: 'float32-le', sha256, ...extra };
  await writeAtomic(join(dir, 'model.json'), Buffer.from(`${JSON.stringify(json, null, 2)}\n`));
}

async function writeAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes a model folder for a task's model: TF.js format when the declaration
 * (TaskOffer.modelSpec / task.model, JSON text) names a TF.js kind, else the tally
 * weights format. TF.js is loaded only in the first case.
 */
export async function writeModelFolder(dir: string, modelSpec: string | undefined, weights: Float32Array, info: ModelInfo): Promise<string> {
  const kind = modelSpec === undefined ? undefined : (JSON.parse(modelSpec) as { kind?: unknown }).kind;
  if (kind === 'demand') {
    const demand = await import('@tally/demand');
    const spec = demand.parseDemandSpec(JSON.parse(modelSpec!));
    if (spec.federated === 'body') {
      // Only the body is shared: every shop's output layer is its own, so no whole TF.js model exists here.
      await writeWeightsFolder(dir, weights, info, { part: 'body', model: JSON.parse(demand.specJson(spec)) as unknown });
      return `${WEIGHTS_FORMAT} (model.json + weights.bin): the shared body only (task.model.federated is "body"; each shop keeps its own output layer)`;
    }
    await demand.writeDemandModel(dir, spec, weights, info);
    return 'TF.js layers model (model.json + weights.bin) with spec.json';
  }
  await writeWeightsFolder(dir, weights, info);
  return `${WEIGHTS_FORMAT} (model.json + weights.bin)`;
}
