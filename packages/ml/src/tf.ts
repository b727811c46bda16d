/**
 * The one place that imports TensorFlow.js. Everything else in the workspace reaches
 * tfjs through these re-exports, so the library lives in exactly one package.
 *
 * Importing `@tensorflow/tfjs-layers` also registers every gradient function in the
 * global registry (its Node bundle carries tfjs-core's gradient configs); without it
 * `tf.variableGrads` fails on kernels such as RealDiv. `@tensorflow/tfjs-backend-cpu`
 * registers the pure-JS backend, which is always the last resort.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';

export { tf, tfl };
export type { LayersModel } from '@tensorflow/tfjs-layers';
