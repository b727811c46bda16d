/**
 * Per-shop Poisson GLM baseline: log E[y] = β₀ + x·β on the same features as the
 * neural models (y = units / the shop's own mean), fitted on the shop's fit rows alone
 * by iteratively reweighted least squares (McCullagh & Nelder, Generalized Linear
 * Models, 2nd ed., 1989, §2.5) with a ridge penalty λ‖β‖² (the intercept is not
 * penalised) so that a young shop's few rows still give a solution. λ is chosen among
 * RIDGE_GRID on the shop's validation WAPE. Forecast: exp(β₀ + x·β) · m_{s,p}.
 *
 * Plain float64 JavaScript, no TF.js: the system is (inputs + 1)² and a few IRLS steps.
 */
import type { PreparedShop, Rows } from './rows.ts';

export const RIDGE_GRID = [0.3, 3, 30] as const;
const MAX_ITER = 12;
/** Caps the linear predictor (exp(8) ≈ 3000 times the shop's mean). */
const ETA_MAX = 8;

export interface GlmFit {
  /** [β₀, β₁ … β_inputs]. */
  readonly beta: Float64Array;
  readonly ridge: number;
  readonly validationWape: number;
}

/** Fits each ridge value on `shop.fit`, keeps the best on `shop.validation`. */
export function fitShopGlm(shop: PreparedShop): GlmFit {
  let best: GlmFit | null = null;
  for (const ridge of RIDGE_GRID) {
    const beta = fitPoisson(shop.fit, shop.inputs, ridge);
    const f = glmForecast(beta, shop, shop.validation);
    let err = 0;
    let units = 0;
    for (let i = 0; i < f.length; i++) {
      err += Math.abs((shop.validation.units[i] as number) - (f[i] as number));
      units += shop.validation.units[i] as number;
    }
    const v = units === 0 ? (err === 0 ? 0 : Number.POSITIVE_INFINITY) : err / units;
    if (best === null || v < best.validationWape) best = { beta, ridge, validationWape: v };
  }
  return best as GlmFit;
}

/** Forecast in units for `rows` of `shop`. */
export function glmForecast(beta: Float64Array, shop: Pick<PreparedShop, 'inputs' | 'scale'>, rows: Pick<Rows, 'rows' | 'x' | 'product'>): Float32Array {
  const k = shop.inputs;
  const out = new Float32Array(rows.rows);
  for (let r = 0; r < rows.rows; r++) {
    let eta = beta[0] as number;
    for (let j = 0; j < k; j++) eta += (beta[j + 1] as number) * (rows.x[r * k + j] as number);
    out[r] = Math.exp(Math.min(ETA_MAX, eta)) * (shop.scale[rows.product[r] as number] as number);
  }
  return out;
}

/** Ridge-penalised Poisson regression by IRLS. */
export function fitPoisson(rows: Pick<Rows, 'rows' | 'x' | 'y'>, inputs: number, ridge: number): Float64Array {
  const d = inputs + 1;
  const beta = new Float64Array(d);
  let meanY = 0;
  for (let r = 0; r < rows.rows; r++) meanY += rows.y[r] as number;
  meanY /= Math.max(1, rows.rows);
  beta[0] = Math.log(Math.max(1e-3, meanY));
  const row = new Float64Array(d);
  for (let iter = 0; iter < MAX_ITER; iter++) {
    const A = new Float64Array(d * d);
    const b = new Float64Array(d);
    for (let r = 0; r < rows.rows; r++) {
      row[0] = 1;
      for (let j = 0; j < inputs; j++) row[j + 1] = rows.x[r * inputs + j] as number;
      let eta = 0;
      for (let j = 0; j < d; j++) eta += (beta[j] as number) * (row[j] as number);
      eta = Math.min(ETA_MAX, eta);
      const mu = Math.max(1e-6, Math.exp(eta));
      const z = eta + ((rows.y[r] as number) - mu) / mu;
      for (let i = 0; i < d; i++) {
        const wi = mu * (row[i] as number);
        if (wi === 0) continue;
        b[i] = (b[i] as number) + wi * z;
        for (let j = i; j < d; j++) A[i * d + j] = (A[i * d + j] as number) + wi * (row[j] as number);
      }
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) A[i * d + j] = A[j * d + i] as number;
    for (let i = 1; i < d; i++) A[i * d + i] = (A[i * d + i] as number) + ridge;
    A[0] = (A[0] as number) + 1e-6;
    const next = solveSpd(A, b, d);
    let change = 0;
    for (let i = 0; i < d; i++) change = Math.max(change, Math.abs((next[i] as number) - (beta[i] as number)));
    beta.set(next);
    if (change < 1e-6) break;
  }
  return beta;
}

/** Solves A x = b for a symmetric positive definite A (Cholesky). */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (L[i * n + k] as number) * (L[j * n + k] as number);
      L[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / (L[j * n + j] as number);
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * n + k] as number) * (y[k] as number);
    y[i] = s / (L[i * n + i] as number);
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= (L[k * n + i] as number) * (x[k] as number);
    x[i] = s / (L[i * n + i] as number);
  }
  return x;
}
