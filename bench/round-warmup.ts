/**
 * Warms a thread's secagg code paths before `bench/round.ts` measures anything: one
 * small in-memory round (simulateRound) compiles the machines, noble's curve
 * tables and the WASM mask accumulator. A long-running node is warm after its first
 * round; without this, a one-round bench would mostly time the JIT at small n.
 * What cannot be warmed from outside (the coordinator's unmask pool starts its
 * threads on first use) stays in the measurement.
 */
import { encodeUpdate, planQuantization, simulateRound } from '@tally/secagg';

export function warmUp(): void {
  const plan = planQuantization({ clipNorm: 1, weightBound: 10, cohortSize: 4, fractionalBits: 16, metricCount: 1, metricBound: 10 }, 4096);
  const inputs = Array.from({ length: 4 }, () => encodeUpdate(plan, { delta: new Float32Array(4096).fill(0.001), weight: 1, metrics: [0.5] }).lanes);
  const r = simulateRound({ inputs, threshold: 3 });
  if (r.outcome.kind !== 'ready') throw new Error('warm-up round did not complete');
}
