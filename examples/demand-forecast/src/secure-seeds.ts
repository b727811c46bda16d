/**
 * The multi-seed table (seeds.ts `seedTable`) for secure runs: reads the report.json of
 * `tally simulate --seed N --out DIR` runs (real coordinator and client nodes over
 * loopback, secure aggregation) and prints the same table as the in-process runs, plus
 * one line per seed on the secure aggregation itself.
 *
 *   pnpm tally simulate --seed 2 --out runs/seed-2      # one per seed
 *   tsx src/secure-seeds.ts runs/seed-1 runs/seed-2 … > secure-seeds.md
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generateSales, intermittency } from './data.ts';
import type { Method } from './evaluate.ts';
import { seedTable, type SeedRun } from './seeds.ts';

interface ReportJson {
  readonly config: { readonly data: Parameters<typeof generateSales>[0] & { readonly seed: number } };
  readonly summary: Record<string, unknown>;
  readonly targets: SeedRun['targets'];
  readonly groups: SeedRun['groups'];
  readonly personalisation: readonly { readonly shopId: string; readonly final: string }[];
  readonly shops: readonly { readonly shopId: string; readonly historyDays: number; readonly testUnitsPerDay: number; readonly metrics: Partial<Record<Method, { readonly wape: number }>> }[];
  readonly simulation: {
    readonly committed: number;
    readonly aborted: number;
    readonly bestRound: number;
    readonly secureCheck: { readonly maxAbsDiff: number; readonly maxBound: number; readonly ok: boolean };
    readonly timings: { readonly totalSeconds: number };
  };
}

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error('usage: secure-seeds.ts DIR… (each the --out folder of one tally simulate run)');
  process.exit(2);
}
const reports = await Promise.all(dirs.map(async (d) => JSON.parse(await readFile(path.join(d, 'report.json'), 'utf8')) as ReportJson));
reports.sort((a, b) => a.config.data.seed - b.config.data.seed);
const runs: SeedRun[] = reports.map((r) => ({
  seed: r.config.data.seed,
  config: { data: { seed: r.config.data.seed } },
  intermittency: intermittency(generateSales(r.config.data)),
  bestRound: r.simulation.bestRound,
  summary: r.summary,
  shops: r.shops.map((s) => ({
    shopId: s.shopId,
    historyDays: s.historyDays,
    testUnitsPerDay: s.testUnitsPerDay,
    wape: Object.fromEntries(Object.entries(s.metrics).map(([m, v]) => [m, v.wape])),
    choice: r.personalisation.find((p) => p.shopId === s.shopId)?.final ?? 'n/a',
  })),
  groups: r.groups,
  targets: r.targets,
  seconds: r.simulation.timings.totalSeconds,
}));
process.stdout.write(seedTable(runs).replace(/^Configuration overrides: .*$/m, 'Configuration: the defaults of `tally simulate` (16 shops, 30 products, 15 secure rounds), `--seed` aside.'));
process.stdout.write('\n### Secure aggregation per seed\n\n| seed | rounds committed / aborted | largest difference, secure vs plaintext | quantisation bound | check |\n| ---: | ---: | ---: | ---: | --- |\n');
for (const r of reports) {
  const c = r.simulation.secureCheck;
  process.stdout.write(`| ${r.config.data.seed} | ${r.simulation.committed} / ${r.simulation.aborted} | ${c.maxAbsDiff.toExponential(2)} | ${c.maxBound.toExponential(2)} | ${c.ok ? 'ok' : '**failed**'} |\n`);
}
