import { describe, expect, it } from 'vitest';
import { checkOffer, checkRoundStart, type Policy } from './policy.ts';

const policy: Policy = { tasks: ['demand', 'pricing'], minCohort: 3, minThreshold: 2, maxRounds: 5 };
const ok = { taskId: 'demand', cohortSize: 3, threshold: 2 };

describe('checkOffer', () => {
  it('accepts an offer inside every rule, at the boundaries', () => {
    expect(checkOffer(policy, ok, 4)).toBeNull();
    expect(checkOffer(policy, { ...ok, taskId: 'pricing', cohortSize: 100, threshold: 60 }, 0)).toBeNull();
  });

  it.each([
    ['tasks', { ...ok, taskId: 'other' }, 0],
    ['minCohort', { ...ok, cohortSize: 2 }, 0],
    ['minThreshold', { ...ok, threshold: 1 }, 0],
    ['maxRounds', ok, 5],
  ] as const)('refuses by %s', (rule, offer, rounds) => {
    expect(checkOffer(policy, offer, rounds)?.rule).toBe(rule);
  });

  it('reports the first rule broken, in the documented order', () => {
    expect(checkOffer(policy, { taskId: 'other', cohortSize: 1, threshold: 1 }, 9)?.rule).toBe('tasks');
    expect(checkOffer(policy, { ...ok, cohortSize: 1, threshold: 1 }, 9)?.rule).toBe('minCohort');
  });
});

describe('checkRoundStart', () => {
  it('checks the roster size and threshold actually used', () => {
    expect(checkRoundStart(policy, { roster: [1, 2, 3], threshold: 2 })).toBeNull();
    expect(checkRoundStart(policy, { roster: [1, 2], threshold: 2 })?.rule).toBe('minCohort');
    expect(checkRoundStart(policy, { roster: [1, 2, 3], threshold: 1 })?.rule).toBe('minThreshold');
  });
});
