/**
 * @tally/ml: the workspace's only TensorFlow.js user. Backend choice, weights as one
 * Float32Array, model files on disk, and the Trainer that client nodes call.
 */
export { tf, tfl } from './tf.ts';
export type { LayersModel } from './tf.ts';
export { BACKEND_PREFERENCES, currentBackend, initBackend } from './backend.ts';
export type { BackendChoice, BackendPreference, InitBackendOptions } from './backend.ts';
export { countWeights, flattenWeights, setFlatWeights, weightShapes } from './weights.ts';
export type { WeightShape } from './weights.ts';
export { writeFileAtomic } from './atomic-write.ts';
export { MODEL_JSON, WEIGHTS_BIN, fileSystemHandler, loadModel, saveModel } from './io.ts';
export { LOSSES, OPTIMIZERS, TRAINER_METRICS, TfjsTrainer, predictRows } from './trainer.ts';
export type { FitOptions, FitResult, LossName, OptimizerName, TfjsTrainerOptions, TrainerMetric, TrainingSet } from './trainer.ts';
export { consoleLogger, silentMlLogger } from './logger.ts';
export type { MlLogger } from './logger.ts';
