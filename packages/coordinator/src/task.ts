/**
 * The round loop of one task. For round r = (checkpoint + 1) .. rounds:
 *
 *  1. wait until task.minClients clients are authenticated;
 *  2. pick a cohort of up to cohortSize at random (CSPRNG) and a fresh 16-byte
 *     session; send each a TaskOffer (the model, the quantisation plan, the
 *     threshold, trainMs) and collect OfferReplies until all answered or trainMs;
 *  3. the accepted clients form the roster; fewer than minClients aborts the attempt;
 *  4. run secagg (round.ts) with one deadline per stage;
 *  5. unmask the sum on the worker pool, decode it (decodeSum), apply the strategy,
 *     checkpoint (commit point), append the audit log, send RoundResult.
 *
 * An aborted attempt is logged and audited, then the same round is tried again
 * after retryMs with a new session (so fresh keys). Client input never ends the
 * loop: a message that breaks the protocol gets an ErrorNotice and its sender is
 * dropped from the round; only a failure to write the checkpoint or the audit log
 * is fatal (the run rejects: progress that cannot be recorded must not continue).
 *
 * Routing rule for client messages: a message for another session or round is
 * stale and ignored; in the right round but the wrong stage it is WrongStage
 * (notice, sender dropped from the round); from a client outside the round it is
 * NotInCohort (notice only).
 */
import {
  SecAggError,
  SecAggErrorCode,
  decodeDpSum,
  decodeSum,
  equalBytes,
  rotationSeed,
  toHex,
  type ClientMessage,
  type DpPlan,
  type QuantPlan,
  type RandomSource,
  type UnmaskPool,
} from '@tally/secagg';
import { ProtocolError, ProtocolErrorCode, RoundReason, encode, type DpParams, type NodeClientMessage, type TaskOffer } from '@tally/wire';
import type { AuditDp, AuditDrop, AuditLog, AuditRecord } from './audit-log.ts';
import type { DpSpend } from './dp-spend.ts';
import { saveCheckpoint } from './checkpoint.ts';
import type { ClientRegistry } from './clients.ts';
import { checkAggregate, checkDpAggregate } from './aggregate-check.ts';
import { buildGraph, chooseRoundShape, fitRoster, pickCohort, type RoundShape } from './cohort.ts';
import type { CoordinatorConfig } from './config.ts';
import type { Peer } from './connection.ts';
import type { Enrolment } from './enrolment.ts';
import type { CoordinatorEvent, TaskSummary } from './events.ts';
import { AbortStreak, BACKOFF_AFTER, MAX_RETRY_MS, auditsRepeat, retryDelay } from './abort-streak.ts';
import { formatStageLine, type Logger, type StageReport } from './logger.ts';
import { RoundDriver } from './round.ts';
import { summaryOf, type History, type RoundSummary, type TaskStage } from './status.ts';
import type { Strategy, StrategyResult, StrategyState } from './strategies.ts';

/** Largest ciphertext of one encrypted share, at the wire and in the server machine. */
export const MAX_SHARE_CIPHERTEXT = 256;
/** RoundResult.reason and notices are cut to the wire's string limit. */
const MAX_REASON = 1000;

export interface TaskStart {
  /** The next round to run (1-based). */
  readonly round: number;
  readonly model: Float32Array;
  readonly state: StrategyState;
  readonly resumedFrom: number | null;
}

export interface TaskDeps {
  readonly config: CoordinatorConfig;
  readonly plan: QuantPlan;
  readonly enrolment: Enrolment;
  readonly clients: ClientRegistry<Peer>;
  readonly strategy: Strategy;
  readonly pool: UnmaskPool;
  readonly audit: AuditLog;
  readonly taskDir: string;
  readonly history: History;
  readonly logger: Logger;
  readonly random: RandomSource;
  readonly emit: (event: CoordinatorEvent) => void;
  readonly start: TaskStart;
  /** A DP task's plan, its public parameters (TaskOffer.dp) and its spend so far; null without task.dp. */
  readonly dp: TaskDp | null;
  /** Clients the task's audit log already names as share forgers (a restart keeps excluding them). */
  readonly forgers?: readonly number[];
}

export interface TaskDp {
  readonly plan: DpPlan;
  readonly params: DpParams;
  readonly spend: DpSpend;
}

/** The reason a wait ends when the coordinator closes. */
class Stopped extends Error {
  override readonly name = 'Stopped';
}

type Phase =
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'offer';
      readonly session: Uint8Array;
      readonly round: number;
      readonly cohort: ReadonlySet<number>;
      readonly pending: Set<number>;
      readonly accepted: Set<number>;
      /** Advert-key commitments from the acceptances (relayed in a Harary RoundStart). */
      readonly commits: Map<number, Uint8Array>;
      readonly drops: Map<number, AuditDrop>;
      readonly settle: () => void;
    }
  | { readonly kind: 'secagg'; readonly session: Uint8Array; readonly round: number; readonly driver: RoundDriver }
  | { readonly kind: 'closing'; readonly session: Uint8Array; readonly round: number };

/** What one attempt gathers for its audit line. */
interface Attempt {
  readonly round: number;
  readonly session: Uint8Array;
  readonly startedAt: Date;
  readonly t0: number;
  cohort: number[];
  accepted: number[];
  survivors: number[];
  shape: RoundShape | null;
  drops: Record<string, AuditDrop>;
  revealed: { selfMaskOf: number[]; maskKeyOf: number[] };
  forgers: number[];
  timings: Record<string, number>;
  /** Set once a DP sum was unmasked (the round is charged then, commit or not). */
  dp: AuditDp | null;
}

const cut = (s: string): string => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 3)}...` : s);

/** Wire code for a SecAggError raised by one client's message. */
function wireCode(code: SecAggErrorCode): ProtocolErrorCode {
  switch (code) {
    case SecAggErrorCode.InvalidTransition:
      return ProtocolErrorCode.WrongStage;
    case SecAggErrorCode.WrongRound:
      return ProtocolErrorCode.WrongRound;
    default:
      return ProtocolErrorCode.BadField;
  }
}

export class Task {
  private readonly d: TaskDeps;
  private readonly abort = new AbortController();
  private phase: Phase = { kind: 'idle' };
  private model: Float32Array;
  private strategyState: StrategyState;
  private current: number;
  private lastRound: number;
  private stageName: TaskStage = 'starting';
  private finishedFlag = false;
  private committed = 0;
  private aborted = 0;
  /** Clients named as share forgers: never offered a later round of this task (audited as `forgers`). */
  private readonly excluded = new Set<number>();
  private readonly streak = new AbortStreak();

  constructor(deps: TaskDeps) {
    this.d = deps;
    this.model = deps.start.model;
    this.strategyState = deps.start.state;
    this.current = deps.start.round;
    this.lastRound = deps.start.round - 1;
    for (const id of deps.forgers ?? []) this.excluded.add(id);
  }

  /** The round being worked on (the last one once finished). */
  get round(): number {
    return Math.min(this.current, this.d.config.task.rounds);
  }

  get stage(): TaskStage {
    if (this.phase.kind === 'secagg') {
      const s = this.phase.driver.stage;
      return s === 'Done' ? 'Aggregate' : s;
    }
    return this.stageName;
  }

  get finished(): boolean {
    return this.finishedFlag;
  }

  /** Runs rounds until the last one commits (finished) or `stop()` (not finished). */
  async run(): Promise<TaskSummary> {
    const { task } = this.d.config;
    const signal = this.abort.signal;
    try {
      while (this.current <= task.rounds && !signal.aborted) {
        if (this.d.clients.size < task.minClients) {
          this.stageName = 'waiting for clients';
          this.d.logger.info(`round ${this.current}: waiting for clients: ${this.d.clients.size} of ${task.minClients} connected (task.minClients)`);
          await this.d.clients.waitForAtLeast(task.minClients, signal);
        }
        const committed = await this.attempt();
        if (committed) {
          this.streak.reset();
          this.committed++;
          this.lastRound = this.current;
          this.current++;
        } else {
          this.aborted++;
          if (signal.aborted) break;
          this.stageName = 'retry pause';
          await delay(retryDelay(task.deadlines.retryMs, this.streak.count), signal);
        }
      }
    } catch (err) {
      if (!(err instanceof Stopped)) throw err;
    } finally {
      this.phase = { kind: 'idle' };
    }
    this.finishedFlag = this.current > task.rounds;
    this.stageName = this.finishedFlag ? 'done' : 'closed';
    return this.summary();
  }

  summary(): TaskSummary {
    return {
      taskId: this.d.config.task.id,
      finished: this.finishedFlag,
      lastRound: this.lastRound,
      committed: this.committed,
      aborted: this.aborted,
      resumedFrom: this.d.start.resumedFrom,
      model: this.model,
    };
  }

  /** Ends the loop: waits reject, a running round is cancelled (and audited as aborted). */
  stop(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Stopped('coordinator closed'));
    const phase = this.phase;
    if (phase.kind === 'offer') phase.settle();
    if (phase.kind === 'secagg') phase.driver.cancel('coordinator closed');
  }

  // ---- client events ----------------------------------------------------------

  /** One well-formed message from an authenticated client. Never throws. */
  handleMessage(peer: Peer, msg: NodeClientMessage): void {
    if (msg.type === 'Hello' || msg.type === 'AuthResponse') return; // the connection answers these
    const phase = this.phase;
    if (phase.kind === 'idle' || !equalBytes(msg.session, phase.session) || msg.round !== phase.round) {
      // Stale (an earlier attempt or round) or early: nothing to do with the current round.
      return;
    }
    const id = peer.id;
    if (msg.type === 'OfferReply') {
      this.onOfferReply(peer, phase, msg.accept, msg.reason, msg.keyCommit);
      return;
    }
    switch (phase.kind) {
      case 'offer':
        if (!phase.cohort.has(id)) {
          peer.notice(new ProtocolError(ProtocolErrorCode.NotInCohort, `client ${id} was not offered round ${phase.round}`));
          return;
        }
        this.stageError(peer, new ProtocolError(ProtocolErrorCode.WrongStage, `${msg.type} before the round started: answer the TaskOffer with an OfferReply and wait for RoundStart`));
        return;
      case 'secagg':
        this.onSecAggMessage(peer, phase.driver, msg);
        return;
      case 'closing':
        return; // the round's messages are all in; a late one changes nothing
    }
  }

  /** The client's socket closed. */
  handleDisconnect(peer: Peer, reason: string): void {
    this.dropFromRound(peer.id, reason);
  }

  private onOfferReply(peer: Peer, phase: Exclude<Phase, { kind: 'idle' }>, accept: boolean, reason: string | undefined, keyCommit: Uint8Array | undefined): void {
    const id = peer.id;
    if (phase.kind !== 'offer') {
      const inRound = phase.kind === 'secagg' && phase.driver.isInRoster(id);
      if (phase.kind === 'closing') return;
      this.stageError(
        peer,
        new ProtocolError(
          ProtocolErrorCode.WrongStage,
          inRound ? 'a second OfferReply for this round' : `OfferReply after the offer closed (task.deadlines.trainMs = ${this.d.config.task.deadlines.trainMs} ms)`,
        ),
      );
      return;
    }
    if (!phase.cohort.has(id)) {
      peer.notice(new ProtocolError(ProtocolErrorCode.NotInCohort, `client ${id} was not offered round ${phase.round}`));
      return;
    }
    if (!phase.pending.has(id)) {
      this.stageError(peer, new ProtocolError(ProtocolErrorCode.WrongStage, 'a second OfferReply for this round'));
      return;
    }
    phase.pending.delete(id);
    if (accept && keyCommit === undefined && this.d.config.task.graph === 'harary') {
      // The Harary seed needs every member's commitment before RoundStart (secagg graph-seed.ts).
      phase.drops.set(id, { stage: 'TaskOffer', reason: 'accepted without the advert-key commitment a Harary round needs' });
    } else if (accept) {
      phase.accepted.add(id);
      if (keyCommit !== undefined) phase.commits.set(id, keyCommit);
    } else phase.drops.set(id, { stage: 'TaskOffer', reason: `declined${reason ? `: ${reason}` : ''}` });
    if (phase.pending.size === 0) phase.settle();
  }

  private onSecAggMessage(peer: Peer, driver: RoundDriver, msg: ClientMessage): void {
    if (!driver.isInRoster(peer.id)) {
      peer.notice(new ProtocolError(ProtocolErrorCode.NotInCohort, `client ${peer.id} is not in round ${driver.round}`));
      return;
    }
    const err = driver.deliver({ type: 'message', from: peer.id, msg });
    if (err === null) return;
    if (err.code === SecAggErrorCode.WrongRound) return; // stray or replayed: ignore
    this.stageError(peer, new ProtocolError(wireCode(err.code), err.message));
  }

  /** Notice (the connection stays open) and the sender leaves the current round. */
  private stageError(peer: Peer, err: ProtocolError): void {
    this.d.logger.warn(`round ${this.current}: ${err.code} from id ${peer.id} (${peer.name}): ${err.message}; dropping it from this round`);
    peer.notice(err);
    this.dropFromRound(peer.id, `protocol error ${err.code}`);
  }

  private dropFromRound(id: number, reason: string): void {
    const phase = this.phase;
    if (phase.kind === 'offer' && phase.cohort.has(id) && !phase.drops.has(id)) {
      phase.pending.delete(id);
      phase.accepted.delete(id);
      phase.drops.set(id, { stage: 'TaskOffer', reason });
      if (phase.pending.size === 0) phase.settle();
    } else if (phase.kind === 'secagg') {
      phase.driver.exclude(id, reason);
    }
  }

  // ---- one attempt --------------------------------------------------------------

  /** Runs one attempt at the current round; true when it committed. */
  private async attempt(): Promise<boolean> {
    const { config, clients, random, logger } = this.d;
    const { task } = config;
    const a: Attempt = {
      round: this.current,
      session: random(16),
      startedAt: new Date(),
      t0: performance.now(),
      cohort: [],
      accepted: [],
      survivors: [],
      shape: null,
      drops: {},
      revealed: { selfMaskOf: [], maskKeyOf: [] },
      forgers: [],
      timings: {},
      dp: null,
    };
    a.cohort = pickCohort(
      clients.ids().filter((id) => !this.excluded.has(id)),
      task.cohortSize,
      random,
    );
    try {
      a.shape = chooseRoundShape(task, a.cohort.length);
    } catch (err) {
      return this.abortAttempt(a, `no safe threshold for a cohort of ${a.cohort.length}: ${(err as Error).message}`, RoundReason.NoSafeThreshold);
    }

    // -- TaskOffer -> OfferReply
    this.stageName = 'TaskOffer';
    const { accepted: offered, commits } = await this.offer(a, a.shape);
    a.accepted = offered;
    if (this.abort.signal.aborted) return this.abortAttempt(a, 'coordinator closed', RoundReason.CoordinatorClosed);
    if (offered.length < task.minClients) {
      return this.abortAttempt(a, `only ${offered.length} of ${a.cohort.length} offered clients accepted; task.minClients is ${task.minClients}`, RoundReason.TooFewAccepted);
    }
    let shape: RoundShape;
    try {
      shape = fitRoster(a.shape, offered.length, task);
    } catch (err) {
      return this.abortAttempt(a, `${offered.length} accepted clients cannot run threshold ${a.shape.t}: ${(err as Error).message}`, RoundReason.TooFewAccepted);
    }
    a.shape = shape;

    // -- secagg
    let driver: RoundDriver;
    try {
      driver = new RoundDriver({
        session: a.session,
        round: a.round,
        roster: offered.map((id) => ({ id, identityKey: this.d.enrolment.byId(id)!.publicKey })),
        graph: buildGraph(shape, offered, commits),
        threshold: shape.t,
        vectorLength: this.d.dp?.plan.vectorLength ?? this.d.plan.vectorLength,
        activeAdversary: task.activeAdversary,
        stageMs: task.deadlines.stageMs,
        maxShareCiphertext: MAX_SHARE_CIPHERTEXT,
        send: (to, msg) => {
          clients.get(to)?.send(msg);
        },
        onStage: (report) => this.reportStage(report),
      });
    } catch (err) {
      return this.abortAttempt(a, `cannot start the round: ${(err as Error).message}`, RoundReason.StartFailed);
    }
    this.phase = { kind: 'secagg', session: a.session, round: a.round, driver };
    // Clients that left between the offer and the start are dropped at once.
    for (const id of offered) if (!clients.has(id)) driver.exclude(id, 'disconnected');
    const report = await driver.done;
    this.phase = { kind: 'closing', session: a.session, round: a.round };
    for (const [stage, ms] of Object.entries(report.timings)) a.timings[stage] = ms;
    for (const [id, d] of report.drops) a.drops[String(id)] = { stage: d.stage, reason: d.reason };
    const outcome = report.outcome;
    if (outcome.kind === 'aborted') return this.abortAttempt(a, `aborted in ${outcome.stage}: ${outcome.reason}`, RoundReason.SecAggAborted);
    a.survivors = [...outcome.survivors];
    a.revealed = { selfMaskOf: [...outcome.revealed.selfMaskOf], maskKeyOf: [...outcome.revealed.maskKeyOf] };
    a.forgers = [...outcome.forgers];
    for (const id of outcome.forgers) {
      this.excluded.add(id);
      logger.warn(`round ${a.round}: client ${id} revealed a forged share (found with the shares beyond t); excluded from the task's later rounds`);
    }

    // -- aggregate: unmask, decode, strategy, checkpoint
    this.stageName = 'Aggregate';
    const tAgg = performance.now();
    let sum: Uint32Array;
    try {
      sum = await this.d.pool.unmask(outcome.plan);
    } catch (err) {
      return this.abortAttempt(a, `unmasking failed: ${(err as Error).message}`, RoundReason.UnmaskFailed);
    }
    if (this.d.dp !== null) return this.aggregateDp(a, sum, this.d.dp, tAgg);
    let decoded;
    try {
      decoded = decodeSum(this.d.plan, sum);
    } catch (err) {
      // Honest clients cannot produce this: some client sent lanes outside the plan's bounds.
      const why = err instanceof SecAggError ? err.message : String(err);
      return this.abortAttempt(a, `the unmasked sum is not a valid encoding (a client sent out-of-range lanes): ${why}`, RoundReason.InvalidAggregate);
    }
    const refusal = checkAggregate(this.d.plan, sum, decoded, a.survivors.length);
    if (refusal !== null) {
      // The detail names aggregate values: the coordinator's log only; clients and the audit line get the code.
      logger.warn(`round ${a.round}: refusing the aggregate (${refusal.code}): ${refusal.detail}`);
      return this.abortAttempt(a, `aggregate refused (${refusal.code}): impossible for honest clients; nothing applied`);
    }
    let next;
    try {
      next = this.d.strategy.apply(this.model, decoded.meanDelta, this.strategyState);
    } catch (err) {
      return this.abortAttempt(a, `the strategy refused the update: ${(err as Error).message}; lower the server learning rate or task.quant.clipNorm`, RoundReason.StrategyRefused);
    }
    const metrics: Record<string, number> = {};
    task.metrics.forEach((name, j) => {
      metrics[name] = decoded.metricMeans[j] ?? 0;
    });
    a.timings['Aggregate'] = performance.now() - tAgg;
    const record = this.record(a, 'committed', undefined, {
      clippedCount: decoded.clippedCount,
      contributors: decoded.contributors,
      totalWeight: decoded.totalWeight,
      metrics,
    });
    const summary = await this.commit(a, record, next, metrics);
    const metricText = task.metrics.map((n) => ` ${n}=${+metrics[n]!.toPrecision(6)}`).join('');
    logger.info(
      `round ${a.round} committed: ${decoded.contributors} contributors, total weight ${decoded.totalWeight}, ${decoded.clippedCount} clipped,${metricText || ' no metrics'} in ${Math.round(performance.now() - a.t0)} ms`,
    );
    this.d.emit({ type: 'round', summary, model: this.model, record });
    return true;
  }

  /**
   * Commits an attempt: the checkpoint (the commit point: once checkpoint.json is renamed,
   * round r is done; it carries the audit record too, so a crash before the append loses no
   * audit line), then the new model, the audit line, the history, the clients' result and
   * the model broadcast. Returns the round's summary.
   */
  private async commit(a: Attempt, record: AuditRecord, next: StrategyResult, metrics: Record<string, number>): Promise<RoundSummary> {
    const { task } = this.d.config;
    await saveCheckpoint(this.d.taskDir, {
      taskId: task.id,
      round: a.round,
      rounds: task.rounds,
      weights: next.weights,
      strategy: next.state,
      strategyConfig: this.d.strategy.config,
      createdAt: new Date().toISOString(),
      audit: record,
    });
    this.model = next.weights;
    this.strategyState = next.state;
    await this.d.audit.append(record);
    const summary = summaryOf(record);
    this.d.history.push(summary);
    this.sendResult(a, 'committed', undefined, metrics);
    this.broadcastModel(a.round, a.round >= task.rounds);
    return summary;
  }

  /**
   * The DP round's aggregate (secagg dp-mechanism.ts decodeDpSum): the unmasked sum is
   * charged first (the coordinator has seen it), then decoded, checked, and its unweighted
   * mean Σ clip(δ)/S + noise applied. No weight, clipped count or metrics: a DP sum has
   * none (each would be a shop's value without noise).
   */
  private async aggregateDp(a: Attempt, sum: Uint32Array, dp: TaskDp, tAgg: number): Promise<boolean> {
    const { config, logger } = this.d;
    const { task } = config;
    a.dp = dp.spend.charge(a.survivors.length);
    let decoded;
    try {
      decoded = decodeDpSum(dp.plan, sum, rotationSeed(a.session, a.round));
    } catch (err) {
      const why = err instanceof SecAggError ? err.message : String(err);
      return this.abortAttempt(a, `the unmasked sum is not a valid DP encoding (a client sent out-of-range lanes): ${why}`, RoundReason.InvalidAggregate);
    }
    const refusal = checkDpAggregate(dp.plan, sum, decoded.contributors, a.survivors.length);
    if (refusal !== null) {
      logger.warn(`round ${a.round}: refusing the aggregate (${refusal.code}): ${refusal.detail}`);
      return this.abortAttempt(a, `aggregate refused (${refusal.code}): impossible for honest clients; nothing applied`);
    }
    let next;
    try {
      next = this.d.strategy.apply(this.model, decoded.meanDelta, this.strategyState);
    } catch (err) {
      return this.abortAttempt(a, `the strategy refused the update: ${(err as Error).message}; lower the server learning rate or task.quant.clipNorm`, RoundReason.StrategyRefused);
    }
    a.timings['Aggregate'] = performance.now() - tAgg;
    const record = this.record(a, 'committed', undefined, { clippedCount: null, contributors: decoded.contributors, totalWeight: null, metrics: {} });
    const summary = await this.commit(a, record, next, {});
    const s = a.dp;
    logger.info(
      `round ${a.round} committed: ${decoded.contributors} contributors (unweighted DP mean, noise σ = ${decoded.noiseStd.toPrecision(3)} per coordinate of the sum); ` +
        `privacy spent ε = ${fmtEps(s.epsilonRound)} this round (${fmtEps(s.epsilonRoundSurvivors)} with all ${s.noisyShops} survivors' noise), ` +
        `${fmtEps(s.epsilon)} over ${s.roundsCharged} rounds at δ = ${s.delta}, in ${Math.round(performance.now() - a.t0)} ms`,
    );
    this.d.emit({ type: 'round', summary, model: this.model, record });
    return true;
  }

  /** Sends the TaskOffer and collects replies; returns the accepted ids still connected, sorted. */
  private async offer(a: Attempt, shape: RoundShape): Promise<{ accepted: number[]; commits: ReadonlyMap<number, Uint8Array> }> {
    const { config, clients, plan, logger } = this.d;
    const { task } = config;
    const t0 = performance.now();
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const phase = {
      kind: 'offer' as const,
      session: a.session,
      round: a.round,
      cohort: new Set(a.cohort),
      pending: new Set(a.cohort),
      accepted: new Set<number>(),
      commits: new Map<number, Uint8Array>(),
      drops: new Map<number, AuditDrop>(),
      settle,
    };
    this.phase = phase;
    const offer: TaskOffer = {
      type: 'TaskOffer',
      session: a.session,
      round: a.round,
      taskId: task.id,
      cohortSize: a.cohort.length,
      threshold: shape.t,
      graph: shape.graph,
      degree: shape.k,
      model: this.model,
      quant: {
        clipNorm: plan.clipNorm,
        weightBound: plan.weightBound,
        cohortSize: plan.cohortSize,
        fractionalBits: plan.fractionalBits,
        metricCount: plan.metricCount,
        metricBound: plan.metricBound,
      },
      deadlineMs: task.deadlines.trainMs,
      ...(task.modelSpec === undefined ? {} : { modelSpec: task.modelSpec }),
      ...(this.d.dp === null ? {} : { dp: this.d.dp.params }),
    };
    // One frame for everyone (the model is the same): memory O(model), not O(cohort × model).
    const frame = new Uint8Array(encode(offer));
    logger.info(
      `round ${a.round}: offering to ${a.cohort.length} clients [${a.cohort.join(', ')}], session ${toHex(a.session)}, threshold ${shape.t}, ${shape.graph} graph (k = ${shape.k})`,
    );
    for (const id of a.cohort) {
      const peer = clients.get(id);
      if (peer === undefined) {
        this.dropFromRound(id, 'disconnected');
        continue;
      }
      void peer.sendFrame(frame).then((ok) => {
        // Only while this offer is still open: a late failure must not touch a later phase.
        if (!ok && this.phase === phase) this.dropFromRound(id, 'the TaskOffer could not be sent');
      });
    }
    if (phase.pending.size > 0) {
      const timer = setTimeout(settle, task.deadlines.trainMs);
      await settled;
      clearTimeout(timer);
    }
    for (const id of phase.pending) {
      phase.drops.set(id, { stage: 'TaskOffer', reason: `no OfferReply within ${task.deadlines.trainMs} ms (task.deadlines.trainMs)` });
    }
    const accepted = [...phase.accepted].filter((id) => clients.has(id)).sort((x, y) => x - y);
    for (const [id, drop] of phase.drops) a.drops[String(id)] = drop;
    const ms = performance.now() - t0;
    a.timings['TaskOffer'] = ms;
    this.reportStage({
      round: a.round,
      stage: 'TaskOffer',
      expected: a.cohort.length,
      answered: accepted.length,
      drops: [...phase.drops].map(([id, d]) => ({ id, reason: d.reason })),
      ms,
      verb: 'accepted',
    });
    return { accepted, commits: phase.commits };
  }

  private reportStage(report: StageReport): void {
    this.d.logger.info(formatStageLine(report));
    this.d.emit({ type: 'stage', report });
  }

  /**
   * Ends the attempt. `reason` (the detail, which may hold aggregate values) goes
   * only to the audit log and the log; the cohort gets `code` in RoundResult.
   */
  private async abortAttempt(a: Attempt, reason: string, code: RoundReason = RoundReason.Aborted): Promise<false> {
    this.phase = { kind: 'closing', session: a.session, round: a.round };
    const record = { ...this.record(a, 'aborted', cut(reason), null), reasonCode: code };
    // Identical aborts in a row: the audit keeps the 1st, 2nd, 4th, … and the pause grows (abort-streak.ts).
    const n = this.streak.note(record);
    // An attempt whose DP sum was unmasked is always written: its spend is counted from the audit log on a restart.
    if (auditsRepeat(n) || record.dp !== undefined) await this.d.audit.append(n === 1 ? record : { ...record, repeat: n });
    const summary = summaryOf(record);
    this.d.history.push(summary);
    this.sendResult(a, 'aborted', code, undefined);
    const pause = retryDelay(this.d.config.task.deadlines.retryMs, n);
    const retry = this.abort.signal.aborted ? '' : `; retrying with a new session in ${pause} ms`;
    this.d.logger.warn(`round ${a.round} aborted (session ${toHex(a.session).slice(0, 8)}): ${reason}${retry}`);
    if (!this.abort.signal.aborted && n >= BACKOFF_AFTER) {
      this.d.logger.warn(
        `round ${a.round}: ${n} attempts in a row aborted the same way (${reason}); retrying cannot fix that by itself, so the pause doubles (now ${pause} ms, at most ${MAX_RETRY_MS} ms) and the audit log keeps only the 1st, 2nd, 4th, 8th, … of them (field repeat): check the clients' logs and policies`,
      );
    }
    this.d.emit({ type: 'round', summary, model: null, record });
    return false;
  }

  private record(
    a: Attempt,
    status: 'committed' | 'aborted',
    reason: string | undefined,
    agg: { clippedCount: number | null; contributors: number; totalWeight: number | null; metrics: Record<string, number> } | null,
  ): AuditRecord {
    return {
      v: 1,
      taskId: this.d.config.task.id,
      round: a.round,
      session: toHex(a.session),
      status,
      ...(reason === undefined ? {} : { reason }),
      startedAt: a.startedAt.toISOString(),
      endedAt: new Date().toISOString(),
      cohort: a.cohort,
      accepted: a.accepted,
      survivors: a.survivors,
      threshold: a.shape?.t ?? null,
      degree: a.shape?.k ?? null,
      drops: a.drops,
      revealed: a.revealed,
      ...(a.forgers.length === 0 ? {} : { forgers: a.forgers }),
      clippedCount: agg?.clippedCount ?? null,
      contributors: agg?.contributors ?? null,
      totalWeight: agg?.totalWeight ?? null,
      metrics: agg?.metrics ?? null,
      timings: Object.fromEntries(Object.entries(a.timings).map(([k, v]) => [k, Math.round(v)])),
      ...(a.dp === null ? {} : { dp: a.dp }),
    };
  }

  /**
   * The committed model to every authenticated client, in one shared frame; `final`
   * after the last round (the connections close next). Also used for a client that
   * connects after the task is complete.
   */
  broadcastModel(round: number = this.lastRound, final = this.finishedFlag, to: Iterable<Peer> = this.d.clients.peers()): void {
    if (round < 1) return; // nothing committed yet
    const frame = new Uint8Array(encode({ type: 'GlobalModel', taskId: this.d.config.task.id, round, final, model: this.model }));
    for (const peer of to) void peer.sendFrame(frame);
  }

  /** RoundResult to every offered client still connected (so each can reset its round state). */
  private sendResult(a: Attempt, status: 'committed' | 'aborted', reason: RoundReason | undefined, metrics: Record<string, number> | undefined): void {
    for (const id of a.cohort) {
      this.d.clients.get(id)?.send({
        type: 'RoundResult',
        session: a.session,
        round: a.round,
        status,
        ...(reason === undefined ? {} : { reason }),
        ...(metrics === undefined ? {} : { metrics }),
        survivors: a.survivors.length,
      });
    }
  }
}

function fmtEps(e: number): string {
  return Number.isFinite(e) ? e.toPrecision(3) : '∞';
}

/** Resolves after `ms`, or rejects with the abort reason. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
