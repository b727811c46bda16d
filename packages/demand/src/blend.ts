/**
 * Forecast combination for personalisation: a convex weight a between a shop's
 * local-only forecast and a shared one (the global or fine-tuned model),
 *
 *   f = a · f_local + (1 − a) · f_shared,   a ∈ BLEND_GRID,
 *
 * with a chosen on the shop's validation days only (`personalBlend`, below). Combining
 * forecasts lowers the error variance when the two err differently (Bates & Granger
 * 1969, Oper. Res. Q. 20:451–468); weights estimated on short samples usually do worse
 * than equal ones (the "forecast combination puzzle", Smith & Wallis 2009, Oxf. Bull.
 * Econ. Stat. 71:331–355), so the rule starts from ½ and moves only on clear evidence.
 * A coarse grid: five values are all that 7–28 validation days can tell apart.
 */

/** Weights on the local-only forecast, from all-local down to all-shared. */
export const BLEND_GRID = [1, 0.75, 0.5, 0.25, 0] as const;

/** a · local + (1 − a) · shared, element-wise. */
export function blendForecast(local: ArrayLike<number>, shared: ArrayLike<number>, weight: number): Float32Array {
  if (local.length !== shared.length) throw new RangeError(`blendForecast: ${local.length} local forecasts but ${shared.length} shared ones`);
  if (!(weight >= 0 && weight <= 1)) throw new RangeError(`blendForecast: expected a weight in [0, 1], got ${weight}`);
  const out = new Float32Array(local.length);
  for (let i = 0; i < out.length; i++) out[i] = weight * (local[i] as number) + (1 - weight) * (shared[i] as number);
  return out;
}

export interface BlendChoice {
  /** Weight on the local-only forecast. */
  readonly weight: number;
  /** The blend's WAPE on the rows it was chosen on. */
  readonly wape: number;
}

/**
 * The weight in `grid` with the lowest WAPE of the blend against `units` (NaN never
 * wins; no units: all local). With a `start` weight and a `margin` > 0, another weight
 * replaces `start` only when its WAPE is lower by more than `margin` (absolute).
 */
export function chooseBlend(
  units: ArrayLike<number>,
  local: ArrayLike<number>,
  shared: ArrayLike<number>,
  grid: readonly number[] = BLEND_GRID,
  start?: number,
  margin = 0,
): BlendChoice {
  let total = 0;
  for (let i = 0; i < units.length; i++) total += units[i] as number;
  const score = (a: number): number => {
    const f = blendForecast(local, shared, a);
    let err = 0;
    for (let i = 0; i < f.length; i++) err += Math.abs((units[i] as number) - (f[i] as number));
    return total === 0 ? (err === 0 ? 0 : Number.POSITIVE_INFINITY) : err / total;
  };
  let best: BlendChoice = start === undefined ? { weight: 1, wape: Number.POSITIVE_INFINITY } : { weight: start, wape: score(start) };
  const bar = start === undefined ? 0 : margin;
  const startWape = best.wape;
  for (const a of grid) {
    const w = score(a);
    if (Number.isFinite(w) && w < best.wape && w < startWape - bar) best = { weight: a, wape: w };
  }
  return best;
}

/** Where the blend starts: the equal-weight combination. */
export const BLEND_START = 0.5;
/** Another weight replaces the start only when it is this much better on validation (absolute WAPE). */
export const BLEND_MARGIN = 0.01;

/**
 * The shop's blend: start from the equal-weight combination and move to another grid
 * weight only when it is better on validation by more than BLEND_MARGIN; and never end
 * worse on validation than the local-only forecast (then local alone, weight 1).
 */
export function personalBlend(units: ArrayLike<number>, local: ArrayLike<number>, shared: ArrayLike<number>): BlendChoice {
  const b = chooseBlend(units, local, shared, BLEND_GRID, BLEND_START, BLEND_MARGIN);
  const alone = chooseBlend(units, local, shared, [1]);
  return alone.wape < b.wape ? alone : b;
}
