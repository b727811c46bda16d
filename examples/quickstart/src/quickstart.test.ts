/**
 * The quickstart exactly as README.md tells it, over real loopback sockets and as
 * separate processes: three `tally keygen --enrol`, the three till exports
 * (gen-data.ts), one `tally coordinator` process and three `tally client`
 * processes with the example's own config files (only the port changes, to a free
 * one), then `tally forecast` at one shop. Small on purpose (150 days, 5 rounds,
 * 2 local epochs), so it stays a CI test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main, type Io } from '@tally/cli';
import { PRODUCTS, SHOPS, writeShopData } from './gen-data.ts';

const EXAMPLE = join(import.meta.dirname, '..');
const ROOT = join(EXAMPLE, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const BIN = join(ROOT, 'packages', 'cli', 'src', 'bin.ts');

const quiet: Io = { out: () => {}, err: () => {}, onInterrupt: () => () => {} };

/** An Io that keeps what a command printed (stdout and stderr together). */
function capture(): Io & { text: string } {
  const io = { text: '', out: (t: string) => void (io.text += `${t}\n`), err: (t: string) => void (io.text += `${t}\n`), onInterrupt: () => () => {} };
  return io;
}

interface Proc {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<number | null>;
}

const running: Proc[] = [];

/** `tally ARGS` as its own process (what `pnpm tally ARGS` runs). */
function tally(args: readonly string[]): Proc {
  const child = spawn(TSX, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = {
    child,
    output: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (b: Buffer) => (p.output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (p.output += b.toString()));
  running.push(p);
  return p;
}

/** Resolves with the first match of `re` in the process's output, or null if it exits first. */
function waitFor(p: Proc, re: RegExp): Promise<RegExpMatchArray | null> {
  return new Promise((resolve) => {
    const check = (): void => {
      const m = p.output.match(re);
      if (m) {
        p.child.stderr!.off('data', check);
        resolve(m);
      }
    };
    p.child.stderr!.on('data', check);
    void p.exited.then(() => resolve(p.output.match(re)));
    check();
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-quickstart-'));
});
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill();
  await rm(dir, { recursive: true, force: true });
});

it('three shops train the demand model from their till exports, each gets the final model, and one forecasts its next week', async () => {
  // Step 1: keys, enrolled with --enrol.
  for (const shop of SHOPS) {
    expect(await main(['keygen', '--out', join(dir, 'keys', `${shop.name}.json`), '--enrol', join(dir, 'enrolment.json')], quiet)).toBe(0);
  }
  // Step 2: the shops' sales exports.
  writeShopData(join(dir, 'data'));
  // The example's configs, the coordinator on a free port.
  const coordinatorConfig = JSON.parse(await readFile(join(EXAMPLE, 'coordinator.json'), 'utf8')) as { listen: { port: number } };
  coordinatorConfig.listen.port = 0;
  await writeFile(join(dir, 'coordinator.json'), JSON.stringify(coordinatorConfig));

  // Step 3: the coordinator and three clients, each its own process.
  const coordinator = tally(['coordinator', '--config', join(dir, 'coordinator.json'), '--exit-on-complete']);
  const url = (await waitFor(coordinator, /clients connect to (ws:\/\/\S+)/))?.[1];
  expect(url, coordinator.output).toBeDefined();
  const clients = await Promise.all(
    SHOPS.map(async (shop) => {
      const path = join(dir, `${shop.name}.json`);
      await copyFile(join(EXAMPLE, `${shop.name}.json`), path);
      const config = JSON.parse(await readFile(path, 'utf8')) as { coordinator: string };
      config.coordinator = url!;
      await writeFile(path, JSON.stringify(config));
      return tally(['client', '--config', path]);
    }),
  );
  for (const c of clients) {
    expect(await c.exited, c.output).toBe(0);
    expect(c.output).toMatch(/stopped: task complete; contributed to 5 round\(s\), 5 committed/);
    expect(c.output).toMatch(/saved the final model of round 5 in /);
  }
  expect(await coordinator.exited, coordinator.output).toBe(0);
  expect(coordinator.output).toMatch(/task demand-quickstart: complete at round 5/);

  // What the README says each export shows.
  const [a, b, c] = clients as [Proc, Proc, Proc];
  expect(a.output).not.toMatch(/WARN .*shop-a\.csv:\d+/);
  expect(b.output).toMatch(/delimiter ";", dates DD\.MM\.YYYY/);
  expect(c.output).toMatch(/shop-c\.csv:\d+: units "n\/a" is not a number/);
  expect(c.output).toMatch(/shop-c\.csv:\d+: product "gift card" is not in the task's product list/);
  expect(c.output).toMatch(/shop-c\.csv:\d+: no sales from \S+ to \S+ \(2 day\(s\)/);

  // The federated model learns: the loss of the global model falls round after round.
  const losses = [...coordinator.output.matchAll(/round \d+ committed: .*loss_before=([\d.e+-]+)/g)].map((m) => Number(m[1]));
  expect(losses).toHaveLength(5);
  expect(losses.at(-1)!).toBeLessThan(losses[0]! / 2);

  // Every shop holds the coordinator's final model, bit for bit, with its own normalisation.
  const taskDir = join(dir, '.tally-data', 'demand-quickstart');
  const final = await readFile(join(taskDir, 'final-model', 'weights.bin'));
  const norms = new Set<string>();
  for (const shop of SHOPS) {
    const modelDir = join(dir, 'model', shop.name);
    expect((await readFile(join(modelDir, 'weights.bin'))).equals(final)).toBe(true);
    const modelJson = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')) as { format: string; userDefinedMetadata: { tally: { round: number; final: boolean } } };
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.userDefinedMetadata.tally).toMatchObject({ round: 5, final: true });
    norms.add(JSON.stringify((JSON.parse(await readFile(join(modelDir, 'normalisation.json'), 'utf8')) as { scale: number[] }).scale));
  }
  expect(norms.size).toBe(3);
  // tally export writes the checkpoint's model the same way.
  expect(await main(['export', '--config', join(dir, 'coordinator.json'), '--out', join(dir, 'exported')], quiet)).toBe(0);
  expect((await readFile(join(dir, 'exported', 'weights.bin'))).equals(final)).toBe(true);

  // Step 4: the forecast at shop-a.
  const out = join(dir, 'forecast.csv');
  const forecast = tally(['forecast', '--model', join(dir, 'model', 'shop-a'), '--sales', join(dir, 'data', 'shop-a.csv'), '--days', '7', '--out', out]);
  expect(await forecast.exited, forecast.output).toBe(0);
  expect(forecast.output).toMatch(new RegExp(`date\\s+${PRODUCTS.join('\\s+')}`));
  const rows = (await readFile(out, 'utf8')).trim().split('\n');
  expect(rows[0]).toBe('date,product,units');
  expect(rows).toHaveLength(1 + 7 * PRODUCTS.length);
  // Plausible: each product's forecast week is within a factor 3 of its last four weeks' mean.
  const sales = (await readFile(join(dir, 'data', 'shop-a.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
  const lastDate = sales.at(-1)![0]!;
  const since = new Date(Date.parse(`${lastDate}T00:00:00Z`) - 27 * 86_400_000).toISOString().slice(0, 10);
  for (const product of PRODUCTS) {
    const recent = sales.filter((r) => r[1] === product && r[0]! >= since).reduce((s, r) => s + Number(r[2]), 0) / 28;
    const week = rows.slice(1).map((r) => r.split(',')).filter((r) => r[1] === product).map((r) => Number(r[2]));
    expect(week).toHaveLength(7);
    const mean = week.reduce((s, v) => s + v, 0) / 7;
    expect(mean, `${product}: forecast ${mean}, recent ${recent}`).toBeGreaterThan(recent / 3);
    expect(mean, `${product}: forecast ${mean}, recent ${recent}`).toBeLessThan(recent * 3);
  }
  const svg = await readFile(join(dir, 'forecast.svg'), 'utf8');
  expect(svg).toMatch(/^<svg /);
  for (const product of PRODUCTS) expect(svg).toContain(`>${product}</text>`);

  // The console's address and token were printed, and the token is the one in the data folder.
  const link = coordinator.output.match(/console: (http:\/\/127\.0\.0\.1:\d+\/)#token=([A-Za-z0-9_-]+)/);
  expect(link, coordinator.output).not.toBeNull();
  const tokenIo = capture();
  expect(await main(['console-token', '--config', join(dir, 'coordinator.json')], tokenIo)).toBe(0);
  expect(tokenIo.text.split('\n')[0]).toBe(link![2]);

  // Step 5: each shop's ledger, in plain language and as JSON.
  const ledgerIo = capture();
  expect(await main(['ledger', '--config', join(dir, 'shop-a.json')], ledgerIo), ledgerIo.text).toBe(0);
  expect(ledgerIo.text).toContain('You were offered 5 rounds: you accepted 5.');
  expect(ledgerIo.text).toContain('In 5 rounds your sales never left this machine: you sent only masked updates (5 masked vectors');
  expect(ledgerIo.text).toContain('each sum the coordinator learned covered at least 3 shops');
  const jsonIo = capture();
  expect(await main(['ledger', '--config', join(dir, 'shop-b.json'), '--json'], jsonIo)).toBe(0);
  expect(JSON.parse(jsonIo.text)).toMatchObject({ roundsContributed: 5, committedWithInput: 5, smallestSum: 3, bothSharesRounds: [], dpBudget: null });
}, 600_000);
