/**
 * What the operator console shows, kept up to date from the coordinator's events
 * and audit records: the task and its settings, the round and stage in progress
 * with an ETA, every enrolled shop (connected or not), the round history, and the
 * audit log for search. Read-only: nothing here reaches back into the round loop.
 *
 * Everything in it is already the operator's: enrolment names, who is connected,
 * and the audit log's per-round facts (who survived, who dropped where and why,
 * aggregate numbers). Never a shop's own update or weight.
 */
import type { AuditRecord } from '../audit-log.ts';
import { chooseRoundShape, type RoundShape } from '../cohort.ts';
import type { CoordinatorConfig } from '../config.ts';
import type { Enrolment } from '../enrolment.ts';
import type { CoordinatorEvent } from '../events.ts';
import type { TaskStage } from '../status.ts';

/** Round attempts kept for the history table and the charts. */
export const CONSOLE_HISTORY = 500;
/** Audit records kept in memory for search (the file keeps them all). */
export const CONSOLE_AUDIT_RECORDS = 10_000;
/** Committed rounds the ETA averages over. */
const ETA_WINDOW = 10;

export interface ShopView {
  readonly id: number;
  readonly name: string;
  readonly connected: boolean;
  /** ISO time: now while connected; else the last disconnect or the end of the last round it was in; null if never seen. */
  readonly lastSeen: string | null;
  /** Committed rounds whose sum holds this shop's input. */
  readonly roundsContributed: number;
  readonly lastDrop: { readonly round: number; readonly stage: string; readonly reason: string; readonly at: string } | null;
}

export interface RoundView {
  readonly round: number;
  readonly session: string;
  readonly status: 'committed' | 'aborted';
  readonly reason?: string;
  readonly offered: number;
  readonly accepted: number;
  readonly survivors: number;
  readonly dropsByStage: Readonly<Record<string, number>>;
  readonly clippedCount: number | null;
  readonly contributors: number | null;
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly timings: Readonly<Record<string, number>>;
  readonly threshold: number | null;
  readonly degree: number | null;
  readonly startedAt: string;
  readonly endedAt: string;
  /** A DP task's spend on this attempt (its sum was unmasked): ε at the task's δ, this round and in all (for t shops' noise). */
  readonly dp?: { readonly epsilonRound: number; readonly epsilon: number; readonly epsilonSurvivors: number; readonly delta: number };
}

export interface ConsoleSnapshot {
  readonly task: {
    readonly id: string;
    readonly rounds: number;
    readonly modelLength: number;
    readonly metrics: readonly string[];
    readonly strategy: string;
    readonly graph: string;
    /** Neighbours and threshold planned for a full cohort (a round with fewer accepting clients may use a smaller k). */
    readonly k: number | null;
    readonly t: number | null;
    readonly cohortSize: number;
    readonly minClients: number;
    readonly activeAdversary: boolean;
    readonly quant: { readonly clipNorm: number; readonly weightBound: number; readonly fractionalBits: number; readonly metricBound: number };
    readonly deadlines: { readonly trainMs: number; readonly stageMs: number; readonly retryMs: number };
    /** task.dp: the target and the noise multiplier planned at start-up; absent without DP. */
    readonly dp?: { readonly mechanism: string; readonly epsilon: number; readonly delta: number; readonly noiseMultiplier: number };
  };
  readonly progress: {
    readonly round: number;
    readonly stage: TaskStage;
    readonly finished: boolean;
    readonly lastCommitted: number;
    readonly roundSince: string | null;
    readonly stageSince: string | null;
    /** Milliseconds until the last round commits, from the recent committed rounds' mean; null before the first. */
    readonly etaMs: number | null;
    readonly msPerRound: number | null;
  };
  readonly shops: readonly ShopView[];
  readonly history: readonly RoundView[];
  readonly serverTime: string;
}

export interface ConsoleStateDeps {
  readonly config: CoordinatorConfig;
  readonly strategy: string;
  readonly enrolment: Enrolment;
  readonly connected: (id: number) => boolean;
  readonly task: () => { readonly round: number; readonly stage: TaskStage; readonly finished: boolean };
  readonly clock?: () => number;
}

interface ShopBook {
  seenAt: number | null;
  contributed: number;
  lastDrop: ShopView['lastDrop'];
}

export function roundView(r: AuditRecord): RoundView {
  const dropsByStage: Record<string, number> = {};
  for (const d of Object.values(r.drops)) dropsByStage[d.stage] = (dropsByStage[d.stage] ?? 0) + 1;
  return {
    round: r.round,
    session: r.session,
    status: r.status,
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    offered: r.cohort.length,
    accepted: r.accepted.length,
    survivors: r.survivors.length,
    dropsByStage,
    clippedCount: r.clippedCount,
    contributors: r.contributors,
    metrics: r.metrics,
    timings: r.timings,
    threshold: r.threshold,
    degree: r.degree,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    ...(r.dp === undefined ? {} : { dp: { epsilonRound: r.dp.epsilonRound, epsilon: r.dp.epsilon, epsilonSurvivors: r.dp.epsilonSurvivors, delta: r.dp.delta } }),
  };
}

export class ConsoleState {
  readonly #d: ConsoleStateDeps;
  readonly #clock: () => number;
  readonly #shops = new Map<number, ShopBook>();
  readonly #history: RoundView[] = [];
  readonly #records: AuditRecord[] = [];
  readonly #planned: RoundShape | null;
  #lastCommitted = 0;
  #seen: { round: number; stage: TaskStage } | null = null;
  #roundSince: number | null = null;
  #stageSince: number | null = null;

  constructor(deps: ConsoleStateDeps, past: readonly AuditRecord[]) {
    this.#d = deps;
    this.#clock = deps.clock ?? Date.now;
    for (const c of deps.enrolment.clients) this.#shops.set(c.id, { seenAt: null, contributed: 0, lastDrop: null });
    let planned: RoundShape | null = null;
    try {
      planned = chooseRoundShape(deps.config.task, deps.config.task.cohortSize);
    } catch {
      planned = null; // the config check already refused unsafe shapes; keep the console up regardless
    }
    this.#planned = planned;
    for (const r of past) this.record(r);
  }

  /** One audit record (a round attempt that ended). */
  record(r: AuditRecord): void {
    this.#records.push(r);
    if (this.#records.length > CONSOLE_AUDIT_RECORDS) this.#records.splice(0, this.#records.length - CONSOLE_AUDIT_RECORDS);
    this.#history.push(roundView(r));
    if (this.#history.length > CONSOLE_HISTORY) this.#history.splice(0, this.#history.length - CONSOLE_HISTORY);
    const ended = Date.parse(r.endedAt);
    for (const id of r.accepted) this.#touch(id, ended);
    if (r.status === 'committed') {
      this.#lastCommitted = Math.max(this.#lastCommitted, r.round);
      for (const id of r.survivors) {
        const s = this.#shops.get(id);
        if (s) s.contributed++;
      }
    }
    for (const [key, d] of Object.entries(r.drops)) {
      const s = this.#shops.get(Number(key));
      if (s) s.lastDrop = { round: r.round, stage: d.stage, reason: d.reason, at: r.endedAt };
    }
  }

  /** Connection events; the others need nothing here (records come through record()). */
  event(e: CoordinatorEvent): void {
    if (e.type === 'client-connected' || e.type === 'client-disconnected') this.#touch(e.id, this.#clock());
    this.observe();
  }

  /** Notes when the round or stage changed (called on events and on the console's tick). */
  observe(): void {
    const { round, stage } = this.#d.task();
    const now = this.#clock();
    const prev = this.#seen;
    if (prev === null || prev.stage !== stage || prev.round !== round) {
      this.#stageSince = now;
      if (stage === 'TaskOffer') this.#roundSince = now;
      this.#seen = { round, stage };
    }
  }

  /** `round/stage/finished`: changes when the console has something new to show about progress. */
  stageKey(): string {
    this.observe();
    const { round, stage, finished } = this.#d.task();
    return `${round}/${stage}/${finished}`;
  }

  snapshot(): ConsoleSnapshot {
    this.observe();
    const { task } = this.#d.config;
    const live = this.#d.task();
    const now = this.#clock();
    const committed = this.#history.filter((h) => h.status === 'committed').slice(-ETA_WINDOW);
    const msPerRound =
      committed.length === 0 ? null : committed.reduce((sum, h) => sum + Math.max(0, Date.parse(h.endedAt) - Date.parse(h.startedAt)), 0) / committed.length;
    let etaMs: number | null = null;
    if (live.finished) etaMs = 0;
    else if (msPerRound !== null) {
      const remaining = task.rounds - this.#lastCommitted;
      const elapsed = this.#roundSince === null ? 0 : Math.min(msPerRound, now - this.#roundSince);
      etaMs = Math.max(0, Math.round(remaining * msPerRound - elapsed));
    }
    const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
    return {
      task: {
        id: task.id,
        rounds: task.rounds,
        modelLength: task.modelLength,
        metrics: task.metrics,
        strategy: this.#d.strategy,
        graph: task.graph,
        k: this.#planned?.k ?? null,
        t: this.#planned?.t ?? null,
        cohortSize: task.cohortSize,
        minClients: task.minClients,
        activeAdversary: task.activeAdversary,
        quant: { ...task.quant },
        deadlines: { ...task.deadlines },
        ...(task.dp === undefined ? {} : { dp: { mechanism: task.dp.mechanism, epsilon: task.dp.epsilon, delta: task.dp.delta, noiseMultiplier: task.dp.noiseMultiplier } }),
      },
      progress: {
        round: live.round,
        stage: live.stage,
        finished: live.finished,
        lastCommitted: this.#lastCommitted,
        roundSince: iso(this.#roundSince),
        stageSince: iso(this.#stageSince),
        etaMs,
        msPerRound: msPerRound === null ? null : Math.round(msPerRound),
      },
      shops: this.#d.enrolment.clients.map((c) => {
        const s = this.#shops.get(c.id)!;
        const connected = this.#d.connected(c.id);
        return { id: c.id, name: c.name, connected, lastSeen: iso(connected ? now : s.seenAt), roundsContributed: s.contributed, lastDrop: s.lastDrop };
      }),
      history: [...this.#history],
      serverTime: new Date(now).toISOString(),
    };
  }

  /**
   * Audit records, newest first, whose JSON contains every whitespace-separated term
   * of `query` (case-insensitive); at most `limit`.
   */
  searchAudit(query: string, limit: number): { readonly total: number; readonly records: readonly AuditRecord[] } {
    const terms = query.toLowerCase().split(/\s+/).filter((t) => t !== '');
    const out: AuditRecord[] = [];
    let total = 0;
    for (let i = this.#records.length - 1; i >= 0; i--) {
      const r = this.#records[i]!;
      if (terms.length > 0) {
        const text = JSON.stringify(r).toLowerCase();
        if (!terms.every((t) => text.includes(t))) continue;
      }
      total++;
      if (out.length < limit) out.push(r);
    }
    return { total, records: out };
  }

  #touch(id: number, t: number): void {
    const s = this.#shops.get(id);
    if (s && (s.seenAt === null || t > s.seenAt)) s.seenAt = t;
  }
}
