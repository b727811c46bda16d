/**
 * What a running coordinator reports to its embedder (`coordinator.on(listener)`):
 * clients coming and going, each stage closing, each round attempt ending, and
 * the task finishing. Listeners run synchronously; one that throws is logged and
 * does not disturb the others or the coordinator.
 */
import type { AuditRecord } from './audit-log.ts';
import type { Logger, StageReport } from './logger.ts';
import type { RoundSummary } from './status.ts';

export interface TaskSummary {
  readonly taskId: string;
  /** True when every configured round is committed; false when closed early. */
  readonly finished: boolean;
  /** The last committed round (0 when none). */
  readonly lastRound: number;
  /** Rounds committed by this run of the coordinator. */
  readonly committed: number;
  /** Round attempts aborted by this run. */
  readonly aborted: number;
  /** The round of the checkpoint this run resumed from, or null for a fresh start. */
  readonly resumedFrom: number | null;
  /** The global model after `lastRound`. */
  readonly model: Float32Array;
}

export type CoordinatorEvent =
  | { readonly type: 'client-connected'; readonly id: number; readonly name: string }
  | { readonly type: 'client-disconnected'; readonly id: number; readonly name: string; readonly code: number; readonly reason: string }
  | { readonly type: 'stage'; readonly report: StageReport }
  /** One round attempt ended; `model` is the new global model when it committed; `record` is its audit line. */
  | { readonly type: 'round'; readonly summary: RoundSummary; readonly model: Float32Array | null; readonly record: AuditRecord }
  | { readonly type: 'done'; readonly summary: TaskSummary };

export type CoordinatorListener = (event: CoordinatorEvent) => void;

export class Emitter {
  private readonly listeners = new Set<CoordinatorListener>();
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Adds a listener; returns the function that removes it. */
  on(listener: CoordinatorListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: CoordinatorEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.logger.error(`an event listener threw on ${event.type}: ${(err as Error).message}; fix the listener`);
      }
    }
  }
}
