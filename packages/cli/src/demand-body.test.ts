/**
 * `"federated": "body"` end to end over loopback (issue #11): a real coordinator
 * (sized and initialised by the CLI's task-model.ts) and three demand shops (the CLI's
 * demand trainer, each with its own state folder) run two secure-aggregation rounds.
 * Only the body travels: the offer's vector, every committed model and everything the
 * coordinator stores has the body's length; each shop's head stays in its state folder
 * (and nowhere in the coordinator's), survives a restart of the trainer, and the model
 * each shop saves, which `tally forecast` reads, is the shared body with its own head.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger as silentClientLogger, startClientNode, type Trainer } from '@tally/client';
import { parseCoordinatorConfig, parseEnrolment, silentLogger, startCoordinator } from '@tally/coordinator';
import { generateIdentity, toHex } from '@tally/secagg';
import { forecastCommand } from './commands/forecast.ts';
import type { Io } from './io.ts';
import { declaredInitialModel, resolveTaskModel } from './task-model.ts';
import { buildTrainer, parseTrainerConfig } from './trainer-config.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-cli-body-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SHOPS = 3;
const MODEL = { kind: 'demand', products: ['bread', 'milk'], hidden: [6, 4], holidays: [], federated: 'body' };

/** 70 days of a shop's sales: its own level and weekly peak, so heads have something of their own to learn. */
function salesCsv(shop: number): string {
  const lines = ['day,item,qty'];
  for (let d = 0; d < 70; d++) {
    const iso = new Date(Date.UTC(2025, 0, 1 + d)).toISOString().slice(0, 10);
    lines.push(`${iso},bread,${5 + 6 * shop + (d % 7 === (2 * shop) % 7 ? 8 : 0) + ((d * 7) % 5)}`, `${iso},milk,${2 + shop + ((d * 11) % 4)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every float32 of `v`, little-endian, as 4-byte needles. */
function needles(v: Float32Array): Buffer[] {
  return Array.from(v, (x) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    return b;
  });
}

async function filesUnder(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

it('only the body travels through secure aggregation; each shop keeps, saves and forecasts with its own head', async () => {
  const demand = await import('@tally/demand');
  const spec = demand.parseDemandSpec(MODEL);
  const bodyLength = demand.demandFederatedCount(spec);
  const headLength = demand.demandHeadCount(spec);
  expect(bodyLength + headLength).toBe(demand.demandWeightCount(spec));

  // The coordinator's config, sized by the CLI: modelLength is the body's.
  const dataDir = join(dir, 'coordinator');
  const json = {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    task: {
      id: 'body-task',
      model: MODEL,
      rounds: 2,
      cohortSize: SHOPS,
      minClients: SHOPS,
      dropoutTolerance: 0,
      corruptFraction: 0,
      graph: 'complete',
      quant: { clipNorm: 5, weightBound: 1000, metricBound: 100 },
      metrics: ['loss_before', 'loss_after'],
      strategy: { name: 'fedavg' },
    },
  };
  resolveTaskModel(json, 'coordinator.json');
  expect((json.task as Record<string, unknown>)['modelLength']).toBe(bodyLength);
  const config = parseCoordinatorConfig(json, dir);
  const initialModel = (await declaredInitialModel(config.task.modelSpec))!;
  expect(initialModel.length).toBe(bodyLength);

  const identities = Array.from({ length: SHOPS }, () => generateIdentity());
  const enrolment = parseEnrolment({ clients: identities.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) }, 'test');
  const coordinator = await startCoordinator({ config, enrolment, logger: silentLogger, initialModel, unmaskThreads: 1 });
  const committed: Float32Array[] = [];
  coordinator.on((e) => {
    if (e.type === 'round' && e.model !== null) committed.push(e.model);
  });

  const shops = await Promise.all(
    identities.map(async (_, i) => {
      const shopDir = join(dir, `shop-${i + 1}`);
      const sales = join(shopDir, 'sales.csv');
      await rm(shopDir, { recursive: true, force: true });
      await mkdir(shopDir, { recursive: true });
      await writeFile(sales, salesCsv(i));
      const stateDir = join(shopDir, 'state');
      const trainerConfig = parseTrainerConfig({ kind: 'demand', sales: 'sales.csv', columns: { date: 'day', product: 'item', units: 'qty' }, epochs: 1 }, shopDir);
      const built = await buildTrainer(trainerConfig, 'trainer', () => {}, shopDir, stateDir);
      return { shopDir, sales, stateDir, built, offered: [] as number[], sent: [] as number[] };
    }),
  );
  // Saves one after another, as `tally client` runs them.
  let saving: Promise<unknown> = Promise.resolve();
  const nodes = shops.map((s, i) => {
    const inner = s.built.trainer as Trainer & { checkOffer(o: { modelLength: number }): string | null };
    // What the shop is offered and what it hands to the node for masking.
    const trainer: Trainer = {
      checkOffer: (o) => {
        s.offered.push(o.modelLength);
        return inner.checkOffer(o);
      },
      train: async (input) => {
        const out = await inner.train(input);
        s.sent.push(out.delta.length);
        return out;
      },
    };
    return startClientNode({
      url: coordinator.url,
      identity: identities[i]!,
      trainer,
      policy: { tasks: ['body-task'], minCohort: SHOPS, minThreshold: 2, maxRounds: 10 },
      logger: silentClientLogger,
      enrolled: new Map(identities.map((k, j) => [j + 1, k.publicKey])),
      onModel: (m) => {
        saving = saving.then(() => s.built.saveModel(join(s.shopDir, 'model'), m.model, { taskId: m.taskId, round: m.round, final: m.final }));
      },
    });
  });
  const summary = await coordinator.done;
  // Each node ends when it has the task's final model (as `tally client` does).
  const ends = await Promise.all(nodes.map((n) => n.done));
  expect(ends.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
  await Promise.all(nodes.map((n) => n.close()));
  await coordinator.close();
  await saving;

  expect(summary.finished).toBe(true);
  // The vector offered, masked, summed and stored is the body alone.
  for (const s of shops) {
    expect(s.offered.length).toBeGreaterThan(0);
    expect(new Set(s.offered)).toEqual(new Set([bodyLength]));
    expect(s.sent).toEqual([bodyLength, bodyLength]);
  }
  expect(committed.map((m) => m.length)).toEqual([bodyLength, bodyLength]);
  expect(summary.model.length).toBe(bodyLength);

  // Each shop's head: saved in its state folder, its own (no two alike), moved away from the initial head by training.
  const heads = await Promise.all(shops.map(async (s) => (await demand.loadHead(s.stateDir, 'body-task', spec))));
  const start = demand.initialHead(spec);
  for (const h of heads) {
    expect(h.restored).toBe(true);
    expect(h.head.length).toBe(headLength);
    expect(Array.from(h.head)).not.toEqual(Array.from(start));
  }
  expect(Array.from(heads[0]!.head)).not.toEqual(Array.from(heads[1]!.head));
  // No head value is anywhere in what the coordinator stored (checkpoints, audit log, its state).
  const stored = await Promise.all((await filesUnder(dataDir)).map((f) => readFile(f)));
  // The search can see a stored model: the committed body's bytes are there.
  expect(stored.some((bytes) => bytes.includes(Buffer.concat(needles(summary.model.subarray(0, 8)))))).toBe(true);
  for (const h of heads) {
    for (const needle of needles(h.head)) for (const bytes of stored) expect(bytes.includes(needle)).toBe(false);
  }

  // The model each shop saved (and forecasts with) is the final body with its own head; the choice of its own model too.
  /** A saved TF.js model's weights: weights.bin is float32 little-endian, layer by layer (kernel, bias), as flattenWeights orders them. */
  const savedWeights = async (d: string): Promise<Float32Array> => {
    const b = await readFile(join(d, 'weights.bin'));
    return Float32Array.from({ length: b.length / 4 }, (_, k) => b.readFloatLE(4 * k));
  };
  for (const [i, s] of shops.entries()) {
    const w = await savedWeights(join(s.shopDir, 'model'));
    expect(Array.from(w.subarray(0, bodyLength))).toEqual(Array.from(summary.model));
    expect(Array.from(w.subarray(bodyLength))).toEqual(Array.from(heads[i]!.head));
    expect(JSON.parse(await readFile(join(s.shopDir, 'model', 'spec.json'), 'utf8'))).toMatchObject({ federated: 'body' });
    expect((await stat(join(s.shopDir, 'model', 'personal.json'))).isFile()).toBe(true);
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: () => {}, onInterrupt: () => () => {} };
    await forecastCommand({ model: join(s.shopDir, 'model'), sales: s.sales, days: '2', out: join(s.shopDir, 'f.csv') }, io);
    expect(lines[0]).toMatch(/^forecast for 2025-03-12 to 2025-03-13, units per day, from .*; global model of task body-task after round 2 \(final\):$/);
  }

  // A restarted shop (a fresh trainer on the same state folder) trains on with its saved head.
  const s0 = shops[0]!;
  const again = await buildTrainer(parseTrainerConfig({ kind: 'demand', sales: 'sales.csv', columns: { date: 'day', product: 'item', units: 'qty' }, epochs: 1 }, s0.shopDir), 'trainer', () => {}, s0.shopDir, s0.stateDir);
  const t = again.trainer as Trainer & { checkOffer(o: unknown): string | null; dispose(): void };
  expect(t.checkOffer({ taskId: 'body-task', modelSpec: config.task.modelSpec, modelLength: bodyLength })).toBeNull();
  await again.saveModel(join(s0.shopDir, 'again'), summary.model, { taskId: 'body-task', round: 2, final: false });
  const w = await savedWeights(join(s0.shopDir, 'again'));
  expect(Array.from(w.subarray(bodyLength))).toEqual(Array.from(heads[0]!.head));
  const out = await t.train({ taskId: 'body-task', round: 3, weights: summary.model });
  expect(out.delta.length).toBe(bodyLength);
  expect(Array.from((await demand.loadHead(s0.stateDir, 'body-task', spec)).head)).not.toEqual(Array.from(heads[0]!.head));
  t.dispose();
  for (const s of shops) (s.built.trainer as unknown as { dispose(): void }).dispose();
});
