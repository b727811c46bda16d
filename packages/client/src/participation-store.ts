/**
 * What a client node must not forget across a restart: the (session, round)
 * pairs it took part in (policy rule freshSession: a round is never run twice)
 * and how many rounds it contributed to (policy rule maxRounds). Kept in memory
 * only, a restart would reset both, and a coordinator could replay a session or
 * go past maxRounds by making the node restart.
 *
 * One JSON file in the node's state directory, replaced atomically on every
 * change: write a temporary file, fsync it, rename it over the old one, fsync
 * the directory (POSIX rename(2) is atomic; the fsyncs make the new content and
 * the rename durable before the node acts on them). Writes are synchronous:
 * the node records before it answers (before training an offer, before sending
 * a masked input), so a crash never leaves an action unrecorded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from './atomic-file.ts';

export const PARTICIPATION_FILE = 'participation.json';
const VERSION = 1;

export interface Participation {
  readonly roundsContributed: number;
  /** `session hex/round`, oldest first. */
  readonly tookPart: readonly string[];
}

export class ParticipationStore {
  readonly file: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.file = join(dir, PARTICIPATION_FILE);
  }

  /** The stored state, or an empty one when there is no file yet. Throws on a damaged file (never silently resets it). */
  load(): Participation {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { roundsContributed: 0, tookPart: [] };
      throw new Error(`${this.file}: cannot read this node's participation record: ${(err as Error).message}`, { cause: err });
    }
    let u: unknown;
    try {
      u = JSON.parse(text);
    } catch (err) {
      throw new Error(`${this.file}: damaged participation record (${(err as Error).message}); restore it from a backup rather than deleting it: deleting resets policy.maxRounds and the replay protection`, { cause: err });
    }
    const o = u as { v?: unknown; roundsContributed?: unknown; tookPart?: unknown };
    if (
      typeof u !== 'object' || u === null || o.v !== VERSION ||
      typeof o.roundsContributed !== 'number' || !Number.isSafeInteger(o.roundsContributed) || o.roundsContributed < 0 ||
      !Array.isArray(o.tookPart) || !o.tookPart.every((p) => typeof p === 'string' && /^[0-9a-f]+\/[0-9]+$/.test(p))
    ) {
      throw new Error(`${this.file}: expected { v: ${VERSION}, roundsContributed, tookPart: ["<session hex>/<round>"] }, got ${text.slice(0, 80)}`);
    }
    return { roundsContributed: o.roundsContributed, tookPart: o.tookPart as string[] };
  }

  /** Replaces the stored state atomically and durably. Throws when it cannot. */
  save(p: Participation): void {
    writeFileAtomicSync(this.#dir, this.file, `${JSON.stringify({ v: VERSION, roundsContributed: p.roundsContributed, tookPart: p.tookPart })}\n`);
  }
}
