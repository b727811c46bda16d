import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.ts';
import { collectingLogger, l2, linearProblem, tinyModel } from './_test-util.ts';
import { tf, tfl } from './tf.ts';
import { TRAINER_METRICS, TfjsTrainer, type TfjsTrainerOptions } from './trainer.ts';
import { flattenWeights } from './weights.ts';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', logger: collectingLogger() });
});

const data = linearProblem(256);

function trainer(extra: Partial<TfjsTrainerOptions> = {}): TfjsTrainer {
  return new TfjsTrainer({ createModel: () => tinyModel(3, 8), data, batchSize: 16, learningRate: 0.01, ...extra });
}

function initialWeights(): Float32Array {
  const m = tinyModel(3, 8, 5);
  const w = flattenWeights(m);
  m.dispose();
  return w;
}

describe('TfjsTrainer', () => {
  it('reduces the training loss and reports delta, weight and metrics', async () => {
    const t = trainer({ epochs: 10 });
    const global = initialWeights();
    const out = await t.train({ taskId: 't', round: 0, weights: global });
    expect(TRAINER_METRICS).toEqual(['loss_before', 'loss_after']);
    const [before, after] = out.metrics as [number, number];
    expect(before).toBeCloseTo(t.evaluate(global), 6);
    expect(after).toBeLessThan(before * 0.2);
    expect(out.weight).toBe(256);
    expect(out.delta).toHaveLength(t.weightCount);
    // delta = local − global: applying it gives the loss reported after training.
    const local = global.map((g, i) => g + (out.delta[i] as number));
    expect(t.evaluate(local)).toBeCloseTo(after, 4);
    t.dispose();
  });

  it('trains on absolute error with loss "mae": reports the mean |error| and ends near the median of skewed targets', async () => {
    const t = trainer({ epochs: 10, loss: 'mae' });
    const global = initialWeights();
    const out = await t.fit(global);
    const pred = t.predict(out.weights, data.x);
    let abs = 0;
    for (let i = 0; i < pred.length; i++) abs += Math.abs((pred[i] as number) - (data.y[i] as number));
    expect(out.metrics[1]).toBeCloseTo(abs / pred.length, 4);
    expect(out.metrics[1]).toBeLessThan((out.metrics[0] as number) * 0.5);
    t.dispose();
    // A constant model (one bias) on targets 0 (70 %) and 10 (30 %): the mean is 3, the median 0.
    const n = 200;
    const skew = { x: new Float32Array(n), y: Float32Array.from({ length: n }, (_, i) => (i % 10 < 7 ? 0 : 10)) };
    const bias = (): ReturnType<typeof tinyModel> => tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [1], units: 1, kernelInitializer: 'zeros', biasInitializer: 'zeros' })] });
    const fit = async (loss: 'mse' | 'mae'): Promise<number> => {
      const tr = new TfjsTrainer({ createModel: bias, data: skew, batchSize: 20, learningRate: 0.1, loss });
      const r = await tr.fit(Float32Array.of(0, 1.5), { epochs: 40 });
      tr.dispose();
      return r.weights[1] as number;
    };
    expect(Math.abs((await fit('mae')) - 0)).toBeLessThan(0.5);
    expect(Math.abs((await fit('mse')) - 3)).toBeLessThan(0.5);
    expect(() => trainer({ loss: 'huber' as never })).toThrow(/loss/);
  });

  it('is deterministic for the same seed and round, and the round changes the batch order', async () => {
    const global = initialWeights();
    const a = trainer({ seed: 3 });
    const b = trainer({ seed: 3 });
    const ra = await a.train({ taskId: 't', round: 4, weights: global });
    const rb = await b.train({ taskId: 't', round: 4, weights: global });
    expect(new Uint32Array(rb.delta.buffer)).toEqual(new Uint32Array(ra.delta.buffer));
    const rc = await b.train({ taskId: 't', round: 5, weights: global });
    expect(rc.delta).not.toEqual(ra.delta);
    a.dispose();
    b.dispose();
  });

  it('keeps the update smaller with a large FedProx μ', async () => {
    const global = initialWeights();
    const plain = trainer({ epochs: 5 });
    const prox = trainer({ epochs: 5, proximalMu: 10 });
    const d0 = (await plain.train({ taskId: 't', round: 1, weights: global })).delta;
    const d1 = (await prox.train({ taskId: 't', round: 1, weights: global })).delta;
    expect(l2(d1)).toBeLessThan(l2(d0) * 0.5);
    expect(l2(d1)).toBeGreaterThan(0);
    plain.dispose();
    prox.dispose();
  });

  it('stops early when onEpochEnd says so, with the weights of that epoch', async () => {
    const t = trainer();
    const seen: number[] = [];
    let third: Float32Array | undefined;
    const r = await t.fit(initialWeights(), {
      epochs: 10,
      onEpochEnd: (epoch, weights) => {
        seen.push(epoch);
        if (epoch === 3) third = weights;
        return epoch === 3;
      },
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(r.epochs).toBe(3);
    expect(r.steps).toBe(3 * 16);
    expect(r.weights).toEqual(third);
    t.dispose();
  });

  it('yields to the event loop while it trains', async () => {
    const t = trainer({ epochs: 3, yieldEveryMs: 0 });
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    await t.train({ taskId: 't', round: 0, weights: initialWeights() });
    running = false;
    // 3 epochs × 16 batches, one yield per step.
    expect(ticks).toBeGreaterThanOrEqual(40);
    t.dispose();
  });

  it('does not leak tensors across rounds', async () => {
    const t = trainer({ proximalMu: 0.1 });
    const global = initialWeights();
    await t.train({ taskId: 't', round: 0, weights: global });
    const n = tf.memory().numTensors;
    for (let r = 1; r <= 3; r++) await t.train({ taskId: 't', round: r, weights: global });
    expect(tf.memory().numTensors).toBe(n);
    t.dispose();
  });

  it('refuses wrong weights, bad data and misuse', async () => {
    // yieldEveryMs 0: yields after every step, so a second call can arrive mid-round.
    const t = trainer({ yieldEveryMs: 0 });
    await expect(t.train({ taskId: 't', round: 0, weights: new Float32Array(3) })).rejects.toThrow(
      `expected ${t.weightCount} global weights, got 3`,
    );
    expect(() => new TfjsTrainer({ createModel: () => tinyModel(3), data: { x: new Float32Array(7), y: new Float32Array(2) } })).toThrow(
      RangeError,
    );
    expect(() => trainer({ proximalMu: -1 })).toThrow(/proximalMu/);
    expect(() => trainer({ batchSize: 0 })).toThrow(/batchSize/);
    const global = initialWeights();
    const first = t.train({ taskId: 't', round: 0, weights: global });
    await expect(t.train({ taskId: 't', round: 1, weights: global })).rejects.toThrow(/already running/);
    await first;
    t.dispose();
    await expect(t.train({ taskId: 't', round: 2, weights: global })).rejects.toThrow(/after dispose/);
  });
});
