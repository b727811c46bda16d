/**
 * `/metrics` in the Prometheus text format (prom-client), one registry per
 * coordinator (never prom-client's global one: two coordinators in a process must
 * not share counters). Only aggregate, operator-level numbers: no shop names, no
 * ids, no per-client values. Drop reasons are folded into a closed set
 * (DROP_REASONS) so that a label never carries free text or grows without bound.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditRecord } from '../audit-log.ts';
import type { StageReport } from '../logger.ts';

export const DROP_REASONS = ['disconnected', 'deadline', 'declined', 'protocol_error', 'too_few_neighbours', 'other'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** The class of a drop reason as round.ts and task.ts word it. */
export function dropReasonClass(reason: string): DropReason {
  const r = reason.toLowerCase();
  if (r.startsWith('disconnected') || r.includes('could not be sent')) return 'disconnected';
  if (r.startsWith('declined')) return 'declined';
  if (r.includes('deadline') || r.startsWith('no answer') || r.startsWith('no offerreply') || r.includes('within')) return 'deadline';
  if (r.startsWith('protocol error') || r.includes('wire_') || r.includes('secagg_')) return 'protocol_error';
  if (r.includes('neighbours')) return 'too_few_neighbours';
  return 'other';
}

export interface TrafficTotals {
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface MetricsSources {
  readonly connected: () => number;
  readonly enrolled: number;
  readonly traffic: () => TrafficTotals;
}

const STAGE_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;
  readonly #rounds: Counter<'status'>;
  readonly #stage: Histogram<'stage'>;
  readonly #drops: Counter<'stage' | 'reason'>;
  readonly #unmask: Histogram;

  constructor(src: MetricsSources) {
    const registers = [this.registry];
    this.#rounds = new Counter({ name: 'tally_rounds_total', help: 'Round attempts ended, by status (committed or aborted).', labelNames: ['status'], registers });
    this.#rounds.inc({ status: 'committed' }, 0);
    this.#rounds.inc({ status: 'aborted' }, 0);
    this.#stage = new Histogram({ name: 'tally_stage_duration_seconds', help: 'Time each round stage stayed open.', labelNames: ['stage'], buckets: STAGE_BUCKETS, registers });
    this.#drops = new Counter({ name: 'tally_drops_total', help: 'Clients dropped from a round, by stage and reason class.', labelNames: ['stage', 'reason'], registers });
    this.#unmask = new Histogram({ name: 'tally_unmask_duration_seconds', help: 'Time to remove the masks from a round sum (regenerating keystreams).', buckets: STAGE_BUCKETS, registers });
    new Gauge({
      name: 'tally_clients_connected',
      help: 'Authenticated client connections.',
      registers,
      collect() {
        this.set(src.connected());
      },
    });
    new Gauge({ name: 'tally_clients_enrolled', help: 'Clients in the enrolment list.', registers }).set(src.enrolled);
    new Counter({
      name: 'tally_bytes_received_total',
      help: 'Bytes read from client sockets (WebSocket frames with their headers).',
      registers,
      collect() {
        this.reset();
        this.inc(src.traffic().bytesIn);
      },
    });
    new Counter({
      name: 'tally_bytes_sent_total',
      help: 'Bytes written to client sockets.',
      registers,
      collect() {
        this.reset();
        this.inc(src.traffic().bytesOut);
      },
    });
  }

  stage(report: StageReport): void {
    this.#stage.observe({ stage: report.stage }, report.ms / 1000);
  }

  /** One audit record: the round's status and its drops. */
  round(record: AuditRecord): void {
    this.#rounds.inc({ status: record.status });
    for (const d of Object.values(record.drops)) this.#drops.inc({ stage: d.stage, reason: dropReasonClass(d.reason) });
  }

  unmask(ms: number): void {
    this.#unmask.observe(ms / 1000);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
