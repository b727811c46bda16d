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
  MASK_HELPER_MIN_LANES,
  MASK_HELPER_MIN_MASKS,
  SecAggError,
  SecAggErrorCode,
  clientCommitment,
  clientStep,
  createClient,
  encodeUpdate,
  equalBytes,
  planQuantization,
  startMaskHelper,
  toHex,
  type ClientMessage,
  type ClientState,
  type KeyPair,
  type QuantPlan,
  type RandomSource,
  type ServerMessage,
} from '@tally/secagg';
import { DeclineReason, type NodeClientMessage, type OfferReply, type RoundResult, type TaskOffer } from '@tally/wire';
import { bytesOf, sha256Hex, type Ledger, type NewLedgerEntry } from './ledger.ts';
import type { Logger } from './logger.ts';
import type { ParticipationStore } from './participation-store.ts';
import { checkOffer, checkRoundStart, type Policy, type PolicyRule } from './policy.ts';
import type { Trainer, TrainOutput } from './trainer.ts';

export type RoundMessage = ServerMessage;

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

  /** Loads the stored participation record; throws when it is damaged. */
  constructor(o: RoundRunnerOptions) {
    this.#o = o;
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
    const modelSha256 = sha256Hex(bytesOf(offer.model));
    const offerEntry = (decision: 'accepted' | 'refused' | 'declined', checks: readonly string[], why?: { rule?: string; reason: string }): NewLedgerEntry => ({
      type: 'offer',
      session: toHex(offer.session),
      round: offer.round,
      taskId: offer.taskId,
      cohortSize: offer.cohortSize,
      threshold: offer.threshold,
      modelSha256,
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
      this.#note(offerEntry('declined', OFFER_CHECKS, { reason }));
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
      this.#note(offerEntry('refused', OFFER_CHECKS.slice(0, OFFER_CHECKS.indexOf(refusal.rule as (typeof OFFER_CHECKS)[number])), refusal));
      const line = `refused ${tag}: ${refusal.reason} (policy.${refusal.rule})`;
      // A repeated offer is the coordinator misbehaving, not a setting of this shop's.
      if (refusal.rule === 'freshSession') log.warn(line);
      else log.info(line);
      // Counted and noted above; the reply carries only the code.
      return { type: 'OfferReply', session: offer.session, round: offer.round, accept: false, reason: refusal.rule === 'freshSession' ? DeclineReason.ReplayedRound : DeclineReason.Policy };
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
    };
    this.#live = live;
    // A large neighbourhood: load the mask helper thread now, so the masking step finds it ready (mask-helper.ts).
    if (offer.degree + 1 >= MASK_HELPER_MIN_MASKS && offer.model.length >= MASK_HELPER_MIN_LANES) startMaskHelper();
    const started = performance.now();
    log.info(`${tag}: the offer is within policy (cohort ${offer.cohortSize}, threshold ${offer.threshold}); training`);
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
    let lanes: Uint32Array;
    let clipped: boolean;
    try {
      ({ lanes, clipped } = encodeUpdate(plan, { delta: out?.delta, weight, metrics: out?.metrics }, this.#o.random));
    } catch (err) {
      log.error(`${tag}: the trainer's update cannot be encoded: ${errText(err)}; declining the round`);
      return this.#abandon(live, stillWanted, refuse(DeclineReason.BadUpdate));
    }
    const machine = createClient({ identity: this.#o.identity, input: lanes, random: this.#o.random });
    live.machine = machine;
    live.phase = 'running';
    this.#stats.offersAccepted++;
    this.#attempts.set(attemptKey, (this.#attempts.get(attemptKey) ?? 0) + 1);
    if (this.#attempts.size > MAX_REMEMBERED_ROUNDS) this.#attempts.delete(this.#attempts.keys().next().value!);
    this.#note(offerEntry('accepted', OFFER_CHECKS));
    log.info(`${tag}: trained in ${ms} ms on ${weight} samples${clipped ? `; update clipped to norm ${plan.clipNorm}` : ''}; ready for secure aggregation`);
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
      dpBudget: null,
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

  #note(entry: NewLedgerEntry): void {
    const ledger = this.#o.ledger;
    if (ledger === undefined) return;
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
