/**
 * The shop's privacy ledger: `<stateDir>/ledger.jsonl`, append-only, one JSON object
 * per line, fsynced after each append. It records, in the shop's own files, what this
 * node agreed to and what left the machine:
 *
 * - `offer`: every TaskOffer, the policy checks it passed, accepted or refused (and
 *   why), and the SHA-256 of the global model it received;
 * - `roundStart`: the roster size, threshold and neighbours it was shown, joined or left;
 * - `sent`: every round message it sent, with its size in bytes; for MaskedInput the
 *   SHA-256 of the masked vector's bytes (never the vector itself);
 * - `revealed`: in Unmask, whose self-mask share (survivors) and whose mask-key share
 *   (dropped neighbours) it revealed, and the survivor list U3 it was shown;
 * - `result`: the RoundResult (status, survivor count), with `dpBudget`: what a
 *   differential-privacy round cost the shop's budget (null for a round without DP).
 *
 * Nothing in it is secret to the shop, and nothing in it is the shop's data: no
 * vector, no share value, no key. A torn last line (a crash mid-append) is skipped by
 * the reader and cut off before the next append, like the coordinator's audit log.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonLines } from '@tally/wire';

export const LEDGER_FILE = 'ledger.jsonl';
export const LEDGER_VERSION = 1;

interface Base {
  readonly v: typeof LEDGER_VERSION;
  /** ISO time of the entry. */
  readonly at: string;
  /** Session id, hex. */
  readonly session: string;
  readonly round: number;
}

export interface OfferEntry extends Base {
  readonly type: 'offer';
  readonly taskId: string;
  readonly cohortSize: number;
  readonly threshold: number;
  /** SHA-256 (hex) of the global model received (little-endian float32 bytes). */
  readonly modelSha256: string;
  readonly modelLength: number;
  /** accepted: an OfferReply accept was sent after local training; refused: policy said no; declined: it could not take part. */
  readonly decision: 'accepted' | 'refused' | 'declined';
  /** The policy rules the offer passed. */
  readonly checks: readonly string[];
  readonly rule?: string;
  readonly reason?: string;
}

export interface RoundStartEntry extends Base {
  readonly type: 'roundStart';
  readonly decision: 'joined' | 'left';
  /** This node's id in the round. */
  readonly you: number;
  readonly rosterSize: number;
  readonly threshold: number;
  readonly neighbours: readonly number[];
  readonly activeAdversary: boolean;
  readonly checks: readonly string[];
  readonly rule?: string;
  readonly reason?: string;
}

export interface SentEntry extends Base {
  readonly type: 'sent';
  /** The message type: AdvertiseKeys, ShareKeys, MaskedInput, ConsistencySignature, UnmaskShares, OfferReply. */
  readonly message: string;
  /** Encoded size on the wire. */
  readonly bytes: number;
  /** MaskedInput only: SHA-256 (hex) of the masked vector's little-endian bytes, and its lanes. */
  readonly sha256?: string;
  readonly lanes?: number;
  /** ShareKeys only: encrypted shares sent (one per neighbour). */
  readonly shares?: number;
}

export interface RevealedEntry extends Base {
  readonly type: 'revealed';
  /** U3 as the coordinator's UnmaskRequest listed it: the clients whose input is in the sum. */
  readonly survivors: readonly number[];
  /** Neighbours whose self-mask (b) share this node revealed: they survived. */
  readonly selfMaskSharesOf: readonly number[];
  /** Neighbours whose mask-key (s) share this node revealed: they dropped after sharing keys. */
  readonly keySharesOf: readonly number[];
}

export interface ResultEntry extends Base {
  readonly type: 'result';
  readonly status: 'committed' | 'aborted';
  /** Survivors the coordinator reported. */
  readonly survivors: number;
  /** This node's input is in the round's sum (it was live in the round when the result came). */
  readonly inRound: boolean;
  readonly reason?: string;
  /** The differential-privacy budget this round was charged, when it ran DP and this node's input was in it; else null. */
  readonly dpBudget: DpBudgetNote | null;
}

/**
 * What a DP round cost the shop (client dp-consent.ts), at the δ the budget is counted at.
 * ε values are this client's own accountant's; ∞ (a round without noise) is written as null.
 */
export interface DpBudgetNote {
  readonly delta: number;
  /** ε of this round alone. */
  readonly epsilonRound: number;
  /** ε spent in all (every task, every round charged), after this round. */
  readonly spent: number;
  readonly spentBefore: number;
  /** policy.maxEpsilon − spent, or null without a cap. */
  readonly remaining: number | null;
  readonly maxEpsilon: number | null;
  /** Rounds charged to the budget in all. */
  readonly roundsCharged: number;
}

export type LedgerEntry = OfferEntry | RoundStartEntry | SentEntry | RevealedEntry | ResultEntry;
/** An entry as the round code writes it: the ledger adds `v` and `at`. */
export type NewLedgerEntry = LedgerEntry extends infer E ? (E extends LedgerEntry ? Omit<E, 'v' | 'at'> : never) : never;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The bytes of a typed array as they travel on the wire (little-endian; every platform Node runs on is). */
export function bytesOf(a: Float32Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export interface LedgerContents {
  readonly entries: LedgerEntry[];
  readonly torn: boolean;
}

/** Reads a ledger; a missing file is empty; a torn last line is skipped; a bad line before it throws. */
export async function readLedger(path: string): Promise<LedgerContents> {
  const { items, torn } = await readJsonLines(path, parseEntry);
  return { entries: items, torn };
}

function parseEntry(line: string, where: string): LedgerEntry {
  let u: unknown;
  try {
    u = JSON.parse(line);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message}); the ledger is damaged`);
  }
  const o = u as Record<string, unknown>;
  if (typeof u !== 'object' || u === null || typeof o['type'] !== 'string' || typeof o['round'] !== 'number' || typeof o['session'] !== 'string') {
    throw new Error(`${where}: expected a ledger entry with type, session and round, got ${line.slice(0, 80)}`);
  }
  return u as LedgerEntry;
}

/** Appends entries in call order, each fsynced. */
export class Ledger {
  readonly path: string;
  #queue: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens `<stateDir>/ledger.jsonl` (creating the folder), cutting off a torn last line first. */
  static async open(stateDir: string): Promise<Ledger> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const path = join(stateDir, LEDGER_FILE);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== '' && !text.endsWith('\n')) {
      const { torn } = await readLedger(path);
      if (torn) await truncate(path, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1), 'utf8'));
      else {
        const fh = await open(path, 'a');
        try {
          await fh.write('\n');
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }
    return new Ledger(path);
  }

  append(entry: NewLedgerEntry, now: Date = new Date()): Promise<void> {
    const line = `${JSON.stringify({ v: LEDGER_VERSION, at: now.toISOString(), ...entry })}\n`;
    const next = this.#queue.then(async () => {
      const fh = await open(this.path, 'a', 0o600);
      try {
        await fh.write(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every append so far is on disk (or failed). */
  flush(): Promise<void> {
    return this.#queue;
  }
}
