/**
 * What `GET /status` returns, and the short round history it includes. Everything
 * here is already public to the operator: aggregate numbers only.
 *
 * ```json
 * { "task": { "id", "rounds", "modelLength", "metrics", "strategy" },
 *   "round": 3,                 // the round being worked on (the last one once finished)
 *   "stage": "ShareKeys",       // see TaskStage
 *   "finished": false,
 *   "connectedClients": [ { "id": 1, "name": "shop-a" } ],
 *   "history": [ RoundSummary, ... ]   // the last 50 attempts, oldest first
 * }
 * ```
 */
import type { AuditRecord } from './audit-log.ts';

/** Rounds kept in the status history. */
export const HISTORY_LENGTH = 50;

export type TaskStage =
  | 'starting'
  | 'waiting for clients'
  | 'TaskOffer'
  | 'AdvertiseKeys'
  | 'ShareKeys'
  | 'MaskedInput'
  | 'ConsistencyCheck'
  | 'Unmask'
  | 'Aggregate'
  | 'retry pause'
  | 'done'
  | 'closed';

export interface RoundSummary {
  readonly round: number;
  readonly session: string;
  readonly status: 'committed' | 'aborted';
  readonly reason?: string;
  readonly offered: number;
  readonly accepted: number;
  readonly survivors: number;
  readonly contributors: number | null;
  readonly totalWeight: number | null;
  readonly clippedCount: number | null;
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly startedAt: string;
  readonly durationMs: number;
}

export interface Status {
  readonly task: {
    readonly id: string;
    readonly rounds: number;
    readonly modelLength: number;
    readonly metrics: readonly string[];
    readonly strategy: string;
  };
  readonly round: number;
  readonly stage: TaskStage;
  readonly finished: boolean;
  readonly connectedClients: readonly { readonly id: number; readonly name: string }[];
  readonly history: readonly RoundSummary[];
}

export function summaryOf(r: AuditRecord): RoundSummary {
  return {
    round: r.round,
    session: r.session,
    status: r.status,
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    offered: r.cohort.length,
    accepted: r.accepted.length,
    survivors: r.survivors.length,
    contributors: r.contributors,
    totalWeight: r.totalWeight,
    clippedCount: r.clippedCount,
    metrics: r.metrics,
    startedAt: r.startedAt,
    durationMs: Math.max(0, Date.parse(r.endedAt) - Date.parse(r.startedAt)) || 0,
  };
}

/** The last HISTORY_LENGTH round summaries, oldest first. */
export class History {
  private readonly items: RoundSummary[] = [];

  push(s: RoundSummary): void {
    this.items.push(s);
    if (this.items.length > HISTORY_LENGTH) this.items.splice(0, this.items.length - HISTORY_LENGTH);
  }

  list(): readonly RoundSummary[] {
    return [...this.items];
  }
}
