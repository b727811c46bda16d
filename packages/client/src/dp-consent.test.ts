import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DP_ORDERS, composeRdp, ddgRdpCurve, dpRound, epsilonFromRdp, planDp } from '@tally/secagg';
import type { DpParams } from '@tally/wire';
import { ConfigError, parseClientConfig } from './config.ts';
import { DP_BUDGET_FILE, DpBudgetStore, emptySpent } from './dp-budget-store.ts';
import { checkDp } from './dp-consent.ts';
import type { Policy } from './policy.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-dp-'));
  dirs.push(d);
  return d;
}

const DP: DpParams = { mechanism: 'ddgauss', noiseMultiplier: 1, clipNorm: 1, minSurvivors: 3, cohortSize: 5, beta: Math.exp(-3), wrapProbability: 1e-9, epsilon: 8, delta: 1e-6, rounds: 10 };
const POLICY: Policy = { tasks: ['t'], minCohort: 2, minThreshold: 1, maxRounds: 100 };
const offer = (dp: DpParams | undefined = DP) => ({ taskId: 't', threshold: 3, cohortSize: 5, modelLength: 100, dp });

describe('checkDp: the client re-derives the round cost from the parameters', () => {
  it("charges its own accountant's ε for t shops' noise, whatever ε the coordinator declares", () => {
    const d = checkDp({ ...POLICY, maxEpsilon: 100, delta: 1e-5 }, offer({ ...DP, epsilon: 0.001 }), emptySpent());
    expect(d.kind).toBe('dp');
    if (d.kind !== 'dp') return;
    const plan = planDp({ clipNorm: 1, cohortSize: 5, minSurvivors: 3, noiseMultiplier: 1 }, 100);
    const own = epsilonFromRdp(DP_ORDERS, ddgRdpCurve(dpRound(plan, 3)), 1e-5).epsilon;
    expect(d.cost.delta).toBe(1e-5); // policy.delta, not the task's
    expect(d.cost.epsilonRound).toBeCloseTo(own, 12);
    expect(d.cost.declared.computed).toBeGreaterThan(d.cost.declared.epsilon); // the lie is visible
  });

  it('refuses the round that would pass policy.maxEpsilon, and says whether a fresh budget could ever take one', () => {
    const first = checkDp({ ...POLICY, maxEpsilon: 100, delta: 1e-6 }, offer(), emptySpent());
    if (first.kind !== 'dp') throw new Error('expected a DP round');
    const one = first.cost.epsilonRound;
    const spent = { rdp: first.cost.curve, rounds: 1 };
    const two = epsilonFromRdp(DP_ORDERS, composeRdp(first.cost.curve, first.cost.curve), 1e-6).epsilon;
    const cap = (one + two) / 2;
    expect(checkDp({ ...POLICY, maxEpsilon: cap, delta: 1e-6 }, offer(), emptySpent()).kind).toBe('dp');
    const later = checkDp({ ...POLICY, maxEpsilon: cap, delta: 1e-6 }, offer(), spent);
    expect(later).toMatchObject({ kind: 'refuse', refusal: { reason: 'DECLINE_DP_BUDGET', permanent: false } });
    const never = checkDp({ ...POLICY, maxEpsilon: one / 2, delta: 1e-6 }, offer(), emptySpent());
    expect(never).toMatchObject({ kind: 'refuse', refusal: { reason: 'DECLINE_DP_BUDGET', permanent: true } });
  });

  it.each([
    ['threshold ≠ minSurvivors', POLICY, { ...offer(), threshold: 2 }, /sized for 3 survivors/],
    ['cohort beyond the ring', POLICY, { ...offer(), cohortSize: 6 }, /larger than the 5 shops/],
    ['unusable parameters', POLICY, offer({ ...DP, noiseMultiplier: 1e15 }), /unusable/],
    ['zero noise under requireDp', { ...POLICY, requireDp: true }, offer({ ...DP, noiseMultiplier: 0 }), /add no noise/],
    ['no DP under requireDp', { ...POLICY, requireDp: true }, { ...offer(), dp: undefined }, /requires it \(policy\.requireDp\)/],
  ] as const)('%s: DECLINE_BAD_DP', (_name, policy, o, message) => {
    const d = checkDp(policy, o, emptySpent());
    expect(d.kind).toBe('refuse');
    if (d.kind === 'refuse') {
      expect(d.refusal.reason).toBe('DECLINE_BAD_DP');
      expect(d.refusal.message).toMatch(message);
    }
  });

  it('no DP and no requireDp: the plain path', () => {
    expect(checkDp(POLICY, { ...offer(), dp: undefined }, emptySpent())).toEqual({ kind: 'plain' });
  });
});

describe('DpBudgetStore', () => {
  it('survives a reload exactly, ∞ included (a round without noise)', async () => {
    const dir = await tempDir();
    const rdp = Float64Array.from(DP_ORDERS, (a, i) => (i === 3 ? Infinity : a / 7));
    new DpBudgetStore(dir).save({ rdp, rounds: 4 });
    const back = new DpBudgetStore(dir).load();
    expect(back.rounds).toBe(4);
    expect(Array.from(back.rdp)).toEqual(Array.from(rdp));
  });

  it('refuses a damaged file instead of handing the budget back', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, DP_BUDGET_FILE), '{"v":1,"orders":[1.5],"rdp":[-1],"rounds":1}\n');
    expect(() => new DpBudgetStore(dir).load()).toThrow(/expected \{ v: 1, orders/);
    await writeFile(join(dir, DP_BUDGET_FILE), '{"v":1,');
    expect(() => new DpBudgetStore(dir).load()).toThrow(/damaged privacy budget .* deleting hands back the privacy already spent/);
  });

  it('no file yet: nothing spent; no stateDir: memory only', async () => {
    expect(new DpBudgetStore(await tempDir()).load()).toEqual(emptySpent());
    const mem = new DpBudgetStore(null);
    mem.save({ rdp: new Float64Array(DP_ORDERS.length).fill(1), rounds: 2 });
    expect(mem.load().rounds).toBe(2);
    expect(mem.file).toBeNull();
  });
});

describe('policy DP fields in the client config', () => {
  const base = { coordinator: 'ws://127.0.0.1:7800', keyFile: 'k.json', policy: { tasks: ['t'], minCohort: 3, minThreshold: 2, maxRounds: 5 } };
  const errorOf = (policy: Record<string, unknown>): string => {
    try {
      parseClientConfig({ ...base, policy: { ...base.policy, ...policy } }, '/etc/tally');
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    throw new Error('expected a ConfigError');
  };

  it('accepts maxEpsilon with delta, and requireDp', () => {
    const c = parseClientConfig({ ...base, policy: { ...base.policy, maxEpsilon: 8, delta: 1e-6, requireDp: true } }, '/etc/tally');
    expect(c.policy).toMatchObject({ maxEpsilon: 8, delta: 1e-6, requireDp: true });
  });

  it.each([
    [{ maxEpsilon: 8 }, /^policy\.delta: missing: required with policy\.maxEpsilon/],
    [{ maxEpsilon: 0, delta: 1e-6 }, /^policy\.maxEpsilon: expected a finite number > 0 .*got number 0/],
    [{ maxEpsilon: 8, delta: 1 }, /^policy\.delta: expected a number in \(0, 1\)/],
    [{ requireDp: 'yes' }, /^policy\.requireDp: expected true or false/],
  ])('%j is refused with the field', (policy, message) => {
    expect(errorOf(policy)).toMatch(message);
  });
});
