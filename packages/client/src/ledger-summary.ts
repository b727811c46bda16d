/**
 * The ledger in plain language for the shop owner (`tally ledger`): what this node
 * agreed to, what left the machine, and what the coordinator could learn. Pure: the
 * entries in, the summary out.
 */
import type { DpBudgetNote, LedgerEntry, OfferEntry, RevealedEntry, RoundStartEntry, SentEntry } from './ledger.ts';

export interface LedgerRound {
  readonly session: string;
  readonly round: number;
  readonly taskId: string | null;
  readonly decision: OfferEntry['decision'] | null;
  readonly reason: string | null;
  readonly modelSha256: string | null;
  readonly joined: boolean;
  /** This node's masked input was sent. */
  readonly contributed: boolean;
  readonly maskedInputSha256: string | null;
  readonly bytesSent: number;
  /** Survivors in the sum (U3) as this node was shown them, when it reached Unmask. */
  readonly survivors: readonly number[] | null;
  readonly selfMaskSharesOf: readonly number[];
  readonly keySharesOf: readonly number[];
  readonly status: 'committed' | 'aborted' | null;
}

export interface LedgerSummary {
  readonly offers: number;
  readonly accepted: number;
  readonly refused: number;
  readonly declined: number;
  /** Refusals by policy rule. */
  readonly refusedBy: Readonly<Record<string, number>>;
  /** Rounds this node sent a masked input for. */
  readonly roundsContributed: number;
  /** Of those, rounds that committed: their sum is what the coordinator learned. */
  readonly committedWithInput: number;
  /** Fewest shops in a committed sum that held this node's input (null when none). */
  readonly smallestSum: number | null;
  readonly maskedInputs: number;
  readonly bytesSent: number;
  readonly messagesSent: Readonly<Record<string, number>>;
  readonly sharesRevealed: number;
  readonly selfMaskShares: number;
  readonly keyShares: number;
  /** Rounds in which this node revealed both shares of one shop (must be empty: Bonawitz et al. 2017 §4). */
  readonly bothSharesRounds: readonly number[];
  readonly modelsReceived: number;
  readonly lastModelSha256: string | null;
  /** The differential-privacy budget after the last DP round charged (its ledger note); null when no DP round was. */
  readonly dpBudget: DpBudgetNote | null;
  readonly rounds: readonly LedgerRound[];
}

export function summariseLedger(entries: readonly LedgerEntry[]): LedgerSummary {
  const byRound = new Map<string, { -readonly [K in keyof LedgerRound]: LedgerRound[K] }>();
  const get = (e: LedgerEntry) => {
    const key = `${e.session}/${e.round}`;
    let r = byRound.get(key);
    if (r === undefined) {
      r = { session: e.session, round: e.round, taskId: null, decision: null, reason: null, modelSha256: null, joined: false, contributed: false, maskedInputSha256: null, bytesSent: 0, survivors: null, selfMaskSharesOf: [], keySharesOf: [], status: null };
      byRound.set(key, r);
    }
    return r;
  };
  const refusedBy: Record<string, number> = {};
  const messagesSent: Record<string, number> = {};
  let offers = 0;
  let accepted = 0;
  let refused = 0;
  let declined = 0;
  let bytesSent = 0;
  let lastModel: string | null = null;
  let dpBudget: DpBudgetNote | null = null;
  const models = new Set<string>();
  for (const e of entries) {
    const r = get(e);
    switch (e.type) {
      case 'offer': {
        offers++;
        if (e.decision === 'accepted') accepted++;
        else if (e.decision === 'refused') {
          refused++;
          const rule = e.rule ?? 'other';
          refusedBy[rule] = (refusedBy[rule] ?? 0) + 1;
        } else declined++;
        r.taskId = e.taskId;
        r.decision = e.decision;
        r.reason = e.reason ?? null;
        r.modelSha256 = e.modelSha256;
        models.add(e.modelSha256);
        lastModel = e.modelSha256;
        break;
      }
      case 'roundStart':
        r.joined = (e as RoundStartEntry).decision === 'joined';
        if (!r.joined) r.reason = e.reason ?? null;
        break;
      case 'sent': {
        const s = e as SentEntry;
        bytesSent += s.bytes;
        r.bytesSent += s.bytes;
        messagesSent[s.message] = (messagesSent[s.message] ?? 0) + 1;
        if (s.message === 'MaskedInput') {
          r.contributed = true;
          r.maskedInputSha256 = s.sha256 ?? null;
        }
        break;
      }
      case 'revealed': {
        const v = e as RevealedEntry;
        r.survivors = v.survivors;
        r.selfMaskSharesOf = v.selfMaskSharesOf;
        r.keySharesOf = v.keySharesOf;
        break;
      }
      case 'result':
        r.status = e.status;
        if (e.dpBudget !== null && e.dpBudget !== undefined) dpBudget = e.dpBudget;
        break;
    }
  }
  const rounds = [...byRound.values()];
  const contributed = rounds.filter((r) => r.contributed);
  const committed = contributed.filter((r) => r.status === 'committed');
  const sums = committed.map((r) => r.survivors?.length).filter((n): n is number => n !== undefined);
  const selfMaskShares = rounds.reduce((n, r) => n + r.selfMaskSharesOf.length, 0);
  const keyShares = rounds.reduce((n, r) => n + r.keySharesOf.length, 0);
  return {
    offers,
    accepted,
    refused,
    declined,
    refusedBy,
    roundsContributed: contributed.length,
    committedWithInput: committed.length,
    smallestSum: sums.length === 0 ? null : Math.min(...sums),
    maskedInputs: messagesSent['MaskedInput'] ?? 0,
    bytesSent,
    messagesSent,
    sharesRevealed: selfMaskShares + keyShares,
    selfMaskShares,
    keyShares,
    bothSharesRounds: rounds.filter((r) => r.selfMaskSharesOf.some((id) => r.keySharesOf.includes(id))).map((r) => r.round),
    modelsReceived: models.size,
    lastModelSha256: lastModel,
    dpBudget,
    rounds,
  };
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function kib(bytes: number): string {
  return bytes < 10_240 ? `${bytes} bytes` : `${(bytes / 1024).toFixed(0)} KiB`;
}

/** The summary as sentences a shop owner can read. */
export function ledgerLines(s: LedgerSummary): string[] {
  if (s.offers === 0) return ['The ledger is empty: this node has not been offered a round yet.'];
  const lines: string[] = [];
  const refusals = Object.entries(s.refusedBy).map(([rule, n]) => `${n} by policy.${rule}`).join(', ');
  lines.push(
    `You were offered ${plural(s.offers, 'round')}: you accepted ${s.accepted}` +
      (s.refused > 0 ? `, refused ${s.refused} (${refusals})` : '') +
      (s.declined > 0 ? `, could not take part in ${s.declined}` : '') +
      '.',
  );
  lines.push(
    `In ${plural(s.roundsContributed, 'round')} your sales never left this machine: you sent only masked updates ` +
      `(${plural(s.maskedInputs, 'masked vector')}, ${kib(s.bytesSent)} in all, each recorded by its SHA-256 digest, never its values).`,
  );
  if (s.smallestSum !== null) {
    lines.push(`${plural(s.committedWithInput, 'round')} with your update committed; each sum the coordinator learned covered at least ${plural(s.smallestSum, 'shop')}.`);
  } else if (s.roundsContributed > 0) {
    lines.push('No round with your update has committed yet: the coordinator has learned no sum that includes it.');
  }
  const both = s.bothSharesRounds.length === 0 ? 'never both shares of one shop' : `BOTH shares of one shop in round(s) ${s.bothSharesRounds.join(', ')}: report this`;
  lines.push(
    `You revealed ${plural(s.sharesRevealed, 'share')} (${s.selfMaskShares} self-mask shares of shops that stayed, ${s.keyShares} mask-key shares of shops that dropped), ${both}.`,
  );
  lines.push(`You received ${plural(s.modelsReceived, 'global model')}${s.lastModelSha256 === null ? '' : `; the latest has SHA-256 ${s.lastModelSha256.slice(0, 16)}…`}.`);
  const b = s.dpBudget;
  if (b === null) {
    lines.push('Privacy budget: no round with differential privacy yet (the sums of these rounds were exact).');
  } else {
    const e = (x: number | null): string => (x === null ? '∞' : x.toPrecision(3));
    lines.push(
      `Privacy budget (differential privacy, at δ = ${b.delta}): ε = ${e(b.spent)} spent over ${plural(b.roundsCharged, 'round')} ` +
        `(the last cost ${e(b.epsilonRound)})` +
        (b.maxEpsilon === null ? '; no cap set (policy.maxEpsilon).' : `, ${e(b.remaining)} left of policy.maxEpsilon ${b.maxEpsilon}.`),
    );
  }
  return lines;
}
