/**
 * Byte strings that get signed or mixed into keys. Each starts with its own domain
 * label, and every variable-length field is length-prefixed, so no two transcripts
 * (of different kinds, rounds or sessions) can collide.
 */
import { concatBytes, lp, u32be, utf8 } from './bytes.ts';
import type { RoundContext } from './hkdf.ts';
import type { ClientId } from './messages.ts';

/** Signed by a client's identity key in AdvertiseKeys (Bonawitz et al. 2017, round 0, active mode). */
export function advertTranscript(ctx: RoundContext, id: ClientId, cPk: Uint8Array, sPk: Uint8Array, bPk: Uint8Array): Uint8Array {
  return concatBytes(utf8('tally/v1/advert'), lp(ctx.session), u32be(ctx.round), u32be(id), lp(cPk), lp(sPk), lp(bPk));
}

/**
 * Signed in ConsistencyCheck: the survivor set U3, sorted, as the client saw it (round 3),
 * and the graph digest (graph-seed.ts), so signers also confirm one view of the graph.
 */
export function survivorTranscript(ctx: RoundContext, survivors: readonly ClientId[], graphDigest: Uint8Array): Uint8Array {
  const ids = [...survivors].sort((a, b) => a - b);
  return concatBytes(utf8('tally/v1/survivors'), lp(ctx.session), u32be(ctx.round), lp(graphDigest), u32be(ids.length), ...ids.map(u32be));
}

/** HKDF info suffix for the pairwise mask of {a, b}: the same for both ends, ordered low to high. */
export function pairInfo(a: ClientId, b: ClientId): Uint8Array {
  return a < b ? concatBytes(u32be(a), u32be(b)) : concatBytes(u32be(b), u32be(a));
}

/**
 * The sign with which client `self` adds the pairwise mask it shares with `peer`:
 * the lower id adds, the higher subtracts, so each pair cancels in the sum.
 */
export function pairSign(self: ClientId, peer: ClientId): 1 | -1 {
  return self < peer ? 1 : -1;
}

/** Plaintext of one encrypted share bundle: sender, receiver, then the two shares. */
export function sharePlaintext(from: ClientId, to: ClientId, keyShare: Uint8Array, selfMaskShare: Uint8Array): Uint8Array {
  return concatBytes(u32be(from), u32be(to), keyShare, selfMaskShare);
}
