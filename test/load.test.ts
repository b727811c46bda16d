/**
 * The load run at CI size: one coordinator, 30 real client nodes in two child
 * processes, a model of 10 000 weights, SecAgg+ on the Harary graph, all over
 * 127.0.0.1. It checks that the round commits with every client and that the model
 * is fedavg of the plain updates within the quantisation bound. Times and memory
 * are printed, never asserted (speed and size live in `pnpm load`; see
 * load-harness.ts for what is measured).
 */
import { describe, expect, it } from 'vitest';
import { formatLoad, runLoad } from './load-harness.ts';

describe('load (CI size)', () => {
  it('30 clients, 10 000 weights, Harary graph: the round commits with all 30 and the model is exact', async () => {
    const r = await runLoad({ clients: 30, modelLength: 10_000, hosts: 2, graph: 'harary', retainedEveryMs: 0 });
    console.info(formatLoad(r));
    expect(r.rounds).toHaveLength(1);
    expect(r.rounds[0]!.contributors).toBe(30);
    // SecAgg+ proper: a sparse graph (chooseParams for n = 30 at the default rates), t > k/2.
    expect(r.degree).toBeLessThan(29);
    expect(2 * r.threshold!).toBeGreaterThan(r.degree!);
    expect(r.error.worst).toBeLessThanOrEqual(r.error.bound);
    expect(r.memory.samples).toBeGreaterThan(0);
  });
});
