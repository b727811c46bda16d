/**
 * Warms a thread's secagg code paths before `bench/round.ts` measures anything: one
 * small in-memory round (simulateRound) compiles the machines, noble's curve
 * tables and the WASM mask accumulator. A long-running node is warm after its first
 * round; without this, a one-round bench would mostly time the JIT at small n.
 * A client thread also starts its mask helper threads here (`maskHelpers`): a node starts
 * them at its first large round and keeps them, so only a node's very first round pays
 * for loading them (under tsx about a second of CPU each, which would land in the
 * measured TaskOffer stage). The coordinator warms its unmask pool itself at start-up.
 */
import { encodeUpdate, maskHelperReady, planQuantization, simulateRound } from '@tally/secagg';

export async function warmUp(o: { maskHelpers?: boolean } = {}): Promise<void> {
  if (o.maskHelpers === true && !(await maskHelperReady())) throw new Error('warm-up: the mask helper threads did not start');
  const plan = planQuantization({ clipNorm: 1, weightBound: 10, cohortSize: 4, fractionalBits: 16, metricCount: 1, metricBound: 10 }, 4096);
  const inputs = Array.from({ length: 4 }, () => encodeUpdate(plan, { delta: new Float32Array(4096).fill(0.001), weight: 1, metrics: [0.5] }).lanes);
  const r = simulateRound({ inputs, threshold: 3 });
  if (r.outcome.kind !== 'ready') throw new Error('warm-up round did not complete');
}
