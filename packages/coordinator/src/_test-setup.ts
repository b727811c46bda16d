/**
 * Shared set-up for the coordinator's socket tests: temporary data folders,
 * enrolled identities, a small valid config, and a cleanup list that closes every
 * coordinator and client a test started (call `cleanup()` in afterEach).
 */
import type { KeyPair } from '@tally/secagg';
import { cleanup as cleanupShared, enrolmentJson, identities, tempDir as sharedTempDir, testCoordinatorConfig } from '@tally/test-support';
import { parseCoordinatorConfig } from './config.ts';
import { startCoordinator, type Coordinator } from './coordinator.ts';
import { parseEnrolment, type Enrolment } from './enrolment.ts';
import type { CoordinatorEvent } from './events.ts';
import type { Logger } from './logger.ts';
import { TestClient, type TestClientOptions } from './_test-client.ts';

const coordinators: Coordinator[] = [];
const clients: TestClient[] = [];

export { enrolmentJson, identities };

export function tempDir(): Promise<string> {
  return sharedTempDir('tally-coordinator-');
}

export async function cleanup(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.terminate()));
  await Promise.all(coordinators.splice(0).map((c) => c.close()));
  await cleanupShared();
}

export function enrolmentOf(ids: readonly KeyPair[]): Enrolment {
  return parseEnrolment(enrolmentJson(ids), 'test');
}

/** A valid config JSON for a small task (4 weights, 1 metric, threshold 2, complete graph, 2 rounds of 4). */
export function configJson(task: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return testCoordinatorConfig({ rounds: 2, cohortSize: 4, minClients: 4, threshold: 2, deadlines: { trainMs: 20_000, stageMs: 20_000, retryMs: 0 }, ...task }, rest);
}

export interface Started {
  readonly coordinator: Coordinator;
  readonly ids: KeyPair[];
  readonly dataDir: string;
  readonly events: CoordinatorEvent[];
  readonly lines: string[];
}

/** Starts a coordinator on 127.0.0.1:0 with `n` enrolled identities and a fresh (or given) data folder. */
export async function startTest(opts: {
  n: number;
  task?: Record<string, unknown>;
  rest?: Record<string, unknown>;
  ids?: KeyPair[];
  dataDir?: string;
}): Promise<Started> {
  const dataDir = opts.dataDir ?? (await tempDir());
  const ids = opts.ids ?? identities(opts.n);
  const config = parseCoordinatorConfig(configJson(opts.task, { dataDir, ...opts.rest }), dataDir);
  const lines: string[] = [];
  const logger: Logger = {
    info: (m) => lines.push(`INFO ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  };
  const coordinator = await startCoordinator({ config, logger, enrolment: enrolmentOf(ids), unmaskThreads: 2 });
  coordinators.push(coordinator);
  const events: CoordinatorEvent[] = [];
  coordinator.on((e) => events.push(e));
  return { coordinator, ids, dataDir, events, lines };
}

/** Connects a test client (closed by cleanup()). */
export function connect(opts: TestClientOptions): TestClient {
  const c = new TestClient(opts);
  clients.push(c);
  return c;
}

/** Connects one client per identity and waits until each is welcomed. */
export async function connectAll(url: string, ids: readonly KeyPair[], per?: (i: number) => Partial<TestClientOptions>): Promise<TestClient[]> {
  const cs = ids.map((identity, i) => connect({ url, identity, ...per?.(i) }));
  await Promise.all(cs.map((c) => c.welcome));
  return cs;
}

/** The first event (past or future) matching `pred`. */
export function waitEvent<T extends CoordinatorEvent>(s: Started, pred: (e: CoordinatorEvent) => e is T): Promise<T> {
  const hit = s.events.find(pred);
  if (hit) return Promise.resolve(hit as T);
  return new Promise((resolve) => {
    const off = s.coordinator.on((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}
