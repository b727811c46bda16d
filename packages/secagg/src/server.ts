/**
 * The server's side of secure aggregation as a machine:
 *   serverStep(state, event) -> { state, outbox }
 * No sockets, no clock: the caller delivers client messages, disconnects, and a
 * `deadline` event when a stage's time is up.
 *
 * Bonawitz et al., CCS 2017, Fig. 4 (server side) over the SecAgg+ neighbour graph
 * (Bell et al., CCS 2020).
 *
 * The state is updated in place: the running sum of masked inputs is O(model) and
 * is never copied (masked vectors are added as they arrive, so memory stays
 * O(model), not O(clients x model)). A step that throws has changed nothing: every
 * check runs before any write. Errors about one client's message never end the
 * round; the caller logs them and carries on.
 */
import { equalBytes } from './bytes.ts';
import { SecAggError, SecAggErrorCode as E, fail } from './errors.ts';
import type { RoundContext } from './hkdf.ts';
import { verifySignature } from './keys.ts';
import { SHARE_BYTES, type Share } from './shamir.ts';
import { addVectors } from './prg.ts';
import { advertTranscript, survivorTranscript } from './transcript.ts';
import type { Graph } from './graph.ts';
import { advertCommitment, deriveGraph, graphSeed } from './graph-seed.ts';
import { isUsableX25519Key } from './key-check.ts';
import { reconstructVerified } from './verified-reconstruct.ts';
import type { UnmaskPlan } from './unmask.ts';
import {
  PUBLIC_KEY_BYTES,
  SESSION_BYTES,
  SIGNATURE_BYTES,
  type ClientId,
  type ClientMessage,
  type EncryptedShare,
  type GraphKind,
  type RosterEntry,
  type ServerMessage,
  type SignedAdvert,
  type Stage,
} from './messages.ts';

export interface ServerOptions {
  readonly session: Uint8Array;
  readonly round: number;
  /** The cohort for this round, with enrolled identity keys. */
  readonly roster: readonly RosterEntry[];
  /**
   * The complete graph over the roster (a Graph; any other Graph is refused: clients
   * recompute their neighbourhood and would refuse it), or a Harary spec: degree k and
   * every member's advert commitment (from its OfferReply). The Harary graph is drawn
   * from the adverts once AdvertiseKeys closes (graph-seed.ts).
   */
  readonly graph: Graph | HararySpec;
  readonly threshold: number;
  readonly vectorLength: number;
  /** Signed adverts and the consistency check. Default true. */
  readonly activeAdversary?: boolean;
  /** Largest accepted ciphertext of one encrypted share. Default 256 bytes. */
  readonly maxShareCiphertext?: number;
}

export interface HararySpec {
  readonly kind: 'harary';
  readonly degree: number;
  readonly commitments: ReadonlyMap<ClientId, Uint8Array>;
}

export type ServerEvent =
  | { readonly type: 'message'; readonly from: ClientId; readonly msg: ClientMessage }
  /** The client's connection is gone: stop waiting for it. */
  | { readonly type: 'dropped'; readonly id: ClientId; readonly reason: string }
  /** The current stage's deadline passed: go on with whoever answered. */
  | { readonly type: 'deadline' };

export interface Drop {
  readonly stage: Stage;
  readonly reason: string;
}

/** What the round revealed, for the audit log: whose secrets were reconstructed. */
export interface RevealSummary {
  /** Self-mask seeds reconstructed (clients whose input is in the sum). */
  readonly selfMaskOf: readonly ClientId[];
  /** Mask keys reconstructed (clients that dropped after sharing keys). */
  readonly maskKeyOf: readonly ClientId[];
}

export type ServerOutcome =
  | { readonly kind: 'pending' }
  | {
      readonly kind: 'ready';
      readonly plan: UnmaskPlan;
      readonly survivors: readonly ClientId[];
      readonly revealed: RevealSummary;
      /** Clients that revealed a share off its owner's polynomial (named with the extra shares beyond t). */
      readonly forgers: readonly ClientId[];
    }
  | { readonly kind: 'aborted'; readonly stage: Stage; readonly reason: string };

export interface ServerState {
  readonly opts: Required<ServerOptions>;
  readonly ctx: RoundContext;
  readonly graphKind: GraphKind;
  readonly degree: number;
  /** The communication graph: the complete graph from the start; Harary once AdvertiseKeys closed. */
  graph: Graph | null;
  /** Signed with the survivor list (graph-seed.ts); the Harary seed once drawn. */
  graphDigest: Uint8Array;
  stage: Stage | 'Done';
  /** Clients we still wait for in the current stage. */
  readonly waiting: Set<ClientId>;
  /** Clients that answered in the current stage, in arrival order. */
  readonly answered: Set<ClientId>;
  readonly drops: Map<ClientId, Drop>;
  readonly identity: ReadonlyMap<ClientId, Uint8Array>;
  readonly adverts: Map<ClientId, SignedAdvert>; // U1
  /** U2: sender -> its ciphertexts, by receiver. */
  readonly shares: Map<ClientId, readonly EncryptedShare[]>;
  /** The running sum of masked inputs from U3. */
  readonly sum: Uint32Array;
  survivors: ClientId[]; // U3, fixed when MaskedInput closes
  readonly signatures: Map<ClientId, Uint8Array>; // U4
  /** Revealed shares per secret owner. */
  readonly selfMaskShares: Map<ClientId, Share[]>;
  readonly keyShares: Map<ClientId, Share[]>;
  outcome: ServerOutcome;
}

export interface ServerOutMessage {
  readonly to: ClientId;
  readonly msg: ServerMessage;
}

export interface ServerStep {
  readonly state: ServerState;
  readonly outbox: readonly ServerOutMessage[];
}

/** The client message accepted in each server stage. */
export const SERVER_EXPECTS: Readonly<Record<ServerState['stage'], ClientMessage['type'] | null>> = {
  AdvertiseKeys: 'AdvertiseKeys',
  ShareKeys: 'ShareKeys',
  MaskedInput: 'MaskedInput',
  ConsistencyCheck: 'ConsistencySignature',
  Unmask: 'UnmaskShares',
  Done: null,
};

export function startServer(options: ServerOptions): ServerStep {
  const opts: Required<ServerOptions> = { activeAdversary: true, maxShareCiphertext: 256, ...options };
  if (!(opts.session instanceof Uint8Array) || opts.session.length !== SESSION_BYTES) {
    throw new RangeError(`session: expected ${SESSION_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(opts.round) || opts.round < 0) throw new RangeError(`round: expected a non-negative integer, got ${opts.round}`);
  if (!Number.isSafeInteger(opts.vectorLength) || opts.vectorLength < 1) {
    throw new RangeError(`vectorLength: expected a positive integer, got ${opts.vectorLength}`);
  }
  const identity = new Map<ClientId, Uint8Array>();
  for (const e of opts.roster) {
    if (!Number.isInteger(e.id) || e.id <= 0) throw new RangeError(`roster: expected positive integer ids, got ${e.id}`);
    if (identity.has(e.id)) throw new RangeError(`roster: duplicate id ${e.id}`);
    identity.set(e.id, e.identityKey);
  }
  const ids = [...identity.keys()].sort((a, b) => a - b);
  const n = ids.length;
  const t = opts.threshold;
  let graph: Graph | null = null;
  let graphKind: GraphKind;
  let degree: number;
  if (opts.graph instanceof Map) {
    graphKind = 'complete';
    degree = n - 1;
    for (const id of ids) {
      const ns = opts.graph.get(id);
      if (!ns) throw new RangeError(`graph: no neighbour list for id ${id}`);
      if (ns.length !== n - 1 || ns.some((v: number) => v === id || !identity.has(v))) {
        throw new RangeError(`graph: id ${id} must neighbour every other roster member (clients verify the complete graph); use { kind: 'harary', ... } for SecAgg+`);
      }
    }
    graph = opts.graph as Graph;
  } else {
    const spec = opts.graph as HararySpec;
    graphKind = 'harary';
    degree = spec.degree;
    if (!Number.isInteger(degree) || degree < 1 || degree > n - 1 || (degree % 2 === 1 && degree !== n - 1)) {
      throw new RangeError(`graph.degree: expected an even integer in [2, ${n - 1}] (or ${n - 1}), got ${degree}`);
    }
    for (const id of ids) {
      const c = spec.commitments.get(id);
      if (!(c instanceof Uint8Array) || c.length !== 32) throw new RangeError(`graph.commitments: no 32-byte advert commitment for id ${id}`);
    }
  }
  if (t > degree || 2 * t <= degree) {
    fail(E.BadConfig, `threshold ${t} must be more than half of, and at most, the ${degree} neighbours of each client`);
  }
  const roster = [...opts.roster].sort((a, b) => a.id - b.id);
  const state: ServerState = {
    opts,
    ctx: { session: opts.session, round: opts.round },
    graphKind,
    degree,
    graph,
    graphDigest: new Uint8Array(0),
    stage: 'AdvertiseKeys',
    waiting: new Set(identity.keys()),
    answered: new Set(),
    drops: new Map(),
    identity,
    adverts: new Map(),
    shares: new Map(),
    sum: new Uint32Array(opts.vectorLength),
    survivors: [],
    signatures: new Map(),
    selfMaskShares: new Map(),
    keyShares: new Map(),
    outcome: { kind: 'pending' },
  };
  if (graphKind === 'complete') state.graphDigest = graphSeed(state.ctx, 'complete', degree, roster, []);
  const commitments = graphKind === 'harary' ? ids.map((id) => ({ id, commit: (opts.graph as HararySpec).commitments.get(id)! })) : [];
  const outbox = roster.map((e) => ({
    to: e.id,
    msg: {
      type: 'RoundStart' as const,
      ...state.ctx,
      you: e.id,
      roster,
      neighbours: graph === null ? [] : [...graph.get(e.id)!],
      graph: graphKind,
      degree,
      commitments,
      threshold: opts.threshold,
      vectorLength: opts.vectorLength,
      activeAdversary: opts.activeAdversary,
    },
  }));
  return { state, outbox };
}

export function serverStep(state: ServerState, event: ServerEvent): ServerStep {
  if (state.stage === 'Done') {
    if (event.type === 'dropped') return { state, outbox: [] };
    fail(E.InvalidTransition, `server round is over; cannot accept ${event.type === 'message' ? event.msg.type : event.type}`);
  }
  switch (event.type) {
    case 'deadline':
      return closeStage(state);
    case 'dropped':
      if (state.waiting.delete(event.id)) state.drops.set(event.id, { stage: state.stage, reason: event.reason });
      return state.waiting.size === 0 ? closeStage(state) : { state, outbox: [] };
    case 'message':
      return onMessage(state, event.from, event.msg);
  }
}

function onMessage(state: ServerState, from: ClientId, msg: ClientMessage): ServerStep {
  if (!state.identity.has(from)) fail(E.BadMessage, `message from id ${from}, who is not in this round's cohort`);
  if (!(msg.session instanceof Uint8Array) || !equalBytes(msg.session, state.ctx.session) || msg.round !== state.ctx.round) {
    fail(E.WrongRound, `${msg.type} from id ${from} is for another session or round (expected round ${state.ctx.round}, got ${msg.round})`);
  }
  const expected = SERVER_EXPECTS[state.stage];
  if (msg.type !== expected) fail(E.InvalidTransition, `server in stage ${state.stage} cannot accept ${msg.type} (from id ${from})`);
  if (state.answered.has(from)) fail(E.BadMessage, `duplicate ${msg.type} from id ${from}`);
  if (!state.waiting.has(from)) fail(E.InvalidTransition, `id ${from} is not part of stage ${state.stage} (dropped earlier)`);

  switch (msg.type) {
    case 'AdvertiseKeys':
      acceptAdvert(state, from, msg);
      break;
    case 'ShareKeys':
      acceptShares(state, from, msg);
      break;
    case 'MaskedInput':
      acceptMasked(state, from, msg);
      break;
    case 'ConsistencySignature':
      acceptSignature(state, from, msg);
      break;
    case 'UnmaskShares':
      acceptUnmask(state, from, msg);
      break;
  }
  state.waiting.delete(from);
  state.answered.add(from);
  return state.waiting.size === 0 ? closeStage(state) : { state, outbox: [] };
}

// ---- accepting one client's message (all checks before any write) -----------

function acceptAdvert(state: ServerState, from: ClientId, msg: Extract<ClientMessage, { type: 'AdvertiseKeys' }>): void {
  expectBytes(msg.cPk, PUBLIC_KEY_BYTES, 'AdvertiseKeys.cPk');
  expectBytes(msg.sPk, PUBLIC_KEY_BYTES, 'AdvertiseKeys.sPk');
  expectBytes(msg.bPk, PUBLIC_KEY_BYTES, 'AdvertiseKeys.bPk');
  const own = [msg.cPk, msg.sPk, msg.bPk];
  if (equalBytes(msg.cPk, msg.sPk) || equalBytes(msg.cPk, msg.bPk) || equalBytes(msg.sPk, msg.bPk)) fail(E.BadMessage, `AdvertiseKeys from id ${from}: one key for two roles`);
  // RFC 7748 §6.1: a low-order key would make its neighbours leave the round; refuse it here.
  for (const [i, k] of own.entries()) {
    if (!isUsableX25519Key(k)) fail(E.BadMessage, `AdvertiseKeys from id ${from}: ${['cPk', 'sPk', 'bPk'][i]} is a low-order X25519 point`);
  }
  for (const a of state.adverts.values()) {
    for (const k of own) {
      if (equalBytes(a.cPk, k) || equalBytes(a.sPk, k) || equalBytes(a.bPk, k)) fail(E.BadMessage, `AdvertiseKeys from id ${from}: reuses a public key advertised by id ${a.id}`);
    }
  }
  if (state.graphKind === 'harary') {
    const committed = (state.opts.graph as HararySpec).commitments.get(from)!;
    if (!equalBytes(advertCommitment(msg), committed)) fail(E.BadMessage, `AdvertiseKeys from id ${from}: keys differ from the commitment in its OfferReply`);
  }
  if (state.opts.activeAdversary) {
    expectBytes(msg.sig, SIGNATURE_BYTES, 'AdvertiseKeys.sig');
    const ok = verifySignature(msg.sig, advertTranscript(state.ctx, from, msg.cPk, msg.sPk, msg.bPk), state.identity.get(from)!);
    if (!ok) fail(E.BadSignature, `AdvertiseKeys from id ${from}: signature does not verify against its enrolled key`);
  }
  state.adverts.set(from, { id: from, cPk: msg.cPk, sPk: msg.sPk, bPk: msg.bPk, sig: msg.sig });
}

function acceptShares(state: ServerState, from: ClientId, msg: Extract<ClientMessage, { type: 'ShareKeys' }>): void {
  const want = neighboursIn(state, from, state.adverts);
  const seen = new Set<ClientId>();
  for (const s of msg.shares) {
    if (!want.has(s.peer)) fail(E.BadMessage, `ShareKeys from id ${from}: id ${s.peer} is not an advertised neighbour`);
    if (seen.has(s.peer)) fail(E.BadMessage, `ShareKeys from id ${from}: two ciphertexts for id ${s.peer}`);
    if (!(s.ct instanceof Uint8Array) || s.ct.length === 0 || s.ct.length > state.opts.maxShareCiphertext) {
      fail(E.BadMessage, `ShareKeys from id ${from}: ciphertext for id ${s.peer} has a bad size`);
    }
    seen.add(s.peer);
  }
  if (seen.size !== want.size) fail(E.BadMessage, `ShareKeys from id ${from}: ${seen.size} ciphertexts for ${want.size} advertised neighbours`);
  state.shares.set(from, msg.shares);
}

function acceptMasked(state: ServerState, from: ClientId, msg: Extract<ClientMessage, { type: 'MaskedInput' }>): void {
  if (!(msg.y instanceof Uint32Array) || msg.y.length !== state.sum.length) {
    fail(E.BadMessage, `MaskedInput from id ${from}: expected ${state.sum.length} lanes, got ${msg.y?.length}`);
  }
  addVectors(state.sum, msg.y);
}

function acceptSignature(state: ServerState, from: ClientId, msg: Extract<ClientMessage, { type: 'ConsistencySignature' }>): void {
  expectBytes(msg.sig, SIGNATURE_BYTES, 'ConsistencySignature.sig');
  if (!verifySignature(msg.sig, survivorTranscript(state.ctx, state.survivors, state.graphDigest), state.identity.get(from)!)) {
    fail(E.BadSignature, `ConsistencySignature from id ${from} does not verify over the survivor list`);
  }
  state.signatures.set(from, msg.sig);
}

function acceptUnmask(state: ServerState, from: ClientId, msg: Extract<ClientMessage, { type: 'UnmaskShares' }>): void {
  // The shares forwarded to `from` came from U2 ∩ N(from); it must reveal exactly one
  // share for each: the self-mask share of survivors, the key share of the dropped.
  const alive = new Set(state.survivors);
  const sentTo = [...neighboursIn(state, from, state.shares)];
  const wantSelf = new Set(sentTo.filter((u) => alive.has(u)));
  const wantKey = new Set(sentTo.filter((u) => !alive.has(u)));
  checkReveal(msg.selfMaskShares, wantSelf, from, 'selfMaskShares');
  checkReveal(msg.keyShares, wantKey, from, 'keyShares');
  for (const r of msg.selfMaskShares) push(state.selfMaskShares, r.of, { x: from, y: r.share });
  for (const r of msg.keyShares) push(state.keyShares, r.of, { x: from, y: r.share });
}

function checkReveal(list: readonly { of: ClientId; share: Uint8Array }[], want: ReadonlySet<ClientId>, from: ClientId, what: string): void {
  const seen = new Set<ClientId>();
  for (const r of list) {
    if (!want.has(r.of) || seen.has(r.of)) fail(E.BadMessage, `UnmaskShares.${what} from id ${from}: unexpected or duplicate share of id ${r.of}`);
    expectBytes(r.share, SHARE_BYTES, `UnmaskShares.${what}`);
    seen.add(r.of);
  }
  if (seen.size !== want.size) fail(E.BadMessage, `UnmaskShares.${what} from id ${from}: ${seen.size} shares, expected ${want.size}`);
}

// ---- closing a stage --------------------------------------------------------

function closeStage(state: ServerState): ServerStep {
  const stage = state.stage as Stage;
  for (const id of state.waiting) state.drops.set(id, { stage, reason: 'no answer before the deadline' });
  const responders = [...state.answered].sort((a, b) => a - b);
  state.waiting.clear();
  state.answered.clear();
  const t = state.opts.threshold;
  if (responders.length < t) return abort(state, stage, `${responders.length} clients answered in ${stage}, threshold is ${t}`);

  switch (stage) {
    case 'AdvertiseKeys': {
      let all: SignedAdvert[] | null = null;
      if (state.graphKind === 'harary') {
        // The seed hashes every member's advert: without all of them there is no graph.
        const missing = [...state.identity.keys()].filter((id) => !state.adverts.has(id)).sort((a, b) => a - b);
        if (missing.length > 0) return abort(state, stage, `the Harary graph seed needs every roster member's advert; missing: ${missing.join(', ')}`);
        all = [...state.adverts.values()].sort((a, b) => a.id - b.id);
        const roster = [...state.identity].map(([id, identityKey]) => ({ id, identityKey }));
        state.graphDigest = graphSeed(state.ctx, 'harary', state.degree, roster, all);
        state.graph = deriveGraph('harary', roster.map((e) => e.id).sort((a, b) => a - b), state.degree, state.graphDigest);
      }
      // Clients with fewer than t advertised neighbours will refuse the key list; drop them now.
      const outbox: ServerOutMessage[] = [];
      const ready = responders.filter((u) => {
        const ns = [...neighboursIn(state, u, state.adverts)];
        if (ns.length >= t) {
          outbox.push({ to: u, msg: { type: 'KeyList', ...state.ctx, adverts: all ?? ns.map((v) => state.adverts.get(v)!) } });
          return true;
        }
        state.drops.set(u, { stage, reason: `only ${ns.length} neighbours advertised keys` });
        return false;
      });
      return open(state, 'ShareKeys', ready, outbox);
    }
    case 'ShareKeys': {
      const outbox: ServerOutMessage[] = [];
      const ready = responders.filter((v) => {
        const shares = [...neighboursIn(state, v, state.shares)].map((u) => ({
          peer: u,
          ct: state.shares.get(u)!.find((s) => s.peer === v)!.ct,
        }));
        if (shares.length >= t) {
          outbox.push({ to: v, msg: { type: 'ShareBundle', ...state.ctx, shares } });
          return true;
        }
        state.drops.set(v, { stage, reason: `only ${shares.length} neighbours shared keys` });
        return false;
      });
      return open(state, 'MaskedInput', ready, outbox);
    }
    case 'MaskedInput': {
      state.survivors = responders;
      const next = state.opts.activeAdversary ? 'ConsistencyCheck' : 'Unmask';
      const outbox = responders.map((v) => ({
        to: v,
        msg: state.opts.activeAdversary
          ? ({ type: 'SurvivorList', ...state.ctx, survivors: responders } as const)
          : ({ type: 'UnmaskRequest', ...state.ctx, survivors: responders, signatures: [] } as const),
      }));
      return open(state, next, responders, outbox);
    }
    case 'ConsistencyCheck': {
      const outbox = responders.map((v) => ({
        to: v,
        msg: {
          type: 'UnmaskRequest' as const,
          ...state.ctx,
          survivors: state.survivors,
          signatures: [...state.graph!.get(v)!]
            .filter((u) => state.signatures.has(u))
            .map((u) => ({ id: u, sig: state.signatures.get(u)! })),
        },
      }));
      return open(state, 'Unmask', responders, outbox);
    }
    case 'Unmask':
      return finish(state);
  }
}

function open(state: ServerState, stage: Stage, expect: readonly ClientId[], outbox: ServerOutMessage[]): ServerStep {
  if (expect.length < state.opts.threshold) {
    return abort(state, stage, `${expect.length} clients can go on to ${stage}, threshold is ${state.opts.threshold}`);
  }
  state.stage = stage;
  for (const id of expect) state.waiting.add(id);
  return { state, outbox };
}

function abort(state: ServerState, stage: Stage, reason: string): ServerStep {
  state.stage = 'Done';
  state.outcome = { kind: 'aborted', stage, reason };
  return { state, outbox: [] };
}

/** Reconstruct the secrets the unmasking needs, and describe the masks to remove. */
function finish(state: ServerState): ServerStep {
  const alive = new Set(state.survivors);
  const dropped = [...state.shares.keys()].filter((u) => !alive.has(u)).sort((a, b) => a - b);
  try {
    const { plan, forgers } = buildCheckedPlan({
      ctx: state.ctx,
      threshold: state.opts.threshold,
      masked: state.sum,
      survivors: state.survivors,
      dropped,
      selfMaskShares: state.selfMaskShares,
      keyShares: state.keyShares,
      maskPublicKeys: new Map([...state.adverts].map(([id, a]) => [id, a.sPk])),
      selfMaskPublicKeys: new Map([...state.adverts].map(([id, a]) => [id, a.bPk])),
      graph: state.graph!,
    });
    state.stage = 'Done';
    state.outcome = { kind: 'ready', plan, survivors: state.survivors, revealed: { selfMaskOf: state.survivors, maskKeyOf: dropped }, forgers };
    return { state, outbox: [] };
  } catch (err) {
    if (err instanceof SecAggError) return abort(state, 'Unmask', err.message);
    throw err;
  }
}

export interface PlanInput {
  readonly ctx: RoundContext;
  readonly threshold: number;
  readonly masked: Uint32Array;
  /** U3: clients whose masked input is in `masked`. */
  readonly survivors: readonly ClientId[];
  /** U2 \ U3: clients that shared keys, then dropped before their input arrived. */
  readonly dropped: readonly ClientId[];
  readonly selfMaskShares: ReadonlyMap<ClientId, readonly Share[]>;
  readonly keyShares: ReadonlyMap<ClientId, readonly Share[]>;
  /** Advertised mask public keys s_pk, by client. */
  readonly maskPublicKeys: ReadonlyMap<ClientId, Uint8Array>;
  /** Advertised self-mask public keys b_pk (b is their X25519 secret), by client. */
  readonly selfMaskPublicKeys: ReadonlyMap<ClientId, Uint8Array>;
  readonly graph: Graph;
}

/**
 * Shamir-reconstruct b_u for every survivor and s_sk_u for every dropped client,
 * and list the masks to remove. Throws BelowThreshold when a secret has too few
 * shares, BadShares when no subset of the shares reconstructs a key matching its
 * advert (verified-reconstruct.ts).
 */
export function buildUnmaskPlan(p: PlanInput): UnmaskPlan {
  return buildCheckedPlan(p).plan;
}

/** buildUnmaskPlan, also naming the holders of forged shares (found with the shares beyond t). */
export function buildCheckedPlan(p: PlanInput): { readonly plan: UnmaskPlan; readonly forgers: readonly ClientId[] } {
  const t = p.threshold;
  const alive = new Set(p.survivors);
  const forgers = new Set<ClientId>();
  const selfSeeds = p.survivors.map((u) => {
    const r = reconstructVerified(p.selfMaskShares.get(u) ?? [], t, p.selfMaskPublicKeys.get(u)!, `the self-mask of id ${u}`);
    for (const f of r.forgers) forgers.add(f);
    return { owner: u, seed: r.secret };
  });
  const droppedKeys = p.dropped.map((u) => {
    const r = reconstructVerified(p.keyShares.get(u) ?? [], t, p.maskPublicKeys.get(u)!, `the mask key of id ${u}`);
    for (const f of r.forgers) forgers.add(f);
    // Every survivor neighbour of u held u's shares, so it masked with u (see ShareKeys).
    const peers = p.graph
      .get(u)!
      .filter((v) => alive.has(v))
      .map((v) => ({ id: v, sPk: p.maskPublicKeys.get(v)! }));
    return { owner: u, secretKey: r.secret, peers };
  });
  return { plan: { ctx: p.ctx, masked: p.masked, selfSeeds, droppedKeys }, forgers: [...forgers].sort((a, b) => a - b) };
}

// ---- helpers ----------------------------------------------------------------


/** Neighbours of `id` that are keys of `present` (a stage's responders). */
function neighboursIn(state: ServerState, id: ClientId, present: ReadonlyMap<ClientId, unknown>): Set<ClientId> {
  return new Set(state.graph!.get(id)!.filter((v) => present.has(v)));
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function expectBytes(v: unknown, len: number, what: string): void {
  if (!(v instanceof Uint8Array) || v.length !== len) {
    fail(E.BadMessage, `${what}: expected ${len} bytes, got ${v instanceof Uint8Array ? v.length : typeof v}`);
  }
}
