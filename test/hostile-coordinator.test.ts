/**
 * A dishonest coordinator against real client nodes over real sockets (_hostile.ts).
 * For each attack the honest nodes must refuse (the frames they actually sent show no
 * forbidden reveal) and say so in their log.
 *
 * (Bonawitz et al., CCS 2017, §4 and Fig. 4: a client reveals, for each neighbour,
 * either the self-mask share (the neighbour survived) or the mask-key share (it
 * dropped), never both; active mode signs the adverts and the survivor list.)
 *
 * Nodes run with the client policy's defaults: active mode required (passive cases
 * opt in with policy.allowPassive), and no peer list unless a case gives one
 * (`peers: true`, the enrolled ids and keys, as the config's `peers` file would).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clientStep, completeGraph, generateIdentity, type ClientState, type KeyPair, type ServerMessage } from '@tally/secagg';
import type { Policy } from '@tally/client';
import { TASK_ID, cleanup, startNode, type Lines } from './_helpers.ts';
import { HostileRound, VECTOR_LENGTH, offerAll, revealedBy, startHostile, taskOffer, type HostilePeer } from './_hostile.ts';

afterEach(cleanup);

const POLICY: Policy = { tasks: [TASK_ID], minCohort: 3, minThreshold: 2, maxRounds: 100 };

let sessions = 0;
const newSession = (): Uint8Array => new Uint8Array(16).fill(++sessions);

type UnmaskRequest = Extract<ServerMessage, { type: 'UnmaskRequest' }>;
type KeyList = Extract<ServerMessage, { type: 'KeyList' }>;

interface SetupOptions {
  /** Give each node the peer list of the enrolled clients (ids 1..n, plus `alsoEnrolled`). */
  readonly peers?: boolean;
  /** Enrolled clients that never connect (e.g. a shop that is offline), by id. */
  readonly alsoEnrolled?: ReadonlyMap<number, Uint8Array>;
  /** policy.allowPassive for every node. */
  readonly allowPassive?: boolean;
}

/** `n` real client nodes (ids 1..n) connected to a fresh hostile coordinator. */
async function setup(n: number, opts: SetupOptions = {}): Promise<{ peers: HostilePeer[]; logs: Lines[]; identities: KeyPair[] }> {
  const identities = Array.from({ length: n }, () => generateIdentity());
  const enrolled = new Map([...identities.map((k, i): [number, Uint8Array] => [i + 1, k.publicKey]), ...(opts.alsoEnrolled ?? [])]);
  const hostile = await startHostile(enrolled);
  const policy: Policy = { ...POLICY, ...(opts.allowPassive === true ? { allowPassive: true } : {}) };
  const logs = identities.map((k) => startNode(hostile.url, k, { policy, ...(opts.peers === true ? { enrolled } : {}) }).log);
  const peers = await Promise.all(identities.map((_, i) => hostile.peer(i + 1)));
  return { peers, logs, identities };
}

/** After the refusal is logged, a ping round trip: anything the node sent before it has arrived. */
async function settled(peers: readonly HostilePeer[]): Promise<void> {
  await Promise.all(peers.map((p) => p.roundTrip()));
}

/** The node revealed at most one share of each peer, over everything it sent in `session`. */
function expectOneSharePerPeer(p: HostilePeer, session: Uint8Array): void {
  const r = revealedBy(p, session);
  const both = r.selfMaskOf.filter((id) => r.keyOf.includes(id));
  expect(both, `client ${p.id} revealed both shares of ${both.join(', ')}`).toEqual([]);
  expect(new Set(r.selfMaskOf).size).toBe(r.selfMaskOf.length);
  expect(new Set(r.keyOf).size).toBe(r.keyOf.length);
}

const others = (ids: readonly number[], id: number): number[] => ids.filter((x) => x !== id);

describe('(a) asking for both shares of one peer', () => {
  it('active mode: a second UnmaskRequest naming a survivor as dropped is refused after the first was answered', async () => {
    const { peers, logs } = await setup(4);
    const ids = [1, 2, 3, 4];
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 4, 3));
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph(ids), threshold: 3, activeAdversary: true });
    for (let i = 0; i < 4; i++) await r.stage(); // AdvertiseKeys, ShareKeys, MaskedInput, ConsistencyCheck
    const requests = new Map(r.pending.map((o) => [o.to, o.msg as UnmaskRequest]));
    await r.stage(); // Unmask: every node reveals the self-mask shares of its three neighbours
    expect(r.state.outcome.kind).toBe('ready');

    // The attack: now client 4 "dropped", so please send its mask-key share too.
    for (const p of peers.slice(0, 3)) p.send({ ...requests.get(p.id)!, survivors: [1, 2, 3] });
    for (const log of logs.slice(0, 3)) {
      await log.waitFor(/^WARN round 1: leaving the round on UnmaskRequest: SECAGG_INVALID_TRANSITION: client in stage Unmask cannot accept UnmaskRequest/);
    }
    await settled(peers);
    for (const p of peers) {
      const rv = revealedBy(p, session);
      expect(rv.messages).toBe(1);
      expect(rv.keyOf).toEqual([]);
      expect([...rv.selfMaskOf].sort()).toEqual(others(ids, p.id));
      expectOneSharePerPeer(p, session);
    }
  });

  it('passive mode (allowed by policy.allowPassive): a changed survivor list in a second UnmaskRequest is refused', async () => {
    const { peers, logs } = await setup(4, { allowPassive: true });
    const ids = [1, 2, 3, 4];
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 4, 3));
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph(ids), threshold: 3, activeAdversary: false });
    for (let i = 0; i < 3; i++) await r.stage(); // AdvertiseKeys, ShareKeys, MaskedInput
    const requests = new Map(r.pending.map((o) => [o.to, o.msg as UnmaskRequest]));
    expect(requests.get(1)!.survivors).toEqual(ids);
    await r.stage(); // Unmask (no consistency check in passive mode)
    expect(r.state.outcome.kind).toBe('ready');

    for (const p of peers.slice(1)) p.send({ ...requests.get(p.id)!, survivors: [2, 3, 4] }); // "1 dropped"
    for (const log of logs.slice(1)) await log.waitFor(/^WARN round 1: leaving the round on UnmaskRequest: SECAGG_INVALID_TRANSITION/);
    await settled(peers);
    for (const p of peers) {
      expect(revealedBy(p, session)).toMatchObject({ messages: 1, keyOf: [] });
      expectOneSharePerPeer(p, session);
    }
  });

  it('active mode: an UnmaskRequest whose survivor list differs from the signed one gets nothing', async () => {
    const { peers, logs } = await setup(4);
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 4, 3));
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph([1, 2, 3, 4]), threshold: 3, activeAdversary: true });
    for (let i = 0; i < 4; i++) await r.stage();
    // Everyone signed [1, 2, 3, 4]; the request now says 4 dropped (its key share would come back).
    for (const { to, msg } of r.pending) peers[to - 1]!.send({ ...(msg as UnmaskRequest), survivors: [1, 2, 3] });
    for (const log of logs) {
      await log.waitFor(/^WARN round 1: leaving the round on UnmaskRequest: SECAGG_INCONSISTENT: UnmaskRequest: survivor list differs from the one we signed/);
    }
    await settled(peers);
    for (const p of peers) expect(revealedBy(p, session).messages).toBe(0);
  });
});

describe('(b) different survivor lists for different clients', () => {
  /** Runs to the end of MaskedInput, then shows client 3 "4 dropped" and everyone else "4 survived"; returns the signatures. */
  async function splitView() {
    const env = await setup(4);
    const session = newSession();
    await offerAll(env.peers, taskOffer(session, 1, 4, 2));
    const r = new HostileRound({ session, round: 1, peers: env.peers, graph: completeGraph([1, 2, 3, 4]), threshold: 2, activeAdversary: true });
    for (let i = 0; i < 3; i++) await r.stage();
    const listOf = (id: number): number[] => (id === 3 ? [1, 2, 3] : [1, 2, 3, 4]);
    for (const p of env.peers) p.send({ type: 'SurvivorList', session, round: 1, survivors: listOf(p.id) });
    // Each node signs the list it was shown (the server machine would refuse client 3's, so collect them here).
    const sigs = new Map<number, Uint8Array>();
    for (const p of env.peers) sigs.set(p.id, (await p.next('ConsistencySignature')).sig);
    return { ...env, session, listOf, sigs };
  }

  it('forwarding every signature: each node sees a signature over another list and refuses', async () => {
    const { peers, logs, session, listOf, sigs } = await splitView();
    const signatures = [...sigs].map(([id, sig]) => ({ id, sig }));
    for (const p of peers) p.send({ type: 'UnmaskRequest', session, round: 1, survivors: listOf(p.id), signatures });
    for (const log of logs) {
      await log.waitFor(/^WARN round 1: leaving the round on UnmaskRequest: SECAGG_INCONSISTENT: UnmaskRequest: signature of id \d does not match our survivor list/);
    }
    await settled(peers);
    for (const p of peers) expect(revealedBy(p, session).messages).toBe(0);
  });

  it('forwarding only matching signatures: the minority view lacks t signatures and its holder refuses to reveal the key share', async () => {
    const { peers, logs, session, listOf, sigs } = await splitView();
    for (const p of peers) {
      const mine = listOf(p.id);
      const signatures = [...sigs].filter(([id]) => listOf(id).length === mine.length).map(([id, sig]) => ({ id, sig }));
      p.send({ type: 'UnmaskRequest', session, round: 1, survivors: mine, signatures });
    }
    await logs[2]!.waitFor(/^WARN round 1: leaving the round on UnmaskRequest: SECAGG_BELOW_THRESHOLD: UnmaskRequest: \d of our neighbours confirmed the list, threshold is 2/);
    for (const p of [peers[0]!, peers[1]!, peers[3]!]) await p.next('UnmaskShares');
    await settled(peers);
    // Client 3, told that 4 dropped, would have revealed 4's mask-key share: it sent nothing.
    expect(revealedBy(peers[2]!, session).messages).toBe(0);
    for (const p of peers) {
      expect(revealedBy(p, session).keyOf).toEqual([]);
      expectOneSharePerPeer(p, session);
    }
  });
});

describe('(c) keys replayed from an earlier round', () => {
  it('signed adverts of round 1, re-tagged for round 2, fail the signature check and no shares are sent', async () => {
    const { peers, logs } = await setup(4);
    const ids = [1, 2, 3, 4];
    const s1 = newSession();
    await offerAll(peers, taskOffer(s1, 1, 4, 3));
    const r1 = new HostileRound({ session: s1, round: 1, peers, graph: completeGraph(ids), threshold: 3, activeAdversary: true });
    await r1.stage();
    const old = new Map<number, KeyList>();
    await r1.stage((to, msg) => {
      old.set(to, msg as KeyList);
      return msg;
    });
    for (let i = 0; i < 3; i++) await r1.stage();
    expect(r1.state.outcome.kind).toBe('ready');
    for (const p of peers) p.send({ type: 'RoundResult', session: s1, round: 1, status: 'committed', survivors: 4 });

    const s2 = newSession();
    await offerAll(peers, taskOffer(s2, 2, 4, 3));
    const r2 = new HostileRound({ session: s2, round: 2, peers, graph: completeGraph(ids), threshold: 3, activeAdversary: true });
    await r2.stage(); // fresh AdvertiseKeys for round 2
    for (const { to, msg } of r2.pending) {
      const fresh = msg as KeyList;
      // Clients 1-3 get round 1's whole list; client 4 its fresh list with one advert swapped for the old one.
      const replayed = to === 4 ? [old.get(4)!.adverts[0]!, ...fresh.adverts.slice(1)] : old.get(to)!.adverts;
      peers[to - 1]!.send({ type: 'KeyList', session: s2, round: 2, adverts: replayed });
    }
    for (const log of logs) {
      await log.waitFor(/^WARN round 2: leaving the round on KeyList: SECAGG_BAD_SIGNATURE: KeyList: advert of id \d is not signed by its enrolled identity key/);
    }
    await settled(peers);
    for (const p of peers) {
      expect(p.sentOf('AdvertiseKeys', s2)).toHaveLength(1);
      expect(p.sentOf('ShareKeys', s2)).toEqual([]);
    }
  });
});

describe('(d) a cohort inflated with keys that are not enrolled', () => {
  const rogueIds = [7, 8, 9];

  /** Nothing went out for `session`: no key advert, no share, no unmask answer. */
  async function expectSilent(peers: readonly HostilePeer[], session: Uint8Array): Promise<void> {
    await settled(peers);
    for (const p of peers) {
      expect(p.sentOf('AdvertiseKeys', session)).toEqual([]);
      expect(p.sentOf('ShareKeys', session)).toEqual([]);
      expect(revealedBy(p, session).messages).toBe(0);
    }
  }

  it('with a peer list, a node refuses a roster holding ids that are not enrolled, and sends nothing for the round', async () => {
    const { peers, logs } = await setup(3, { peers: true });
    const rogues = [8, 9].map((id) => ({ id, identity: generateIdentity() }));
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 5, 3)); // the offer already counts the rogues in
    const r = new HostileRound({ session, round: 1, peers, rogues, graph: completeGraph([1, 2, 3, 8, 9]), threshold: 3, activeAdversary: true });
    r.deliverPending(); // RoundStart; the rogues answer in memory
    for (const log of logs) {
      await log.waitFor(/^WARN round 1: leaving the round: roster entry id 8 is not an enrolled client in this client's peer list \(policy\.peers\)/);
    }
    // The coordinator pushes on with the next stage anyway: the nodes left, so nothing comes of it.
    for (const p of peers) p.send({ type: 'KeyList', session, round: 1, adverts: [] });
    for (const log of logs) await log.waitFor(/^DEBUG round 1: ignored KeyList: this client left the round/);
    await expectSilent(peers, session);
  });

  it("with a peer list, a node refuses the coordinator's own key under an enrolled id (a shop that is offline)", async () => {
    const offline = generateIdentity();
    const { peers, logs } = await setup(3, { peers: true, alsoEnrolled: new Map([[4, offline.publicKey]]) });
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 4, 3));
    // Id 4 is enrolled; the coordinator plays it with a key of its own.
    const rogues = [{ id: 4, identity: generateIdentity() }];
    const r = new HostileRound({ session, round: 1, peers, rogues, graph: completeGraph([1, 2, 3, 4]), threshold: 3, activeAdversary: true });
    r.deliverPending(); // RoundStart; the rogues answer in memory
    for (const log of logs) {
      await log.waitFor(/^WARN round 1: leaving the round: roster entry id 4 carries another identity key than the one enrolled for it .* \(policy\.peers\)/);
    }
    await expectSilent(peers, session);
  });

  it('without a peer list: rogue roster entries cannot bring the threshold below the policy minimum or to half the neighbourhood', async () => {
    const { peers, logs } = await setup(2);
    const rogues = rogueIds.map((id) => ({ id, identityKey: generateIdentity().publicKey }));
    const session = newSession();
    // Offered t = 3 of 4 neighbours (margin 2t − k = 2): an offer with t = 2 is now refused at once (policy.minMargin).
    await offerAll(peers, taskOffer(session, 1, 5, 3));
    const roster = [...peers.map((p) => ({ id: p.id, identityKey: p.identityKey })), ...rogues];
    const start = (you: number, threshold: number): ServerMessage => ({
      type: 'RoundStart',
      session,
      round: 1,
      you,
      roster,
      neighbours: others(roster.map((e) => e.id), you),
      graph: 'complete',
      degree: roster.length - 1,
      commitments: [],
      threshold,
      vectorLength: VECTOR_LENGTH,
      activeAdversary: true,
    });
    peers[0]!.send(start(1, 1)); // five "clients", threshold 1
    peers[1]!.send(start(2, 2)); // policy and offer allow 2, but 2 of 4 neighbours could be two disjoint halves
    await logs[0]!.waitFor(/^WARN round 1: leaving the round: round threshold 1 is below this client's minimum of 2 \(policy\.minThreshold\)/);
    await logs[1]!.waitFor(/^WARN round 1: leaving the round: round threshold 2 is below the offered threshold 3 \(policy\.matchesOffer\)/);
    await settled(peers);
    for (const p of peers) expect(p.sentOf('AdvertiseKeys', session)).toEqual([]);
  });

  it('without a peer list: a roster larger than the offered cohort, or a threshold below the offered one, is refused', async () => {
    const { peers, logs } = await setup(3);
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 3, 3)); // three clients, threshold 3
    const roster = [...peers.map((p) => ({ id: p.id, identityKey: p.identityKey })), ...rogueIds.map((id) => ({ id, identityKey: generateIdentity().publicKey }))];
    const start = (you: number, ids: readonly number[], threshold: number): ServerMessage => ({
      type: 'RoundStart',
      session,
      round: 1,
      you,
      roster: roster.filter((e) => ids.includes(e.id)),
      neighbours: others(ids, you),
      graph: 'complete',
      degree: ids.length - 1,
      commitments: [],
      threshold,
      vectorLength: VECTOR_LENGTH,
      activeAdversary: true,
    });
    peers[0]!.send(start(1, [1, 2, 3, 7, 8, 9], 4)); // three rogues more than offered; t = 4 of 5 neighbours passes secagg
    peers[1]!.send(start(2, [1, 2, 3], 2)); // as offered, but t lowered from 3 to 2
    await logs[0]!.waitFor(/^WARN round 1: leaving the round: round roster of 6 is larger than the offered cohort of 3 \(policy\.matchesOffer\)/);
    await logs[1]!.waitFor(/^WARN round 1: leaving the round: round threshold 2 is below the offered threshold 3 \(policy\.matchesOffer\)/);
    await settled(peers);
    for (const p of peers.slice(0, 2)) expect(p.sentOf('AdvertiseKeys', session)).toEqual([]);
  });

  it('without a peer list: with rogue peers that sign whatever the coordinator wants, each node still reveals one share per peer', async () => {
    const { peers, logs } = await setup(3);
    const rogues = [8, 9].map((id) => ({ id, identity: generateIdentity() }));
    const ids = [1, 2, 3, 8, 9];
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 5, 3));
    const r = new HostileRound({ session, round: 1, peers, rogues, graph: completeGraph(ids), threshold: 3, activeAdversary: true });
    await r.stage(); // AdvertiseKeys: the rogues' adverts are signed with their own (unenrolled) keys
    await r.stage(); // ShareKeys
    // The stated limit of a node WITHOUT a peer list (see the cases above for one with it): it
    // knows only the roster the coordinator sent, so it accepted the rogue adverts and encrypted
    // shares of its secrets to keys the coordinator holds.
    for (const p of peers) expect(p.sentOf('ShareKeys', session)[0]!.shares.map((s) => s.peer)).toEqual(expect.arrayContaining([8, 9]));
    await r.stage(); // MaskedInput

    // Split view on client 1: clients 1 and 2 are told it survived, client 3 that it dropped; the rogues sign both lists.
    const L1 = [1, 2, 3, 8, 9];
    const L2 = [2, 3, 8, 9];
    const listOf = (id: number): number[] => (id === 3 ? L2 : L1);
    const rogueSig = (id: number, list: number[]): Uint8Array => {
      const step = clientStep(r.rogue(id) as ClientState, { type: 'SurvivorList', session, round: 1, survivors: list });
      const m = step.outbox[0]!;
      if (m.type !== 'ConsistencySignature') throw new Error('expected a signature');
      return m.sig;
    };
    for (const p of peers) p.send({ type: 'SurvivorList', session, round: 1, survivors: listOf(p.id) });
    const sigs = new Map<number, Uint8Array>();
    for (const p of peers) sigs.set(p.id, (await p.next('ConsistencySignature')).sig);
    for (const p of peers) {
      const list = listOf(p.id);
      const signatures = [
        ...peers.filter((q) => listOf(q.id) === list).map((q) => ({ id: q.id, sig: sigs.get(q.id)! })),
        ...rogues.map((g) => ({ id: g.id, sig: rogueSig(g.id, list) })),
      ].sort((a, b) => a.id - b.id);
      p.send({ type: 'UnmaskRequest', session, round: 1, survivors: list, signatures });
    }
    for (const p of [peers[0]!, peers[1]!]) await p.next('UnmaskShares');
    // Client 3's list was confirmed by the two rogues and by itself: its own signature does
    // not count (only its neighbours' do), so 2 < t = 3 and it reveals nothing.
    await logs[2]!.waitFor(/^WARN round 1: leaving the round on UnmaskRequest: SECAGG_BELOW_THRESHOLD: UnmaskRequest: 2 of our neighbours confirmed the list, threshold is 3/);

    // And then ask client 2 again, now with client 1 dropped: refused.
    peers[1]!.send({ type: 'UnmaskRequest', session, round: 1, survivors: L2, signatures: [] });
    await logs[1]!.waitFor(/^WARN round 1: leaving the round on UnmaskRequest: SECAGG_INVALID_TRANSITION/);
    await settled(peers);
    for (const p of peers) {
      expect(revealedBy(p, session).messages).toBe(p.id === 3 ? 0 : 1);
      expectOneSharePerPeer(p, session);
    }
    // What each node did with the list it was shown: one share per peer, the kind its list implies.
    expect(revealedBy(peers[1]!, session)).toMatchObject({ selfMaskOf: [1, 3, 8, 9], keyOf: [] });
    expect(revealedBy(peers[2]!, session).keyOf).toEqual([]);
  });
});

describe('(e) a coordinator that switches the active mode off', () => {
  it('a node whose policy does not allow passive mode refuses the round and advertises nothing', async () => {
    const { peers, logs } = await setup(3, { peers: true });
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 3, 2));
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph([1, 2, 3]), threshold: 2, activeAdversary: false });
    r.deliverPending();
    for (const log of logs) {
      await log.waitFor(/^WARN round 1: leaving the round: the round runs in honest-but-curious mode .* \(policy\.activeAdversary\): set policy\.allowPassive/);
    }
    await settled(peers);
    for (const p of peers) expect(p.sentOf('AdvertiseKeys', session)).toEqual([]);
  });
});

describe('(f) a session and round offered again', () => {
  it('after the round ran, a node refuses an offer for the same (session, round), and the next fresh one is accepted', async () => {
    const { peers, logs } = await setup(3, { peers: true });
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 3, 2));
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph([1, 2, 3]), threshold: 2, activeAdversary: true });
    for (let i = 0; i < 5; i++) await r.stage();
    expect(r.state.outcome.kind).toBe('ready');
    for (const p of peers) p.send({ type: 'RoundResult', session, round: 1, status: 'committed', survivors: 3 });

    for (const p of peers) p.send(taskOffer(session, 1, 3, 2));
    for (const p of peers) expect(await p.next('OfferReply')).toMatchObject({ accept: false, reason: 'DECLINE_REPLAYED_ROUND' });
    for (const log of logs) await log.waitFor(/^WARN refused round 1 of task .*\(policy\.freshSession\)/);
    await offerAll(peers, taskOffer(newSession(), 1, 3, 2)); // a retry with a new session is fine
    for (const p of peers) expect(p.sentOf('AdvertiseKeys', session)).toHaveLength(1);
  });
});

describe('(g) differential-privacy parameters a client does not take on trust', () => {
  const dp = { mechanism: 'ddgauss', noiseMultiplier: 1, clipNorm: 10, minSurvivors: 2, cohortSize: 3, beta: Math.exp(-3), wrapProbability: 1e-9, epsilon: 8, delta: 1e-6, rounds: 10 } as const;

  it.each([
    ['noise sized for more survivors than the round threshold', { ...dp, minSurvivors: 3 }, {}, /the noise is sized for 3 survivors \(dp\.minSurvivors\) but the round's threshold is 2/],
    ['a cohort larger than the ring was sized for', { ...dp, cohortSize: 2, minSurvivors: 2 }, {}, /a cohort of 3 is larger than the 2 shops the DP ring was sized for/],
    ['parameters that do not fit the ring', { ...dp, noiseMultiplier: 1e12 }, {}, /the task's DP parameters are unusable: .*noiseMultiplier/],
    ['zero noise under policy.requireDp', { ...dp, noiseMultiplier: 0 }, { requireDp: true }, /add no noise \(noiseMultiplier 0\), and this shop requires differential privacy/],
    ['no DP at all under policy.requireDp', undefined, { requireDp: true }, /runs without differential privacy, and this shop requires it/],
  ] as const)('%s: declined with DECLINE_BAD_DP before training, nothing advertised', async (_name, params, extra, message) => {
    const identities = Array.from({ length: 3 }, () => generateIdentity());
    const enrolled = new Map(identities.map((k, i): [number, Uint8Array] => [i + 1, k.publicKey]));
    const hostile = await startHostile(enrolled);
    let trained = 0;
    const trainer = { train: async ({ weights }: { weights: Float32Array }) => (trained++, { delta: new Float32Array(weights.length), weight: 1, metrics: [0] }) };
    const logs = identities.map((k) => startNode(hostile.url, k, { policy: { ...POLICY, ...extra }, trainer }).log);
    const peers = await Promise.all(identities.map((_, i) => hostile.peer(i + 1)));
    const session = newSession();
    const offer = { ...taskOffer(session, 1, 3, 2), ...(params === undefined ? {} : { dp: params }) };
    for (const p of peers) p.send(offer);
    for (const p of peers) expect(await p.next('OfferReply')).toMatchObject({ accept: false, reason: 'DECLINE_BAD_DP' });
    for (const log of logs) await log.waitFor(message);
    await settled(peers);
    expect(trained).toBe(0);
    for (const p of peers) expect(p.sentOf('AdvertiseKeys', session)).toHaveLength(0);
  });

  it('consistent parameters are accepted: the masked input has the DP layout (padded model + count lane)', async () => {
    const { peers } = await setup(3, { peers: true });
    const session = newSession();
    await offerAll(peers, { ...taskOffer(session, 1, 3, 2), dp });
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph([1, 2, 3]), threshold: 2, activeAdversary: true, vectorLength: 4 + 1 });
    for (let i = 0; i < 5; i++) await r.stage();
    expect(r.state.outcome.kind).toBe('ready');
    for (const p of peers) expect(p.sentOf('MaskedInput', session)[0]!.y).toHaveLength(5);
  });
});
