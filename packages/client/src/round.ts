/**
 * One client's part in rounds: the policy check of each offer, local training,
 * quantisation, and driving the secagg client machine (Bonawitz et al. 2017,
 * Fig. 4, client side) on the coordinator's stage messages. No sockets: the node
 * hands messages in and sends what comes back.
 *
 * At most one round is live. A new TaskOffer replaces it (the coordinator has
 * moved on); a lost connection ends it (the coordinator drops a client whose
 * socket closed, and the next round has fresh keys). The last
 * MAX_REMEMBERED_ROUNDS (session, round) pairs this node took part in are kept, so
 * that an offer for one of them again is refused (policy rule freshSession).
 */
import {
  SecAggError,
  SecAggErrorCode,
  clientCommitment,
  clientStep,
  createClient,
  composeRdp,
  encodeDpUpdate,
  checkUpdate,
  equalBytes,
  planQuantization,
  rotationSeed,
  maskHelpersPay,
  startMaskHelper,
  toHex,
  type CheckedUpdate,
  type ClientMessage,
  type ClientState,
  type KeyPair,
  type QuantPlan,
  type RandomSource,
  type ServerMessage,
} from '@tally/secagg';
import { DeclineReason, type NodeClientMessage, type OfferReply, type RoundResult, type TaskOffer } from '@tally/wire';
import { DpBudgetStore, type DpSpent } from './dp-budget-store.ts';
import { checkDp, epsilonOf, type DpCost } from './dp-consent.ts';
import { bytesOf, sha256Hex, type DpBudgetNote, type Ledger, type NewLedgerEntry } from './ledger.ts';
import type { Logger } from './logger.ts';
import type { ParticipationStore } from './participation-store.ts';
import { maskedInputPool } from './lane-pool.ts';
import { checkOffer, checkRoundStart, type Policy, type PolicyRule } from './policy.ts';
import type { Trainer, TrainOutput } from './trainer.ts';

export type RoundMessage = ServerMessage;

/**
 * The secagg machine's `output`, defined out here on purpose: a closure made inside onOffer
 * would hold onOffer's scope, and with it the TaskOffer and its model (4 MB at m = 1e6),
 * for as long as the machine lives (the whole round).
 */
const takeMaskedInputLanes = (n: number): Uint32Array => maskedInputPool.take(n);

/** (session, round) pairs remembered for policy rule freshSession; the oldest is forgotten first. */
export const MAX_REMEMBERED_ROUNDS = 1024;

interface LiveRound {
  readonly session: Uint8Array;
  readonly round: number;
  readonly taskId: string;
  /** What the accepted offer promised; RoundStart must not ask for less privacy (policy rule matchesOffer). */
  readonly offered: { readonly cohortSize: number; readonly threshold: number; readonly graph: TaskOffer['graph']; readonly degree: number };
  /** 'training' until the OfferReply; 'running' while the secagg machine runs; 'left' once we stopped for this round. */
  phase: 'training' | 'running' | 'left';
  machine: ClientState | null;
  /** The round's DP cost when it runs distributed DP, else null (the plain secure sum). */
  readonly dp: DpCost | null;
  /** Set once this round was charged to the budget (just before the masked input left). */
  dpCharged: DpBudgetNote | null;
}

/** Why the node should stop after an answer (node.ts closes the connection with it). */
export interface RunnerStop {
  readonly status: 'completed' | 'incompatible';
  readonly reason: string;
}

export interface RoundRunnerOptions {
  readonly identity: KeyPair;
  readonly trainer: Trainer;
  readonly policy: Policy;
  /** Enrolled client id -> identity public key (policy rule peers); absent: rosters are not checked. */
  readonly enrolled?: ReadonlyMap<number, Uint8Array>;
  readonly random: RandomSource;
  readonly log: Logger;
  /** Where tookPart and roundsContributed survive a restart; absent: memory only. */
  readonly store?: ParticipationStore;
  /** The shop's privacy ledger (ledger.ts); absent: nothing is recorded. */
  readonly ledger?: Ledger;
  /** Where the differential-privacy budget survives a restart (dp-budget-store.ts); absent: memory only. */
  readonly dpBudget?: DpBudgetStore;
}

/** Policy rules checked on a TaskOffer and on a RoundStart, in the order policy.ts checks them. */
const OFFER_CHECKS = ['tasks', 'minCohort', 'minThreshold', 'maxRounds', 'freshSession', 'graph', 'minMargin', 'maxAttemptsPerRound'] as const;
const ROUND_START_CHECKS = ['activeAdversary', 'minCohort', 'minThreshold', 'matchesOffer', 'graph', 'minMargin'] as const;

export interface RoundStats {
  readonly offersAccepted: number;
  readonly offersRefused: number;
  readonly roundsContributed: number;
  readonly roundsCommitted: number;
  readonly roundsAborted: number;
  readonly roundErrors: number;
}

export class RoundRunner {
  readonly #o: RoundRunnerOptions;
  #live: LiveRound | null = null;
  /** `session hex/round` of offers this node took part in, oldest first (a Set keeps insertion order). */
  readonly #tookPart = new Set<string>();
  /** `task/round` -> offers accepted for it (policy.maxAttemptsPerRound), bounded like #tookPart. */
  readonly #attempts = new Map<string, number>();
  /** U3 from the last UnmaskRequest, for the ledger's `revealed` entry. */
  #survivors: { readonly session: Uint8Array; readonly round: number; readonly ids: readonly number[] } | null = null;
  #stats = { offersAccepted: 0, offersRefused: 0, roundsContributed: 0, roundsCommitted: 0, roundsAborted: 0, roundErrors: 0 };
  readonly #budget: DpBudgetStore;
  /** The DP budget spent so far (the store's content). */
  #spent: DpSpent;
  #stop: RunnerStop | null = null;

  /** Loads the stored participation record and DP budget; throws when either is damaged. */
  constructor(o: RoundRunnerOptions) {
    this.#o = o;
    this.#budget = o.dpBudget ?? new DpBudgetStore(null);
    this.#spent = this.#budget.load();
    if (o.store !== undefined) {
      const saved = o.store.load();
      for (const pair of saved.tookPart.slice(-MAX_REMEMBERED_ROUNDS)) this.#tookPart.add(pair);
      this.#stats.roundsContributed = saved.roundsContributed;
    }
  }

  /** Writes the participation record; false (and logged) when it cannot be written. */
  #persist(): boolean {
    if (this.#o.store === undefined) return true;
    try {
      this.#o.store.save({ roundsContributed: this.#stats.roundsContributed, tookPart: [...this.#tookPart] });
      return true;
    } catch (err) {
      this.#o.log.error(`cannot record this node's participation in ${this.#o.store.file}: ${errText(err)}; taking part in nothing until it can`);
      return false;
    }
  }

  stats(): RoundStats {
    return { ...this.#stats };
  }

  /** The DP budget spent so far (composed RDP curve and rounds charged). */
  dpSpent(): DpSpent {
    return { rdp: Float64Array.from(this.#spent.rdp), rounds: this.#spent.rounds };
  }

  /** A reason to stop set by the last answer (a spent privacy budget), cleared by reading it. */
  takeStop(): RunnerStop | null {
    const s = this.#stop;
    this.#stop = null;
    return s;
  }

  consents(taskId: string): boolean {
    return this.#o.policy.tasks.includes(taskId);
  }

  connectionLost(): void {
    if (this.#live !== null && this.#live.phase !== 'left') {
      this.#o.log.info(`round ${this.#live.round}: connection lost; leaving the round (the next one starts with fresh keys)`);
    }
    this.#live = null;
  }

  /**
   * Answers a TaskOffer: a refusal, or an acceptance once the masked-input lanes
   * are ready (after training). `stillWanted` is asked after training: when it
   * says no (the connection went away meanwhile), the result is dropped and null
   * returned.
   */
  async onOffer(offer: TaskOffer, stillWanted: () => boolean): Promise<OfferReply | null> {
    const { log, policy } = this.#o;
    const tag = `round ${offer.round} of task ${offer.taskId}`;
    if (this.#live !== null && this.#live.phase !== 'left') {
      log.info(`round ${this.#live.round}: superseded by an offer for round ${offer.round}; leaving it`);
    }
    this.#live = null;
    // Hashed only for the ledger, once, when an entry is written (4 MB of SHA-256 otherwise).
    let modelHash: string | undefined;
    const offerEntry = (decision: 'accepted' | 'refused' | 'declined', checks: readonly string[], why?: { rule?: string; reason: string }): NewLedgerEntry => ({
      type: 'offer',
      session: toHex(offer.session),
      round: offer.round,
      taskId: offer.taskId,
      cohortSize: offer.cohortSize,
      threshold: offer.threshold,
      modelSha256: (modelHash ??= sha256Hex(bytesOf(offer.model))),
      modelLength: offer.model.length,
      decision,
      checks,
      ...(why?.rule === undefined ? {} : { rule: why.rule }),
      ...(why === undefined ? {} : { reason: why.reason }),
    });
    // The reply carries a code only: the detail (policy numbers, trainer errors with
    // file paths and column names) stays in this client's log (reasons.ts in @tally/wire).
    const refuse = (reason: DeclineReason): OfferReply => {
      this.#stats.offersRefused++;
      this.#note(() => offerEntry('declined', OFFER_CHECKS, { reason }));
      return { type: 'OfferReply', session: offer.session, round: offer.round, accept: false, reason };
    };

    const pair = `${toHex(offer.session)}/${offer.round}`;
    const attemptKey = `${offer.taskId}/${offer.round}`;
    const refusal = checkOffer(policy, offer, {
      roundsContributed: this.#stats.roundsContributed,
      tookPart: this.#tookPart.has(pair),
      attemptsThisRound: this.#attempts.get(attemptKey) ?? 0,
      attemptsTotal: this.#stats.offersAccepted,
    });
    if (refusal !== null) {
      this.#stats.offersRefused++;
      this.#note(() => offerEntry('refused', OFFER_CHECKS.slice(0, OFFER_CHECKS.indexOf(refusal.rule as (typeof OFFER_CHECKS)[number])), refusal));
      const line = `refused ${tag}: ${refusal.reason} (policy.${refusal.rule})`;
      // A repeated offer is the coordinator misbehaving, not a setting of this shop's.
      if (refusal.rule === 'freshSession') log.warn(line);
      else log.info(line);
      // Counted and noted above; the reply carries only the code.
      return { type: 'OfferReply', session: offer.session, round: offer.round, accept: false, reason: refusal.rule === 'freshSession' ? DeclineReason.ReplayedRound : DeclineReason.Policy };
    }
    const dp = checkDp(policy, { taskId: offer.taskId, threshold: offer.threshold, cohortSize: offer.cohortSize, modelLength: offer.model.length, dp: offer.dp }, this.#spent);
    if (dp.kind === 'refuse') {
      const { reason, message, permanent } = dp.refusal;
      const rule = reason === DeclineReason.DpBudget ? 'maxEpsilon' : 'dp';
      this.#stats.offersRefused++;
      this.#note(() => offerEntry('refused', OFFER_CHECKS, { rule, reason: message }));
      if (reason === DeclineReason.DpBudget) {
        log.info(`refused ${tag}: ${message} (policy.maxEpsilon)`);
        // Every round of the task costs the same: none will fit again.
        this.#stop = permanent ? { status: 'incompatible', reason: message } : { status: 'completed', reason: `privacy budget spent: ${message}` };
      } else {
        log.warn(`refused ${tag}: ${message}`);
      }
      return { type: 'OfferReply', session: offer.session, round: offer.round, accept: false, reason };
    }
    const dpCost = dp.kind === 'dp' ? dp.cost : null;
    if (dpCost !== null && dpCost.declared.computed > dpCost.declared.epsilon * (1 + 1e-9)) {
      log.warn(
        `${tag}: the coordinator declares ε = ${dpCost.declared.epsilon} over ${dpCost.declared.rounds} rounds, but its parameters give ε = ${dpCost.declared.computed.toPrecision(4)} by this client's accountant; the budget is charged with this client's figure`,
      );
    }
    this.#remember(pair);
    if (!this.#persist()) return refuse(DeclineReason.StateUnavailable);
    let plan: QuantPlan;
    try {
      plan = planQuantization(offer.quant, offer.model.length);
    } catch (err) {
      log.warn(`refused ${tag}: its quantisation parameters are unusable: ${errText(err)}`);
      return refuse(DeclineReason.BadQuantization);
    }

    const live: LiveRound = {
      session: offer.session,
      round: offer.round,
      taskId: offer.taskId,
      offered: { cohortSize: offer.cohortSize, threshold: offer.threshold, graph: offer.graph, degree: offer.degree },
      phase: 'training',
      machine: null,
      dp: dpCost,
      dpCharged: null,
    };
    this.#live = live;
    // A large neighbourhood: load the mask helper thread now, so the masking step finds it ready (mask-helper.ts).
    if (maskHelpersPay(offer.degree + 1, offer.model.length)) startMaskHelper();
    const started = performance.now();
    const dpText = dpCost === null ? '' : `, distributed DP costing ε = ${dpCost.epsilonRound.toPrecision(3)} at δ = ${dpCost.delta}`;
    log.info(`${tag}: the offer is within policy (cohort ${offer.cohortSize}, threshold ${offer.threshold}${dpText}); training`);
    let out: TrainOutput;
    try {
      out = await this.#o.trainer.train({ taskId: offer.taskId, round: offer.round, weights: offer.model });
    } catch (err) {
      log.error(`local training failed for ${tag}: ${errText(err)}; declining the round`);
      return this.#abandon(live, stillWanted, refuse(DeclineReason.TrainingFailed));
    }
    const ms = Math.round(performance.now() - started);
    if (!stillWanted() || this.#live !== live) {
      log.info(`${tag}: training finished after the round was gone; result discarded`);
      if (this.#live === live) this.#live = null;
      return null;
    }
    if (ms > offer.deadlineMs) {
      log.warn(`${tag}: training took ${ms} ms, past the coordinator's ${offer.deadlineMs} ms; declining (make training faster, or ask for a longer deadline)`);
      return this.#abandon(live, stillWanted, refuse(DeclineReason.DeadlinePassed));
    }

    let weight = out?.weight;
    if (typeof weight === 'number' && Number.isInteger(weight) && weight > plan.weightBound) {
      log.info(`${tag}: sample weight ${weight} capped at the task's weightBound ${plan.weightBound}`);
      weight = plan.weightBound;
    }
    let input: Uint32Array | CheckedUpdate;
    let clipped: boolean;
    try {
      if (dpCost !== null) {
        // Distributed DP (secagg dp-mechanism.ts): clip, rotate with the round's public seed,
        // round, add this shop's share of the noise. No weight or metric lanes.
        let lanes: Uint32Array;
        ({ lanes, clipped } = encodeDpUpdate(dpCost.plan, out?.delta, rotationSeed(offer.session, offer.round), this.#o.random));
        input = lanes;
      } else {
        // Checked now (a bad update declines the offer); rounded into the masking memory
        // when the client masks, so no model-sized array of its own waits for the masking.
        input = checkUpdate(plan, { delta: out?.delta, weight, metrics: out?.metrics });
        clipped = input.clipped;
      }
    } catch (err) {
      log.error(`${tag}: the trainer's update cannot be encoded: ${errText(err)}; declining the round`);
      return this.#abandon(live, stillWanted, refuse(DeclineReason.BadUpdate));
    }
    // MaskedInput.y is lent by this thread's pool when the client masks, and taken back once
    // sent (node.ts writes the frame around it: no copy of the vector on the way out).
    const machine = createClient({ identity: this.#o.identity, input, random: this.#o.random, output: takeMaskedInputLanes });
    live.machine = machine;
    live.phase = 'running';
    this.#stats.offersAccepted++;
    this.#attempts.set(attemptKey, (this.#attempts.get(attemptKey) ?? 0) + 1);
    if (this.#attempts.size > MAX_REMEMBERED_ROUNDS) this.#attempts.delete(this.#attempts.keys().next().value!);
    this.#note(() => offerEntry('accepted', OFFER_CHECKS));
    const clipNorm = dpCost === null ? plan.clipNorm : dpCost.plan.clipNorm;
    log.info(`${tag}: trained in ${ms} ms on ${weight} samples${clipped ? `; update clipped to norm ${clipNorm}` : ''}; ready for secure aggregation`);
    const keyCommit = machine.stage === 'Init' ? clientCommitment(machine) : undefined;
    return { type: 'OfferReply', session: offer.session, round: offer.round, accept: true, ...(keyCommit === undefined ? {} : { keyCommit }) };
  }

  /** Steps the secagg machine; returns what to send (nothing when the message is not for us or we left). */
  onRoundMessage(msg: RoundMessage): readonly ClientMessage[] {
    const { log } = this.#o;
    const live = this.#live;
    if (live === null || live.round !== msg.round || !equalBytes(live.session, msg.session)) {
      log.debug(`ignored ${msg.type} for round ${msg.round}: not a round this client is in`);
      return [];
    }
    if (live.phase !== 'running' || live.machine === null) {
      log.debug(`round ${live.round}: ignored ${msg.type}: this client left the round`);
      return [];
    }
    if (msg.type === 'RoundStart') {
      const refusal = checkRoundStart(this.#o.policy, msg, {
        offered: live.offered,
        ...(this.#o.enrolled === undefined ? {} : { enrolled: this.#o.enrolled }),
      });
      const checks = [...(this.#o.enrolled === undefined ? [] : ['peers']), ...ROUND_START_CHECKS];
      this.#note({
        type: 'roundStart',
        session: toHex(live.session),
        round: live.round,
        decision: refusal === null ? 'joined' : 'left',
        you: msg.you,
        rosterSize: msg.roster.length,
        threshold: msg.threshold,
        neighbours: [...msg.neighbours],
        activeAdversary: msg.activeAdversary,
        checks: refusal === null ? checks : checks.slice(0, checks.indexOf(refusal.rule)),
        ...(refusal === null ? {} : { rule: refusal.rule, reason: refusal.reason }),
      });
      if (refusal !== null) {
        log.warn(`round ${live.round}: leaving the round: ${refusal.reason} (policy.${refusal.rule})${ROUND_START_ADVICE[refusal.rule] ?? ''}`);
        live.phase = 'left';
        live.machine = null;
        return [];
      }
    }
    let step;
    try {
      step = clientStep(live.machine, msg);
    } catch (err) {
      if (err instanceof SecAggError && err.code === SecAggErrorCode.WrongRound) {
        log.debug(`round ${live.round}: ignored ${msg.type}: ${err.message}`);
        return [];
      }
      const what = err instanceof SecAggError ? `${err.code}: ${err.message}` : `internal error: ${errText(err)}`;
      log.warn(`round ${live.round}: leaving the round on ${msg.type}: ${what}`);
      this.#stats.roundErrors++;
      live.phase = 'left';
      live.machine = null;
      return [];
    }
    live.machine = step.state;
    if (msg.type === 'UnmaskRequest') this.#survivors = { session: live.session, round: live.round, ids: [...msg.survivors] };
    for (const m of step.outbox) {
      if (m.type === 'MaskedInput') {
        // Charged before the input leaves: a crash may over-count this round, never under-count it.
        if (live.dp !== null && !this.#chargeDp(live, live.dp)) {
          live.phase = 'left';
          live.machine = null;
          return [];
        }
        this.#stats.roundsContributed++;
        // Recorded before the input leaves: a restart cannot forget a contribution.
        if (!this.#persist()) {
          this.#stats.roundsContributed--;
          live.phase = 'left';
          live.machine = null;
          return [];
        }
        log.debug(`round ${live.round}: masked input sent (${this.#stats.roundsContributed} of policy.maxRounds ${this.#o.policy.maxRounds})`);
      }
    }
    return step.outbox;
  }

  /**
   * A round message was sent, `bytes` long on the wire: the ledger records its size
   * (and for a masked input its digest; for Unmask whose shares it revealed).
   */
  sent(msg: NodeClientMessage, bytes: number): void {
    if (this.#o.ledger === undefined || !('session' in msg)) return;
    const head = { session: toHex(msg.session), round: msg.round };
    switch (msg.type) {
      case 'MaskedInput':
        this.#note({ type: 'sent', ...head, message: msg.type, bytes, sha256: sha256Hex(bytesOf(msg.y)), lanes: msg.y.length });
        return;
      case 'ShareKeys':
        this.#note({ type: 'sent', ...head, message: msg.type, bytes, shares: msg.shares.length });
        return;
      case 'UnmaskShares': {
        this.#note({ type: 'sent', ...head, message: msg.type, bytes });
        const s = this.#survivors;
        const u3 = s !== null && s.round === msg.round && equalBytes(s.session, msg.session) ? s.ids : [];
        this.#note({
          type: 'revealed',
          ...head,
          survivors: u3,
          selfMaskSharesOf: msg.selfMaskShares.map((x) => x.of),
          keySharesOf: msg.keyShares.map((x) => x.of),
        });
        return;
      }
      default:
        this.#note({ type: 'sent', ...head, message: msg.type, bytes });
    }
  }

  /** Composes the round into the budget and writes it durably; false (and logged) when the round must not go ahead. */
  #chargeDp(live: LiveRound, cost: DpCost): boolean {
    const { log, policy } = this.#o;
    const next: DpSpent = { rdp: composeRdp(this.#spent.rdp, cost.curve), rounds: this.#spent.rounds + 1 };
    const before = this.#spent.rounds === 0 ? 0 : epsilonOf(this.#spent.rdp, cost.delta);
    const after = epsilonOf(next.rdp, cost.delta);
    if (policy.maxEpsilon !== undefined && after > policy.maxEpsilon) {
      log.warn(`round ${live.round}: leaving the round: its ε would bring the total to ${after.toPrecision(4)}, past policy.maxEpsilon ${policy.maxEpsilon}`);
      return false;
    }
    try {
      this.#budget.save(next);
    } catch (err) {
      log.error(`cannot record the privacy budget in ${this.#budget.file}: ${errText(err)}; leaving round ${live.round} (nothing is sent that the budget does not record)`);
      return false;
    }
    this.#spent = next;
    live.dpCharged = {
      delta: cost.delta,
      epsilonRound: cost.epsilonRound,
      spent: after,
      spentBefore: before,
      remaining: policy.maxEpsilon === undefined ? null : Math.max(0, policy.maxEpsilon - after),
      maxEpsilon: policy.maxEpsilon ?? null,
      roundsCharged: next.rounds,
    };
    log.info(`round ${live.round}: privacy budget charged: ε = ${cost.epsilonRound.toPrecision(3)} this round, ${after.toPrecision(4)} spent in all at δ = ${cost.delta}${policy.maxEpsilon === undefined ? '' : ` of policy.maxEpsilon ${policy.maxEpsilon}`}`);
    return true;
  }

  onResult(msg: RoundResult): void {
    const live = this.#live;
    const ours = live !== null && live.round === msg.round && equalBytes(live.session, msg.session);
    if (ours) this.#live = null;
    this.#note({
      type: 'result',
      session: toHex(msg.session),
      round: msg.round,
      status: msg.status,
      survivors: msg.survivors,
      inRound: ours && live.phase === 'running',
      ...(msg.reason === undefined ? {} : { reason: msg.reason }),
      dpBudget: ours ? live.dpCharged : null,
    });
    if (msg.status === 'committed') this.#stats.roundsCommitted++;
    else this.#stats.roundsAborted++;
    const metrics = Object.entries(msg.metrics ?? {})
      .map(([k, v]) => `${k}=${formatMetric(v)}`)
      .join(' ');
    const reason = msg.reason === undefined ? '' : ` (${msg.reason})`;
    const part = ours ? '' : ' without this client';
    this.#o.log.info(`round ${msg.round} ${msg.status}${reason}${part}: ${msg.survivors} survivors${metrics === '' ? '' : `, ${metrics}`}`);
  }

  #note(entry: NewLedgerEntry | (() => NewLedgerEntry)): void {
    const ledger = this.#o.ledger;
    if (ledger === undefined) return;
    if (typeof entry === 'function') entry = entry();
    ledger.append(entry).catch((err: unknown) => {
      this.#o.log.error(`cannot write the privacy ledger ${ledger.path}: ${errText(err)}; check the state folder's disk and permissions`);
    });
  }

  #remember(pair: string): void {
    this.#tookPart.add(pair);
    if (this.#tookPart.size > MAX_REMEMBERED_ROUNDS) {
      for (const oldest of this.#tookPart) {
        this.#tookPart.delete(oldest);
        break;
      }
    }
  }

  #abandon(live: LiveRound, stillWanted: () => boolean, reply: OfferReply): OfferReply | null {
    if (this.#live === live) this.#live = null;
    return stillWanted() ? reply : null;
  }
}

/** What the operator can do about a RoundStart refusal, where the reason alone does not say. */
const ROUND_START_ADVICE: Partial<Record<PolicyRule, string>> = {
  peers: ': if a shop was enrolled since, get the current enrolment list from the coordinator operator; otherwise the coordinator is adding keys of its own',
  activeAdversary: ': set policy.allowPassive to true only if you trust the coordinator to follow the protocol',
  matchesOffer: ': the coordinator changed the round after this client consented to it',
};

function formatMetric(v: number): string {
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? v.toFixed(4) : v.toExponential(3);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
