/**
 * Who takes part in a round and how they are connected: picking the cohort among
 * the authenticated clients, and the secagg shape (neighbours k, threshold t,
 * complete or Harary graph) for a cohort of n clients.
 *
 * The threshold announced in a TaskOffer is binding: the round runs with exactly
 * that t or aborts. When fewer clients accept than were offered, the degree shrinks
 * to fit (k' = min(k, n' - 1)) and the shape is checked again; t ≤ k' must still hold.
 */
import {
  SecAggError,
  SecAggErrorCode,
  chooseParams,
  completeGraph,
  validateParams,
  type Graph,
  type HararySpec,
  type RandomSource,
} from '@tally/secagg';

export const GRAPH_KINDS = ['complete', 'harary'] as const;
export type GraphKind = (typeof GRAPH_KINDS)[number];

/** The task settings this file reads (see config.ts for their meaning and defaults). */
export interface ShapeSettings {
  readonly threshold?: number | undefined;
  /** As configured; without a threshold, absent means DEFAULT_DROPOUT_TOLERANCE. */
  readonly dropoutTolerance?: number | undefined;
  readonly corruptFraction: number;
  readonly graph: GraphKind;
}

/** Dropout rate planned for when neither a threshold nor a dropout tolerance is configured. */
export const DEFAULT_DROPOUT_TOLERANCE = 0.1;

export interface RoundShape {
  /** Clients the shape was chosen for. */
  readonly n: number;
  /** Neighbours per client; n - 1 is the complete graph. */
  readonly k: number;
  /** Shamir threshold. */
  readonly t: number;
  readonly graph: GraphKind;
}

/** ⌈rate·n⌉ with the same float guard as secagg's params.ts. */
function atMost(rate: number, n: number): number {
  return Math.min(n, Math.max(0, Math.ceil(rate * n - 1e-9)));
}

/**
 * The shape for a cohort of n clients. Throws SecAggError (BadConfig) when none is
 * safe; its message says which knob to turn.
 *
 * - `threshold` set: the complete graph uses k = n - 1; the Harary graph the largest
 *   k the threshold allows, k = max(t, 2t - 2) (t > k/2 must hold; 2t - 2 keeps k
 *   even), capped at n - 1. Checked with validateParams against the corrupt
 *   fraction (and the dropout tolerance when `dropoutTolerance` was configured).
 * - no threshold, Harary: secagg's chooseParams (it falls back to the complete
 *   graph when no sparse graph meets its bounds).
 * - no threshold, complete: the worst-case threshold of Bonawitz et al. 2017 over
 *   all n - 1 neighbours: t = ⌊(k + C)/2⌋ + 1 for C corrupt clients, which must
 *   leave t ≤ k - C - D for D dropouts.
 */
export function chooseRoundShape(s: ShapeSettings, n: number): RoundShape {
  if (s.threshold !== undefined) {
    const rates = {
      corruptFraction: s.corruptFraction,
      ...(s.dropoutTolerance === undefined ? {} : { dropoutRate: s.dropoutTolerance }),
    };
    const t = s.threshold;
    const k = s.graph === 'complete' ? n - 1 : Math.min(n - 1, Math.max(t, 2 * t - 2));
    validateParams({ n, k, t, ...rates });
    return { n, k, t, graph: k === n - 1 ? 'complete' : 'harary' };
  }
  const dropoutRate = s.dropoutTolerance ?? DEFAULT_DROPOUT_TOLERANCE;
  if (s.graph === 'harary') {
    const p = chooseParams({ n, dropoutRate, corruptFraction: s.corruptFraction });
    return { n, k: p.k, t: p.t, graph: p.graph };
  }
  const k = n - 1;
  const corrupt = Math.min(atMost(s.corruptFraction, n), k);
  const bad = Math.min(atMost(s.corruptFraction, n) + atMost(dropoutRate, n), k);
  const t = Math.floor((k + corrupt) / 2) + 1;
  if (t > k - bad) {
    throw new SecAggError(
      SecAggErrorCode.BadConfig,
      `no safe threshold on the complete graph of ${n} clients: privacy needs t ≥ ${t} with ${corrupt} corrupt, but completing the round with ${bad - corrupt} dropouts needs t ≤ ${k - bad}; set an explicit threshold, lower dropoutTolerance or corruptFraction, or raise cohortSize`,
    );
  }
  validateParams({ n, k, t, dropoutRate, corruptFraction: s.corruptFraction });
  return { n, k, t, graph: 'complete' };
}

/**
 * The shape for the n' clients that accepted, keeping the announced threshold.
 * Throws SecAggError (BadConfig) when t no longer fits (too few accepted), or when,
 * with `settings`, the smaller cohort misses the tail bounds (secagg's validateParams,
 * with the same rates chooseRoundShape used).
 */
export function fitRoster(shape: RoundShape, accepted: number, settings?: ShapeSettings): RoundShape {
  if (accepted === shape.n) return shape;
  const k = Math.min(shape.k, accepted - 1);
  const rates =
    settings === undefined
      ? {}
      : { corruptFraction: settings.corruptFraction, ...(settings.dropoutTolerance === undefined ? {} : { dropoutRate: settings.dropoutTolerance }) };
  validateParams({ n: accepted, k, t: shape.t, ...rates });
  // The graph kind stays the offered one (clients refuse another); H_{n'−1,n'} is the complete graph.
  return { n: accepted, k, t: shape.t, graph: shape.graph };
}

/**
 * The graph option of the secagg server for `shape` over `ids`: the complete graph,
 * or the Harary spec (degree and every member's advert commitment). The Harary
 * ordering is no longer drawn here: it comes from the seed over the adverts, which
 * every client recomputes (secagg graph-seed.ts).
 */
export function buildGraph(shape: RoundShape, ids: readonly number[], commits: ReadonlyMap<number, Uint8Array>): Graph | HararySpec {
  if (shape.graph === 'complete') return completeGraph(ids);
  return { kind: 'harary', degree: Math.min(shape.k, ids.length - 1), commitments: new Map(ids.map((id) => [id, commits.get(id)!])) };
}

/** A uniform integer in [0, m) from 32-bit draws, by rejection (no modulo bias). */
function below(random: RandomSource, m: number): number {
  const limit = 2 ** 32 - (2 ** 32 % m);
  for (;;) {
    const b = random(4);
    if (!(b instanceof Uint8Array) || b.length !== 4) throw new RangeError('random source: expected 4 bytes');
    const r = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    if (r < limit) return r % m;
  }
}

/**
 * Up to `size` of `ids`, uniformly at random (partial Fisher–Yates over the CSPRNG),
 * returned sorted. The choice must be unpredictable to clients: it is what keeps a
 * corrupt client from steering itself into a cohort with its friends.
 */
export function pickCohort(ids: readonly number[], size: number, random: RandomSource): number[] {
  const pool = [...ids];
  const take = Math.min(size, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + below(random, pool.length - i);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
  }
  return pool.slice(0, take).sort((a, b) => a - b);
}
