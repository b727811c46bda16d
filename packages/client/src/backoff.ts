/**
 * Reconnect delays: exponential growth from initialMs, capped at maxMs, with
 * "equal jitter" (half fixed, half uniform) so that clients dropped together by a
 * coordinator restart do not come back in lockstep, while no delay falls near 0.
 */
import type { RandomSource } from '@tally/secagg';

export interface ReconnectOptions {
  /** First delay after a lost connection. Default 500 ms. */
  readonly initialMs: number;
  /** Largest delay. Default 30 000 ms. */
  readonly maxMs: number;
}

export const DEFAULT_RECONNECT: ReconnectOptions = Object.freeze({ initialMs: 500, maxMs: 30_000 });

/**
 * The delay before reconnect attempt `attempt` (0 for the first): a value in
 * [d/2, d] where d = min(maxMs, initialMs · 2^attempt). `random` supplies 4 bytes
 * of uniform jitter (no secrecy needed; the node passes its RandomSource).
 */
export function backoffDelay(opts: ReconnectOptions, attempt: number, random: RandomSource): number {
  const d = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 52));
  const b = random(4);
  const u = ((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0) / 2 ** 32;
  return Math.round(d / 2 + (u * d) / 2);
}

/** Checks caller-supplied options; throws RangeError naming the field. */
export function resolveReconnect(opts: Partial<ReconnectOptions> | undefined): ReconnectOptions {
  const out = { ...DEFAULT_RECONNECT, ...definedOnly(opts) };
  for (const k of ['initialMs', 'maxMs'] as const) {
    if (!Number.isSafeInteger(out[k]) || out[k] < 1) throw new RangeError(`reconnect.${k}: expected an integer ≥ 1, got ${out[k]}`);
  }
  if (out.maxMs < out.initialMs) throw new RangeError(`reconnect.maxMs: expected ≥ initialMs (${out.initialMs}), got ${out.maxMs}`);
  return out;
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  if (o === undefined) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
