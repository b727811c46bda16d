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
import { MaskAccumulator } from './prg.ts';
import { advertTranscript, pairInfo, pairSign, sharePlaintext, survivorTranscript } from './transcript.ts';
import { osRandom, type RandomSource } from './random.ts';
import {
  SESSION_BYTES,
  type ClientId,
  type ClientMessage,
  type ServerMessage,
} from './messages.ts';

export interface ClientOptions {
  /** The client's long-term Ed25519 identity key pair (enrolled with the coordinator). */
  readonly identity: KeyPair;
  /** This round's input, already quantised into the ring Z_2^32. */
  readonly input: Uint32Array;
  readonly random?: RandomSource;
}

interface RoundSetup {
  readonly ctx: RoundContext;
  readonly self: ClientId;
  readonly roster: ReadonlyMap<ClientId, Uint8Array>;
  readonly neighbours: readonly ClientId[];
  readonly threshold: number;
  readonly activeAdversary: boolean;
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
  | { readonly stage: 'Init'; readonly opts: Required<ClientOptions> }
  | {
      readonly stage: 'AdvertiseKeys';
      readonly opts: Required<ClientOptions>;
      readonly setup: RoundSetup;
      readonly c: KeyPair;
      readonly s: KeyPair;
    }
  | {
      readonly stage: 'ShareKeys';
      readonly opts: Required<ClientOptions>;
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

export function createClient(opts: ClientOptions): ClientState {
  if (!(opts.input instanceof Uint32Array)) throw new TypeError(`input: expected Uint32Array, got ${typeof opts.input}`);
  return { stage: 'Init', opts: { random: osRandom, ...opts } };
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
  const neighbours = checkIdSet(msg.neighbours, 'RoundStart.neighbours');
  for (const v of neighbours) {
    if (v === msg.you) fail(E.BadMessage, 'RoundStart.neighbours: lists the client itself');
    if (!roster.has(v)) fail(E.BadMessage, `RoundStart.neighbours: id ${v} is not in the roster`);
  }
  const k = neighbours.length;
  const t = msg.threshold;
  if (!Number.isInteger(t) || t < 1 || t > k) fail(E.BadConfig, `RoundStart.threshold: expected an integer in [1, ${k}], got ${t}`);
  // Safety: with t ≤ k/2 two disjoint sets of t neighbours exist, so a server that tells
  // one half "u survived" and the other "u dropped" could collect both of u's secrets.
  if (2 * t <= k) fail(E.PrivacyViolation, `RoundStart.threshold: t=${t} is not more than half of ${k} neighbours; refusing`);
  if (msg.vectorLength !== opts.input.length) {
    fail(E.BadMessage, `RoundStart.vectorLength: expected ${opts.input.length} (our input), got ${msg.vectorLength}`);
  }
  const setup: RoundSetup = {
    ctx: { session: msg.session, round: msg.round },
    self: msg.you,
    roster,
    neighbours,
    threshold: t,
    activeAdversary: msg.activeAdversary,
  };
  const c = generateX25519(opts.random);
  const s = generateX25519(opts.random);
  const sig = setup.activeAdversary
    ? signMessage(opts.identity.secretKey, advertTranscript(setup.ctx, setup.self, c.publicKey, s.publicKey))
    : new Uint8Array(0);
  return {
    state: { stage: 'AdvertiseKeys', opts, setup, c, s },
    outbox: [{ type: 'AdvertiseKeys', ...setup.ctx, cPk: c.publicKey, sPk: s.publicKey, sig }],
  };
}

function onKeyList(state: Extract<ClientState, { stage: 'AdvertiseKeys' }>, msg: Extract<ServerMessage, { type: 'KeyList' }>): ClientStep {
  const { setup, opts } = state;
  const neighbourSet = new Set(setup.neighbours);
  const peerAdverts = new Map<ClientId, { cPk: Uint8Array; sPk: Uint8Array }>();
  const seenKeys: Uint8Array[] = [state.c.publicKey, state.s.publicKey];
  for (const a of msg.adverts) {
    if (!neighbourSet.has(a.id)) fail(E.BadMessage, `KeyList: id ${a.id} is not our neighbour`);
    if (peerAdverts.has(a.id)) fail(E.BadMessage, `KeyList: duplicate advert for id ${a.id}`);
    if (setup.activeAdversary) {
      const idKey = setup.roster.get(a.id)!;
      if (!verifySignature(a.sig, advertTranscript(setup.ctx, a.id, a.cPk, a.sPk), idKey)) {
        fail(E.BadSignature, `KeyList: advert of id ${a.id} is not signed by its enrolled identity key`);
      }
    }
    // Bonawitz et al. §4 round 1: all public keys in the list must be distinct, else a
    // server could make two parties agree on one key.
    for (const k of seenKeys) {
      if (equalBytes(k, a.cPk) || equalBytes(k, a.sPk)) fail(E.BadMessage, `KeyList: id ${a.id} reuses a public key`);
    }
    if (equalBytes(a.cPk, a.sPk)) fail(E.BadMessage, `KeyList: id ${a.id} uses one key for both roles`);
    seenKeys.push(a.cPk, a.sPk);
    peerAdverts.set(a.id, a);
  }
  if (peerAdverts.size < setup.threshold) {
    fail(E.BelowThreshold, `KeyList: ${peerAdverts.size} neighbours advertised keys, threshold is ${setup.threshold}`);
  }
  const xs = [...peerAdverts.keys()].sort((a, b) => a - b);
  const peers = new Map<ClientId, PeerKeys>();
  const b = opts.random(32);
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
  const y = maskInput(opts.input, setup.ctx, setup.self, selfSeed, state.s.secretKey, [...held.keys()].map((v) => ({ id: v, sPk: peers.get(v)!.sPk })));
  return {
    state: { stage: 'MaskedInput', setup, held, identity: opts.identity },
    outbox: [{ type: 'MaskedInput', ...setup.ctx, y }],
  };
}

function onSurvivorList(state: Extract<ClientState, { stage: 'MaskedInput' }>, msg: Extract<ServerMessage, { type: 'SurvivorList' }>): ClientStep {
  const { setup } = state;
  const survivors = checkSurvivors(setup, state.held, msg.survivors);
  const sig = signMessage(state.identity.secretKey, survivorTranscript(setup.ctx, survivors));
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
  const transcript = survivorTranscript(setup.ctx, state.survivors);
  const signers = new Set<ClientId>();
  const survivorSet = new Set(state.survivors);
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
  }
  if (signers.size < setup.threshold) {
    fail(E.BelowThreshold, `UnmaskRequest: ${signers.size} survivors confirmed the list, threshold is ${setup.threshold}`);
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

/**
 * The masked input (Bonawitz et al. 2017, round 2):
 *   y_u = x_u + PRG(b_u) + Σ_{v ∈ U2 ∩ N(u)} ±PRG(s_uv)   (mod 2^32)
 * with s_uv = HKDF(X25519(s_sk_u, s_pk_v)); the lower id adds, the higher subtracts.
 */
export function maskInput(
  input: Uint32Array,
  ctx: RoundContext,
  self: ClientId,
  selfSeed: Uint8Array,
  maskSecretKey: Uint8Array,
  peers: readonly { readonly id: ClientId; readonly sPk: Uint8Array }[],
): Uint32Array {
  // One accumulator for all k+1 masks: the vector stays in wasm memory throughout.
  const y = new MaskAccumulator(input);
  try {
    y.add(deriveKey(selfSeed, KdfLabel.SelfMask, ctx), 1);
    for (const p of peers) {
      const shared = x25519Shared(maskSecretKey, p.sPk);
      y.add(deriveKey(shared, KdfLabel.PairwiseMask, ctx, pairInfo(self, p.id)), pairSign(self, p.id));
    }
    return y.result();
  } finally {
    y.dispose();
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
