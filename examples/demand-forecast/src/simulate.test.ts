/**
 * `simulate` end to end on small data: a real coordinator and one real client node per
 * shop over loopback WebSockets. Each committed round's secure aggregate must equal
 * the plaintext weighted average of the same client updates within the quantisation
 * bound, and the federated model must beat the round-0 model on the held-out weeks.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemandConfigInput } from './config.ts';
import { SimulateOptionError, resolveSimulateOptions, simulate, type SimulateResult, type SimulatedRound } from './simulate.ts';
import { summaryLines } from './simulate-summary.ts';

const SMALL: DemandConfigInput = {
  data: { products: 3, days: 200, minHistoryDays: 100 },
  features: { testDays: 14 },
  training: { epochsPerRound: 1, batchSize: 32, learningRate: 0.005 },
  baselines: { maxEpochs: 4, patience: 2 },
  backend: 'wasm',
};
// Four or five shops have no safe threshold with 5 % assumed corrupt; these shops are all ours.
const TASK = { corruptFraction: 0 };

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tally-simulate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectMatchesPlaintext(r: SimulatedRound): void {
  expect(r.check, `round ${r.round} has no plaintext check`).toBeDefined();
  const c = r.check!;
  expect(c.problems).toEqual([]);
  expect(c.ok).toBe(true);
  expect(c.maxAbsDiff).toBeLessThanOrEqual(c.bound);
  // The weight lane is exact: Σw decoded equals the survivors' row counts.
  expect(r.totalWeight).toBe(c.plaintextWeight);
  expect(c.survivors).toBe(r.survivors.length);
}

describe('simulate', () => {
  let result: SimulateResult;
  const seen: SimulatedRound[] = [];
  const out = (): string => path.join(dir, 'report');

  beforeAll(async () => {
    result = await simulate(
      { shops: 4, rounds: 3, seed: 3, config: SMALL, task: TASK, workDir: dir, out: out() },
      { onRound: (r) => seen.push(r) },
    );
    // Every arm, personalisation and the GLM run after the rounds: a hang limit, not a speed target (shared machines).
  }, 300_000);

  it('commits every round with every shop, each equal to the plaintext weighted average', () => {
    expect(result.committed).toBe(3);
    expect(result.aborted).toBe(0);
    expect(seen.map((r) => [r.round, r.status])).toEqual([
      [1, 'committed'],
      [2, 'committed'],
      [3, 'committed'],
    ]);
    for (const r of result.rounds) {
      expect(r.cohort).toEqual([1, 2, 3, 4]);
      expect(r.survivors).toEqual([1, 2, 3, 4]);
      expect(r.totalWeight).toBe(result.trainingRows);
      expectMatchesPlaintext(r);
    }
    expect(result.secureCheck.ok).toBe(true);
    expect(result.task.quant.fractionalBits).toBeGreaterThan(0);
  });

  it('improves on the round-0 model on the held-out weeks', () => {
    expect(result.finalTestWape).toBeLessThan(result.initialTestWape);
    const wapes = result.rounds.map((r) => r.testWape!);
    expect(wapes.at(-1)).toBeLessThan(result.initialTestWape);
  });

  it('keeps the committed model with the best validation WAPE', () => {
    const committed = result.rounds.filter((r) => r.status === 'committed');
    expect(committed.every((r) => r.validationWape !== undefined)).toBe(true);
    const vals = committed.map((r) => r.validationWape as number);
    if (result.bestRound > 0) {
      expect(result.bestRound).toBe(committed[vals.indexOf(Math.min(...vals))]?.round);
    }
  });

  it('evaluates every arm, personalises every shop and writes the report with the audit log', async () => {
    expect(result.evaluation.summary.methods).toEqual(['personalised', 'federated', 'local', 'centralised', 'glm', 'snaive4', 'naive', 'oracle']);
    expect(result.choices?.map((c) => c.shopId)).toEqual(result.evaluation.shops.map((s) => s.shopId));
    for (const c of result.choices ?? []) expect(c.validation[c.choice]).toBeLessThanOrEqual(c.validation.local);
    expect(result.targets.map((t) => t.target)).toEqual(['no-shop-loses', 'beats-best-baseline', 'new-shops-gain']);
    for (const t of result.targets.slice(0, 2)) expect(typeof t.holds).toBe('boolean');
    expect(result.written).toEqual(expect.arrayContaining(['report.json', 'report.md', 'loss.svg', 'forecast.svg', 'model/', 'audit.jsonl']));
    const report = JSON.parse(await readFile(path.join(out(), 'report.json'), 'utf8')) as { simulation: { rounds: unknown[] }; history: unknown[] };
    expect(report.simulation.rounds).toHaveLength(3);
    expect(report.history).toHaveLength(3);
    const audit = (await readFile(path.join(out(), 'audit.jsonl'), 'utf8')).trim().split('\n');
    expect(audit).toHaveLength(3);
    const text = summaryLines(result).join('\n');
    for (const s of ['chosen', 'federated (SA)', 'local only', 'Poisson GLM', 'seasonal naive', 'centralised', 'noise floor', 'median', 'worst shop', 'Targets', 'max |difference|']) {
      expect(text).toContain(s);
    }
  });
});

describe('simulate with dropouts', () => {
  it('commits rounds without the shops that left at MaskedInput, recovering their masks; still equal to the plaintext average', async () => {
    const result = await simulate(
      { shops: 5, rounds: 2, seed: 2, dropout: 0.3, dropoutStage: 'MaskedInput', config: SMALL, task: TASK, workDir: dir, baselines: false },
      {},
    );
    expect(result.committed).toBe(2);
    const committed = result.rounds.filter((r) => r.status === 'committed');
    for (const r of committed) expectMatchesPlaintext(r);
    // The seed is chosen so that some shop leaves in a committed round: its pairwise masks were in the others' inputs.
    const withDrops = committed.filter((r) => r.drops.some((d) => d.injected));
    expect(withDrops.length).toBeGreaterThan(0);
    for (const r of withDrops) {
      const gone = r.drops.filter((d) => d.injected).map((d) => d.id);
      expect(r.survivors.some((id) => gone.includes(id))).toBe(false);
      expect(r.revealed.maskKeyOf).toEqual(expect.arrayContaining(gone));
      for (const d of r.drops.filter((x) => x.injected)) expect(d.stage).toBe('MaskedInput');
    }
  });
});

describe('simulate with distributed DP', () => {
  let result: SimulateResult;

  beforeAll(async () => {
    result = await simulate({ shops: 4, rounds: 2, seed: 5, config: SMALL, task: TASK, workDir: dir, out: path.join(dir, 'report-dp'), dp: { epsilon: 8 } });
  }, 300_000);

  it('runs noisy rounds, spends no more than the target and reports the plan', () => {
    expect(result.committed).toBe(2);
    expect(result.dp).not.toBeNull();
    const dp = result.dp!;
    expect(dp.epsilon).toBe(8);
    expect(dp.roundsCharged).toBe(2);
    expect(dp.spent).toBeGreaterThan(0);
    expect(dp.spent).toBeLessThanOrEqual(8 + 1e-9);
    expect(dp.spentSurvivors).toBeLessThanOrEqual(dp.spent);
    for (const r of result.rounds.filter((x) => x.status === 'committed')) expect(r.check).toBeUndefined();
  });

  it('keeps the last committed round: no round is chosen on the shops\' pooled validation data, which the accountant does not cover', () => {
    const committed = result.rounds.filter((r) => r.status === 'committed');
    expect(result.bestRound).toBe(committed.at(-1)?.round);
  });
});

describe('resolveSimulateOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveSimulateOptions()).toEqual({ shops: 16, rounds: 15, graph: 'complete', dropout: 0, dropoutStage: 'MaskedInput', seed: 1 });
  });

  it.each([
    [{ shops: 1 }, 'shops'],
    [{ shops: 65 }, 'shops'],
    [{ rounds: 0 }, 'rounds'],
    [{ rounds: 1.5 }, 'rounds'],
    [{ dropout: 1 }, 'dropout'],
    [{ dropout: -0.1 }, 'dropout'],
    [{ graph: 'ring' as never }, 'graph'],
    [{ dropoutStage: 'Later' as never }, 'dropoutStage'],
  ])('refuses %j', (options, option) => {
    expect(() => resolveSimulateOptions(options)).toThrow(SimulateOptionError);
    try {
      resolveSimulateOptions(options);
    } catch (err) {
      expect((err as SimulateOptionError).option).toBe(option);
    }
  });

  it('refuses too few shops for a safe threshold before preparing anything, naming the smallest that works', async () => {
    await expect(simulate({ shops: 4, workDir: dir })).rejects.toThrow(/shops: 4 shops are too few .*use at least 7 shops/);
  });
});
