/**
 * The multi-seed report: the in-process experiment for several data seeds, then one
 * table of every arm's median, pooled and worst-shop WAPE, median MASE, the shop
 * groups and the targets, as mean ± standard deviation [min, max] over the seeds.
 *
 *   tsx src/seeds.ts run --seeds 1,2,3 --out runs-a.json [--small]
 *   tsx src/seeds.ts table runs-a.json runs-b.json > seeds.md
 *
 * `run` can be split over processes (each writes its own JSON); `table` combines them.
 * `--small` is the lighter configuration the README's multi-seed table was run with
 * (fewer catalogue products, fewer epochs at most); it is printed in the table.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DemandConfigInput } from './config.ts';
import { METHODS, type Method } from './evaluate.ts';
import { runExperiment } from './experiment.ts';
import { groupSummaries, GROUPS } from './groups.ts';
import { checkTargets, NEW_SHOP_DAYS } from './targets.ts';
import { intermittency } from './data.ts';

/** The lighter configuration for multi-seed runs on a shared 2-core machine. */
export const SMALL_RUN: DemandConfigInput = {
  data: { products: 16 },
  // Batch 256 with the learning rate doubled (the linear scaling rule, Goyal et al. 2017): half the steps, the same for every arm.
  training: { rounds: 10, roundPatience: 3, batchSize: 256, learningRate: 0.004 },
  baselines: { maxEpochs: 20, patience: 3 },
  backend: 'wasm',
};

export interface SeedRun {
  readonly seed: number;
  readonly config: DemandConfigInput;
  readonly intermittency: ReturnType<typeof intermittency>;
  readonly bestRound: number;
  readonly summary: Record<string, unknown>;
  readonly shops: readonly { shopId: string; historyDays: number; testUnitsPerDay: number; wape: Partial<Record<Method, number>>; choice: string }[];
  readonly groups: ReturnType<typeof groupSummaries>;
  readonly targets: ReturnType<typeof checkTargets>;
  readonly seconds: number;
}

async function run(seeds: readonly number[], out: string, small: boolean): Promise<void> {
  const runs: SeedRun[] = [];
  for (const seed of seeds) {
    const config: DemandConfigInput = { ...(small ? SMALL_RUN : { backend: 'wasm' }), data: { ...(small ? SMALL_RUN.data : {}), seed } };
    const r = await runExperiment(config, { logger: { info: (m) => console.error(`[seed ${seed}] ${m}`), warn: (m) => console.error(m) } });
    try {
      const e = r.evaluation;
      runs.push({
        seed,
        config,
        intermittency: intermittency(r.prepared.data),
        bestRound: r.bestRound,
        summary: e.summary as unknown as Record<string, unknown>,
        shops: e.shops.map((s, i) => ({
          shopId: s.shopId,
          historyDays: s.historyDays,
          testUnitsPerDay: s.testUnitsPerDay,
          wape: Object.fromEntries(Object.entries(s.metrics).map(([m, v]) => [m, v.wape])),
          choice: r.arms.choices[i]?.final ?? 'n/a',
        })),
        groups: groupSummaries(e),
        targets: checkTargets(e),
        seconds: r.timings.totalSeconds,
      });
    } finally {
      r.prepared.dispose();
    }
    await writeFile(out, JSON.stringify(runs, null, 1) + '\n');
    console.error(`[seed ${seed}] done in ${runs.at(-1)?.seconds.toFixed(0)} s; wrote ${out}`);
  }
}

function stats(values: readonly number[]): string {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return 'n/a';
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1));
  return `${(mean * 100).toFixed(1)} ± ${(sd * 100).toFixed(1)} [${(Math.min(...v) * 100).toFixed(1)}, ${(Math.max(...v) * 100).toFixed(1)}]`;
}

function statsPlain(values: readonly number[]): string {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return 'n/a';
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1));
  return `${mean.toFixed(2)} ± ${sd.toFixed(2)}`;
}

export function seedTable(runs: readonly SeedRun[]): string {
  const methods = METHODS.filter((m) => runs.every((r) => (r.summary['methods'] as string[]).includes(m)));
  const pick = (key: string, m: Method): number[] => runs.map((r) => (r.summary[key] as Record<string, number>)[m] ?? Number.NaN);
  const L: string[] = [];
  L.push(`Seeds ${runs.map((r) => r.seed).join(', ')}; cells: mean ± sd [min, max] over the seeds, WAPE in %.`, '');
  L.push(`Configuration overrides: \`${JSON.stringify(runs[0]?.config ?? {})}\` (seed aside).`, '');
  L.push(`| | ${methods.join(' | ')} |`, `| --- | ${methods.map(() => '---:').join(' | ')} |`);
  L.push(`| median shop WAPE | ${methods.map((m) => stats(pick('medianWape', m))).join(' | ')} |`);
  L.push(`| pooled WAPE | ${methods.map((m) => stats(pick('pooledWape', m))).join(' | ')} |`);
  L.push(`| worst shop WAPE | ${methods.map((m) => stats(pick('worstWape', m))).join(' | ')} |`);
  L.push(`| median shop MASE | ${methods.map((m) => statsPlain(pick('medianMase', m))).join(' | ')} |`);
  const above = (m: Method): number[] => runs.map((r) => ((r.summary['medianWape'] as Record<string, number>)[m] ?? NaN) - ((r.summary['medianWape'] as Record<string, number>)['oracle'] ?? NaN));
  L.push(`| median WAPE above the noise floor | ${methods.map((m) => stats(above(m))).join(' | ')} |`);
  L.push('', `### By shop group (median WAPE in the group; new: < ${NEW_SHOP_DAYS} days of history; small: below the median shop's units per day)`, '');
  L.push(`| group | shops per seed | ${methods.join(' | ')} | mean gain of chosen over local (pt) | shops worse than local (sum over seeds) |`);
  L.push(`| --- | ---: | ${methods.map(() => '---:').join(' | ')} | ---: | ---: |`);
  for (const g of GROUPS) {
    const gs = runs.map((r) => r.groups.find((x) => x.group === g)!);
    L.push(
      `| ${g} | ${gs.map((x) => x.shops.length).join('/')} | ${methods.map((m) => stats(gs.map((x) => x.medianWape[m] ?? NaN))).join(' | ')} | ` +
        `${stats(gs.map((x) => x.meanGainOverLocal))} | ${gs.reduce((n, x) => n + x.worseThanLocal, 0)} |`,
    );
  }
  L.push('', '### Targets per seed', '', `| seed | ${runs[0]?.targets.map((t) => t.target).join(' | ')} | kept round | forecasts used (global/fine-tuned/local/blend) | zero share (slow half) | seconds |`);
  L.push(`| ---: | ${runs[0]?.targets.map(() => '---').join(' | ')} | ---: | --- | ---: | ---: |`);
  for (const r of runs) {
    const n = (c: string): number => r.shops.filter((s) => s.choice === c).length;
    L.push(
      `| ${r.seed} | ${r.targets.map((t) => `${t.holds === null ? 'n/a' : t.holds ? 'holds' : '**no**'}: ${t.detail}`).join(' | ')} | ${r.bestRound} | ` +
        `${n('global')}/${n('finetuned')}/${n('local')}/${n('blend')} | ${(r.intermittency.zeroShare * 100).toFixed(0)}% (${(r.intermittency.slowZeroShare * 100).toFixed(0)}%) | ${r.seconds.toFixed(0)} |`,
    );
  }
  return L.join('\n') + '\n';
}

// Run as a script only (choice-study.ts imports SMALL_RUN from here).
const main = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
const argv = main ? process.argv.slice(2) : [];
const [command, ...rest] = argv[0] === '--' ? argv.slice(1) : argv;
if (command === 'run') {
  const { values } = parseArgs({ args: rest, options: { seeds: { type: 'string', default: '1,2,3,4,5' }, out: { type: 'string', default: 'seeds.json' }, small: { type: 'boolean', default: false } } });
  await run(values.seeds.split(',').map(Number), values.out, values.small);
} else if (command === 'table') {
  const runs: SeedRun[] = [];
  for (const f of rest) runs.push(...(JSON.parse(await readFile(f, 'utf8')) as SeedRun[]));
  runs.sort((a, b) => a.seed - b.seed);
  process.stdout.write(seedTable(runs));
} else if (command !== undefined) {
  console.error('usage: seeds.ts run --seeds 1,2,3 --out FILE [--small] | seeds.ts table FILE…');
  process.exit(2);
}
