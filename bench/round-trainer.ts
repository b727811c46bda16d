/**
 * The trainer both rounds of `bench/round.ts` use: it does no learning and
 * returns one fixed random delta, so the secure and the plaintext round do the
 * same (negligible) local work and differ only in how the update travels.
 */
import { randomFillSync } from 'node:crypto';
import type { Trainer, TrainInput, TrainOutput } from '@tally/client';

/**
 * Fills `out` with uniform random values in [-a, a] with a = norm·√(3/m), so its
 * expected L2 norm is `norm` (E[x²] = a²/3). Keep `norm` below the task's
 * clipNorm: a clipped update would cost the secure round a rescale the plaintext
 * one does not do. `out` may live in a SharedArrayBuffer (both rounds of a
 * configuration then train on the very same deltas).
 */
export function fillRandomDelta(out: Float32Array, norm: number): Float32Array {
  const m = out.length;
  const a = norm * Math.sqrt(3 / m);
  const chunk = new Uint32Array(16_384);
  for (let off = 0; off < m; off += chunk.length) {
    randomFillSync(chunk);
    const len = Math.min(chunk.length, m - off);
    for (let i = 0; i < len; i++) out[off + i] = (chunk[i]! / 2 ** 32) * 2 * a - a;
  }
  return out;
}

/** Returns the same delta, weight and loss every round; calls `onTrain` first (the byte meter's cue). */
export class FixedDeltaTrainer implements Trainer {
  readonly delta: Float32Array;
  readonly weight: number;
  readonly loss: number;
  readonly #onTrain: () => void;

  constructor(delta: Float32Array, weight: number, loss: number, onTrain: () => void) {
    this.delta = delta;
    this.weight = weight;
    this.loss = loss;
    this.#onTrain = onTrain;
  }

  async train(input: TrainInput): Promise<TrainOutput> {
    this.#onTrain();
    if (input.weights.length !== this.delta.length) {
      throw new RangeError(`weights: expected ${this.delta.length} entries, got ${input.weights.length}`);
    }
    return { delta: this.delta, weight: this.weight, metrics: [this.loss] };
  }
}
