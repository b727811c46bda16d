/**
 * One secure-aggregation round on the coordinator: drives secagg's server machine
 * (`serverStep`) with the events the sockets and the clock deliver, sends its
 * outbox, and arms one deadline per stage. It holds no sockets: the task hands it
 * client messages and drops, and gives it a `send` function.
 *
 * Contract:
 * - `deliver` never throws. A SecAggError caused by one client's message is
 *   returned to the caller (who tells that client and usually `exclude`s it); the
 *   machine's state is unchanged by a refused step (secagg's guarantee).
 * - `exclude(id)` drops a client for the rest of the round: now if the stage waits
 *   for it, and again whenever a later stage opens and would wait for it (the
 *   machine only forgets clients it is waiting for).
 * - `done` resolves once, with the outcome (ready or aborted) and the per-stage
 *   reports; it never rejects.
 */
import {
  SecAggError,
  SecAggErrorCode,
  serverStep,
  startServer,
  type ClientId,
  type Drop,
  type Graph,
  type HararySpec,
  type RosterEntry,
  type ServerEvent,
  type ServerMessage,
  type ServerOutcome,
  type ServerState,
  type Stage,
} from '@tally/secagg';
import type { StageReport } from './logger.ts';

export interface RoundDriverOptions {
  readonly session: Uint8Array;
  readonly round: number;
  readonly roster: readonly RosterEntry[];
  readonly graph: Graph | HararySpec;
  readonly threshold: number;
  readonly vectorLength: number;
  readonly activeAdversary: boolean;
  /** Deadline of each stage, from the moment it opens. */
  readonly stageMs: number;
  /** Largest accepted ciphertext of one encrypted share (matches the wire limit). */
  readonly maxShareCiphertext: number;
  /** Hands a message to the client's connection; must not throw (a gone client is reported via `deliver`). */
  readonly send: (to: ClientId, msg: ServerMessage) => void;
  /** Called as each stage closes. */
  readonly onStage?: (report: StageReport) => void;
  /** Milliseconds clock (default performance.now). */
  readonly now?: () => number;
}

export type FinalOutcome = Exclude<ServerOutcome, { kind: 'pending' }>;

export interface RoundReport {
  readonly outcome: FinalOutcome;
  /** Every client the machine dropped, with the stage and reason. */
  readonly drops: ReadonlyMap<ClientId, Drop>;
  /** Milliseconds each stage was open. */
  readonly timings: Readonly<Partial<Record<Stage, number>>>;
  readonly stages: readonly StageReport[];
}

export class RoundDriver {
  readonly done: Promise<RoundReport>;
  readonly round: number;
  private readonly opts: RoundDriverOptions;
  private readonly state: ServerState;
  private readonly now: () => number;
  private readonly excluded = new Map<ClientId, string>();
  private readonly reportedDrops = new Set<ClientId>();
  private readonly timings: Partial<Record<Stage, number>> = {};
  private readonly stages: StageReport[] = [];
  private resolve!: (r: RoundReport) => void;
  private timer: NodeJS.Timeout | undefined;
  private stageOpenedAt = 0;
  private expected = 0;
  private answered = 0;
  private finished = false;

  /** Starts the machine and sends RoundStart. Throws (RangeError, SecAggError BadConfig) on a bad setup. */
  constructor(opts: RoundDriverOptions) {
    this.opts = opts;
    this.round = opts.round;
    this.now = opts.now ?? (() => performance.now());
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
    const step = startServer({
      session: opts.session,
      round: opts.round,
      roster: opts.roster,
      graph: opts.graph,
      threshold: opts.threshold,
      vectorLength: opts.vectorLength,
      activeAdversary: opts.activeAdversary,
      maxShareCiphertext: opts.maxShareCiphertext,
    });
    this.state = step.state;
    this.openStage();
    this.sendAll(step.outbox);
  }

  /** The stage in progress ('Done' once finished). */
  get stage(): ServerState['stage'] {
    return this.state.stage;
  }

  isInRoster(id: ClientId): boolean {
    return this.state.identity.has(id);
  }

  /**
   * Feeds one event to the machine. Returns the SecAggError when a client's message
   * was refused (the state is unchanged), else null.
   */
  deliver(event: ServerEvent): SecAggError | null {
    if (this.finished) return null;
    if (event.type === 'message' && this.excluded.has(event.from)) {
      return new SecAggError(SecAggErrorCode.InvalidTransition, `id ${event.from} was dropped from this round (${this.excluded.get(event.from)})`);
    }
    const before = this.state.stage;
    let outbox;
    try {
      outbox = serverStep(this.state, event).outbox;
    } catch (err) {
      if (err instanceof SecAggError && event.type === 'message') return err;
      // Not the client's doing: a bug. Refuse the message (if any) and end the round cleanly.
      const why = err instanceof Error ? err.message : String(err);
      if (event.type === 'message') return new SecAggError(SecAggErrorCode.BadMessage, `internal error while accepting ${event.msg.type}: ${why}`);
      this.finish({ kind: 'aborted', stage: before === 'Done' ? 'Unmask' : before, reason: `internal error: ${why}` });
      return null;
    }
    if (event.type === 'message') this.answered++;
    this.afterStep(before, outbox);
    return null;
  }

  /** Drops `id` for the rest of this round (disconnect, protocol error). Idempotent. */
  exclude(id: ClientId, reason: string): void {
    if (this.finished || !this.state.identity.has(id) || this.excluded.has(id)) return;
    this.excluded.set(id, reason);
    this.deliver({ type: 'dropped', id, reason });
  }

  /** Ends the round now (the coordinator is shutting down). */
  cancel(reason: string): void {
    if (this.finished) return;
    const stage = this.state.stage === 'Done' ? 'Unmask' : this.state.stage;
    this.finish({ kind: 'aborted', stage, reason });
  }

  // ---- internals --------------------------------------------------------------

  private afterStep(before: ServerState['stage'], outbox: readonly { to: ClientId; msg: ServerMessage }[]): void {
    if (this.state.stage !== before && before !== 'Done') this.closeStage(before);
    if (this.state.stage === 'Done') {
      const outcome = this.state.outcome;
      this.finish(outcome.kind === 'pending' ? { kind: 'aborted', stage: before === 'Done' ? 'Unmask' : before, reason: 'machine ended without an outcome' } : outcome);
      return;
    }
    if (this.state.stage !== before) {
      this.openStage();
      this.sendAll(outbox);
      // Clients excluded earlier must not be waited for in the new stage.
      for (const [id, reason] of this.excluded) {
        if (this.finished) return;
        if (this.state.waiting.has(id)) this.deliver({ type: 'dropped', id, reason });
      }
    } else {
      this.sendAll(outbox);
    }
  }

  private openStage(): void {
    clearTimeout(this.timer);
    this.stageOpenedAt = this.now();
    this.expected = this.state.waiting.size;
    this.answered = 0;
    const stage = this.state.stage;
    this.timer = setTimeout(() => {
      // Only if the same stage is still open (a stage that closed cleared its timer).
      if (!this.finished && this.state.stage === stage) this.deliver({ type: 'deadline' });
    }, this.opts.stageMs);
  }

  private closeStage(stage: Stage): void {
    clearTimeout(this.timer);
    const ms = this.now() - this.stageOpenedAt;
    this.timings[stage] = ms;
    const drops: { id: number; reason: string }[] = [];
    for (const [id, d] of this.state.drops) {
      if (this.reportedDrops.has(id)) continue;
      this.reportedDrops.add(id);
      drops.push({ id, reason: d.reason });
    }
    const report: StageReport = { round: this.round, stage, expected: this.expected, answered: this.answered, drops, ms };
    this.stages.push(report);
    this.opts.onStage?.(report);
  }

  private sendAll(outbox: readonly { to: ClientId; msg: ServerMessage }[]): void {
    for (const { to, msg } of outbox) {
      if (!this.excluded.has(to)) this.opts.send(to, msg);
    }
  }

  private finish(outcome: FinalOutcome): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    const open = this.state.stage;
    if (open !== 'Done' && this.timings[open] === undefined) this.timings[open] = this.now() - this.stageOpenedAt;
    this.resolve({ outcome, drops: new Map(this.state.drops), timings: { ...this.timings }, stages: [...this.stages] });
  }
}
