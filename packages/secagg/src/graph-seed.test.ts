// Issue 8, point 1: clients recompute the graph from public data and refuse a coordinator's own.
import { describe, expect, it } from 'vitest';
import { SecAggErrorCode } from './errors.ts';
import { advertCommitment, deriveGraph, graphSeed, seededRandom } from './graph-seed.ts';
import { generateIdentity, generateX25519 } from './keys.ts';
import { completeGraph, hararyGraph, isSymmetric } from './graph.ts';
import { simulateRound } from './simulation.ts';
import type { RoundStart, ServerMessage } from './messages.ts';

const inputs = (n: number): Uint32Array[] => Array.from({ length: n }, (_, i) => new Uint32Array([i + 1, 2 * i + 1]));
const ctx = { session: new Uint8Array(16).fill(3), round: 7 };

describe('graph seed', () => {
  const roster = [1, 2, 3, 4, 5, 6].map((id) => ({ id, identityKey: generateIdentity().publicKey }));
  const adverts = roster.map((e) => ({ id: e.id, cPk: generateX25519().publicKey, sPk: generateX25519().publicKey, bPk: generateX25519().publicKey }));

  it('is deterministic, and any advert, the roster, the round or k changes it', () => {
    const s = graphSeed(ctx, 'harary', 4, roster, adverts);
    expect(graphSeed(ctx, 'harary', 4, [...roster].reverse(), [...adverts].reverse())).toEqual(s);
    expect(graphSeed(ctx, 'harary', 4, roster, adverts.map((a, i) => (i === 3 ? { ...a, bPk: generateX25519().publicKey } : a)))).not.toEqual(s);
    expect(graphSeed({ ...ctx, round: 8 }, 'harary', 4, roster, adverts)).not.toEqual(s);
    expect(graphSeed(ctx, 'harary', 2, roster, adverts)).not.toEqual(s);
    expect(graphSeed(ctx, 'complete', 4, roster, adverts)).not.toEqual(s);
  });

  it('derives the same symmetric H_{k,n} on both sides, and the complete graph in complete mode', () => {
    const ids = roster.map((e) => e.id);
    const seed = graphSeed(ctx, 'harary', 4, roster, adverts);
    const g = deriveGraph('harary', ids, 4, seed);
    expect(g).toEqual(hararyGraph(ids, 4, seededRandom(seed)));
    expect(isSymmetric(g)).toBe(true);
    for (const ns of g.values()) expect(ns).toHaveLength(4);
    expect(deriveGraph('complete', ids, 5, seed)).toEqual(completeGraph(ids));
  });

  it('commits to all three advert keys', () => {
    const a = adverts[0]!;
    const c = advertCommitment(a);
    expect(c).toHaveLength(32);
    expect(advertCommitment({ ...a, sPk: adverts[1]!.sPk })).not.toEqual(c);
    expect(advertCommitment({ ...a, bPk: adverts[1]!.bPk })).not.toEqual(c);
  });
});

describe('clients verify the graph (issue 8, point 1)', () => {
  it('complete mode: a neighbour list other than roster minus self is refused (raised degree is impossible)', () => {
    const r = simulateRound({
      inputs: inputs(5),
      threshold: 3,
      tamper: (to, msg) => (to === 1 && msg.type === 'RoundStart' ? { ...msg, neighbours: [2, 3] } : msg),
    });
    expect(r.clientErrors.get(1)?.code).toBe(SecAggErrorCode.BadGraph);
  });

  it('Harary mode: the coordinator may not announce neighbours, alter a commitment, or drop an advert', () => {
    const sim = (tamper: (to: number, msg: ServerMessage) => ServerMessage) => simulateRound({ inputs: inputs(8), threshold: 3, degree: 4, tamper });
    const listed = sim((to, m) => (to === 1 && m.type === 'RoundStart' ? { ...m, neighbours: [2, 3, 4, 5, 6] } : m));
    expect(listed.clientErrors.get(1)?.code).toBe(SecAggErrorCode.BadGraph);
    const swapped = sim((to, m) =>
      to === 1 && m.type === 'RoundStart' ? { ...m, commitments: (m as RoundStart).commitments.map((c) => (c.id === 2 ? { ...c, commit: new Uint8Array(32) } : c)) } : m,
    );
    expect(swapped.clientErrors.get(1)?.code).toBe(SecAggErrorCode.BadGraph);
    const dropped = sim((to, m) => (to === 1 && m.type === 'KeyList' ? { ...m, adverts: m.adverts.filter((a) => a.id !== 8) } : m));
    expect(dropped.clientErrors.get(1)?.code).toBe(SecAggErrorCode.BadGraph);
    expect(dropped.clientErrors.get(1)?.message).toMatch(/7 adverts for a roster of 8/);
  });

  it('Harary mode: an honest round computes one graph on every side and sums exactly', () => {
    const r = simulateRound({ inputs: inputs(10), threshold: 3, degree: 4 });
    expect(r.outcome.kind).toBe('ready');
    expect(r.sum).toEqual(r.plainSum);
    expect(r.graph).not.toBeNull();
    for (const ns of r.graph!.values()) expect(ns).toHaveLength(4);
  });
});

describe('b is committed; forged shares are named (issue 8, point 2)', () => {
  const forge = (victimOf: number, forger: number) => (from: number, m: Parameters<NonNullable<Parameters<typeof simulateRound>[0]['tamperClient']>>[1]) => {
    if (from !== forger || m.type !== 'UnmaskShares') return m;
    return { ...m, selfMaskShares: m.selfMaskShares.map((s) => (s.of === victimOf ? { ...s, share: Uint8Array.from(s.share, (b, i) => (i === 32 ? b ^ 1 : b)) } : s)) };
  };

  it('a forged self-mask share among t + 1 is found, its holder named, and the sum stays exact', () => {
    // Complete graph of 6, t = 4: 5 shares of each b. Client 1 holds the lowest x, so its share is always used first.
    const r = simulateRound({ inputs: inputs(6), threshold: 4, tamperClient: forge(3, 1) });
    expect(r.outcome.kind).toBe('ready');
    if (r.outcome.kind !== 'ready') return;
    expect(r.outcome.forgers).toEqual([1]);
    expect(r.sum).toEqual(r.plainSum);
  });

  it('with only t shares nobody can be named, and the round aborts instead of reaching a wrong sum', () => {
    const r = simulateRound({ inputs: inputs(6), threshold: 4, dropAt: new Map([[6, 'MaskedInput']]), dropStyle: 'deadline', tamperClient: forge(3, 1) });
    expect(r.outcome).toMatchObject({ kind: 'aborted', stage: 'Unmask' });
    if (r.outcome.kind === 'aborted') expect(r.outcome.reason).toMatch(/self-mask of id 3 does not match its advertised public key/);
  });
});
