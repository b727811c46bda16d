/**
 * `task.dp`: distributed differential privacy for a task (secagg dp-mechanism.ts, the
 * distributed discrete Gaussian of Kairouz, Liu, Steinke, ICML 2021).
 *
 * ```jsonc
 * "dp": {
 *   "mechanism": "ddgauss",      // required; the only one
 *   "epsilon": 8,                // required; target ε over all task.rounds, at delta
 *   "delta": 1e-6,               // required; in (0, 1)
 *   "beta": 0.0498,              // optional; conditional-rounding β (default e^-3)
 *   "wrapProbability": 1e-9      // optional; chance an honest sum's lane wraps mod 2^32 in a round
 * }
 * ```
 *
 * The clip norm is task.quant.clipNorm. The noise is sized for t = task.threshold
 * survivors (the fewest whose sum can be unmasked), over task.rounds rounds, for a ring
 * that holds task.cohortSize shops: planDpForTarget picks the noise multiplier, and a
 * plan whose bits do not fit is refused with planDp's message naming the knob.
 * A DP task needs a fixed task.threshold (each offer's t must be the one the noise was
 * sized for) and no task.metrics (a metric lane would carry a shop's value without noise).
 */
import { DEFAULT_BETA, DEFAULT_WRAP_PROBABILITY, paddedLength, planDp, planDpForTarget, type DpPlan } from '@tally/secagg';
import { DEFAULT_LIMITS as WIRE_LIMITS, DP_MECHANISMS, type DpMechanism, type DpParams } from '@tally/wire';
import { ConfigError, expectObject, expectOneOf, expectPositive, has } from './_assert.ts';

export interface TaskDpConfig {
  readonly mechanism: DpMechanism;
  readonly epsilon: number;
  readonly delta: number;
  readonly beta: number;
  readonly wrapProbability: number;
  /** z, chosen at start-up so that task.rounds rounds with t survivors each meet (epsilon, delta). */
  readonly noiseMultiplier: number;
}

/** What parseTaskDp reads from the rest of the task. */
export interface DpTaskContext {
  readonly modelLength: number;
  readonly rounds: number;
  readonly cohortSize: number;
  readonly threshold: number | undefined;
  readonly clipNorm: number;
  readonly metrics: readonly string[];
}

function openRate(u: unknown, path: string): number {
  if (typeof u !== 'number' || !Number.isFinite(u) || u <= 0 || u >= 1) {
    throw new ConfigError(path, `expected a number in (0, 1), got ${JSON.stringify(u)}`);
  }
  return u;
}

/** Validates `task.dp` and plans it; throws ConfigError naming the field. */
export function parseTaskDp(u: unknown, t: DpTaskContext): TaskDpConfig {
  const o = expectObject(u, 'task.dp', ['mechanism', 'epsilon', 'delta'], ['beta', 'wrapProbability']);
  const mechanism = expectOneOf(o['mechanism'], 'task.dp.mechanism', DP_MECHANISMS);
  const epsilon = expectPositive(o['epsilon'], 'task.dp.epsilon');
  const delta = openRate(o['delta'], 'task.dp.delta');
  const beta = has(o, 'beta') ? openRate(o['beta'], 'task.dp.beta') : DEFAULT_BETA;
  const wrapProbability = has(o, 'wrapProbability') ? openRate(o['wrapProbability'], 'task.dp.wrapProbability') : DEFAULT_WRAP_PROBABILITY;
  if (t.threshold === undefined) {
    throw new ConfigError('task.threshold', 'expected a fixed threshold with task.dp (the noise is sized for t survivors, so every round must use the same t), got nothing');
  }
  if (t.metrics.length > 0) {
    throw new ConfigError('task.metrics', `expected no metrics with task.dp (a metric lane would carry each shop's value without noise), got ${t.metrics.length}: remove task.metrics`);
  }
  const lanes = paddedLength(t.modelLength) + 1;
  if (lanes > WIRE_LIMITS.maxVectorLength) {
    throw new ConfigError('task.modelLength', `expected a model whose DP vector (padded to a power of two, ${lanes} lanes) fits the wire's ${WIRE_LIMITS.maxVectorLength} lanes, got ${t.modelLength} weights`);
  }
  let plan: DpPlan;
  try {
    plan = planDpForTarget({ clipNorm: t.clipNorm, cohortSize: t.cohortSize, minSurvivors: t.threshold, beta, wrapProbability }, t.modelLength, { epsilon, delta, rounds: t.rounds });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      'task.dp',
      `expected a plan that fits the 32-bit ring for ε = ${epsilon} at δ = ${delta} over task.rounds = ${t.rounds} rounds (noise for task.threshold = ${t.threshold} survivors, ring for task.cohortSize = ${t.cohortSize}), got: ${why} (the noise multiplier follows from task.dp.epsilon and task.rounds: a larger ε or fewer rounds means less noise)`,
      { cause: err },
    );
  }
  return { mechanism, epsilon, delta, beta, wrapProbability, noiseMultiplier: plan.noiseMultiplier };
}

/** The DP plan every round of a DP task uses (the config was validated, so this does not throw). */
export function dpPlanFor(dp: TaskDpConfig, t: Omit<DpTaskContext, 'metrics' | 'rounds'> & { readonly threshold: number }): DpPlan {
  return planDp(
    { clipNorm: t.clipNorm, cohortSize: t.cohortSize, minSurvivors: t.threshold, noiseMultiplier: dp.noiseMultiplier, beta: dp.beta, wrapProbability: dp.wrapProbability },
    t.modelLength,
  );
}

/** TaskOffer.dp / TaskDescriptor.dp: the public parameters a client re-derives the plan from. */
export function dpParamsOf(dp: TaskDpConfig, plan: DpPlan, rounds: number): DpParams {
  return {
    mechanism: dp.mechanism,
    noiseMultiplier: plan.noiseMultiplier,
    clipNorm: plan.clipNorm,
    minSurvivors: plan.minSurvivors,
    cohortSize: plan.cohortSize,
    beta: plan.beta,
    wrapProbability: plan.wrapProbability,
    epsilon: dp.epsilon,
    delta: dp.delta,
    rounds,
  };
}
