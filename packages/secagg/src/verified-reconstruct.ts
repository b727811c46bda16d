/**
 * Shamir reconstruction checked against a public key, naming the holders of forged
 * shares. The secret (s_sk or the self-mask seed b) is an X25519 secret whose public
 * key the owner signed in its advert, so a candidate secret is right iff its public
 * key matches (Bonawitz et al., CCS 2017, §4: the server checks reconstructed keys;
 * Tally extends the check to b by advertising b's public key).
 *
 * With m > t shares and some forged: find a t-subset whose reconstruction matches
 * (honest shares lie on the owner's polynomial of degree t − 1; t of them determine
 * it), then test each other share j by reconstructing from t − 1 shares of that
 * subset plus j: it matches iff j lies on the same polynomial. A share off it was
 * forged by its holder (AES-GCM authenticated it as the owner's share to that
 * holder, and only the holder revealed it), so the holder is named.
 *
 * The search is bounded: first the t + 1 leave-one-out subsets of the lowest t + 1
 * shares (one forger among them is always found), then further subsets in
 * lexicographic order, MAX_SUBSET_TRIES in all. Beyond that the reconstruction
 * fails with BadShares and nobody is named.
 */
import { equalBytes } from './bytes.ts';
import { SecAggErrorCode as E, fail } from './errors.ts';
import { x25519PublicKey } from './keys.ts';
import { combineShares, type Share } from './shamir.ts';
import type { ClientId } from './messages.ts';

/** Most t-subsets tried when the lowest t shares do not match (each costs one reconstruction and one X25519 base multiplication). */
export const MAX_SUBSET_TRIES = 256;

export interface VerifiedSecret {
  readonly secret: Uint8Array;
  /** Holders (share x) whose share is off the owner's polynomial. */
  readonly forgers: readonly ClientId[];
}

function tryCombine(shares: readonly Share[], t: number, publicKey: Uint8Array): Uint8Array | null {
  try {
    const s = combineShares(shares, t);
    return equalBytes(x25519PublicKey(s), publicKey) ? s : null;
  } catch {
    return null; // malformed or inconsistent: not this subset
  }
}

function* subsets(m: number, t: number): Generator<number[]> {
  if (m > t) {
    for (let skip = 0; skip <= t; skip++) yield Array.from({ length: t + 1 }, (_, i) => i).filter((i) => i !== skip);
  }
  const idx = Array.from({ length: t }, (_, i) => i);
  for (;;) {
    yield [...idx];
    let i = t - 1;
    while (i >= 0 && idx[i] === m - t + i) i--;
    if (i < 0) return;
    idx[i]!++;
    for (let j = i + 1; j < t; j++) idx[j] = idx[j - 1]! + 1;
  }
}

/**
 * The secret whose X25519 public key is `publicKey`, from `shares` (any order), and the
 * holders of shares off its polynomial. Throws BelowThreshold for fewer than t shares,
 * BadShares when no t-subset within the search bound matches.
 */
export function reconstructVerified(shares: readonly Share[], t: number, publicKey: Uint8Array, what: string): VerifiedSecret {
  const sorted = [...shares].sort((a, b) => a.x - b.x);
  if (sorted.length < t) fail(E.BelowThreshold, `only ${sorted.length} shares of ${what} were revealed, threshold is ${t}`);
  const direct = tryCombine(sorted, t, publicKey);
  if (direct !== null) return { secret: direct, forgers: [] }; // the common case: one reconstruction
  let tries = 0;
  for (const pick of subsets(sorted.length, t)) {
    if (++tries > MAX_SUBSET_TRIES) break;
    const good = pick.map((i) => sorted[i]!);
    const secret = tryCombine(good, t, publicKey);
    if (secret === null) continue;
    const inGood = new Set(pick);
    const base = good.slice(0, t - 1);
    const forgers = sorted.filter((s, i) => !inGood.has(i) && tryCombine([...base, s], t, publicKey) === null).map((s) => s.x);
    return { secret, forgers };
  }
  return fail(
    E.BadShares,
    `reconstructed ${what} does not match its advertised public key, and no ${t} of the ${sorted.length} revealed shares do (searched ${Math.min(tries, MAX_SUBSET_TRIES)} subsets): too many forged shares to name the forgers`,
  );
}
