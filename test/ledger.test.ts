/**
 * The shop's privacy ledger against the coordinator's audit log, after a round in
 * which one shop drops between ShareKeys and MaskedInput (so the others reveal its
 * mask-key share): the same survivors, the same revealed shares, no vector bytes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Ledger, ledgerLines, readLedger, summariseLedger, type ClientNode } from '@tally/client';
import { readAuditLog, type CoordinatorEvent } from '@tally/coordinator';
import { cleanup, isCommitted, startNode, startTestCoordinator, tempDir, waitEvent } from './_helpers.ts';

afterEach(cleanup);

const MODEL = 2048;

it('a client ledger after a round with a dropout matches the audit log: survivors, revealed shares, no vector bytes', async () => {
  const s = await startTestCoordinator({
    n: 4,
    task: { modelLength: MODEL, rounds: 1, cohortSize: 4, minClients: 4, threshold: 2 },
  });
  const dirs = await Promise.all(s.ids.map(() => tempDir()));
  const ledgers = await Promise.all(dirs.map((d) => Ledger.open(d)));
  const started = s.ids.map((id, i) => startNode(s.coordinator.url, id, { ledger: ledgers[i]! }));
  const nodes: ClientNode[] = started.map((x) => x.node);
  // Shop 4 leaves as MaskedInput opens: it shared its keys, so the others reveal its mask-key share.
  const off = s.coordinator.on((e: CoordinatorEvent) => {
    if (e.type === 'stage' && e.report.stage === 'ShareKeys') void nodes[3]!.close();
  });
  await waitEvent(s, isCommitted(1));
  off();
  // Each survivor has its RoundResult (the ledger's last entry of the round).
  await Promise.all(started.slice(0, 3).map((x) => x.log.waitFor(/round 1 committed/)));
  await Promise.all(nodes.map((n) => n.close()));
  await Promise.all(ledgers.map((l) => l.flush()));

  const audit = (await readAuditLog(join(s.coordinator.console.tokenFile, '..', 'test-task', 'audit.jsonl'))).records;
  const committed = audit.find((r) => r.status === 'committed')!;
  expect(committed.survivors).toEqual([1, 2, 3]);
  expect(committed.drops['4']).toMatchObject({ stage: 'MaskedInput' });
  expect(committed.revealed).toEqual({ selfMaskOf: [1, 2, 3], maskKeyOf: [4] });

  for (let i = 0; i < 3; i++) {
    const { entries, torn } = await readLedger(ledgers[i]!.path);
    expect(torn).toBe(false);
    const round = entries.filter((e) => e.session === committed.session);
    const start = round.find((e) => e.type === 'roundStart');
    expect(start).toMatchObject({ decision: 'joined', you: i + 1, rosterSize: 4, threshold: 2 });
    const revealed = round.find((e) => e.type === 'revealed');
    expect(revealed?.type).toBe('revealed');
    if (revealed?.type !== 'revealed') return;
    // The same survivors as the audit log.
    expect(revealed.survivors).toEqual(committed.survivors);
    // The same revealed shares: this node's self-mask shares are of the other survivors, its mask-key share of the dropped shop.
    expect(revealed.selfMaskSharesOf).toEqual(committed.revealed.selfMaskOf.filter((id) => id !== i + 1));
    expect(revealed.keySharesOf).toEqual(committed.revealed.maskKeyOf);
    expect(revealed.selfMaskSharesOf.filter((id) => revealed.keySharesOf.includes(id))).toEqual([]);
    // What was sent: the masked input by size and digest only.
    const masked = round.find((e) => e.type === 'sent' && e.message === 'MaskedInput');
    expect(masked).toMatchObject({ lanes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(masked?.type === 'sent' && masked.bytes).toBeGreaterThan(4 * MODEL);
    expect(round.find((e) => e.type === 'result')).toMatchObject({ status: 'committed', survivors: 3, dpBudget: null });
    expect(round.find((e) => e.type === 'offer')).toMatchObject({ decision: 'accepted', checks: ['tasks', 'minCohort', 'minThreshold', 'maxRounds', 'freshSession'], modelSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // No vector bytes: the whole file is smaller than one masked vector, and no string in it is longer than a digest.
    const text = await readFile(ledgers[i]!.path, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThan(4 * MODEL);
    const strings = [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    for (const str of strings) if (/^[A-Za-z0-9+/=_-]+$/.test(str)) expect(str.length, str).toBeLessThanOrEqual(64);
    for (const line of text.trim().split('\n')) {
      for (const v of Object.values(JSON.parse(line) as Record<string, unknown>)) if (Array.isArray(v)) expect(v.length).toBeLessThanOrEqual(8);
    }

    const summary = summariseLedger(entries);
    expect(summary).toMatchObject({ roundsContributed: 1, committedWithInput: 1, smallestSum: 3, selfMaskShares: 2, keyShares: 1, sharesRevealed: 3, bothSharesRounds: [] });
    const lines = ledgerLines(summary).join('\n');
    expect(lines).toContain('In 1 round your sales never left this machine: you sent only masked updates');
    expect(lines).toContain('each sum the coordinator learned covered at least 3 shops');
    expect(lines).toContain('You revealed 3 shares (2 self-mask shares of shops that stayed, 1 mask-key shares of shops that dropped), never both shares of one shop');
  }
});
