/**
 * Issue 8, point 1: a dishonest coordinator shaping the communication graph, against
 * real client nodes over loopback (_hostile.ts). Reproduced on the old code: (a) raising
 * one target's degree to 2t − 1 (then one corrupt neighbour and split survivor lists
 * unmask it) and (b) two disconnected cliques, accepted by everyone, revealing each
 * clique's partial sum. Now every node recomputes its own neighbourhood from public
 * data (secagg graph-seed.ts) and refuses, in both graph modes, before advertising keys.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { completeGraph, generateIdentity, type KeyPair, type ServerMessage } from '@tally/secagg';
import type { Policy } from '@tally/client';
import { TASK_ID, cleanup, startNode, type Lines } from './_helpers.ts';
import { HostileRound, offerAll, startHostile, taskOffer, type HostilePeer } from './_hostile.ts';

afterEach(cleanup);

const POLICY: Policy = { tasks: [TASK_ID], minCohort: 3, minThreshold: 2, maxRounds: 100 };
let sessions = 100;
const newSession = (): Uint8Array => new Uint8Array(16).fill(++sessions);

async function setup(n: number, policy: Policy): Promise<{ peers: HostilePeer[]; logs: Lines[]; identities: KeyPair[] }> {
  const identities = Array.from({ length: n }, () => generateIdentity());
  const enrolled = new Map(identities.map((k, i): [number, Uint8Array] => [i + 1, k.publicKey]));
  const hostile = await startHostile(enrolled);
  const logs = identities.map((k) => startNode(hostile.url, k, { policy, enrolled }).log);
  const peers = await Promise.all(identities.map((_, i) => hostile.peer(i + 1)));
  return { peers, logs, identities };
}

async function settled(peers: readonly HostilePeer[]): Promise<void> {
  await Promise.all(peers.map((p) => p.roundTrip()));
}

const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
const clique = (id: number, n: number): number[] => ids(n).filter((v) => v !== id && v <= n / 2 === id <= n / 2);
type RoundStart = Extract<ServerMessage, { type: 'RoundStart' }>;
const BAD_GRAPH = /^WARN round 1: leaving the round on RoundStart: SECAGG_BAD_GRAPH/;

describe('complete graph (SecAgg)', () => {
  it('(a) a target shown fewer neighbours than roster minus itself refuses, and advertises nothing', async () => {
    const { peers, logs } = await setup(6, POLICY);
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 6, 4));
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph(ids(6)), threshold: 4, activeAdversary: true });
    // The target (1) gets a 5-neighbour view trimmed to 4 = the corrupt neighbour it would need fewer of.
    r.pending = r.pending.map((o) => (o.to === 1 ? { ...o, msg: { ...(o.msg as RoundStart), neighbours: [2, 3, 4, 5], degree: 4 } } : o));
    r.deliverPending();
    await logs[0]!.waitFor(BAD_GRAPH);
    await settled(peers);
    expect(peers[0]!.sentOf('AdvertiseKeys', session)).toEqual([]);
  });

  it('(b) two disconnected cliques of 4 over a roster of 8: every node refuses', async () => {
    const { peers, logs } = await setup(8, POLICY);
    const session = newSession();
    await offerAll(peers, taskOffer(session, 1, 8, 5));
    const r = new HostileRound({ session, round: 1, peers, graph: completeGraph(ids(8)), threshold: 5, activeAdversary: true });
    r.pending = r.pending.map((o) => ({ ...o, msg: { ...(o.msg as RoundStart), neighbours: clique(o.to, 8) } }));
    r.deliverPending();
    for (const log of logs) await log.waitFor(BAD_GRAPH);
    await settled(peers);
    for (const p of peers) expect(p.sentOf('AdvertiseKeys', session)).toEqual([]);
  });
});

describe('Harary graph (SecAgg+), policy.graph harary', () => {
  const SPARSE: Policy = { ...POLICY, graph: 'harary' };
  const shape = { graph: 'harary', degree: 4 } as const;

  it('a node with the default policy refuses a Harary offer (policy.graph)', async () => {
    const { peers, logs } = await setup(3, POLICY);
    const session = newSession();
    peers[0]!.send(taskOffer(session, 1, 3, 2, { graph: 'harary', degree: 2 }));
    expect(await peers[0]!.next('OfferReply')).toMatchObject({ accept: false });
    await logs[0]!.waitFor(/refused round 1 .* \(policy\.graph\)/);
  });

  it('an honest round runs over real nodes: every node derives the same graph from the committed adverts', async () => {
    const { peers } = await setup(8, SPARSE);
    const session = newSession();
    const commitments = await offerAll(peers, taskOffer(session, 1, 8, 3, shape));
    const r = new HostileRound({ session, round: 1, peers, graph: { kind: 'harary', degree: 4, commitments }, threshold: 3, activeAdversary: true });
    for (let i = 0; i < 5; i++) await r.stage();
    expect(r.state.outcome.kind).toBe('ready');
    for (const ns of r.state.graph!.values()) expect(ns).toHaveLength(4);
  });

  it('(a) raising the target\'s degree is refused: a higher degree than offered, or neighbours named by the coordinator', async () => {
    const { peers, logs } = await setup(8, SPARSE);
    const session = newSession();
    const commitments = await offerAll(peers, taskOffer(session, 1, 8, 3, shape));
    const r = new HostileRound({ session, round: 1, peers, graph: { kind: 'harary', degree: 4, commitments }, threshold: 3, activeAdversary: true });
    r.pending = r.pending.map((o) => {
      const m = o.msg as RoundStart;
      if (o.to === 1) return { ...o, msg: { ...m, degree: 5 } }; // 2t − 1: one corrupt neighbour would suffice
      if (o.to === 2) return { ...o, msg: { ...m, neighbours: [1, 3, 4, 5, 6] } }; // the coordinator's own choice
      return o;
    });
    r.deliverPending();
    await logs[0]!.waitFor(/^WARN round 1: leaving the round: round degree 5 is above the offered degree 4 \(policy\.matchesOffer\)/);
    await logs[1]!.waitFor(BAD_GRAPH);
    await settled(peers);
    expect(peers[0]!.sentOf('AdvertiseKeys', session)).toEqual([]);
    expect(peers[1]!.sentOf('AdvertiseKeys', session)).toEqual([]);
  });

  it('(a) a key list that hides adverts (to steer the graph a client computes) is refused before any share is sent', async () => {
    const { peers, logs } = await setup(8, SPARSE);
    const session = newSession();
    const commitments = await offerAll(peers, taskOffer(session, 1, 8, 3, shape));
    const r = new HostileRound({ session, round: 1, peers, graph: { kind: 'harary', degree: 4, commitments }, threshold: 3, activeAdversary: true });
    await r.stage(); // AdvertiseKeys: all eight adverts arrive
    r.pending = r.pending.map((o) => (o.to === 1 && o.msg.type === 'KeyList' ? { ...o, msg: { ...o.msg, adverts: o.msg.adverts.filter((a) => a.id !== 8) } } : o));
    r.deliverPending();
    await logs[0]!.waitFor(/^WARN round 1: leaving the round on KeyList: SECAGG_BAD_GRAPH: KeyList: 7 adverts for a roster of 8/);
    await settled(peers);
    expect(peers[0]!.sentOf('ShareKeys', session)).toEqual([]);
  });

  it('(b) two disconnected cliques announced in RoundStart: every node refuses', async () => {
    const { peers, logs } = await setup(8, SPARSE);
    const session = newSession();
    const commitments = await offerAll(peers, taskOffer(session, 1, 8, 3, shape));
    const r = new HostileRound({ session, round: 1, peers, graph: { kind: 'harary', degree: 4, commitments }, threshold: 3, activeAdversary: true });
    r.pending = r.pending.map((o) => ({ ...o, msg: { ...(o.msg as RoundStart), neighbours: clique(o.to, 8).slice(0, 3), degree: 4 } }));
    r.deliverPending();
    for (const log of logs) await log.waitFor(BAD_GRAPH);
    await settled(peers);
    for (const p of peers) expect(p.sentOf('AdvertiseKeys', session)).toEqual([]);
  });
});
