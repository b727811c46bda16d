/**
 * Repeated identical aborts: what retrying every retryMs cannot fix (a cohort that
 * declines every offer for the same reason, a threshold nobody's policy accepts).
 * Without a bound, such a task re-offered every second and wrote an audit line per
 * attempt (742 lines in 10 minutes in one report).
 *
 * Two attempts are "identical" when they abort with the same reason, cohort, accepted
 * list and per-client drops (stage and reason). From the BACKOFF_AFTER-th identical
 * abort in a row the pause before the next attempt doubles, up to MAX_RETRY_MS; and
 * the audit log keeps the 1st, 2nd, 4th, 8th, … abort of a streak, each with `repeat`
 * (its place in the streak), so a streak of n aborts costs about log2(n) lines.
 * A committed round, or any different outcome, ends the streak.
 */
import type { AuditRecord } from './audit-log.ts';

/** The identical abort (in a row) from which the pause grows. */
export const BACKOFF_AFTER = 3;
/** The longest pause between two attempts of a streak. */
export const MAX_RETRY_MS = 60_000;
/** The pause a streak starts doubling from when retryMs is shorter (e.g. 0 in tests). */
export const MIN_BACKOFF_BASE_MS = 250;

export class AbortStreak {
  #key: string | null = null;
  #count = 0;

  /** Length of the current streak of identical aborts (0 after a commit). */
  get count(): number {
    return this.#count;
  }

  /** Counts an abort; returns its place in the streak (1: a new kind of abort). */
  note(record: AuditRecord): number {
    const drops = Object.entries(record.drops)
      .map(([id, d]) => `${id}:${d.stage}:${d.reason}`)
      .sort();
    const key = JSON.stringify([record.reason ?? '', record.cohort, record.accepted, drops]);
    this.#count = key === this.#key ? this.#count + 1 : 1;
    this.#key = key;
    return this.#count;
  }

  reset(): void {
    this.#key = null;
    this.#count = 0;
  }
}

/** The pause before the next attempt after the `n`-th identical abort in a row. */
export function retryDelay(retryMs: number, n: number): number {
  if (n < BACKOFF_AFTER) return retryMs;
  return Math.min(MAX_RETRY_MS, Math.max(retryMs, MIN_BACKOFF_BASE_MS) * 2 ** (n - BACKOFF_AFTER + 1));
}

/** Whether the `n`-th abort of a streak gets its own audit line: n = 1, 2, 4, 8, … */
export function auditsRepeat(n: number): boolean {
  return n >= 1 && (n & (n - 1)) === 0;
}
