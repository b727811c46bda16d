/**
 * The audit log, `<dataDir>/<taskId>/audit.jsonl`: append-only, one JSON object per
 * line, one line per round attempt (committed or aborted), fsynced after each
 * append. What it records (AuditRecord): who was offered the round, who accepted,
 * who survived, who dropped where and why, whose secrets were reconstructed
 * (selfMaskOf: survivors, whose input is in the sum; maskKeyOf: clients that dropped
 * after sharing keys), and only aggregate numbers: clipped count, contributors,
 * total weight and averaged metrics. Never a client's own update or weight.
 *
 * A crash mid-append can leave a torn last line (no newline). The reader skips it
 * and says so; opening the log for appending cuts it off first, so the next record
 * starts on a line of its own. A malformed line that is not the last is corruption
 * and is refused.
 */
import { open, readFile, truncate } from 'node:fs/promises';
import { readJsonLines } from '@tally/wire';
import { isPlainObject } from './_assert.ts';

export const AUDIT_FILE = 'audit.jsonl';
export const AUDIT_VERSION = 1;

export interface AuditDrop {
  /** 'TaskOffer' or a secagg stage. */
  readonly stage: string;
  readonly reason: string;
}

export interface AuditRecord {
  readonly v: typeof AUDIT_VERSION;
  readonly taskId: string;
  readonly round: number;
  /** Session id, hex. */
  readonly session: string;
  readonly status: 'committed' | 'aborted';
  /** Why an aborted round ended, in full (may hold aggregate values: the audit log only). */
  readonly reason?: string;
  /** The code the cohort got in RoundResult.reason for this abort. */
  readonly reasonCode?: string;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Clients offered the round. */
  readonly cohort: readonly number[];
  /** Clients that accepted (the secagg roster). */
  readonly accepted: readonly number[];
  /** Clients whose masked input is in the sum (U3). */
  readonly survivors: readonly number[];
  readonly threshold: number | null;
  /** Neighbours per client in the communication graph. */
  readonly degree: number | null;
  readonly drops: Readonly<Record<string, AuditDrop>>;
  readonly revealed: { readonly selfMaskOf: readonly number[]; readonly maskKeyOf: readonly number[] };
  /**
   * Clients that revealed a forged share (named with the shares beyond t, secagg
   * verified-reconstruct.ts); excluded from the task's later rounds. Absent: none.
   */
  readonly forgers?: readonly number[];
  readonly clippedCount: number | null;
  readonly contributors: number | null;
  readonly totalWeight: number | null;
  readonly metrics: Readonly<Record<string, number>> | null;
  /** Milliseconds per stage: TaskOffer, the secagg stages, Aggregate (unmask + decode + strategy + checkpoint). */
  readonly timings: Readonly<Record<string, number>>;
  /** On an abort identical to the ones before it: its place in that streak (only 2, 4, 8, … are written; abort-streak.ts). */
  readonly repeat?: number;
  /** A DP task's privacy spend, on every attempt whose sum was unmasked (dp-spend.ts). Absent: no DP, or nothing unmasked. */
  readonly dp?: AuditDp;
}

/** The DP spend of one unmasked round, ε at the task's δ (∞ is written as null by JSON). */
export interface AuditDp {
  readonly delta: number;
  readonly noiseMultiplier: number;
  /** t: the survivors the noise is sized for. */
  readonly minSurvivors: number;
  /** Shops whose noise is in the sum (the survivors). */
  readonly noisyShops: number;
  /** ε of this round for t shops' noise (what each shop's accountant charges). */
  readonly epsilonRound: number;
  /** ε of this round for the actual survivors' noise (all of them honest). */
  readonly epsilonRoundSurvivors: number;
  /** ε of every round charged so far, composed: for t, and for the actual survivors. */
  readonly epsilon: number;
  readonly epsilonSurvivors: number;
  readonly roundsCharged: number;
}

export interface AuditLogContents {
  readonly records: AuditRecord[];
  /** True when the last line was torn (cut off by a crash) and skipped. */
  readonly torn: boolean;
}

function parseLine(line: string, where: string): AuditRecord {
  let u: unknown;
  try {
    u = JSON.parse(line);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message}); the audit log is corrupt before its last line`);
  }
  if (!isPlainObject(u) || typeof u['round'] !== 'number' || (u['status'] !== 'committed' && u['status'] !== 'aborted')) {
    throw new Error(`${where}: expected an audit record with round and status, got ${line.slice(0, 80)}`);
  }
  return u as unknown as AuditRecord;
}

/**
 * Reads every record. Tolerates a torn last line (skipped, `torn: true`); a missing
 * file is an empty log. Throws on a malformed line before the last.
 */
export async function readAuditLog(path: string): Promise<AuditLogContents> {
  const { items, torn } = await readJsonLines(path, parseLine);
  return { records: items, torn };
}

/** Appends records with fsync; one at a time, in call order. */
export class AuditLog {
  readonly path: string;
  private queue: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Opens (creating if need be) the log at `path`, first cutting off a torn last
   * line so that appends start on a fresh line. Returns the log and what it held.
   */
  static async open(path: string): Promise<{ log: AuditLog; contents: AuditLogContents }> {
    const contents = await readAuditLog(path);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== '' && !text.endsWith('\n')) {
      if (contents.torn) {
        await truncate(path, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1), 'utf8'));
      } else {
        // The last record is whole but lacks its newline: add it.
        const fh = await open(path, 'a');
        try {
          await fh.write('\n');
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }
    return { log: new AuditLog(path), contents };
  }

  append(record: AuditRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    const next = this.queue.then(async () => {
      const fh = await open(this.path, 'a', 0o644);
      try {
        await fh.write(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Waits for pending appends. */
  async close(): Promise<void> {
    await this.queue;
  }
}
