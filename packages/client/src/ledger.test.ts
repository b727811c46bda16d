import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, readLedger } from './ledger.ts';
import { serveLedger, type LedgerPage } from './ledger-page.ts';
import { ledgerLines, summariseLedger } from './ledger-summary.ts';

const dirs: string[] = [];
const pages: LedgerPage[] = [];
afterEach(async () => {
  await Promise.all(pages.splice(0).map((p) => p.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-ledger-'));
  dirs.push(d);
  return d;
}

const head = { session: 'aa', round: 1 };

async function oneRound(ledger: Ledger, reveal: { self: number[]; key: number[] }): Promise<void> {
  await ledger.append({ type: 'offer', ...head, taskId: 't', cohortSize: 3, threshold: 2, modelSha256: 'f'.repeat(64), modelLength: 4, decision: 'accepted', checks: ['tasks'] });
  await ledger.append({ type: 'roundStart', ...head, decision: 'joined', you: 1, rosterSize: 3, threshold: 2, neighbours: [2, 3], activeAdversary: true, checks: ['peers'] });
  await ledger.append({ type: 'sent', ...head, message: 'MaskedInput', bytes: 100, sha256: 'e'.repeat(64), lanes: 20 });
  await ledger.append({ type: 'revealed', ...head, survivors: [1, 2, 3], selfMaskSharesOf: reveal.self, keySharesOf: reveal.key });
  await ledger.append({ type: 'result', ...head, status: 'committed', survivors: 3, inRound: true, dpBudget: null });
}

describe('privacy ledger', () => {
  it('appends one JSON line per entry (mode 0600), and reads them back in order', async () => {
    const d = await dir();
    const ledger = await Ledger.open(join(d, 'state'));
    await oneRound(ledger, { self: [2, 3], key: [] });
    expect((await stat(ledger.path)).mode & 0o777).toBe(0o600);
    const { entries, torn } = await readLedger(ledger.path);
    expect(torn).toBe(false);
    expect(entries.map((e) => e.type)).toEqual(['offer', 'roundStart', 'sent', 'revealed', 'result']);
    expect(entries.every((e) => e.v === 1 && !Number.isNaN(Date.parse(e.at)))).toBe(true);
  });

  it('skips a torn last line, and cuts it off before the next append', async () => {
    const d = await dir();
    const ledger = await Ledger.open(d);
    await oneRound(ledger, { self: [2, 3], key: [] });
    await appendFile(ledger.path, '{"type":"sent","sess');
    expect((await readLedger(ledger.path)).torn).toBe(true);
    const again = await Ledger.open(d);
    await again.append({ type: 'result', session: 'bb', round: 2, status: 'aborted', survivors: 0, inRound: false, dpBudget: null });
    const { entries, torn } = await readLedger(again.path);
    expect(torn).toBe(false);
    expect(entries).toHaveLength(6);
    expect((await readFile(again.path, 'utf8')).includes('"sess\n')).toBe(false);
  });

  it('says plainly when both shares of one shop were revealed', async () => {
    const d = await dir();
    const ledger = await Ledger.open(d);
    await oneRound(ledger, { self: [2, 3], key: [3] });
    const s = summariseLedger((await readLedger(ledger.path)).entries);
    expect(s.bothSharesRounds).toEqual([1]);
    expect(ledgerLines(s).join('\n')).toContain('BOTH shares of one shop in round(s) 1: report this');
  });

  it('serves the summary on loopback only, as HTML and JSON', async () => {
    const d = await dir();
    const ledger = await Ledger.open(d);
    await oneRound(ledger, { self: [2, 3], key: [] });
    await expect(serveLedger({ path: ledger.path, host: '0.0.0.0' })).rejects.toThrow(/loopback only/);
    const page = await serveLedger({ path: ledger.path });
    pages.push(page);
    expect(page.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const html = await (await fetch(page.url)).text();
    expect(html).toContain('In 1 round your sales never left this machine');
    const json = (await (await fetch(`${page.url}ledger.json`)).json()) as { roundsContributed: number; smallestSum: number };
    expect(json).toMatchObject({ roundsContributed: 1, smallestSum: 3 });
    expect((await fetch(`${page.url}nope`)).status).toBe(404);
  });
});
