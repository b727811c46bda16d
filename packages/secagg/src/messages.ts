/**
 * The protocol's messages, as plain typed data. The secagg machines consume and
 * produce these; packages/wire encodes them for the network and validates them on
 * the way in. Every message names its session and round, so a message replayed
 * from another round is refused by the machine that receives it.
 *
 * Stage order (Bonawitz et al. 2017, Fig. 4; SecAgg+ graph of Bell et al. 2020):
 *   AdvertiseKeys -> ShareKeys -> MaskedInput -> ConsistencyCheck -> Unmask
 * ConsistencyCheck runs only in active-adversary mode (the default).
 */

export const STAGES = ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask'] as const;
export type Stage = (typeof STAGES)[number];

/** Session ids are 16 random bytes chosen by the coordinator per task run. */
export const SESSION_BYTES = 16;
/** X25519 and Ed25519 public keys. */
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/**
 * Largest round number. The round is written as a u32 into the HKDF salt
 * (hkdf.ts) and the share AEAD's associated data; the wire refuses a larger one
 * at parse (packages/wire expectRound), so both sides use this one constant.
 */
export const MAX_ROUND = 0xffffffff;

/** Client ids are positive integers (they are also Shamir evaluation points). */
export type ClientId = number;

/**
 * The communication graph: `complete` (SecAgg: N(u) = roster \ {u}) or `harary`
 * (SecAgg+: H_{k,n} ordered by a seed over every advert, see graph-seed.ts).
 */
export const GRAPH_KINDS = ['complete', 'harary'] as const;
export type GraphKind = (typeof GRAPH_KINDS)[number];

/** A roster member's commitment to its advert keys (sent in its OfferReply), as RoundStart relays it. */
export interface AdvertCommitment {
  readonly id: ClientId;
  /** SHA-256 over the member's (cPk, sPk, bPk); see advertCommitment in graph-seed.ts. */
  readonly commit: Uint8Array;
}

export interface RosterEntry {
  readonly id: ClientId;
  /** The client's long-term Ed25519 identity public key, as enrolled. */
  readonly identityKey: Uint8Array;
}

interface Tagged<T extends string> {
  readonly type: T;
  readonly session: Uint8Array;
  readonly round: number;
}

// ---- server -> client -------------------------------------------------------

/** Opens AdvertiseKeys. Sent to each member of the cohort with its own neighbour list. */
export interface RoundStart extends Tagged<'RoundStart'> {
  /** The receiving client's id in this round. */
  readonly you: ClientId;
  /** The whole cohort with identity keys, sorted by id. */
  readonly roster: readonly RosterEntry[];
  /**
   * The receiver's neighbours in the communication graph (excludes itself). Complete
   * mode: the roster minus the receiver, or the client refuses. Harary mode: empty (the
   * graph is drawn from the adverts, after AdvertiseKeys; each client recomputes it).
   */
  readonly neighbours: readonly ClientId[];
  /** Graph kind; the client checks it against the offer it accepted. */
  readonly graph: GraphKind;
  /** Degree k of the Harary graph (n − 1 in complete mode). */
  readonly degree: number;
  /** Harary mode: every roster member's advert commitment, by id (empty in complete mode). */
  readonly commitments: readonly AdvertCommitment[];
  /** Shamir threshold t: shares needed to reconstruct one secret. */
  readonly threshold: number;
  /** Lanes (uint32) in the masked input vector. */
  readonly vectorLength: number;
  /** Signed adverts and signed survivor lists (active-adversary mode). */
  readonly activeAdversary: boolean;
}

export interface SignedAdvert {
  readonly id: ClientId;
  /** X25519 public key used to encrypt shares (c in the paper). */
  readonly cPk: Uint8Array;
  /** X25519 public key used for pairwise masks (s in the paper). */
  readonly sPk: Uint8Array;
  /**
   * X25519 public key whose secret is the self-mask seed b: the commitment to b, so a
   * reconstructed b is checked like s_sk and a forged b-share is caught.
   */
  readonly bPk: Uint8Array;
  /** Ed25519 signature by the client's identity key over (session, round, id, cPk, sPk, bPk); empty when not active mode. */
  readonly sig: Uint8Array;
}

/**
 * Opens ShareKeys. Complete mode: the adverts of the receiver's neighbours that
 * advertised (U1 ∩ N(u)). Harary mode: every roster member's advert, the receiver's
 * own included (all are needed to recompute the graph seed).
 */
export interface KeyList extends Tagged<'KeyList'> {
  readonly adverts: readonly SignedAdvert[];
}

export interface EncryptedShare {
  /** Sender (for ShareBundle) or receiver (for Shares) of the ciphertext. */
  readonly peer: ClientId;
  readonly ct: Uint8Array;
}

/** Opens MaskedInput: the ciphertexts addressed to the receiver by neighbours in U2. */
export interface ShareBundle extends Tagged<'ShareBundle'> {
  readonly shares: readonly EncryptedShare[];
}

/** Opens ConsistencyCheck (active mode): the set U3 of clients whose masked input arrived. */
export interface SurvivorList extends Tagged<'SurvivorList'> {
  readonly survivors: readonly ClientId[];
}

export interface SurvivorSignature {
  readonly id: ClientId;
  readonly sig: Uint8Array;
}

/**
 * Opens Unmask. `survivors` is U3; in active mode it must equal the list the client
 * signed, and `signatures` holds at least t valid signatures over it from neighbours.
 */
export interface UnmaskRequest extends Tagged<'UnmaskRequest'> {
  readonly survivors: readonly ClientId[];
  readonly signatures: readonly SurvivorSignature[];
}

export type ServerMessage = RoundStart | KeyList | ShareBundle | SurvivorList | UnmaskRequest;

// ---- client -> server -------------------------------------------------------

export interface AdvertiseKeys extends Tagged<'AdvertiseKeys'> {
  readonly cPk: Uint8Array;
  readonly sPk: Uint8Array;
  readonly bPk: Uint8Array;
  readonly sig: Uint8Array;
}

/** One ciphertext per neighbour; `peer` is the receiver. */
export interface ShareKeys extends Tagged<'ShareKeys'> {
  readonly shares: readonly EncryptedShare[];
}

export interface MaskedInput extends Tagged<'MaskedInput'> {
  readonly y: Uint32Array;
}

export interface ConsistencySignature extends Tagged<'ConsistencySignature'> {
  readonly sig: Uint8Array;
}

export interface RevealedShare {
  /** Whose secret this share belongs to. */
  readonly of: ClientId;
  /** The Shamir share value (field element bytes) evaluated at the revealer's id. */
  readonly share: Uint8Array;
}

/** For each neighbour: the self-mask share if it survived, else the mask-key share. Never both. */
export interface UnmaskShares extends Tagged<'UnmaskShares'> {
  readonly selfMaskShares: readonly RevealedShare[];
  readonly keyShares: readonly RevealedShare[];
}

export type ClientMessage = AdvertiseKeys | ShareKeys | MaskedInput | ConsistencySignature | UnmaskShares;
