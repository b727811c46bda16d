/**
 * The client's side of secure aggregation as a pure machine:
 *   clientStep(state, message) -> { state, outbox }
 * No sockets, no clock; randomness comes from the injected RandomSource.
 *
 * Bonawitz et al., CCS 2017, Fig. 4 (client side), over the sparse neighbour graph
 * of SecAgg+ (Bell et al., CCS 2020): shares and pairwise masks involve only the
 * client's neighbours; the complete graph is plain SecAgg.
 *
 * A step that throws a SecAggError leaves the given state untouched. The caller
 * must treat any error other than WrongRound (a stray or replayed message, safe
 * to ignore) as the end of this client's round: send nothing more for it.
 */
import { equalBytes } from './bytes.ts';
import { SecAggError, SecAggErrorCode as E, fail } from './errors.ts';
import { KdfLabel, deriveKey, type RoundContext } from './hkdf.ts';
import { generateX25519, signMessage, verifySignature, x25519Shared, type KeyPair } from './keys.ts';
import { openShare, sealShare, shareAad, shareKeyPair } from './aead.ts';
import { SHARE_BYTES, splitSecret } from './shamir.ts';
import { addMasksSplit, type MaskKey } from './mask-helper.ts';
import { MaskAccumulator } from './prg.ts';
import type { CheckedUpdate } from './quantize.ts';
import { advertTranscript, pairInfo, pairSign, sharePlaintext, survivorTranscript } from './transcript.ts';
import { osRandom, type RandomSource } from './random.ts';
import { advertCommitment, deriveGraph, graphSeed } from './graph-seed.ts';
import { isUsableX25519Key } from './key-check.ts';
import {
  GRAPH_KINDS,
  SESSION_BYTES,
  type ClientId,
  type GraphKind,
  type SignedAdvert,
  type ClientMessage,
  type ServerMessage,
} from './messages.ts';

export interface ClientOptions {
  /** The client's long-term Ed25519 identity key pair (enrolled with the coordinator). */
  readonly identity: KeyPair;
  /**
   * This round's input: already quantised into the ring Z_2^32, or a checked update
   * (quantize.ts `checkUpdate`) that is rounded straight into the masking memory when the
   * client masks (with `random`), so that no model-sized array of its own lives from the
   * offer to the masking.
   */
  readonly input: Uint32Array | CheckedUpdate;
  /**
   * Where MaskedInput.y goes: called once, when the client masks, for an array of the
   * input's length (e.g. one the caller reuses once the message is on its way, or a
   * Uint32Array input itself, masked in place). Default: a fresh array, whose pages fault
   * in on first touch.
   */
  readonly output?: ((lanes: number) => Uint32Array) | undefined;
  readonly random?: RandomSource;
}

/** ClientOptions with the defaults filled in (`output` stays optional). */
type ResolvedOptions = Omit<Required<ClientOptions>, 'output'> & { readonly output: ClientOptions['output'] };

/** Lanes in a client's input. */
const inputLength = (input: Uint32Array | CheckedUpdate): number => (input instanceof Uint32Array ? input.length : input.plan.vectorLength);

interface RoundSetup {
  readonly ctx: RoundContext;
  readonly self: ClientId;
  readonly roster: ReadonlyMap<ClientId, Uint8Array>;
  readonly rosterList: readonly { readonly id: ClientId; readonly identityKey: Uint8Array }[];
  readonly graph: GraphKind;
  readonly degree: number;
  /** Harary mode: every other member's advert commitment, from RoundStart. */
  readonly commitments: ReadonlyMap<ClientId, Uint8Array>;
  /** Our neighbours: recomputed by us (roster \ {self}, or from the Harary seed once KeyList arrives). */
  readonly neighbours: readonly ClientId[];
  /** Signed with the survivor list; set once the graph is known. */
  readonly graphDigest: Uint8Array;
  readonly threshold: number;
  readonly activeAdversary: boolean;
}

/** This round's three X25519 pairs: c (share encryption), s (pairwise masks), b (self-mask seed = b's secret). */
interface RoundKeys {
  readonly c: KeyPair;
  readonly s: KeyPair;
  readonly b: KeyPair;
}

interface PeerKeys {
  readonly sPk: Uint8Array;
  /** AES-GCM key for the shares this peer sends us (derived with the send key in ShareKeys). */
  readonly receiveKey: Uint8Array;
}

interface HeldShares {
  /** Share of the peer's mask secret key s_sk, evaluated at our id. */
  readonly keyShare: Uint8Array;
  /** Share of the peer's self-mask seed b, evaluated at our id. */
  readonly selfMaskShare: Uint8Array;
}

export type ClientState =
  | { readonly stage: 'Init'; readonly opts: ResolvedOptions; readonly keys: RoundKeys }
  | {
      readonly stage: 'AdvertiseKeys';
      readonly opts: ResolvedOptions;
      readonly setup: RoundSetup;
      readonly c: KeyPair;
      readonly s: KeyPair;
      readonly b: KeyPair;
    }
  | {
      readonly stage: 'ShareKeys';
      readonly opts: ResolvedOptions;
      readonly setup: RoundSetup;
      readonly s: KeyPair;
      /** Neighbours that advertised keys (U1 ∩ N(u)). */
      readonly peers: ReadonlyMap<ClientId, PeerKeys>;
      /** Our self-mask seed b_u, secret-shared to the peers. */
      readonly selfSeed: Uint8Array;
    }
  | {
      readonly stage: 'MaskedInput';
      readonly setup: RoundSetup;
      /** Neighbours whose shares we hold (U2 ∩ N(u)): exactly those we masked with. */
      readonly held: ReadonlyMap<ClientId, HeldShares>;
      readonly identity: KeyPair;
    }
  | {
      readonly stage: 'ConsistencyCheck';
      readonly setup: RoundSetup;
      readonly held: ReadonlyMap<ClientId, HeldShares>;
      readonly survivors: readonly ClientId[];
    }
  | {
      readonly stage: 'Unmask';
      readonly setup: RoundSetup;
      /** Whose secret we revealed, and which one: the record that we never reveal both. */
      readonly revealed: ReadonlyMap<ClientId, 'selfMask' | 'key'>;
    };

export interface ClientStep {
  readonly state: ClientState;
  readonly outbox: readonly ClientMessage[];
}

/** The server message that opens the next stage, for each client stage. */
export const CLIENT_EXPECTS: Readonly<Record<ClientState['stage'], readonly ServerMessage['type'][]>> = {
  Init: ['RoundStart'],
  AdvertiseKeys: ['KeyList'],
  ShareKeys: ['ShareBundle'],
  MaskedInput: ['SurvivorList', 'UnmaskRequest'], // SurvivorList in active mode, UnmaskRequest otherwise
  ConsistencyCheck: ['UnmaskRequest'],
  Unmask: [],
};

/**
 * A client for one round. Its advert keys are drawn now, so that the node can send
 * their commitment (`clientCommitment`) in its OfferReply, before any RoundStart.
 */
export function createClient(opts: ClientOptions): ClientState {
  const input: unknown = opts.input;
  const checked = typeof input === 'object' && input !== null && typeof (input as CheckedUpdate).writeInto === 'function' && Number.isSafeInteger((input as CheckedUpdate).plan?.vectorLength);
  if (!(input instanceof Uint32Array) && !checked) throw new TypeError(`input: expected a Uint32Array or a checked update (checkUpdate), got ${typeof input}`);
  if (opts.output !== undefined && typeof opts.output !== 'function') throw new TypeError(`output: expected a function, got ${typeof opts.output}`);
  const full = { random: osRandom, ...opts, output: opts.output };
  const keys = { c: generateX25519(full.random), s: generateX25519(full.random), b: generateX25519(full.random) };
  return { stage: 'Init', opts: full, keys };
}

/** The commitment to this client's advert keys (graph-seed.ts), for its OfferReply. */
export function clientCommitment(state: Extract<ClientState, { stage: 'Init' }>): Uint8Array {
  return advertCommitment({ cPk: state.keys.c.publicKey, sPk: state.keys.s.publicKey, bPk: state.keys.b.publicKey });
}

export function clientStep(state: ClientState, msg: ServerMessage): ClientStep {
  if (state.stage !== 'Init') checkRound(state.setup.ctx, msg);
  switch (state.stage) {
    case 'Init':
      if (msg.type === 'RoundStart') return onRoundStart(state, msg);
      break;
    case 'AdvertiseKeys':
      if (msg.type === 'KeyList') return onKeyList(state, msg);
      break;
    case 'ShareKeys':
      if (msg.type === 'ShareBundle') return onShareBundle(state, msg);
      break;
    case 'MaskedInput':
      if (msg.type === 'SurvivorList' && state.setup.activeAdversary) return onSurvivorList(state, msg);
      if (msg.type === 'UnmaskRequest' && !state.setup.activeAdversary) {
        const survivors = checkSurvivors(state.setup, state.held, msg.survivors);
        return reveal(state.setup, state.held, survivors);
      }
      break;
    case 'ConsistencyCheck':
      if (msg.type === 'UnmaskRequest') return onUnmaskRequest(state, msg);
      break;
    case 'Unmask':
      break;
  }
  return fail(E.InvalidTransition, `client in stage ${state.stage} cannot accept ${msg.type}`);
}

// ---- stage handlers ---------------------------------------------------------

function onRoundStart(state: Extract<ClientState, { stage: 'Init' }>, msg: Extract<ServerMessage, { type: 'RoundStart' }>): ClientStep {
  const { opts } = state;
  if (!(msg.session instanceof Uint8Array) || msg.session.length !== SESSION_BYTES) {
    fail(E.BadMessage, `RoundStart.session: expected ${SESSION_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(msg.round) || msg.round < 0) fail(E.BadMessage, `RoundStart.round: expected a non-negative integer, got ${msg.round}`);
  const roster = new Map<ClientId, Uint8Array>();
  for (const e of msg.roster) {
    if (roster.has(e.id)) fail(E.BadMessage, `RoundStart.roster: duplicate id ${e.id}`);
    roster.set(e.id, e.identityKey);
  }
  const mine = roster.get(msg.you);
  if (!mine || !equalBytes(mine, opts.identity.publicKey)) {
    fail(E.BadMessage, `RoundStart: our identity key is not in the roster as id ${msg.you}`);
  }
  const rosterList = [...roster].map(([id, identityKey]) => ({ id, identityKey })).sort((a, b) => a.id - b.id);
  if (!(GRAPH_KINDS as readonly string[]).includes(msg.graph)) fail(E.BadMessage, `RoundStart.graph: expected one of ${GRAPH_KINDS.join(', ')}, got ${String(msg.graph)}`);
  const n = roster.size;
  const k = msg.degree;
  if (!Number.isInteger(k) || k < 1 || k > n - 1) fail(E.BadConfig, `RoundStart.degree: expected an integer in [1, ${n - 1}], got ${k}`);
  const listed = checkIdSet(msg.neighbours, 'RoundStart.neighbours');
  let neighbours: ClientId[] = [];
  const commitments = new Map<ClientId, Uint8Array>();
  if (msg.graph === 'complete') {
    // Complete mode: N(u) = roster \ {u}, always. Anything else is a graph the coordinator chose.
    neighbours = rosterList.map((e) => e.id).filter((v) => v !== msg.you);
    if (k !== n - 1) fail(E.BadGraph, `RoundStart.degree: complete graph over ${n} clients has degree ${n - 1}, got ${k}`);
    if (listed.length !== neighbours.length || listed.some((v, i) => v !== neighbours[i])) {
      fail(E.BadGraph, `RoundStart.neighbours: the complete graph gives us all ${neighbours.length} other roster members, the coordinator listed ${listed.length}`);
    }
  } else {
    // Harary mode: the graph is drawn from every advert (graph-seed.ts); nobody may pre-announce it.
    if (listed.length !== 0) fail(E.BadGraph, 'RoundStart.neighbours: in Harary mode the neighbours come from the graph seed, not from the coordinator');
    if (k % 2 === 1 && k !== n - 1) fail(E.BadGraph, `RoundStart.degree: the Harary bounds are derived for even k, got ${k}`);
    for (const c of msg.commitments) {
      if (!roster.has(c.id)) fail(E.BadMessage, `RoundStart.commitments: id ${c.id} is not in the roster`);
      if (commitments.has(c.id)) fail(E.BadMessage, `RoundStart.commitments: duplicate id ${c.id}`);
      if (!(c.commit instanceof Uint8Array) || c.commit.length !== 32) fail(E.BadMessage, `RoundStart.commitments: id ${c.id}: expected 32 bytes`);
      commitments.set(c.id, c.commit);
    }
    if (commitments.size !== n) fail(E.BadGraph, `RoundStart.commitments: ${commitments.size} commitments for a roster of ${n}; the graph seed needs every member's`);
    if (!equalBytes(commitments.get(msg.you)!, clientCommitment(state))) fail(E.BadGraph, 'RoundStart.commitments: our own commitment is not the one we sent');
  }
  const t = msg.threshold;
  if (!Number.isInteger(t) || t < 1 || t > k) fail(E.BadConfig, `RoundStart.threshold: expected an integer in [1, ${k}], got ${t}`);
  // Safety: with t ≤ k/2 two disjoint sets of t neighbours exist, so a server that tells
  // one half "u survived" and the other "u dropped" could collect both of u's secrets.
  if (2 * t <= k) fail(E.PrivacyViolation, `RoundStart.threshold: t=${t} is not more than half of ${k} neighbours; refusing`);
  if (msg.vectorLength !== inputLength(opts.input)) {
    fail(E.BadMessage, `RoundStart.vectorLength: expected ${inputLength(opts.input)} (our input), got ${msg.vectorLength}`);
  }
  const ctx = { session: msg.session, round: msg.round };
  const setup: RoundSetup = {
    ctx,
    self: msg.you,
    roster,
    rosterList,
    graph: msg.graph,
    degree: k,
    commitments,
    neighbours,
    graphDigest: msg.graph === 'complete' ? graphSeed(ctx, 'complete', k, rosterList, []) : new Uint8Array(0),
    threshold: t,
    activeAdversary: msg.activeAdversary,
  };
  const { c, s, b } = state.keys;
  const sig = setup.activeAdversary
    ? signMessage(opts.identity.secretKey, advertTranscript(setup.ctx, setup.self, c.publicKey, s.publicKey, b.publicKey))
    : new Uint8Array(0);
  return {
    state: { stage: 'AdvertiseKeys', opts, setup, c, s, b },
    outbox: [{ type: 'AdvertiseKeys', ...setup.ctx, cPk: c.publicKey, sPk: s.publicKey, bPk: b.publicKey, sig }],
  };
}

function onKeyList(state: Extract<ClientState, { stage: 'AdvertiseKeys' }>, msg: Extract<ServerMessage, { type: 'KeyList' }>): ClientStep {
  const { opts } = state;
  let setup = state.setup;
  const harary = setup.graph === 'harary';
  const own = { cPk: state.c.publicKey, sPk: state.s.publicKey, bPk: state.b.publicKey };
  const adverts = new Map<ClientId, SignedAdvert>();
  // Keys as latin1 strings (one char per byte, so equal strings are equal keys): a set
  // makes the distinctness check O(k) instead of k² byte comparisons.
  const keyId = (k: Uint8Array): string => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1');
  const seenKeys = new Set<string>([own.cPk, own.sPk, own.bPk].map(keyId));
  for (const a of msg.adverts) {
    if (adverts.has(a.id)) fail(E.BadMessage, `KeyList: duplicate advert for id ${a.id}`);
    if (harary) {
      if (!setup.roster.has(a.id)) fail(E.BadMessage, `KeyList: id ${a.id} is not in the roster`);
      // Bell et al. 2020 analyse a graph drawn independently of the adversary: each advert
      // must be the one its owner committed to before anyone revealed theirs.
      if (!equalBytes(advertCommitment(a), setup.commitments.get(a.id)!)) fail(E.BadGraph, `KeyList: advert of id ${a.id} does not match its commitment in RoundStart`);
      if (a.id === setup.self) {
        if (!equalBytes(a.cPk, own.cPk) || !equalBytes(a.sPk, own.sPk) || !equalBytes(a.bPk, own.bPk)) fail(E.BadGraph, 'KeyList: our own advert was altered');
        adverts.set(a.id, a);
        continue;
      }
    } else if (!setup.neighbours.includes(a.id)) {
      fail(E.BadMessage, `KeyList: id ${a.id} is not our neighbour`);
    }
    if (setup.activeAdversary) {
      const idKey = setup.roster.get(a.id)!;
      if (!verifySignature(a.sig, advertTranscript(setup.ctx, a.id, a.cPk, a.sPk, a.bPk), idKey)) {
        fail(E.BadSignature, `KeyList: advert of id ${a.id} is not signed by its enrolled identity key`);
      }
    }
    // Bonawitz et al. §4 round 1: all public keys in the list must be distinct, else a
    // server could make two parties agree on one key.
    const ids = [keyId(a.cPk), keyId(a.sPk), keyId(a.bPk)];
    if (ids.some((id) => seenKeys.has(id))) fail(E.BadMessage, `KeyList: id ${a.id} reuses a public key`);
    if (ids[0] === ids[1] || ids[0] === ids[2] || ids[1] === ids[2]) fail(E.BadMessage, `KeyList: id ${a.id} uses one key for two roles`);
    for (const id of ids) seenKeys.add(id);
    adverts.set(a.id, a);
  }
  if (harary) {
    if (adverts.size !== setup.roster.size) fail(E.BadGraph, `KeyList: ${adverts.size} adverts for a roster of ${setup.roster.size}; the graph seed needs every member's (a missing advert aborts the attempt)`);
    const seed = graphSeed(setup.ctx, 'harary', setup.degree, setup.rosterList, [...adverts.values()]);
    const graph = deriveGraph('harary', setup.rosterList.map((e) => e.id), setup.degree, seed);
    const neighbours = [...graph.get(setup.self)!];
    const k = neighbours.length;
    if (setup.threshold > k || 2 * setup.threshold <= k) {
      fail(E.PrivacyViolation, `KeyList: our recomputed degree ${k} does not satisfy t ≤ k < 2t with t = ${setup.threshold}; refusing`);
    }
    setup = { ...setup, neighbours, graphDigest: seed };
  }
  // RFC 7748 §6.1: a low-order key would give a predictable secret; such a peer is dropped, not the round.
  const peerAdverts = new Map<ClientId, SignedAdvert>();
  for (const v of setup.neighbours) {
    const a = adverts.get(v);
    if (a !== undefined && isUsableX25519Key(a.cPk) && isUsableX25519Key(a.sPk) && isUsableX25519Key(a.bPk)) peerAdverts.set(v, a);
  }
  if (peerAdverts.size < setup.threshold) {
    fail(E.BelowThreshold, `KeyList: ${peerAdverts.size} neighbours advertised usable keys, threshold is ${setup.threshold}`);
  }
  const xs = [...peerAdverts.keys()].sort((a, b) => a - b);
  const peers = new Map<ClientId, PeerKeys>();
  // The self-mask seed b is the secret of the advertised b pair: the server checks a reconstructed b against bPk.
  const b = state.b.secretKey;
  const keyShares = splitSecret(state.s.secretKey, setup.threshold, xs, opts.random);
  const selfShares = splitSecret(b, setup.threshold, xs, opts.random);
  const shares = xs.map((v, i) => {
    const advert = peerAdverts.get(v)!;
    // One X25519 agreement per neighbour gives both directions' keys.
    const keys = shareKeyPair(state.c.secretKey, advert.cPk, setup.ctx, setup.self, v);
    peers.set(v, { sPk: advert.sPk, receiveKey: keys.receive });
    const pt = sharePlaintext(setup.self, v, keyShares[i]!.y, selfShares[i]!.y);
    return { peer: v, ct: sealShare(keys.send, pt, shareAad(setup.ctx, setup.self, v), opts.random) };
  });
  return {
    state: { stage: 'ShareKeys', opts, setup, s: state.s, peers, selfSeed: b },
    outbox: [{ type: 'ShareKeys', ...setup.ctx, shares }],
  };
}

function onShareBundle(state: Extract<ClientState, { stage: 'ShareKeys' }>, msg: Extract<ServerMessage, { type: 'ShareBundle' }>): ClientStep {
  const { setup, opts, peers, selfSeed } = state;
  const held = new Map<ClientId, HeldShares>();
  for (const sh of msg.shares) {
    const pk = peers.get(sh.peer);
    if (!pk) fail(E.BadMessage, `ShareBundle: id ${sh.peer} did not advertise keys to us`);
    if (held.has(sh.peer)) fail(E.BadMessage, `ShareBundle: duplicate share from id ${sh.peer}`);
    const pt = openShare(pk.receiveKey, sh.ct, shareAad(setup.ctx, sh.peer, setup.self));
    const expect = sharePlaintext(sh.peer, setup.self, new Uint8Array(SHARE_BYTES), new Uint8Array(SHARE_BYTES));
    if (pt.length !== expect.length || !equalBytes(pt.subarray(0, 8), expect.subarray(0, 8))) {
      fail(E.DecryptFailed, `ShareBundle: share from id ${sh.peer} names the wrong sender or receiver`);
    }
    held.set(sh.peer, {
      keyShare: pt.slice(8, 8 + SHARE_BYTES),
      selfMaskShare: pt.slice(8 + SHARE_BYTES, 8 + 2 * SHARE_BYTES),
    });
  }
  if (held.size < setup.threshold) {
    fail(E.BelowThreshold, `ShareBundle: ${held.size} neighbours sent shares, threshold is ${setup.threshold}`);
  }
  const { input, random } = opts;
  const lanes = inputLength(input);
  const source: Uint32Array | LaneSource = input instanceof Uint32Array ? input : { length: lanes, writeInto: (l) => input.writeInto(l, random) };
  const into = opts.output?.(lanes);
  const y = maskInput(source, setup.ctx, setup.self, selfSeed, state.s.secretKey, [...held.keys()].map((v) => ({ id: v, sPk: peers.get(v)!.sPk })), into);
  return {
    state: { stage: 'MaskedInput', setup, held, identity: opts.identity },
    outbox: [{ type: 'MaskedInput', ...setup.ctx, y }],
  };
}

function onSurvivorList(state: Extract<ClientState, { stage: 'MaskedInput' }>, msg: Extract<ServerMessage, { type: 'SurvivorList' }>): ClientStep {
  const { setup } = state;
  const survivors = checkSurvivors(setup, state.held, msg.survivors);
  const sig = signMessage(state.identity.secretKey, survivorTranscript(setup.ctx, survivors, setup.graphDigest));
  return {
    state: { stage: 'ConsistencyCheck', setup, held: state.held, survivors },
    outbox: [{ type: 'ConsistencySignature', ...setup.ctx, sig }],
  };
}

function onUnmaskRequest(state: Extract<ClientState, { stage: 'ConsistencyCheck' }>, msg: Extract<ServerMessage, { type: 'UnmaskRequest' }>): ClientStep {
  const { setup } = state;
  const asked = checkIdSet(msg.survivors, 'UnmaskRequest.survivors');
  if (asked.length !== state.survivors.length || asked.some((id, i) => id !== state.survivors[i])) {
    fail(E.Inconsistent, 'UnmaskRequest: survivor list differs from the one we signed');
  }
  const transcript = survivorTranscript(setup.ctx, state.survivors, setup.graphDigest);
  const signers = new Set<ClientId>();
  const survivorSet = new Set(state.survivors);
  // Only our neighbours' signatures count toward t: our own proves nothing to us, and a
  // non-neighbour holds none of our shares (SECURITY.md, "Who draws the graph").
  const neighbourSet = new Set(setup.neighbours);
  let confirmed = 0;
  for (const { id, sig } of msg.signatures) {
    if (signers.has(id)) fail(E.BadMessage, `UnmaskRequest: duplicate signature from id ${id}`);
    if (!survivorSet.has(id)) fail(E.Inconsistent, `UnmaskRequest: signature from id ${id}, which is not a survivor`);
    const idKey = setup.roster.get(id);
    if (!idKey || !verifySignature(sig, transcript, idKey)) {
      // Bonawitz et al. round 4: any bad signature aborts. A client shown a different
      // survivor list signed that list, so its signature fails here.
      fail(E.Inconsistent, `UnmaskRequest: signature of id ${id} does not match our survivor list`);
    }
    signers.add(id);
    if (neighbourSet.has(id) && id !== setup.self) confirmed++;
  }
  if (confirmed < setup.threshold) {
    fail(E.BelowThreshold, `UnmaskRequest: ${confirmed} of our neighbours confirmed the list, threshold is ${setup.threshold}`);
  }
  return reveal(setup, state.held, state.survivors);
}

/**
 * Round 4: for each neighbour whose shares we hold, reveal exactly one share: the
 * self-mask share if it survived, the mask-key share if it dropped. Never both.
 */
function reveal(setup: RoundSetup, held: ReadonlyMap<ClientId, HeldShares>, survivors: readonly ClientId[]): ClientStep {
  const alive = new Set(survivors);
  const revealed = new Map<ClientId, 'selfMask' | 'key'>();
  const selfMaskShares = [];
  const keyShares = [];
  for (const [v, sh] of held) {
    if (alive.has(v)) {
      selfMaskShares.push({ of: v, share: sh.selfMaskShare });
      revealed.set(v, 'selfMask');
    } else {
      keyShares.push({ of: v, share: sh.keyShare });
      revealed.set(v, 'key');
    }
  }
  return {
    state: { stage: 'Unmask', setup, revealed },
    outbox: [{ type: 'UnmaskShares', ...setup.ctx, selfMaskShares, keyShares }],
  };
}

/** Lanes written on demand into the masking memory (a checked update, say). */
export interface LaneSource {
  readonly length: number;
  /** Writes every one of `lanes` (`length` of them). */
  writeInto(lanes: Uint32Array): void;
}

/**
 * The masked input (Bonawitz et al. 2017, round 2):
 *   y_u = x_u + PRG(b_u) + Σ_{v ∈ U2 ∩ N(u)} ±PRG(s_uv)   (mod 2^32)
 * with s_uv = HKDF(X25519(s_sk_u, s_pk_v)); the lower id adds, the higher subtracts.
 * y goes into `into` when given (it may be `input` itself), else into a fresh array.
 */

export function maskInput(
  input: Uint32Array | LaneSource,
  ctx: RoundContext,
  self: ClientId,
  selfSeed: Uint8Array,
  maskSecretKey: Uint8Array,
  peers: readonly { readonly id: ClientId; readonly sPk: Uint8Array }[],
  into?: Uint32Array,
): Uint32Array {
  if (into !== undefined && (!(into instanceof Uint32Array) || into.length !== input.length)) {
    throw new RangeError(`maskInput into: expected a Uint32Array of ${input.length} lanes, got ${into instanceof Uint32Array ? into.length : typeof into}`);
  }
  // One accumulator for all k+1 masks: the vector stays in its (reused) memory throughout.
  const y = input instanceof Uint32Array ? new MaskAccumulator(input) : new MaskAccumulator(input.length);
  if (!(input instanceof Uint32Array)) y.write((lanes) => input.writeInto(lanes));
  const masks: MaskKey[] = [{ key: deriveKey(selfSeed, KdfLabel.SelfMask, ctx), sign: 1 }];
  try {
    for (const p of peers) {
      const shared = x25519Shared(maskSecretKey, p.sPk);
      masks.push({ key: deriveKey(shared, KdfLabel.PairwiseMask, ctx, pairInfo(self, p.id)), sign: pairSign(self, p.id) });
    }
    // Large k: part of the masks on the helper thread (mask-helper.ts); same sum either way.
    addMasksSplit(y, masks);
    if (into === undefined) return y.result();
    // Into the caller's array (the machine's own input): no fresh model-sized array, whose
    // pages would fault in on first touch.
    y.copyTo(into);
    return into;
  } finally {
    y.dispose();
    for (const m of masks) m.key.fill(0);
  }
}

// ---- checks -----------------------------------------------------------------

function checkRound(ctx: RoundContext, msg: ServerMessage): void {
  if (!(msg.session instanceof Uint8Array) || !equalBytes(msg.session, ctx.session) || msg.round !== ctx.round) {
    throw new SecAggError(E.WrongRound, `${msg.type} is for another session or round (expected round ${ctx.round}, got ${msg.round})`);
  }
}

/** Sorted, distinct, positive integer ids. */
function checkIdSet(ids: readonly ClientId[], what: string): ClientId[] {
  const out = [...ids];
  for (const id of out) if (!Number.isInteger(id) || id <= 0) fail(E.BadMessage, `${what}: expected positive integer ids, got ${id}`);
  out.sort((a, b) => a - b);
  for (let i = 1; i < out.length; i++) if (out[i] === out[i - 1]) fail(E.BadMessage, `${what}: duplicate id ${out[i]}`);
  return out;
}

/**
 * Check a survivor set U3 against what this client knows: it includes us, every
 * surviving neighbour is one whose shares we hold (else we could not reveal for it),
 * and at least t of our neighbours survived.
 */
function checkSurvivors(setup: RoundSetup, held: ReadonlyMap<ClientId, HeldShares>, list: readonly ClientId[]): ClientId[] {
  const survivors = checkIdSet(list, 'survivors');
  if (!survivors.includes(setup.self)) fail(E.Inconsistent, 'survivors: the list leaves us out, though our input was sent');
  const neighbourSet = new Set(setup.neighbours);
  let alive = 0;
  for (const v of survivors) {
    if (!setup.roster.has(v)) fail(E.BadMessage, `survivors: id ${v} is not in the roster`);
    if (neighbourSet.has(v)) {
      if (!held.has(v)) fail(E.Inconsistent, `survivors: neighbour ${v} is listed but never shared keys with us`);
      alive++;
    }
  }
  if (alive < setup.threshold) {
    fail(E.BelowThreshold, `survivors: ${alive} of our neighbours survived, threshold is ${setup.threshold}`);
  }
  return survivors;
}
