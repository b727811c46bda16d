/**
 * Choosing the neighbourhood size k and the Shamir threshold t, and refusing
 * choices that break safety.
 *
 * Each client secret-shares its self-mask seed b_u and its masking key s_u,
 * t-of-k, to its k neighbours in the communication graph (`graph.ts`). The model
 * is that of SecAgg+ (Bell, Bonawitz, Gascón, Lepoint, Raykova, "Secure
 * Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020, ePrint
 * 2020/704): n clients, at most a fraction γ (`corruptFraction`) corrupt and
 * colluding with the server, at most a fraction δ (`dropoutRate`) dropping out,
 * both sets fixed independently of the graph's random ordering. Counts are
 * C = ⌈γn⌉ corrupt and D = ⌈δn⌉ dropouts (rounded up: rates are estimates).
 *
 * What must hold (the events the SecAgg+ analysis rests on; the concrete bounds
 * below are derived here, not copied, and are deliberately conservative):
 *
 *  (P1) No honest client has 2t − k or more corrupt neighbours. A server that lies
 *       about who dropped can ask some honest neighbours of u for b_u-shares and
 *       the others for s_u-shares; with c corrupt neighbours (who give both) it
 *       collects both secrets iff c + h₁ ≥ t and c + h₂ ≥ t with h₁ + h₂ ≤ k − c,
 *       i.e. iff c ≥ 2t − k. This also covers the honest-but-curious case (c < t),
 *       since 2t − k ≤ t.
 *  (P2) The honest surviving clients stay connected in the graph. Otherwise the
 *       pairwise masks cancel inside each component and the server learns each
 *       component's partial sum, not just the total.
 *  (C)  Every client keeps at least t honest surviving neighbours, so every needed
 *       b_u or s_u can be reconstructed. Corrupt clients are counted as unhelpful.
 *
 * Bounds for the random Harary graph H_{k,n}, k even (Harary ordering uniform):
 *  - A client's k neighbours are a uniform k-subset of the other n − 1 clients, so
 *    its corrupt neighbours X_c ~ Hypergeometric(n−1, min(C, n−1), k) and its
 *    corrupt-or-dropped neighbours X_b ~ Hypergeometric(n−1, min(C+D, n−1), k).
 *    Union bounds over the (at most n) clients:
 *      P[¬P1] ≤ n · P[X_c ≥ 2t − k],   P[¬C] ≤ n · P[X_b ≥ k − t + 1],
 *    with the tails summed exactly (log space).
 *  - P2: in H_{k,n} two surviving nodes at ring distance ≤ k/2 are adjacent, so the
 *    survivors can only be disconnected if at least two runs of k/2 consecutive
 *    ring positions are entirely removed (corrupt or dropped, B = min(C+D, n)
 *    nodes). There are at most n(n−k−1)/2 pairs of such disjoint runs, each needs a
 *    fixed set of k positions inside the removed set, which has probability
 *    [B]_k/[n]_k (falling factorials). So P[¬P2] ≤ n(n−k−1)/2 · [B]_k/[n]_k.
 *  Privacy failure ≤ P[¬P1] + P[¬P2] ≤ 2^-σ; correctness failure P[¬C] ≤ 2^-η.
 *
 * `chooseParams` takes the smallest even k that admits a t meeting both targets,
 * and the smallest such t (the smallest secure t leaves the most room for
 * dropouts). The same search structure is used by Google's implementation of
 * SecAgg+ (federated-compute, fcp/secagg/server/graph_parameter_finder.cc),
 * which also defaults to σ = 40 and η = 20. Failing that (small n, or k would
 * reach n − 1), it returns the complete graph k = n − 1, where the worst case is
 * deterministic: privacy iff C < 2t − k, completion iff k − C − D ≥ t
 * (Bonawitz et al., CCS 2017, with the same lying-server argument).
 */
import { fail, SecAggErrorCode } from './errors.ts';

export interface ParamsRequest {
  /** Number of clients in the cohort, integer ≥ 2. */
  readonly n: number;
  /** Fraction δ ∈ [0, 1) of clients that may drop out during the round. */
  readonly dropoutRate: number;
  /** Fraction γ ∈ [0, 1) of clients that may be corrupt and collude with the server. */
  readonly corruptFraction: number;
  /** σ: privacy may fail with probability at most 2^-σ. Default 40. */
  readonly failureExponent?: number;
  /** η: the round may fail (too few shares) with probability at most 2^-η. Default 20. */
  readonly correctnessExponent?: number;
}

export interface Params {
  readonly k: number;
  readonly t: number;
  readonly graph: 'complete' | 'harary';
  /** Human-readable statement of what holds, under which assumptions, and why. */
  readonly guarantee: string;
  /** log2 of the bound on the privacy failure probability (−Infinity: never, in the stated model). */
  readonly privacyFailureLog2: number;
  /** log2 of the bound on the round failing for lack of shares (−Infinity: never, in the stated model). */
  readonly correctnessFailureLog2: number;
}

export interface ParamsCheck {
  readonly n: number;
  readonly k: number;
  readonly t: number;
  readonly dropoutRate?: number;
  readonly corruptFraction?: number;
}

export const DEFAULT_FAILURE_EXPONENT = 40;
export const DEFAULT_CORRECTNESS_EXPONENT = 20;
/**
 * Largest Harary degree chooseParams searches (cost O(k²) in total). Rates that
 * need more fall back to the complete graph, which is safe but costs O(n) per client.
 */
export const MAX_SEARCH_DEGREE = 4096;
const MAX_CLIENTS = 2 ** 31 - 1;
const MAX_EXPONENT = 256;

const BadConfig = SecAggErrorCode.BadConfig;
const LN2 = Math.LN2;

function assertCount(value: unknown, name: string, min: number, max: number, knob: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(BadConfig, `params: expected ${name} to be an integer in [${min}, ${max}], got ${String(value)}${knob}`);
  }
}

function assertRate(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
    fail(BadConfig, `params: expected ${name} to be a fraction in [0, 1), got ${String(value)}`);
  }
}

function assertExponent(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_EXPONENT) {
    fail(BadConfig, `params: expected ${name} to be a number in (0, ${MAX_EXPONENT}], got ${String(value)}`);
  }
}

/**
 * How many clients a rate stands for: ⌈rate·n⌉, rounded up so that an estimate
 * like "5% corrupt" among 10 clients is read as one corrupt client, not none.
 * The epsilon keeps float noise (0.07·100 = 7.000000000000001) from adding one.
 */
export function _atMost(rate: number, n: number): number {
  return Math.min(n, Math.max(0, Math.ceil(rate * n - 1e-9)));
}

function logChoose(a: number, b: number): number {
  if (b < 0 || b > a) return Number.NEGATIVE_INFINITY;
  const m = Math.min(b, a - b);
  let s = 0;
  for (let i = 0; i < m; i++) s += Math.log((a - i) / (m - i));
  return s;
}

function logAdd(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/**
 * @internal tails[a] = ln P[X ≥ a] for a = 0..d+1, X ~ Hypergeometric(population N,
 * K marked, d drawn without replacement). Exact pmf by the ratio recurrence
 * p(x+1)/p(x) = (K−x)(d−x) / ((x+1)(N−K−d+x+1)), summed in log space.
 */
export function _hypergeometricLogTails(N: number, K: number, d: number): Float64Array {
  const tails = new Float64Array(d + 2).fill(Number.NEGATIVE_INFINITY);
  const lo = Math.max(0, d - (N - K));
  const hi = Math.min(K, d);
  const logPmf = new Float64Array(hi - lo + 1);
  logPmf[0] = logChoose(K, lo) + logChoose(N - K, d - lo) - logChoose(N, d);
  for (let x = lo; x < hi; x++) {
    logPmf[x - lo + 1] = logPmf[x - lo]! + Math.log(((K - x) * (d - x)) / ((x + 1) * (N - K - d + x + 1)));
  }
  let acc = Number.NEGATIVE_INFINITY;
  for (let x = hi; x >= lo; x--) {
    acc = logAdd(acc, logPmf[x - lo]!);
    tails[x] = Math.min(0, acc);
  }
  for (let x = lo - 1; x >= 0; x--) tails[x] = 0;
  return tails;
}

/**
 * @internal ln of the bound on P[the survivors of H_{k,n} (k even, random ordering)
 * are disconnected] when at most B nodes are removed: n(n−k−1)/2 · [B]_k/[n]_k.
 */
export function _logDisconnectBound(n: number, k: number, B: number): number {
  if (n - k - 1 <= 0 || B < k) return Number.NEGATIVE_INFINITY;
  let s = Math.log(n) + Math.log(n - k - 1) - LN2;
  for (let i = 0; i < k; i++) s += Math.log((B - i) / (n - i));
  return Math.min(0, s);
}

interface Counts {
  readonly corrupt: number;
  readonly dropped: number;
}

/** Natural-log bounds for (n, k, t) under the counts; k even or k = n − 1. */
function logBounds(n: number, k: number, t: number, { corrupt, dropped }: Counts): { privacy: number; correctness: number } {
  const others = n - 1;
  const lnN = Math.log(n);
  const disc = _logDisconnectBound(n, k, Math.min(corrupt + dropped, n));
  const corruptTail = _hypergeometricLogTails(others, Math.min(corrupt, others), k)[2 * t - k]!;
  const badTail = _hypergeometricLogTails(others, Math.min(corrupt + dropped, others), k)[k - t + 1]!;
  return {
    privacy: Math.min(0, logAdd(disc, lnN + corruptTail)),
    correctness: Math.min(0, lnN + badTail),
  };
}

function assertShape(n: number, k: number, t: number): void {
  assertCount(n, 'n (clients)', 2, MAX_CLIENTS, '');
  if (typeof k !== 'number' || !Number.isInteger(k)) fail(BadConfig, `params: expected k (neighbours) to be an integer, got ${String(k)}`);
  if (k < 1) fail(BadConfig, `params: expected k ≥ 1, got ${k}: a client with no neighbours cannot share its keys`);
  if (k > n - 1) fail(BadConfig, `params: expected k ≤ n − 1 = ${n - 1}, got ${k}: a client has at most n − 1 neighbours; k = n − 1 is the complete graph`);
  if (typeof t !== 'number' || !Number.isInteger(t)) fail(BadConfig, `params: expected t (threshold) to be an integer, got ${String(t)}`);
  if (t > k) fail(BadConfig, `params: expected t ≤ k = ${k}, got ${t}: only k neighbours hold shares, so t shares could never be collected; lower t or raise k`);
  if (2 * t <= k) {
    fail(BadConfig, `params: expected t > k/2 = ${k / 2}, got ${t}: t must be more than half the neighbourhood: with t ≤ k/2 a server that lies about who dropped can collect both the self-mask shares and the mask-key shares of one client and unmask its input; raise t to at least ${Math.floor(k / 2) + 1}`);
  }
}

/**
 * Bounds (log2) on the privacy and correctness failure probabilities of (n, k, t)
 * under the model above: the random Harary graph for even k < n − 1, the complete
 * graph for k = n − 1. Odd k < n − 1 is refused: the connectivity bound (P2) is
 * only derived for even k.
 */
export function failureBounds(check: Required<ParamsCheck>): { privacyLog2: number; correctnessLog2: number } {
  const { n, k, t, dropoutRate, corruptFraction } = check;
  assertShape(n, k, t);
  assertRate(dropoutRate, 'dropoutRate');
  assertRate(corruptFraction, 'corruptFraction');
  if (k % 2 === 1 && k !== n - 1) fail(BadConfig, `params: failure bounds are derived for even k (or k = n − 1), got k = ${k}: use k = ${k + 1}`);
  const b = logBounds(n, k, t, { corrupt: _atMost(corruptFraction, n), dropped: _atMost(dropoutRate, n) });
  return { privacyLog2: b.privacy / LN2, correctnessLog2: b.correctness / LN2 };
}

const pct = (r: number): string => `${+(r * 100).toFixed(2)}%`;
const fails = (log2: number): string =>
  log2 === Number.NEGATIVE_INFINITY ? 'cannot fail (no bad case exists under these counts)' : `fails with probability ≤ 2^${log2.toFixed(1)}`;
const clients = (count: number, what: string): string => `${count} ${what}${count === 1 ? '' : 's'}`;

/**
 * Pick (k, t) for n clients so that privacy fails with probability ≤ 2^-σ and the
 * round fails for lack of shares with probability ≤ 2^-η (derivation at the top
 * of this file). Refuses (BadConfig) rates that no threshold can serve.
 */
export function chooseParams(request: ParamsRequest): Params {
  if (typeof request !== 'object' || request === null) fail(BadConfig, `params: expected a request object, got ${String(request)}`);
  const { n, dropoutRate, corruptFraction } = request;
  assertCount(n, 'n (clients)', 2, MAX_CLIENTS, ': secure aggregation needs at least 2 clients');
  assertRate(dropoutRate, 'dropoutRate');
  assertRate(corruptFraction, 'corruptFraction');
  const sigma = request.failureExponent ?? DEFAULT_FAILURE_EXPONENT;
  const eta = request.correctnessExponent ?? DEFAULT_CORRECTNESS_EXPONENT;
  assertExponent(sigma, 'failureExponent');
  assertExponent(eta, 'correctnessExponent');

  const corrupt = _atMost(corruptFraction, n);
  const dropped = _atMost(dropoutRate, n);
  const assumption = `at most ${clients(dropped, 'dropout')} (${pct(dropoutRate)}) and at most ${clients(corrupt, 'corrupt client')} (${pct(corruptFraction)}) among n = ${n}`;

  // The complete graph: deterministic worst case. Its feasibility is also the
  // pre-check: a random neighbourhood has the same expected proportions, so if
  // the worst case over all n − 1 others leaves no threshold, no k will.
  const kFull = n - 1;
  const corruptNbrs = Math.min(corrupt, kFull);
  const badNbrs = Math.min(corrupt + dropped, kFull);
  const tFull = Math.floor((kFull + corruptNbrs) / 2) + 1;
  if (tFull > kFull - badNbrs) {
    fail(BadConfig, `params: no safe threshold for ${assumption}: privacy needs t > (k + corrupt)/2, i.e. t ≥ ${tFull}, but completing the round needs t ≤ k − corrupt − dropouts = ${kFull - badNbrs} (k = ${kFull}): lower dropoutRate or corruptFraction (k > 3·corrupt + 2·dropouts is needed: roughly 3·corruptFraction + 2·dropoutRate < 1), or enlarge the cohort`);
  }

  const privTarget = -sigma * LN2;
  const corrTarget = -eta * LN2;
  const lnN = Math.log(n);
  const others = n - 1;
  const removed = Math.min(corrupt + dropped, n);
  for (let k = 2; k < n - 1 && k <= MAX_SEARCH_DEGREE; k += 2) {
    const disc = _logDisconnectBound(n, k, removed);
    if (disc > privTarget) continue;
    const corruptTails = _hypergeometricLogTails(others, Math.min(corrupt, others), k);
    let t = Math.floor(k / 2) + 1;
    while (t <= k && logAdd(disc, lnN + corruptTails[2 * t - k]!) > privTarget) t++;
    // t = k would abort the round on any one neighbour's dropout. With rates of 0 the
    // model says none drops, but rates are estimates: a sparse graph keeps one spare.
    if (t >= k) continue;
    const badTails = _hypergeometricLogTails(others, Math.min(corrupt + dropped, others), k);
    if (lnN + badTails[k - t + 1]! > corrTarget) continue;
    const b = logBounds(n, k, t, { corrupt, dropped });
    const privacyFailureLog2 = b.privacy / LN2;
    const correctnessFailureLog2 = b.correctness / LN2;
    return {
      k,
      t,
      graph: 'harary',
      privacyFailureLog2,
      correctnessFailureLog2,
      guarantee:
        `SecAgg+ on a random Harary graph: each client shares its keys with k = ${k} neighbours, threshold t = ${t}. ` +
        `Assuming ${assumption}, both fixed independently of the graph's random ordering: ` +
        `privacy (the honest survivors stay connected, and no client has 2t − k = ${2 * t - k} or more corrupt neighbours, so even a server that lies about who dropped cannot unmask one input) ` +
        `${fails(privacyFailureLog2)} (target 2^-${sigma}); ` +
        `the round, which needs t honest surviving neighbours per client, ${fails(correctnessFailureLog2)} (target 2^-${eta}). ` +
        `Union bounds over exact hypergeometric tails in the model of Bell et al., CCS 2020 (SecAgg+); derivation in params.ts.`,
    };
  }

  return {
    k: kFull,
    t: tFull,
    graph: 'complete',
    privacyFailureLog2: Number.NEGATIVE_INFINITY,
    correctnessFailureLog2: Number.NEGATIVE_INFINITY,
    guarantee:
      `SecAgg on the complete graph: each client shares its keys with all k = ${kFull} others, threshold t = ${tFull}. ` +
      `With ${assumption}, privacy holds with certainty (${corruptNbrs} corrupt < 2t − k = ${2 * tFull - kFull}, so even a server that lies about who dropped cannot unmask one input) ` +
      `and the round completes with certainty (k − corrupt − dropouts = ${kFull - badNbrs} ≥ t). ` +
      `Worst-case counting as in Bonawitz et al., CCS 2017; a sparse graph could not meet 2^-${sigma} (privacy) and 2^-${eta} (correctness) here.`,
  };
}

/**
 * Refuse (BadConfig) a (n, k, t) that breaks safety: k outside [1, n − 1], t > k,
 * t ≤ k/2, odd k below n − 1 (failureBounds derives no connectivity bound for it);
 * and, when rates are given, any (n, k, t) whose tail bounds (`failureBounds`, the
 * same derivation chooseParams uses) miss the targets: privacy failure ≤ 2^-σ and
 * correctness failure ≤ 2^-η (defaults 40 and 20). Expectations are not enough:
 * n = 100, k = 18, t = 10 at 5% corrupt expects < 2t − k corrupt neighbours, yet
 * the privacy bound is vacuous (≈ 2^2). An absent rate counts as 0.
 */
export function validateParams(check: ParamsCheck & { readonly failureExponent?: number; readonly correctnessExponent?: number }): void {
  if (typeof check !== 'object' || check === null) fail(BadConfig, `params: expected an object, got ${String(check)}`);
  const { n, k, t, dropoutRate, corruptFraction } = check;
  assertShape(n, k, t);
  if (k % 2 === 1 && k !== n - 1) {
    fail(BadConfig, `params: expected an even k (or k = n − 1 = ${n - 1}, the complete graph), got k = ${k}: the Harary graph's failure bounds are derived for even k only; use k = ${k + 1}`);
  }
  if (dropoutRate === undefined && corruptFraction === undefined) return;
  if (dropoutRate !== undefined) assertRate(dropoutRate, 'dropoutRate');
  if (corruptFraction !== undefined) assertRate(corruptFraction, 'corruptFraction');
  const sigma = check.failureExponent ?? DEFAULT_FAILURE_EXPONENT;
  const eta = check.correctnessExponent ?? DEFAULT_CORRECTNESS_EXPONENT;
  assertExponent(sigma, 'failureExponent');
  assertExponent(eta, 'correctnessExponent');
  const rates = { dropoutRate: dropoutRate ?? 0, corruptFraction: corruptFraction ?? 0 };
  const b = failureBounds({ n, k, t, ...rates });
  const corrupt = _atMost(rates.corruptFraction, n);
  const dropped = _atMost(rates.dropoutRate, n);
  const graph = k === n - 1 ? 'the complete graph' : `a random Harary graph of degree k = ${k}`;
  const assumption = `${clients(corrupt, 'corrupt client')} and ${clients(dropped, 'dropout')} among n = ${n}`;
  if (b.privacyLog2 > -sigma) {
    fail(BadConfig, `params: threshold t = ${t} on ${graph} is not private enough with ${assumption}: privacy ${fails(b.privacyLog2)}, above the target 2^-${sigma} (a client with 2t − k = ${2 * t - k} corrupt neighbours can be unmasked by a lying server, or the honest survivors split): raise the threshold (t) or lower k, lower corruptFraction, or let chooseParams pick t`);
  }
  if (b.correctnessLog2 > -eta) {
    fail(BadConfig, `params: threshold t = ${t} on ${graph} leaves too few honest surviving neighbours with ${assumption}: the round ${fails(b.correctnessLog2)}, above the target 2^-${eta}: lower the threshold (t) or raise k, lower dropoutRate/corruptFraction, or let chooseParams pick t`);
  }
}
