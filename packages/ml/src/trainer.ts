/**
 * `TfjsTrainer`: the Trainer a client node calls (the interface is declared by
 * @tally/client, which never imports tfjs). One instance per party: it owns one model
 * built from the factory and the party's training tensors.
 *
 * A round: load the global weights, run `epochs` passes of minibatch gradient descent
 * over the party's (x, y) with a fresh optimizer, return delta = local − global,
 * weight = number of training rows, metrics in TRAINER_METRICS order.
 *
 * Loss: mean squared error over all outputs. With `proximalMu` = μ > 0 it is FedProx
 * (Li et al., MLSys 2020, eq. 2): h(w) = MSE(w) + μ/2 · ||w − w_global||² over the
 * trainable weights, which keeps a party's update near the global model.
 *
 * Determinism: given the same global weights, data, options and round, `train` returns
 * the same bits on the same backend: the batch order comes from a seeded PRNG keyed by
 * (seed, round), and the wasm and cpu kernels are single-threaded. Not covered: results
 * differ between backends (different kernels round differently), and tfjs-node may use
 * multi-threaded reductions whose summation order can vary run to run.
 */
import type { Trainer, TrainInput, TrainOutput } from '@tally/client';
import { mixSeed, permutation, seededRandom } from './_rng.ts';
import { tf, type LayersModel } from './tf.ts';
import { countWeights, flattenWeights, setFlatWeights } from './weights.ts';

/** The order of `TrainOutput.metrics`: the party's training MSE at the global weights, then after local training. */
export const TRAINER_METRICS = ['loss_before', 'loss_after'] as const;
export type TrainerMetric = (typeof TRAINER_METRICS)[number];

export const OPTIMIZERS = ['adam', 'sgd'] as const;
/** Training loss: squared error (the mean) or absolute error (the median, what WAPE and MAE reward). */
export const LOSSES = ['mse', 'mae'] as const;
export type LossName = (typeof LOSSES)[number];
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Row-major training data: `rows` × inputs in x, `rows` × outputs in y. */
export interface TrainingSet {
  readonly x: Float32Array;
  readonly y: Float32Array;
}

export interface FitOptions {
  /** Passes over the data. Default 1. */
  readonly epochs?: number;
  /** Mixed with the trainer's seed to order the batches. Default 0. */
  readonly round?: number;
  /**
   * Called after each epoch with its number (1-based) and the current weights; return
   * true to stop there (early stopping). The optimizer state runs on across epochs.
   */
  readonly onEpochEnd?: (epoch: number, weights: Float32Array) => boolean | void;
}

export interface FitResult extends TrainOutput {
  /** The locally trained weights (global + delta, computed in float32 by tfjs). */
  readonly weights: Float32Array;
  /** Optimizer steps taken. */
  readonly steps: number;
  /** Epochs run (fewer than asked when onEpochEnd stopped early). */
  readonly epochs: number;
}

export interface TfjsTrainerOptions {
  /** Builds the model. Its initial weights are overwritten by every round's global weights. */
  readonly createModel: () => LayersModel;
  readonly data: TrainingSet;
  /** Local epochs per round. Default 1. */
  readonly epochs?: number;
  /** Default 32. The last batch of an epoch may be smaller. */
  readonly batchSize?: number;
  /** Default 1e-3. */
  readonly learningRate?: number;
  /** Default 'adam'. A fresh optimizer (no carried moments) starts every round. */
  readonly optimizer?: OptimizerName;
  /** FedProx μ. Default 0 (plain FedAvg local training). */
  readonly proximalMu?: number;
  /** Loss minimised and reported as loss_before/loss_after. Default 'mse'. */
  readonly loss?: LossName;
  /** Seed of the batch order. Default 0. */
  readonly seed?: number;
  /**
   * Training runs on the event loop's thread; it yields (setImmediate) at least this
   * often so sockets, heartbeats and timers in the same process keep running. Default 20.
   */
  readonly yieldEveryMs?: number;
}

/** Rows per forward pass when evaluating the loss over all data. */
const EVAL_CHUNK = 4096;

export class TfjsTrainer implements Trainer {
  readonly model: LayersModel;
  readonly rows: number;
  readonly inputs: number;
  readonly outputs: number;
  readonly weightCount: number;
  private readonly x: Float32Array;
  private readonly y: Float32Array;
  private readonly epochs: number;
  private readonly batchSize: number;
  private readonly learningRate: number;
  private readonly optimizerName: OptimizerName;
  private readonly mu: number;
  private readonly loss: LossName;
  private readonly seed: number;
  private readonly yieldEveryMs: number;
  private busy = false;
  private disposed = false;

  constructor(options: TfjsTrainerOptions) {
    this.epochs = positiveInt('epochs', options.epochs ?? 1);
    this.batchSize = positiveInt('batchSize', options.batchSize ?? 32);
    this.learningRate = positiveFinite('learningRate', options.learningRate ?? 1e-3);
    this.optimizerName = options.optimizer ?? 'adam';
    if (!OPTIMIZERS.includes(this.optimizerName)) {
      throw new TypeError(`TfjsTrainer: expected optimizer in ${OPTIMIZERS.join('|')}, got ${String(this.optimizerName)}`);
    }
    const mu = options.proximalMu ?? 0;
    if (!Number.isFinite(mu) || mu < 0) throw new RangeError(`TfjsTrainer: expected proximalMu >= 0, got ${mu}`);
    this.mu = mu;
    this.loss = options.loss ?? 'mse';
    if (!LOSSES.includes(this.loss)) throw new TypeError(`TfjsTrainer: expected loss in ${LOSSES.join('|')}, got ${String(this.loss)}`);
    this.seed = (options.seed ?? 0) >>> 0;
    this.yieldEveryMs = options.yieldEveryMs ?? 20;

    this.model = options.createModel();
    const inShape = this.model.inputs[0]?.shape;
    const outShape = this.model.outputs[0]?.shape;
    if (this.model.inputs.length !== 1 || this.model.outputs.length !== 1 || inShape?.length !== 2 || outShape?.length !== 2) {
      this.model.dispose();
      throw new TypeError('TfjsTrainer: expected a model with one [batch, inputs] input and one [batch, outputs] output');
    }
    this.inputs = inShape[1] ?? 0;
    this.outputs = outShape[1] ?? 0;
    const { x, y } = options.data;
    if (!(x instanceof Float32Array) || !(y instanceof Float32Array)) {
      this.model.dispose();
      throw new TypeError('TfjsTrainer: expected data.x and data.y to be Float32Arrays');
    }
    this.rows = y.length / this.outputs;
    if (!Number.isInteger(this.rows) || x.length !== this.rows * this.inputs || this.rows === 0) {
      this.model.dispose();
      throw new RangeError(
        `TfjsTrainer: expected x of rows×${this.inputs} and y of rows×${this.outputs} with rows >= 1, got x.length=${x.length}, y.length=${y.length}`,
      );
    }
    this.x = x;
    this.y = y;
    this.weightCount = countWeights(this.model);
  }

  /** One federated round: see the file comment. */
  async train(input: TrainInput): Promise<TrainOutput> {
    const r = await this.fit(input.weights, { epochs: this.epochs, round: input.round });
    return { delta: r.delta, weight: r.weight, metrics: r.metrics };
  }

  /** Local training from `weights` for `epochs` passes (train() with an epoch count of the caller's choosing). */
  async fit(weights: Float32Array, options: FitOptions = {}): Promise<FitResult> {
    this.assertUsable();
    const epochs = positiveInt('epochs', options.epochs ?? this.epochs);
    const round = options.round ?? 0;
    if (weights.length !== this.weightCount) {
      throw new RangeError(`TfjsTrainer: expected ${this.weightCount} global weights, got ${weights.length}`);
    }
    this.busy = true;
    const optimizer = this.optimizerName === 'adam' ? tf.train.adam(this.learningRate) : tf.train.sgd(this.learningRate);
    let anchors: tf.Tensor[] = [];
    try {
      setFlatWeights(this.model, weights);
      const lossBefore = this.lossOfCurrent();
      const vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
      if (this.mu > 0) anchors = vars.map((v) => tf.clone(v));
      const rand = seededRandom(mixSeed(this.seed, round));
      const xb = new Float32Array(this.batchSize * this.inputs);
      const yb = new Float32Array(this.batchSize * this.outputs);
      let steps = 0;
      let epochsRun = 0;
      let lastYield = performance.now();
      for (let e = 0; e < epochs; e++) {
        const order = permutation(this.rows, rand);
        for (let start = 0; start < this.rows; start += this.batchSize) {
          const n = Math.min(this.batchSize, this.rows - start);
          for (let i = 0; i < n; i++) {
            const row = order[start + i] as number;
            xb.set(this.x.subarray(row * this.inputs, (row + 1) * this.inputs), i * this.inputs);
            yb.set(this.y.subarray(row * this.outputs, (row + 1) * this.outputs), i * this.outputs);
          }
          this.step(optimizer, vars, anchors, xb.subarray(0, n * this.inputs), yb.subarray(0, n * this.outputs), n);
          steps++;
          if (performance.now() - lastYield >= this.yieldEveryMs) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            if (this.disposed) throw new Error('TfjsTrainer: disposed during training');
            lastYield = performance.now();
          }
        }
        epochsRun = e + 1;
        if (options.onEpochEnd?.(epochsRun, flattenWeights(this.model)) === true) break;
      }
      const local = flattenWeights(this.model);
      const lossAfter = this.lossOfCurrent();
      const delta = new Float32Array(local.length);
      for (let i = 0; i < local.length; i++) delta[i] = (local[i] as number) - (weights[i] as number);
      return { delta, weight: this.rows, metrics: [lossBefore, lossAfter], weights: local, steps, epochs: epochsRun };
    } finally {
      for (const a of anchors) a.dispose();
      optimizer.dispose();
      this.busy = false;
    }
  }

  /** The training loss (mean squared or absolute error) of `weights` over this party's training data. */
  evaluate(weights: Float32Array): number {
    this.assertUsable();
    setFlatWeights(this.model, weights);
    return this.lossOfCurrent();
  }

  /** Model outputs for row-major `x` (rows × inputs) under `weights`, rows × outputs. */
  predict(weights: Float32Array, x: Float32Array): Float32Array {
    this.assertUsable();
    if (x.length % this.inputs !== 0) {
      throw new RangeError(`TfjsTrainer.predict: expected a multiple of ${this.inputs} inputs, got ${x.length}`);
    }
    setFlatWeights(this.model, weights);
    return predictRows(this.model, x, this.inputs, this.outputs);
  }

  /** Frees the model's tensors. The trainer is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private step(
    optimizer: tf.Optimizer,
    vars: tf.Variable[],
    anchors: tf.Tensor[],
    xb: Float32Array,
    yb: Float32Array,
    n: number,
  ): void {
    const xt = tf.tensor2d(xb, [n, this.inputs]);
    const yt = tf.tensor2d(yb, [n, this.outputs]);
    try {
      const cost = optimizer.minimize(
        () => {
          const pred = this.model.apply(xt, { training: true }) as tf.Tensor;
          let loss = (this.loss === 'mae' ? tf.mean(tf.abs(tf.sub(pred, yt))) : tf.mean(tf.squaredDifference(pred, yt))) as tf.Scalar;
          if (anchors.length > 0) {
            const sq = vars.map((v, i) => tf.sum(tf.squaredDifference(v, anchors[i] as tf.Tensor)));
            loss = tf.add(loss, tf.mul(tf.scalar(this.mu / 2), tf.addN(sq)));
          }
          return loss;
        },
        false,
        vars,
      );
      cost?.dispose();
    } finally {
      xt.dispose();
      yt.dispose();
    }
  }

  private lossOfCurrent(): number {
    const pred = predictRows(this.model, this.x, this.inputs, this.outputs);
    let sum = 0;
    for (let i = 0; i < pred.length; i++) {
      const d = (pred[i] as number) - (this.y[i] as number);
      sum += this.loss === 'mae' ? Math.abs(d) : d * d;
    }
    return sum / pred.length;
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('TfjsTrainer: used after dispose()');
    if (this.busy) throw new Error('TfjsTrainer: a round is already running on this trainer');
  }
}

/** Forward pass over row-major `x` in chunks; returns rows × outputs. */
export function predictRows(model: LayersModel, x: Float32Array, inputs: number, outputs: number): Float32Array {
  const rows = x.length / inputs;
  const out = new Float32Array(rows * outputs);
  for (let start = 0; start < rows; start += EVAL_CHUNK) {
    const n = Math.min(EVAL_CHUNK, rows - start);
    const values = tf.tidy(() => {
      const xt = tf.tensor2d(x.subarray(start * inputs, (start + n) * inputs), [n, inputs]);
      return (model.predict(xt) as tf.Tensor).dataSync();
    });
    out.set(values, start * outputs);
  }
  return out;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`TfjsTrainer: expected ${name} to be a positive integer, got ${v}`);
  return v;
}

function positiveFinite(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`TfjsTrainer: expected ${name} > 0, got ${v}`);
  return v;
}
