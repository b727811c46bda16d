import { describe, expect, it } from 'vitest';
import { planEpsilon } from '@tally/secagg';
import { ConfigError } from './_assert.ts';
import { dpPlanOf, parseCoordinatorConfig } from './config.ts';

/** A valid DP task: 10 shops, threshold 6, no metrics. */
function dpConfig(task: Record<string, unknown> = {}, dp: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task: {
      id: 'demand-v1',
      modelLength: 1000,
      rounds: 20,
      cohortSize: 10,
      minClients: 8,
      threshold: 6,
      quant: { clipNorm: 1, weightBound: 1000, metricBound: 10 },
      dp: { mechanism: 'ddgauss', epsilon: 8, delta: 1e-6, ...dp },
      ...task,
    },
  };
}

function refusal(json: unknown): ConfigError {
  try {
    parseCoordinatorConfig(json, '/srv');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('task.dp', () => {
  it('plans at start-up for the threshold, the cohort and the rounds, and meets the target', () => {
    const c = parseCoordinatorConfig(dpConfig(), '/srv');
    expect(c.task.dp).toMatchObject({ mechanism: 'ddgauss', epsilon: 8, delta: 1e-6, wrapProbability: 1e-9 });
    const plan = dpPlanOf(c.task)!;
    expect(plan).toMatchObject({ minSurvivors: 6, cohortSize: 10, clipNorm: 1, modelLength: 1000, paddedLength: 1024, vectorLength: 1025 });
    expect(plan.noiseMultiplier).toBe(c.task.dp!.noiseMultiplier);
    expect(planEpsilon(plan, 1e-6, 20)).toBeLessThanOrEqual(8);
    expect(planEpsilon(plan, 1e-6, 20)).toBeGreaterThan(7.9);
  });

  it('absent: no plan (the plain secure sum)', () => {
    const json = dpConfig();
    delete (json['task'] as Record<string, unknown>)['dp'];
    expect(dpPlanOf(parseCoordinatorConfig(json, '/srv').task)).toBeNull();
  });

  it.each([
    ['task.dp.mechanism', dpConfig({}, { mechanism: 'laplace' }), /expected one of "ddgauss"/],
    ['task.dp.epsilon', dpConfig({}, { epsilon: 0 }), /expected a finite number > 0/],
    ['task.dp.delta', dpConfig({}, { delta: 1 }), /expected a number in \(0, 1\), got 1/],
    ['task.dp.beta', dpConfig({}, { beta: 0 }), /expected a number in \(0, 1\)/],
    ['task.dp.wrapProbability', dpConfig({}, { wrapProbability: -1 }), /expected a number in \(0, 1\)/],
    ['task.dp.sigma', dpConfig({}, { sigma: 3 }), /unknown|unexpected/],
    ['task.threshold', dpConfig({ threshold: undefined }), /expected a fixed threshold with task\.dp .*got nothing/],
    ['task.metrics', dpConfig({ metrics: ['loss'] }), /expected no metrics with task\.dp .*remove task\.metrics/],
  ])('%s: refused with the field, what was expected and what was found', (field, json, message) => {
    const err = refusal(json);
    expect(err.message.startsWith(`${field}:`), err.message).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('a plan whose bits do not fit the ring is refused, naming the knobs', () => {
    // ε tiny over many rounds: the noise multiplier is so large that noise alone overflows 32 bits.
    const err = refusal(dpConfig({ modelLength: 100_000, rounds: 10_000, cohortSize: 1000, minClients: 700, threshold: 600 }, { epsilon: 0.001 }));
    expect(err.message).toMatch(/^task\.dp: expected a plan that fits the 32-bit ring for ε = 0\.001/);
    expect(err.message).toMatch(/lower noiseMultiplier .* or cohortSize/);
    expect(err.message).toMatch(/task\.dp\.epsilon/);
  });
});
