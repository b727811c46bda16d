/**
 * The quickstart as README.md tells it, in one process: three `tally keygen`,
 * the synthetic data, one `tally coordinator` and three `tally client`, over real
 * loopback sockets, with the example's own config files (only the port changes,
 * to a free one). The federated model must find the relation behind the data.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main, type Io } from '@tally/cli';
import { SHOPS, TRUE_MODEL, writeShopData } from './gen-data.ts';

const EXAMPLE = join(import.meta.dirname, '..');

class TestIo implements Io {
  text = '';
  #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  out(t: string): void {
    this.err(t);
  }
  err(t: string): void {
    this.text += `${t}\n`;
    this.#waiters = this.#waiters.filter((w) => {
      const m = this.text.match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  }
  onInterrupt(): () => void {
    return () => {};
  }
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    const m = this.text.match(re);
    return m ? Promise.resolve(m) : new Promise((resolve) => this.#waiters.push({ re, resolve }));
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-quickstart-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('three shops and a coordinator finish the task and find the true model', async () => {
  // Step 1: keys, enrolled with --enrol (README step 1).
  for (const shop of SHOPS) {
    const io = new TestIo();
    expect(await main(['keygen', '--out', join(dir, 'keys', `${shop.name}.json`), '--enrol', join(dir, 'enrolment.json')], io), io.text).toBe(0);
  }
  // Step 2: the data.
  writeShopData(join(dir, 'data'));
  // The example's configs, on a free port.
  const coordinatorConfig = JSON.parse(await readFile(join(EXAMPLE, 'coordinator.json'), 'utf8')) as { listen: { port: number } };
  coordinatorConfig.listen.port = 0;
  await writeFile(join(dir, 'coordinator.json'), JSON.stringify(coordinatorConfig));
  for (const shop of SHOPS) await copyFile(join(EXAMPLE, `${shop.name}.json`), join(dir, `${shop.name}.json`));

  // Step 3: the coordinator, then the shops.
  const coordIo = new TestIo();
  const coordinator = main(['coordinator', '--config', join(dir, 'coordinator.json'), '--exit-on-complete'], coordIo);
  const url = (await Promise.race([coordIo.waitFor(/clients connect to (ws:\/\/\S+)/), coordinator.then(() => null)]))?.[1];
  expect(url, coordIo.text).toBeDefined();
  const clients = SHOPS.map(async (shop) => {
    const path = join(dir, `${shop.name}.json`);
    const config = JSON.parse(await readFile(path, 'utf8')) as { coordinator: string };
    config.coordinator = url!;
    await writeFile(path, JSON.stringify(config));
    const io = new TestIo();
    return { code: await main(['client', '--config', path], io), io };
  });

  const results = await Promise.all(clients);
  for (const r of results) {
    expect(r.code, r.io.text).toBe(0);
    expect(r.io.text).toMatch(/stopped: task complete; contributed to 5 round\(s\), 5 committed/);
  }
  expect(await coordinator, coordIo.text).toBe(0);
  expect(coordIo.text).toMatch(/task demand-quickstart: complete at round 5/);

  const model = coordIo.text.match(/final model: \[([^\]]+)\]/)![1]!.split(', ').map(Number);
  const truth = [...TRUE_MODEL.weights, TRUE_MODEL.bias];
  model.forEach((w, i) => expect(Math.abs(w - truth[i]!)).toBeLessThan(0.1));
  // The loss each round reports goes down as the model improves.
  const losses = [...coordIo.text.matchAll(/round \d+ committed: .*loss=([\d.e+-]+)/g)].map((m) => Number(m[1]));
  expect(losses).toHaveLength(5);
  expect(losses.at(-1)!).toBeLessThan(losses[0]! / 10);

  // The console's address and token were printed, and the token is the one in the data folder.
  const link = coordIo.text.match(/console: (http:\/\/127\.0\.0\.1:\d+\/)#token=([A-Za-z0-9_-]+)/);
  expect(link, coordIo.text).not.toBeNull();
  const tokenIo = new TestIo();
  expect(await main(['console-token', '--config', join(dir, 'coordinator.json')], tokenIo)).toBe(0);
  expect(tokenIo.text.split('\n')[0]).toBe(link![2]);

  // Step 4: each shop's ledger, in plain language and as JSON.
  const ledgerIo = new TestIo();
  expect(await main(['ledger', '--config', join(dir, 'shop-a.json')], ledgerIo), ledgerIo.text).toBe(0);
  expect(ledgerIo.text).toContain('You were offered 5 rounds: you accepted 5.');
  expect(ledgerIo.text).toContain('In 5 rounds your sales never left this machine: you sent only masked updates (5 masked vectors');
  expect(ledgerIo.text).toContain('each sum the coordinator learned covered at least 3 shops');
  expect(ledgerIo.text).toContain('You revealed 10 shares (10 self-mask shares of shops that stayed, 0 mask-key shares of shops that dropped), never both shares of one shop.');
  const jsonIo = new TestIo();
  expect(await main(['ledger', '--config', join(dir, 'shop-b.json'), '--json'], jsonIo)).toBe(0);
  expect(JSON.parse(jsonIo.text)).toMatchObject({ roundsContributed: 5, committedWithInput: 5, smallestSum: 3, bothSharesRounds: [], dpBudget: null });
});
