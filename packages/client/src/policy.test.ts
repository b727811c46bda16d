import { describe, expect, it } from 'vitest';
import { generateIdentity } from '@tally/secagg';
import { POLICY_RULES, checkOffer, checkRoundStart, type Policy, type PolicyRule, type RoundStartContext } from './policy.ts';

const policy: Policy = { tasks: ['demand', 'pricing'], minCohort: 3, minThreshold: 2, maxRounds: 5 };
const ok = { taskId: 'demand', cohortSize: 3, threshold: 2, graph: 'complete', degree: 2 } as const;
const fresh = { roundsContributed: 0, tookPart: false };
/** Every rule some table below shows refusing. */
const refusing = new Set<PolicyRule>();

describe('checkOffer', () => {
  it('accepts an offer inside every rule, at the boundaries', () => {
    expect(checkOffer(policy, ok, { roundsContributed: 4, tookPart: false })).toBeNull();
    expect(checkOffer(policy, { ...ok, taskId: 'pricing', cohortSize: 100, threshold: 60 }, fresh)).toBeNull();
  });

  const cases = [
    ['tasks', { ...ok, taskId: 'other' }, fresh, /task other is not in this client's consented tasks/],
    ['minCohort', { ...ok, cohortSize: 2 }, fresh, /cohort of 2 is below this client's minimum of 3/],
    ['minThreshold', { ...ok, threshold: 1 }, fresh, /threshold 1 is below this client's minimum of 2/],
    ['maxRounds', ok, { roundsContributed: 5, tookPart: false }, /already contributed to 5 rounds, its maximum/],
    ['freshSession', ok, { roundsContributed: 0, tookPart: true }, /already took part in this session and round/],
    // Issue 8: the graph kind and margin are part of what the client consents to.
    ['graph', { ...ok, graph: 'harary', degree: 2 }, fresh, /sparse \(Harary\) graph, and this client accepts only the complete graph \(policy\.graph\)/],
    ['minMargin', { ...ok, cohortSize: 5, degree: 4, threshold: 2 }, fresh, /tolerates 2t − k = 0 corrupt neighbours, below this client's minimum of 1/],
    ['maxAttemptsPerRound', ok, { ...fresh, attemptsThisRound: 3 }, /already joined 3 attempts at this round, its maximum/],
    ['maxAttemptsPerRound', ok, { ...fresh, attemptsTotal: 15 }, /lifetime maximum of maxRounds × maxAttemptsPerRound/],
  ] as const;
  for (const [rule] of cases) refusing.add(rule);

  it.each(cases)('refuses by %s, with its reason', (rule, offer, history, reason) => {
    const refusal = checkOffer(policy, offer, history);
    expect(refusal?.rule).toBe(rule);
    expect(refusal?.reason).toMatch(reason);
  });

  it('reports the first rule broken, in the documented order', () => {
    const all = { roundsContributed: 9, tookPart: true };
    expect(checkOffer(policy, { ...ok, taskId: 'other', cohortSize: 1, threshold: 1 }, all)?.rule).toBe('tasks');
    expect(checkOffer(policy, { ...ok, cohortSize: 1, threshold: 1 }, all)?.rule).toBe('minCohort');
    expect(checkOffer(policy, ok, all)?.rule).toBe('maxRounds');
  });
});

describe('checkRoundStart', () => {
  const [a, b, c, rogue] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()].map((k) => k.publicKey) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const enrolled = new Map([
    [1, a],
    [2, b],
    [3, c],
  ]);
  const roster = [
    { id: 1, identityKey: a },
    { id: 2, identityKey: b },
    { id: 3, identityKey: c },
  ];
  const start = { roster, threshold: 2, activeAdversary: true, graph: 'complete' as const, degree: 2 };
  const offered = { cohortSize: 3, threshold: 2, graph: 'complete' as const, degree: 2 };
  const withPeers: RoundStartContext = { offered, enrolled };

  it('accepts a round inside every rule: enrolled roster, active mode, as offered', () => {
    expect(checkRoundStart(policy, start, withPeers)).toBeNull();
    // Without a peer list nothing is known about the roster beyond its size.
    expect(checkRoundStart(policy, { ...start, roster: [...roster.slice(0, 2), { id: 9, identityKey: rogue }] }, { offered })).toBeNull();
    // Fewer clients than offered (some declined) and a higher threshold are fine.
    expect(checkRoundStart(policy, { ...start, threshold: 3 }, { offered: { cohortSize: 5, threshold: 2, graph: 'complete' as const, degree: 2 }, enrolled })).toBeNull();
    // Passive mode with the explicit opt-in.
    expect(checkRoundStart({ ...policy, allowPassive: true }, { ...start, activeAdversary: false }, withPeers)).toBeNull();
  });

  const cases = [
    ['minCohort', { ...start, roster: roster.slice(0, 2) }, withPeers, /round roster of 2 is below this client's minimum cohort of 3/],
    ['minThreshold', { ...start, threshold: 1 }, { offered: { cohortSize: 3, threshold: 1, graph: 'complete' as const, degree: 2 } }, /round threshold 1 is below this client's minimum of 2/],
    ['peers', { ...start, roster: [...roster, { id: 9, identityKey: rogue }] }, { offered: { cohortSize: 4, threshold: 2, graph: 'complete' as const, degree: 2 }, enrolled }, /id 9 is not an enrolled client/],
    ['peers', { ...start, roster: [roster[0]!, roster[1]!, { id: 3, identityKey: rogue }] }, withPeers, /id 3 carries another identity key than the one enrolled/],
    ['activeAdversary', { ...start, activeAdversary: false }, withPeers, /honest-but-curious mode .* \(policy\.allowPassive\)/],
    ['matchesOffer', { ...start, threshold: 2 }, { offered: { cohortSize: 3, threshold: 3, graph: 'complete' as const, degree: 2 }, enrolled }, /round threshold 2 is below the offered threshold 3/],
    ['matchesOffer', start, { offered: { cohortSize: 2, threshold: 2, graph: 'complete' as const, degree: 2 } }, /round roster of 3 is larger than the offered cohort of 2/],
    ['matchesOffer', { ...start, graph: 'harary' as const }, withPeers, /round uses the harary graph, the offer said complete/],
    ['matchesOffer', { ...start, degree: 3 }, withPeers, /round degree 3 is above the offered degree 2/],
  ] as const;
  for (const [rule] of cases) refusing.add(rule);

  it.each(cases)('refuses by %s, with its reason', (rule, s, context, reason) => {
    const refusal = checkRoundStart(policy, s, context);
    expect(refusal?.rule).toBe(rule);
    expect(refusal?.reason).toMatch(reason);
  });

  it('refuses passive mode unless the policy allows it explicitly', () => {
    const passive = { ...start, activeAdversary: false };
    expect(checkRoundStart({ ...policy, allowPassive: false }, passive, withPeers)?.rule).toBe('activeAdversary');
    expect(checkRoundStart({ ...policy, allowPassive: true }, passive, withPeers)).toBeNull();
  });

  it('reports the first rule broken, in the documented order: peers, mode, then cohort, threshold and the offer', () => {
    const everything = { roster: [{ id: 9, identityKey: rogue }], threshold: 1, activeAdversary: false, graph: 'complete' as const, degree: 0 };
    const tight = { offered: { cohortSize: 0, threshold: 5, graph: 'complete' as const, degree: 2 }, enrolled };
    expect(checkRoundStart(policy, everything, tight)?.rule).toBe('peers');
    expect(checkRoundStart(policy, { ...everything, roster: [roster[0]!] }, tight)?.rule).toBe('activeAdversary');
    expect(checkRoundStart(policy, { ...everything, roster: [roster[0]!], activeAdversary: true }, tight)?.rule).toBe('minCohort');
    expect(checkRoundStart(policy, { ...start, threshold: 1 }, tight)?.rule).toBe('minThreshold');
    expect(checkRoundStart(policy, start, tight)?.rule).toBe('matchesOffer');
  });
});

describe('policy.graph, policy.minMargin (issue 8)', () => {
  const harary = { taskId: 'demand', cohortSize: 100, threshold: 9, graph: 'harary', degree: 14 } as const;
  it('accepts a Harary offer only with policy.graph harary, and enforces a stricter margin', () => {
    expect(checkOffer(policy, harary, fresh)?.rule).toBe('graph');
    expect(checkOffer({ ...policy, graph: 'harary' }, harary, fresh)).toBeNull();
    expect(checkOffer({ ...policy, graph: 'harary', minMargin: 5 }, harary, fresh)?.rule).toBe('minMargin');
    expect(checkOffer({ ...policy, graph: 'harary', minMargin: 4 }, harary, fresh)).toBeNull();
  });
});

it('every rule in POLICY_RULES has a refusing case in the tables above', () => {
  expect([...refusing].sort()).toEqual([...POLICY_RULES].sort());
});
