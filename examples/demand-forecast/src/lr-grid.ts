/**
 * The learning rate, chosen on validation (issue #11): for each rate of a small grid
 * and each tuning seed, the federated rounds (the round kept on pooled validation WAPE,
 * federated.ts) and the local-only models (stopped on validation, baselines.ts), all
 * with the multi-seed configuration (SMALL_RUN of seeds.ts) but that rate. The rate
 * kept is the one with the lowest mean pooled validation WAPE of the federated model
 * over the tuning seeds; every arm then uses it (one optimiser setting for all). The
 * test weeks are never scored here.
 *
 *   tsx src/lr-grid.ts run --seeds 1,2,3,4,5 --rates 0.002,0.004,0.008 --out lr.json
 *   tsx src/lr-grid.ts table lr.json … > lr-grid.md
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { trainLocalOnly, validationWape } from './baselines.ts';
import { runFedAvg } from './federated.ts';
import { prepareShops } from './prepare.ts';
import { SMALL_RUN } from './seeds.ts';

interface GridCell {
  readonly seed: number;
  readonly learningRate: number;
  /** Pooled validation WAPE of the federated model of the kept round, and that round. */
  readonly federated: number;
  readonly keptRound: number;
  /** Pooled validation WAPE of the local-only models. */
  readonly local: number;
  readonly seconds: number;
}

async function runCell(seed: number, learningRate: number): Promise<GridCell> {
  const t0 = performance.now();
  const prepared = await prepareShops({ ...SMALL_RUN, data: { ...SMALL_RUN.data, seed }, training: { ...SMALL_RUN.training, learningRate } });
  try {
    const fed = await runFedAvg(prepared);
    const local = await trainLocalOnly(prepared);
    const scratch = prepared.createModel();
    try {
      return {
        seed,
        learningRate,
        federated: validationWape(scratch, prepared.shops, () => fed.weights),
        keptRound: fed.bestRound,
        local: validationWape(scratch, prepared.shops, (i) => local[i]!.weights),
        seconds: (performance.now() - t0) / 1000,
      };
    } finally {
      scratch.dispose();
    }
  } finally {
    prepared.dispose();
  }
}

/** The rate with the lowest mean federated validation WAPE over the seeds (ties: the smaller rate). */
export function chooseRate(cells: readonly GridCell[]): number {
  const rates = [...new Set(cells.map((c) => c.learningRate))].sort((a, b) => a - b);
  const mean = (r: number): number => {
    const v = cells.filter((c) => c.learningRate === r).map((c) => c.federated);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  return rates.reduce((best, r) => (mean(r) < mean(best) ? r : best), rates[0]!);
}

export function gridTable(cells: readonly GridCell[]): string {
  const rates = [...new Set(cells.map((c) => c.learningRate))].sort((a, b) => a - b);
  const seeds = [...new Set(cells.map((c) => c.seed))].sort((a, b) => a - b);
  const cell = (s: number, r: number): GridCell | undefined => cells.find((c) => c.seed === s && c.learningRate === r);
  const pct = (v: number | undefined): string => (v === undefined ? 'n/a' : (v * 100).toFixed(2));
  const mean = (r: number, k: 'federated' | 'local'): number => {
    const v = cells.filter((c) => c.learningRate === r).map((c) => c[k]);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  const L = [
    `Pooled validation WAPE (%) per tuning seed; federated: the round kept on validation (in brackets); SMALL_RUN otherwise. Chosen: ${chooseRate(cells)}.`,
    '',
    `| learning rate | ${seeds.map((s) => `seed ${s}: federated [round] / local`).join(' | ')} | mean federated | mean local |`,
    `| ---: | ${seeds.map(() => '---').join(' | ')} | ---: | ---: |`,
  ];
  for (const r of rates) {
    L.push(`| ${r} | ${seeds.map((s) => `${pct(cell(s, r)?.federated)} [${cell(s, r)?.keptRound ?? '-'}] / ${pct(cell(s, r)?.local)}`).join(' | ')} | ${pct(mean(r, 'federated'))} | ${pct(mean(r, 'local'))} |`);
  }
  return L.join('\n') + '\n';
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'run') {
  const { values } = parseArgs({ args: rest, options: { seeds: { type: 'string', default: '1,2,3,4,5' }, rates: { type: 'string', default: '0.002,0.004,0.008' }, out: { type: 'string', default: 'lr-grid.json' } } });
  const cells: GridCell[] = [];
  for (const seed of values.seeds.split(',').map(Number)) {
    for (const rate of values.rates.split(',').map(Number)) {
      cells.push(await runCell(seed, rate));
      await writeFile(values.out, `${JSON.stringify(cells, null, 1)}\n`);
      const c = cells.at(-1)!;
      console.error(`[seed ${seed}, rate ${rate}] federated ${(c.federated * 100).toFixed(2)}% (round ${c.keptRound}), local ${(c.local * 100).toFixed(2)}% in ${c.seconds.toFixed(0)} s`);
    }
  }
} else if (command === 'table') {
  const cells: GridCell[] = [];
  for (const f of rest) cells.push(...(JSON.parse(await readFile(f, 'utf8')) as GridCell[]));
  process.stdout.write(gridTable(cells));
} else if (command !== undefined) {
  console.error('usage: lr-grid.ts run --seeds 1,2,3 --rates 0.002,0.004 --out FILE | lr-grid.ts table FILE…');
  process.exit(2);
}
