/**
 * The communication graph: which clients exchange key shares and pairwise masks.
 *
 * SecAgg (Bonawitz et al., CCS 2017) uses the complete graph: every client masks
 * with, and secret-shares to, every other client (degree k = n-1). SecAgg+ (Bell et
 * al., CCS 2020, "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead")
 * uses a Harary graph H_{k,n} laid over a uniformly random ordering of the clients,
 * so each client talks to only k = O(log n) neighbours. Which k and which Shamir
 * threshold t are safe is decided in `params.ts`.
 *
 * A `Graph` maps each client id to its neighbours, sorted ascending, never itself.
 * Every graph built here is symmetric (v lists u iff u lists v).
 */
import { fail, SecAggErrorCode } from './errors.ts';
import { osRandom } from './random.ts';
import type { RandomSource } from './random.ts';

export type Graph = ReadonlyMap<number, readonly number[]>;

const BadConfig = SecAggErrorCode.BadConfig;

/** Refuse anything but a non-empty list of distinct positive safe integers. */
function assertIds(ids: readonly number[], what: string): void {
  if (!Array.isArray(ids)) fail(BadConfig, `${what}: expected an array of client ids, got ${typeof ids}`);
  if (ids.length === 0) fail(BadConfig, `${what}: expected at least one client id, got an empty list`);
  const seen = new Set<number>();
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      fail(BadConfig, `${what}: expected client ids to be positive integers, got ${String(id)}`);
    }
    if (seen.has(id)) fail(BadConfig, `${what}: expected distinct client ids, got ${id} twice`);
    seen.add(id);
  }
}

function freezeGraph(adjacency: Map<number, number[]>): Graph {
  const ids = [...adjacency.keys()].sort((a, b) => a - b);
  const out = new Map<number, readonly number[]>();
  for (const id of ids) {
    const nbrs = adjacency.get(id)!;
    nbrs.sort((a, b) => a - b);
    out.set(id, Object.freeze(nbrs));
  }
  return out;
}

/** SecAgg's graph: everyone is everyone else's neighbour (k = n-1). */
export function completeGraph(ids: readonly number[]): Graph {
  assertIds(ids, 'completeGraph');
  const adjacency = new Map<number, number[]>();
  for (const id of ids) adjacency.set(id, ids.filter((v) => v !== id));
  return freezeGraph(adjacency);
}

/**
 * @internal Harary graph H_{k,n} on ring positions 0..n-1 (Harary 1962; the
 * standard construction, e.g. West, "Introduction to Graph Theory"):
 * - every position i is joined to i±1, ..., i±floor(k/2) (mod n);
 * - k odd, n even: also to the diametrically opposite position i + n/2;
 * - k odd, n odd: also the chords {i, i + (n+1)/2} for i = 0..(n-1)/2. Position 0
 *   gets two chords (to (n+1)/2 and from (n-1)/2), so it alone has degree k+1; all
 *   others have degree k.
 * H_{k,n} is k-connected; for 1 ≤ k ≤ n-1, and k = n-1 gives the complete graph.
 * Caller guarantees integers 1 ≤ k ≤ n-1.
 */
export function _hararyAdjacency(n: number, k: number): number[][] {
  const sets: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  const link = (a: number, b: number): void => {
    if (a === b) return;
    sets[a]!.add(b);
    sets[b]!.add(a);
  };
  const half = Math.floor(k / 2);
  for (let i = 0; i < n; i++) {
    for (let j = 1; j <= half; j++) link(i, (i + j) % n);
  }
  if (k % 2 === 1) {
    if (n % 2 === 0) {
      for (let i = 0; i < n / 2; i++) link(i, i + n / 2);
    } else {
      for (let i = 0; i <= (n - 1) / 2; i++) link(i, (i + (n + 1) / 2) % n);
    }
  }
  return sets.map((s) => [...s].sort((a, b) => a - b));
}

/**
 * Uniform integers in [0, m) from a RandomSource, by rejection sampling on 32-bit
 * draws: values at or above the largest multiple of m below 2^32 are redrawn, so
 * there is no modulo bias. Bytes are fetched in batches.
 */
function uniformIntegers(random: RandomSource, batch: number): (m: number) => number {
  let buf: Uint8Array = new Uint8Array(0);
  let pos = 0;
  const nextU32 = (): number => {
    if (pos + 4 > buf.length) {
      const want = 4 * batch;
      buf = random(want);
      if (!(buf instanceof Uint8Array) || buf.length !== want) {
        throw new RangeError(`random source: expected ${want} bytes, got ${buf instanceof Uint8Array ? buf.length : typeof buf}`);
      }
      pos = 0;
    }
    const v = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
    pos += 4;
    return v;
  };
  return (m) => {
    const limit = 2 ** 32 - (2 ** 32 % m);
    for (;;) {
      const r = nextU32();
      if (r < limit) return r % m;
    }
  };
}

/**
 * SecAgg+'s graph: H_{k,n} over a uniformly random ordering of `ids` (Fisher–Yates
 * with rejection sampling). Regular of degree k except when both n and k are odd,
 * where exactly one client has degree k+1 (see `_hararyAdjacency`). Requires
 * 1 ≤ k ≤ n-1; k = n-1 yields the complete graph.
 *
 * The ordering must be unpredictable to clients and fixed after the cohort (and so
 * any corrupt subset) is chosen: the bounds in `params.ts` rely on it.
 */
export function hararyGraph(ids: readonly number[], k: number, random: RandomSource = osRandom): Graph {
  assertIds(ids, 'hararyGraph');
  const n = ids.length;
  if (n < 2) fail(BadConfig, `hararyGraph: expected at least 2 clients, got ${n}: a graph needs an edge`);
  if (!Number.isInteger(k) || k < 1 || k > n - 1) {
    fail(BadConfig, `hararyGraph: expected the degree k to be an integer in [1, ${n - 1}] for ${n} clients, got ${k}: choose k with chooseParams`);
  }
  const order = [...ids];
  const below = uniformIntegers(random, Math.min(n, 1024));
  for (let i = n - 1; i > 0; i--) {
    const j = below(i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  const adjacency = new Map<number, number[]>();
  _hararyAdjacency(n, k).forEach((nbrs, pos) => {
    adjacency.set(order[pos]!, nbrs.map((p) => order[p]!));
  });
  return freezeGraph(adjacency);
}

/** Number of neighbours of `id`; refuses an id that is not in the graph. */
export function degreeOf(graph: Graph, id: number): number {
  const nbrs = graph.get(id);
  if (nbrs === undefined) fail(BadConfig, `degreeOf: client ${id} is not in the graph`);
  return nbrs.length;
}

/** True iff every edge goes both ways, every neighbour is a node, and no node lists itself. */
export function isSymmetric(graph: Graph): boolean {
  for (const [u, nbrs] of graph) {
    for (const v of nbrs) {
      if (v === u) return false;
      const back = graph.get(v);
      if (back === undefined || !back.includes(u)) return false;
    }
  }
  return true;
}
