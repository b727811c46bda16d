/** The task id every test coordinator config uses. */
export const TEST_TASK_ID = 'test-task';

/**
 * A valid coordinator config JSON for a small task (4 weights, 1 metric, complete graph,
 * one round of two clients, threshold 1). `task` overrides task fields; `rest` overrides
 * or adds top-level sections (`limits`, `dataDir`, ...).
 */
export function testCoordinatorConfig(task: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    limits: { maxBufferedBytes: 1 << 20 },
    ...rest,
    task: {
      id: TEST_TASK_ID,
      modelLength: 4,
      rounds: 1,
      cohortSize: 2,
      minClients: 2,
      threshold: 1,
      corruptFraction: 0,
      graph: 'complete',
      deadlines: { trainMs: 60_000, stageMs: 60_000, retryMs: 0 },
      quant: { clipNorm: 10, weightBound: 100, fractionalBits: 16, metricBound: 10 },
      metrics: ['loss'],
      strategy: { name: 'fedavg' },
      ...task,
    },
  };
}
