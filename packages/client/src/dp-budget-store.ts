/**
 * The shop's differential-privacy budget: the Rényi-DP curve, composed over every
 * round this node CONTRIBUTED a masked input to, across tasks, sessions and restarts.
 * RDP composes by adding curves order by order (Mironov 2017, Prop. 1), so the file
 * holds one number per order of secagg's DP_ORDERS (append-only list: the file's
 * format) and the count of rounds charged.
 *
 * `<stateDir>/dp-budget.json`, replaced atomically and durably like the participation
 * record (participation-store.ts: temporary file, fsync, rename, fsync the folder).
 * The node charges a round here BEFORE its masked input leaves (round.ts), so a crash
 * can over-count a round that never reached the coordinator, never under-count one
 * that did. A damaged file is refused, never silently reset: resetting would hand the
 * shop's whole budget back.
 *
 * Without a stateDir the budget lives in memory and a restart forgets it (the node
 * warns at start).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DP_ORDERS } from '@tally/secagg';
import { writeFileAtomicSync } from './atomic-file.ts';

export const DP_BUDGET_FILE = 'dp-budget.json';
const VERSION = 1;

export interface DpSpent {
  /** ε(α) on DP_ORDERS, composed over the rounds charged (+Infinity: a round without noise). */
  readonly rdp: Float64Array;
  /** Rounds charged. */
  readonly rounds: number;
}

export function emptySpent(): DpSpent {
  return { rdp: new Float64Array(DP_ORDERS.length), rounds: 0 };
}

export class DpBudgetStore {
  /** The file, or null when the budget is kept in memory only. */
  readonly file: string | null;
  readonly #dir: string | null;
  #memory: DpSpent = emptySpent();

  constructor(dir: string | null) {
    this.#dir = dir;
    this.file = dir === null ? null : join(dir, DP_BUDGET_FILE);
  }

  /** What has been spent; an empty budget when there is no file yet. Throws on a damaged file. */
  load(): DpSpent {
    if (this.file === null) return { rdp: Float64Array.from(this.#memory.rdp), rounds: this.#memory.rounds };
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptySpent();
      throw new Error(`${this.file}: cannot read this shop's privacy budget: ${(err as Error).message}`, { cause: err });
    }
    let u: unknown;
    try {
      u = JSON.parse(text);
    } catch (err) {
      throw new Error(`${this.file}: damaged privacy budget (${(err as Error).message}); restore it from a backup rather than deleting it: deleting hands back the privacy already spent`, { cause: err });
    }
    const o = u as { v?: unknown; orders?: unknown; rdp?: unknown; rounds?: unknown };
    const ok =
      typeof u === 'object' && u !== null && o.v === VERSION &&
      Array.isArray(o.orders) && o.orders.length <= DP_ORDERS.length && o.orders.every((a, i) => a === DP_ORDERS[i]) &&
      Array.isArray(o.rdp) && o.rdp.length === o.orders.length &&
      o.rdp.every((x) => x === null || (typeof x === 'number' && Number.isFinite(x) && x >= 0)) &&
      typeof o.rounds === 'number' && Number.isSafeInteger(o.rounds) && o.rounds >= 0;
    if (!ok) {
      throw new Error(`${this.file}: expected { v: ${VERSION}, orders: [the Rényi orders], rdp: [one ε(α) ≥ 0 or null (∞) per order], rounds }, got ${text.slice(0, 80)}`);
    }
    const stored = o.rdp as (number | null)[];
    if (stored.length < DP_ORDERS.length && o.rounds !== 0) {
      // Orders appended since the file was written have no stored value: nothing safe to assume.
      throw new Error(`${this.file}: written for ${stored.length} Rényi orders, this version uses ${DP_ORDERS.length}; the spent budget cannot be carried over safely`);
    }
    const rdp = new Float64Array(DP_ORDERS.length);
    stored.forEach((x, i) => {
      rdp[i] = x === null ? Infinity : x;
    });
    return { rdp, rounds: o.rounds as number };
  }

  /** Replaces the stored budget atomically and durably. Throws when it cannot. */
  save(spent: DpSpent): void {
    if (this.file === null || this.#dir === null) {
      this.#memory = { rdp: Float64Array.from(spent.rdp), rounds: spent.rounds };
      return;
    }
    // JSON has no Infinity: null stands for it (a round charged without noise).
    const rdp = Array.from(spent.rdp, (x) => (Number.isFinite(x) ? x : null));
    writeFileAtomicSync(this.#dir, this.file, `${JSON.stringify({ v: VERSION, orders: DP_ORDERS, rdp, rounds: spent.rounds })}\n`);
  }
}
