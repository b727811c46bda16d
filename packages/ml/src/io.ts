/**
 * Saving and loading a LayersModel in the tfjs layers format (`model.json` +
 * `weights.bin`) on node:fs. tfjs-node's `file://` handler is not available without
 * the native addon, so this is a small IOHandler of our own.
 *
 * Writes are atomic per file (write a temp file in the same folder, fsync, rename):
 * `weights.bin` first, then `model.json`. A crash between the two renames leaves a new
 * `weights.bin` beside the old `model.json`; loading checks the weight byte length
 * against the manifest and refuses a mismatch instead of loading garbage.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-write.ts';
import { tf, tfl, type LayersModel } from './tf.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** Bytes per element of each dtype a weight manifest may name. */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, float16: 2 };

/** An IOHandler reading and writing `dir/model.json` + `dir/weights.bin`. */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new TypeError('saveModel: expected a JSON model topology, got a binary (GraphDef) one');
      }
      await mkdir(dir, { recursive: true });
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig !== undefined) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata !== undefined) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      await writeFileAtomic(path.join(dir, MODEL_JSON), Buffer.from(JSON.stringify(modelJson)));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, MODEL_JSON);
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (err) {
        throw new Error(`loadModel: cannot read ${jsonPath}: ${(err as Error).message}`);
      }
      if (typeof modelJson !== 'object' || modelJson === null || typeof modelJson.modelTopology !== 'object') {
        throw new TypeError(`loadModel: ${jsonPath} has no modelTopology`);
      }
      const manifest = modelJson.weightsManifest;
      if (!Array.isArray(manifest)) throw new TypeError(`loadModel: ${jsonPath} has no weightsManifest`);
      return tf.io.getModelArtifactsForJSON(modelJson, async (groups) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of groups) {
          for (const p of group.paths) {
            // Weight files are named relative to model.json and must stay inside dir.
            const file = path.resolve(dir, p);
            if (path.dirname(file) !== path.resolve(dir)) {
              throw new RangeError(`loadModel: weight path ${p} leaves ${dir}`);
            }
            const bytes = await readFile(file);
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
          specs.push(...group.weights);
        }
        const data = tf.io.CompositeArrayBuffer.join(buffers);
        const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesOf(s), 0);
        if (data.byteLength !== expected) {
          throw new RangeError(`loadModel: the manifest expects ${expected} weight bytes, got ${data.byteLength} in ${dir}`);
        }
        return [specs, data];
      });
    },
  };
}

/** Saves `model` as `dir/model.json` + `dir/weights.bin`, creating `dir` if needed. */
export async function saveModel(model: LayersModel, dir: string): Promise<void> {
  await model.save(fileSystemHandler(dir));
}

/** Loads a model saved by `saveModel` (or any tfjs layers-format folder with one weights file group). */
export async function loadModel(dir: string): Promise<LayersModel> {
  return tfl.loadLayersModel(fileSystemHandler(dir));
}

function bytesOf(spec: tf.io.WeightsManifestEntry): number {
  if (spec.quantization !== undefined) {
    const q = spec.quantization.dtype;
    return q === 'uint8' ? 1 : q === 'uint16' || q === 'float16' ? 2 : 4;
  }
  const b = DTYPE_BYTES[spec.dtype];
  if (b === undefined) throw new TypeError(`loadModel: unsupported weight dtype ${spec.dtype} for ${spec.name}`);
  return b;
}

