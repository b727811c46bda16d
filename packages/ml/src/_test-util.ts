/** Helpers shared by this package's tests (not exported from the package). */
import type { MlLogger } from './logger.ts';
import { tfl, type LayersModel } from './tf.ts';

export interface CollectingLogger extends MlLogger {
  readonly lines: string[];
}

export function collectingLogger(): CollectingLogger {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`) };
}

/** A small seeded MLP: inputs → hidden (relu) → 1. */
export function tinyModel(inputs: number, hidden = 8, seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [inputs],
        units: hidden,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

/** y = 2·x0 − x1 + 0.5·x2 + 0.1 (+ noise), rows drawn from a fixed LCG: deterministic test data. */
export function linearProblem(rows: number, inputs = 3, noise = 0.05): { x: Float32Array; y: Float32Array } {
  let s = 12345;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const coef = [2, -1, 0.5, 0.25, -0.75];
  const x = new Float32Array(rows * inputs);
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let t = 0.1;
    for (let j = 0; j < inputs; j++) {
      const v = next() * 2;
      x[r * inputs + j] = v;
      t += (coef[j % coef.length] as number) * v;
    }
    y[r] = t + noise * next();
  }
  return { x, y };
}

export function l2(v: Float32Array): number {
  let s = 0;
  for (const a of v) s += a * a;
  return Math.sqrt(s);
}
