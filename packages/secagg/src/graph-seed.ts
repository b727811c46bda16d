/**
 * The communication graph from public data, so that every client can recompute
 * its own neighbourhood and refuse a coordinator that lies about it.
 *
 * Complete mode: N(u) = roster \ {u}, always; nothing to draw.
 *
 * Harary mode (SecAgg+, Bell et al., CCS 2020, ePrint 2020/704): the analysis of
 * the random Harary graph (params.ts) holds for an ordering sampled independently of
 * the adversary's choices (corrupt set, dropouts). Here the ordering comes from
 *   seed = SHA-256("tally/v1/graph-seed", session, round, k, roster, every advert)
 * with every roster member's signed advert (c_pk, s_pk, b_pk: fresh X25519 keys of
 * this round). The coordinator cannot pick it:
 *  - each member committed to its advert keys (`advertCommitment`, a hash of them)
 *    in its OfferReply, and RoundStart carries every commitment, so all adverts are
 *    fixed before any client reveals its own (KeyList checks advert = commitment);
 *  - an honest client's advert keys are fresh CSPRNG output the coordinator has not
 *    seen when it fixes the roster and the commitments, so the seed is unpredictable
 *    to it (SHA-256 modelled as a random oracle) until the adverts are revealed;
 *  - a missing advert aborts the attempt (the seed needs all of them), and a client
 *    shown a commitment set that differs from another client's view computes another
 *    seed; the seed is in the signed survivor transcript, so t neighbours' signatures
 *    confirm the client's view.
 * What remains is re-drawing: abort after seeing the graph, retry with a new session.
 * Each re-draw is a visible aborted attempt; a client joins at most
 * policy.maxAttemptsPerRound attempts per round (client policy), so a bad graph is
 * accepted with probability ≤ attempts × (the per-draw bound 2^-σ of params.ts).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, lp, u32be, utf8 } from './bytes.ts';
import { completeGraph, hararyGraph, type Graph } from './graph.ts';
import type { RoundContext } from './hkdf.ts';
import type { ClientId, GraphKind, RosterEntry } from './messages.ts';
import type { RandomSource } from './random.ts';

/** The advert keys a client commits to in its OfferReply and reveals in AdvertiseKeys. */
export interface AdvertKeys {
  readonly cPk: Uint8Array;
  readonly sPk: Uint8Array;
  readonly bPk: Uint8Array;
}

/** SHA-256 commitment to one client's advert keys (hiding: the keys are 3 × 32 fresh random bytes). */
export function advertCommitment(keys: AdvertKeys): Uint8Array {
  return sha256(concatBytes(utf8('tally/v1/advert-commitment'), lp(keys.cPk), lp(keys.sPk), lp(keys.bPk)));
}

/**
 * The graph digest signed with the survivor list: the seed in Harary mode, a hash of
 * (kind, roster) in complete mode. Adverts are ordered by id and must cover the roster.
 */
export function graphSeed(
  ctx: RoundContext,
  kind: GraphKind,
  k: number,
  roster: readonly RosterEntry[],
  adverts: readonly ({ readonly id: ClientId } & AdvertKeys)[],
): Uint8Array {
  const ids = [...roster].sort((a, b) => a.id - b.id);
  const parts = [utf8('tally/v1/graph-seed'), lp(ctx.session), u32be(ctx.round), lp(utf8(kind)), u32be(k), u32be(ids.length)];
  for (const e of ids) parts.push(u32be(e.id), lp(e.identityKey));
  if (kind === 'harary') {
    const sorted = [...adverts].sort((a, b) => a.id - b.id);
    parts.push(u32be(sorted.length));
    for (const a of sorted) parts.push(u32be(a.id), lp(a.cPk), lp(a.sPk), lp(a.bPk));
  }
  return sha256(concatBytes(...parts));
}

/** A deterministic RandomSource: SHA-256(seed ‖ counter) blocks. Only for drawing the public graph. */
export function seededRandom(seed: Uint8Array): RandomSource {
  let counter = 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = sha256(concatBytes(utf8('tally/v1/graph-prg'), seed, u32be(counter++)));
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

/** The graph both sides derive: complete over the roster, or H_{k,n} ordered by the seed. */
export function deriveGraph(kind: GraphKind, ids: readonly ClientId[], k: number, seed: Uint8Array): Graph {
  if (kind === 'complete' || k >= ids.length - 1) return completeGraph(ids);
  return hararyGraph(ids, k, seededRandom(seed));
}
