/**
 * A least-squares linear model trained by mini-batch gradient descent: a real
 * Trainer for the CLI until the tfjs one exists, and small enough to check by hand.
 *
 * Model: ŷ = w·x + b, stored as the weight vector [w_1 .. w_F, b] (so the task's
 * modelLength is F + 1). Loss: mean squared error. One step on a batch B:
 *   w ← w − lr · (2/|B|) Σ_{i∈B} (ŷ_i − y_i) x_i,   b ← b − lr · (2/|B|) Σ_{i∈B} (ŷ_i − y_i)
 *
 * Features are used as they are: put them on comparable scales (e.g. standardise
 * with constants every shop shares), or gradient descent may diverge; the trainer
 * then refuses to report a non-finite update and says to lower lr.
 */
import type { Trainer, TrainInput, TrainOutput } from '@tally/client';
import type { NumericTable } from './csv.ts';

export interface Dataset {
  readonly features: readonly string[];
  readonly target: string;
  readonly rows: number;
  /** Row-major, rows × features.length. */
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Where the data came from, for messages. */
  readonly source: string;
}

export interface LinearTrainerOptions {
  /** Passes over the local data per round. */
  readonly epochs: number;
  /** Gradient-descent step size. */
  readonly lr: number;
  readonly batchSize: number;
  /** Seeds the per-round shuffle of the rows (ordering only; nothing secret). */
  readonly seed: number;
}

export const LINEAR_DEFAULTS: Omit<LinearTrainerOptions, 'seed'> & { seed: number } = Object.freeze({
  epochs: 5,
  lr: 0.05,
  batchSize: 32,
  seed: 1,
});

/** Splits a table into features (every column but `target`, in file order) and the target column. */
export function datasetFromTable(table: NumericTable, target: string, source: string): Dataset {
  const t = table.columns.indexOf(target);
  if (t < 0) throw new RangeError(`${source}: no column named ${JSON.stringify(target)}; the columns are ${table.columns.join(', ')}`);
  if (table.columns.length < 2) throw new RangeError(`${source}: expected at least one feature column besides ${JSON.stringify(target)}`);
  if (table.rows === 0) throw new RangeError(`${source}: no data rows after the header`);
  const width = table.columns.length;
  const F = width - 1;
  const x = new Float64Array(table.rows * F);
  const y = new Float64Array(table.rows);
  for (let r = 0; r < table.rows; r++) {
    let k = 0;
    for (let c = 0; c < width; c++) {
      const v = table.values[r * width + c]!;
      if (c === t) y[r] = v;
      else x[r * F + k++] = v;
    }
  }
  return { features: table.columns.filter((c) => c !== target), target, rows: table.rows, x, y, source };
}

/** Mean squared error of the model `weights` ([w..., b]) on `data`. */
export function meanSquaredError(weights: ArrayLike<number>, data: Dataset): number {
  const F = data.features.length;
  let sum = 0;
  for (let r = 0; r < data.rows; r++) {
    const e = predict(weights, data.x, r * F, F) - data.y[r]!;
    sum += e * e;
  }
  return sum / data.rows;
}

function predict(w: ArrayLike<number>, x: Float64Array, offset: number, F: number): number {
  let s = w[F]!;
  for (let j = 0; j < F; j++) s += w[j]! * x[offset + j]!;
  return s;
}

/**
 * A Trainer over `data`. Each round it starts from the global weights, runs
 * `epochs` shuffled passes of mini-batch gradient descent, and returns
 * delta = local − global, weight = the row count, and metrics = [loss], the mean
 * squared error of the *received* global model on the local data (an honest
 * evaluation of the model the coordinator holds; the cohort's mean is in RoundResult).
 */
export function createLinearTrainer(data: Dataset, options: Partial<LinearTrainerOptions> = {}): Trainer {
  const o = { ...LINEAR_DEFAULTS, ...options };
  checkOptions(o);
  const F = data.features.length;
  return {
    async train({ round, weights }: TrainInput): Promise<TrainOutput> {
      if (weights.length !== F + 1) {
        throw new RangeError(
          `the task's model has ${weights.length} weights, but ${data.source} has ${F} feature columns (${data.features.join(', ')}) plus a bias, ${F + 1}: set task.modelLength to ${F + 1} in the coordinator config, or change the data`,
        );
      }
      const w = Float64Array.from(weights);
      const loss = meanSquaredError(w, data);
      const order = Uint32Array.from({ length: data.rows }, (_, i) => i);
      const next = xorshift32(o.seed, round);
      const grad = new Float64Array(F + 1);
      for (let epoch = 0; epoch < o.epochs; epoch++) {
        shuffle(order, next);
        for (let start = 0; start < data.rows; start += o.batchSize) {
          const end = Math.min(data.rows, start + o.batchSize);
          grad.fill(0);
          for (let b = start; b < end; b++) {
            const r = order[b]!;
            const e = predict(w, data.x, r * F, F) - data.y[r]!;
            for (let j = 0; j < F; j++) grad[j]! += e * data.x[r * F + j]!;
            grad[F]! += e;
          }
          const step = (2 * o.lr) / (end - start);
          for (let j = 0; j <= F; j++) w[j]! -= step * grad[j]!;
        }
      }
      const delta = Float32Array.from(w, (v, j) => v - weights[j]!);
      // Checked in float32, the precision that is sent: a huge float64 value overflows to Infinity there.
      if (!delta.every(Number.isFinite)) {
        throw new RangeError(`gradient descent diverged on ${data.source} (lr ${o.lr}): lower trainer.lr, or scale the features to comparable ranges`);
      }
      return { delta, weight: data.rows, metrics: [loss] };
    },
  };
}

function checkOptions(o: LinearTrainerOptions): void {
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new RangeError(`epochs: expected an integer ≥ 1, got ${o.epochs}`);
  if (!Number.isFinite(o.lr) || o.lr <= 0) throw new RangeError(`lr: expected a number > 0, got ${o.lr}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new RangeError(`batchSize: expected an integer ≥ 1, got ${o.batchSize}`);
  if (!Number.isInteger(o.seed)) throw new RangeError(`seed: expected an integer, got ${o.seed}`);
}

/**
 * Marsaglia's xorshift32 (J. Stat. Softw. 8(14), 2003), seeded from (seed, round):
 * only for shuffling rows reproducibly. Never for anything secret (masks and keys
 * come from the OS CSPRNG in @tally/secagg).
 */
function xorshift32(seed: number, round: number): () => number {
  let s = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(round | 0, 0x85ebca6b) ^ 0x2545f491) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Fisher–Yates with a 32-bit generator (the modulo bias is irrelevant for ordering). */
function shuffle(a: Uint32Array, next: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}
