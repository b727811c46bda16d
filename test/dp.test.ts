/**
 * Distributed differential privacy in real rounds: a real coordinator with task.dp,
 * real client nodes with a budget in their state folders, real sockets on loopback.
 * (Kairouz, Liu, Steinke, ICML 2021: each shop adds its share of discrete Gaussian
 * noise before masking; the coordinator decodes the noisy sum.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, planEpsilon, toHex, type KeyPair } from '@tally/secagg';
import { dpPlanOf, parseCoordinatorConfig, parseEnrolment, readAuditLog, startCoordinator, type ConsoleSnapshot, type CoordinatorConfig } from '@tally/coordinator';
import { DP_BUDGET_FILE, DpBudgetStore, LEDGER_FILE, Ledger, ledgerLines, readLedger, summariseLedger, type Policy, type Trainer } from '@tally/client';
import { Lines, POLICY, cleanup, configJson, onCleanup, startNode, startTestCoordinator, tempDir } from './_helpers.ts';

afterEach(cleanup);

const DELTA = 1e-6;
/** Every weight moves by +STEP: the plaintext mean of any cohort. */
const STEP = 0.024; // norm 0.048 for 4 weights, inside the clip norm 0.05
const trainer: Trainer = {
  async train({ weights }) {
    return { delta: new Float32Array(weights.length).fill(STEP), weight: 10, metrics: [] };
  },
};

/** A DP task for 3 shops, threshold 2 (the noise is sized for 2 survivors). */
function dpTask(id: string, rounds: number, epsilon: number): Record<string, unknown> {
  return {
    id,
    rounds,
    cohortSize: 3,
    minClients: 3,
    threshold: 2,
    metrics: [],
    quant: { clipNorm: 0.05, weightBound: 100, fractionalBits: 16, metricBound: 10 },
    dp: { mechanism: 'ddgauss', epsilon, delta: DELTA },
  };
}

async function startDpCoordinator(ids: readonly KeyPair[], task: Record<string, unknown>): Promise<{ url: string; config: CoordinatorConfig; dataDir: string; log: Lines; token: string }> {
  const dataDir = await tempDir();
  const config = parseCoordinatorConfig({ ...configJson(task), dataDir }, dataDir);
  const enrolment = parseEnrolment({ clients: ids.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) }, 'dp');
  const log = new Lines();
  const coordinator = await startCoordinator({ config, enrolment, logger: log, unmaskThreads: 1 });
  onCleanup(() => coordinator.close());
  return { url: coordinator.url, config, dataDir, log, token: coordinator.console.token };
}

describe('a DP task in real rounds', () => {
  it('runs its rounds; the applied mean is within the noise band of the plaintext mean; the audit log, the coordinator and every shop agree on ε', async () => {
    const ids = [generateIdentity(), generateIdentity(), generateIdentity()];
    const rounds = 2;
    const target = 1000; // little noise, so that the band (≈ 0.003) is far narrower than the step
    const c = await startDpCoordinator(ids, dpTask('dp-task', rounds, target));
    const plan = dpPlanOf(c.config.task)!;
    expect(plan.localSigma2).toBeGreaterThan(0);
    const policy: Policy = { ...POLICY, tasks: ['dp-task'], maxEpsilon: 1e5, delta: DELTA, requireDp: true };
    const dirs = await Promise.all(ids.map(() => tempDir()));
    const models: Float32Array[] = [];
    const ledgers = await Promise.all(dirs.map((d) => Ledger.open(d)));
    const nodes = ids.map((k, i) =>
      startNode(c.url, k, {
        trainer,
        policy,
        stateDir: dirs[i]!,
        ledger: ledgers[i]!,
        ...(i === 0 ? { onModel: (m) => void models.push(m.model) } : {}),
      }),
    );
    for (const { node } of nodes) expect(await node.done).toMatchObject({ status: "completed" });

    const { records } = await readAuditLog(join(c.dataDir, 'dp-task', 'audit.jsonl'));
    const committed = records.filter((r) => r.status === 'committed');
    expect(committed).toHaveLength(rounds);
    for (const r of committed) {
      expect(r.contributors).toBe(3);
      expect(r.totalWeight).toBeNull();
      expect(r.dp).toBeDefined();
    }
    const last = committed[rounds - 1]!.dp!;
    // Charged for t = 2 shops' noise per round: the task's target is met exactly as planned.
    expect(last.epsilon).toBeCloseTo(planEpsilon(plan, DELTA, last.roundsCharged), 9);
    expect(last.epsilon).toBeLessThanOrEqual(target);
    // Three survivors' noise is more noise: a smaller ε when all three are honest.
    expect(last.epsilonSurvivors).toBeLessThan(last.epsilon);
    expect(c.log.lines.some((l) => /privacy spent ε = [0-9.]+ this round .* over 2 rounds at δ = 0\.000001/.test(l)), c.log.lines.join('\n')).toBe(true);

    // The console shows the target and each round's spend.
    const snap = (await (await fetch(`${c.url.replace(/^ws/, 'http')}/api/state`, { headers: { authorization: `Bearer ${c.token}` } })).json()) as ConsoleSnapshot;
    expect(snap.task.dp).toMatchObject({ mechanism: 'ddgauss', epsilon: target, delta: DELTA, noiseMultiplier: plan.noiseMultiplier });
    expect(snap.history.filter((h) => h.status === 'committed').map((h) => h.dp?.epsilon)).toEqual(committed.map((r) => r.dp!.epsilon));

    // FedAvg applies the unweighted DP mean: Σ clip(δ)/3 + noise. Each coordinate of the
    // mean has noise of standard deviation √(3σ²)/scale/3 and rounding below √D/scale.
    const sd = Math.sqrt(3 * plan.localSigma2) / plan.scale / 3;
    const tol = 6 * sd + Math.sqrt(plan.paddedLength) / plan.scale;
    const finalModel = models.at(-1)!;
    expect(Math.SQRT2 * tol).toBeLessThan(STEP / 2);
    for (const w of finalModel) expect(Math.abs(w - rounds * STEP)).toBeLessThanOrEqual(Math.SQRT2 * tol);
    // ...and it is not the plaintext mean to the bit: noise was added.
    expect(finalModel.some((w) => Math.abs(w - rounds * STEP) > 1e-7)).toBe(true);

    // Each shop charged its own budget, by its own accountant, the same ε the audit reports.
    for (const dir of dirs) {
      const spent = new DpBudgetStore(dir).load();
      expect(spent.rounds).toBe(rounds);
      const { entries } = await readLedger(join(dir, LEDGER_FILE));
      const results = entries.filter((e) => e.type === 'result' && e.status === 'committed');
      expect(results).toHaveLength(rounds);
      const note = (results.at(-1) as { dpBudget: { spent: number; remaining: number; epsilonRound: number; delta: number } }).dpBudget;
      expect(note.spent).toBeCloseTo(last.epsilon, 9);
      expect(note.remaining).toBeCloseTo(1e5 - last.epsilon, 9);
      expect(note.epsilonRound).toBeCloseTo(last.epsilonRound, 9);
      expect(note.delta).toBe(DELTA);
      // `tally ledger` says it in words.
      const summary = summariseLedger(entries);
      expect(summary.dpBudget?.roundsCharged).toBe(rounds);
      expect(ledgerLines(summary).join('\n')).toMatch(/Privacy budget \(differential privacy, at δ = 0\.000001\): ε = [0-9.e+]+ spent over 2 rounds \(the last cost [0-9.e+]+\), [0-9.e+]+ left of policy\.maxEpsilon 100000\./);
    }
  });

  it('a shop refuses the round that would pass its budget; the budget survives a restart and spans two tasks', async () => {
    const ids = [generateIdentity(), generateIdentity(), generateIdentity()];
    const dirs = await Promise.all(ids.map(() => tempDir()));
    const a = await startDpCoordinator(ids, dpTask('task-a', 1, 4));
    const plan = dpPlanOf(a.config.task)!;
    // One round fits, a second (same parameters) does not.
    const one = planEpsilon(plan, DELTA, 1);
    const two = planEpsilon(plan, DELTA, 2);
    expect(two).toBeGreaterThan(one);
    const maxEpsilon = (one + two) / 2;
    const policy: Policy = { ...POLICY, tasks: ['task-a', 'task-b'], maxEpsilon, delta: DELTA };
    const first = ids.map((k, i) => startNode(a.url, k, { trainer, policy, stateDir: dirs[i]! }));
    for (const { node } of first) expect((await node.done).status).toBe('completed');
    for (const dir of dirs) expect(new DpBudgetStore(dir).load().rounds).toBe(1);
    for (const { node } of first) await node.close(); // the shops restart

    const b = await startDpCoordinator(ids, dpTask('task-b', 1, 4));
    const second = await Promise.all(
      ids.map(async (k, i) => {
        const ledger = await Ledger.open(dirs[i]!);
        return startNode(b.url, k, { trainer, policy, stateDir: dirs[i]!, ledger });
      }),
    );
    for (const { node, log } of second) {
      const r = await node.done;
      expect(r.status).toBe('completed');
      expect(r.reason).toMatch(/privacy budget spent: .*past policy\.maxEpsilon/);
      expect(log.lines.some((l) => /refused round 1 of task task-b: .*\(policy\.maxEpsilon\)/.test(l))).toBe(true);
      expect(node.stats().roundsContributed).toBe(1); // task-a's round, remembered across the restart
    }
    for (const dir of dirs) {
      expect(new DpBudgetStore(dir).load().rounds).toBe(1);
      const { entries } = await readLedger(join(dir, LEDGER_FILE));
      expect(entries.some((e) => e.type === 'offer' && e.decision === 'refused' && e.rule === 'maxEpsilon')).toBe(true);
      expect(entries.some((e) => e.type === 'sent' && e.message === 'MaskedInput')).toBe(false);
    }
    await b.log.waitFor(/declined: DECLINE_DP_BUDGET/);
    // The budget file is plain, durable JSON in the state folder.
    const file = JSON.parse(readFileSync(join(dirs[0]!, DP_BUDGET_FILE), 'utf8')) as { rounds: number; rdp: unknown[] };
    expect(file.rounds).toBe(1);
  });
});

describe('consent checked at authentication (exit 2 for what no round can fix)', () => {
  it('policy.requireDp refuses a task without DP', async () => {
    const s = await startTestCoordinator({ n: 2 });
    const { node } = startNode(s.coordinator.url, s.ids[0]!, { policy: { ...POLICY, requireDp: true } });
    const r = await node.done;
    expect(r.status).toBe('incompatible');
    expect(r.reason).toMatch(/runs without differential privacy, and this shop requires it \(policy\.requireDp\)/);
  });

  it('one round dearer than the whole budget: incompatible, naming policy.maxEpsilon', async () => {
    const ids = [generateIdentity(), generateIdentity(), generateIdentity()];
    const c = await startDpCoordinator(ids, dpTask('dp-task', 2, 4));
    const { node } = startNode(c.url, ids[0]!, { trainer, policy: { ...POLICY, tasks: ['dp-task'], maxEpsilon: 0.01, delta: DELTA } });
    const r = await node.done;
    expect(r.status).toBe('incompatible');
    expect(r.reason).toMatch(/one round of task dp-task costs ε = .* more than this shop's whole budget \(policy\.maxEpsilon 0\.01\)/);
  });
});
