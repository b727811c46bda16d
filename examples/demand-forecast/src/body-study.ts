/**
 * The arm "body + local head" (issue #11) beside the arms it competes with, over seeds:
 * local-only, federated (every layer shared), personalised (federated, then fine-tune /
 * blend chosen on validation; personalise.ts), body + local head (federated-body.ts) and
 * body + local head personalised the same way, plus one more validation-only rule:
 * each shop takes whichever of the two personalised forecasts has the lower WAPE on its
 * own validation days. Nothing is chosen on the test weeks; they are only scored.
 *
 *   tsx src/body-study.ts run --seeds 6,7,8,9,10 --out body-a.json [--lr 0.008]   (default: SMALL_RUN's rate)
 *   tsx src/body-study.ts table body-a.json … > body-study.md
 *
 * The configuration is SMALL_RUN of seeds.ts (the multi-seed table's), so the local-
 * only, federated and personalised columns repeat that table's arms on the same data.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { trainLocalOnly } from './baselines.ts';
import { evaluateAll, median, type EvaluationReport } from './evaluate.ts';
import { runFedAvg } from './federated.ts';
import { runFedAvgBody } from './federated-body.ts';
import { personalise, type ShopChoice } from './personalise.ts';
import { prepareShops } from './prepare.ts';
import { SMALL_RUN } from './seeds.ts';
import { LOSS_TOLERANCE, NEW_SHOP_DAYS, NEW_SHOP_GAIN } from './targets.ts';

export const BODY_ARMS = ['local', 'federated', 'personalised', 'body', 'bodyPersonalised', 'bestOnValidation', 'oracle'] as const;
export type BodyArm = (typeof BODY_ARMS)[number];

interface ShopRecord {
  readonly shopId: string;
  readonly historyDays: number;
  readonly wape: Record<BodyArm, number>;
  /** Validation WAPE of the two personalised forecasts (what bestOnValidation chose on). */
  readonly validation: { readonly personalised: number; readonly bodyPersonalised: number };
  readonly bestOnValidation: 'personalised' | 'bodyPersonalised';
}

interface SeedRecord {
  readonly seed: number;
  readonly rounds: { readonly federated: number; readonly body: number };
  readonly shops: readonly ShopRecord[];
  readonly pooled: Record<BodyArm, number>;
  readonly seconds: number;
}

const mixOf = (c: ShopChoice): { weights: Float32Array; share: number }[] => c.mix.map((p) => ({ weights: p.weights, share: p.share }));

async function runSeed(seed: number, learningRate?: number): Promise<SeedRecord> {
  const t0 = performance.now();
  const log = (m: string): void => console.error(`[seed ${seed}] ${m}`);
  const training = learningRate === undefined ? SMALL_RUN.training : { ...SMALL_RUN.training, learningRate };
  const prepared = await prepareShops({ ...SMALL_RUN, data: { ...SMALL_RUN.data, seed }, ...(training === undefined ? {} : { training }) });
  try {
    const local = await trainLocalOnly(prepared);
    log(`local-only in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const fed = await runFedAvg(prepared);
    const personalised = await personalise(prepared, fed.weights, local);
    log(`federated (kept round ${fed.bestRound}) and personalised at ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const body = await runFedAvgBody(prepared);
    const bodyPersonalised = await personalise(prepared, body.weights, local);
    log(`body + local head (kept round ${body.bestRound}, body ${body.bodyLength} of ${prepared.weightCount} weights) and personalised at ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const best = personalised.map((c, i) => (bodyPersonalised[i]!.blend.validationWape < c.blend.validationWape ? 'bodyPersonalised' : 'personalised') as 'personalised' | 'bodyPersonalised');
    const lw = local.map((r) => r.weights);
    const ev = (w: Parameters<typeof evaluateAll>[2]): EvaluationReport => evaluateAll(prepared.shops, prepared.createModel, w);
    const a = ev({ federated: fed.weights, local: lw, personalised: personalised.map((x) => x.weights), personalisedMix: personalised.map(mixOf) });
    const b = ev({ local: lw, personalised: [...body.weights] });
    const c = ev({ local: lw, personalised: bodyPersonalised.map((x) => x.weights), personalisedMix: bodyPersonalised.map(mixOf) });
    const d = ev({ local: lw, personalised: lw, personalisedMix: best.map((k, i) => mixOf(k === 'personalised' ? personalised[i]! : bodyPersonalised[i]!)) });
    const wapeOf = (r: EvaluationReport, i: number, m: 'local' | 'federated' | 'personalised' | 'oracle'): number => r.shops[i]!.metrics[m]?.wape ?? Number.NaN;
    const shops: ShopRecord[] = prepared.shops.map((s, i) => ({
      shopId: s.shopId,
      historyDays: s.historyDays,
      wape: {
        local: wapeOf(a, i, 'local'),
        federated: wapeOf(a, i, 'federated'),
        personalised: wapeOf(a, i, 'personalised'),
        body: wapeOf(b, i, 'personalised'),
        bodyPersonalised: wapeOf(c, i, 'personalised'),
        bestOnValidation: wapeOf(d, i, 'personalised'),
        oracle: wapeOf(a, i, 'oracle'),
      },
      validation: { personalised: personalised[i]!.blend.validationWape, bodyPersonalised: bodyPersonalised[i]!.blend.validationWape },
      bestOnValidation: best[i]!,
    }));
    const p = (r: EvaluationReport, m: 'local' | 'federated' | 'personalised' | 'oracle'): number => r.summary.pooledWape[m] ?? Number.NaN;
    return {
      seed,
      rounds: { federated: fed.bestRound, body: body.bestRound },
      shops,
      pooled: {
        local: p(a, 'local'),
        federated: p(a, 'federated'),
        personalised: p(a, 'personalised'),
        body: p(b, 'personalised'),
        bodyPersonalised: p(c, 'personalised'),
        bestOnValidation: p(d, 'personalised'),
        oracle: p(a, 'oracle'),
      },
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    prepared.dispose();
  }
}

const pct = (v: number): string => (v * 100).toFixed(1);
const pt = (v: number): string => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
function ms(values: readonly number[]): string {
  const v = values.filter(Number.isFinite);
  const mean = v.reduce((x, y) => x + y, 0) / v.length;
  const sd = Math.sqrt(v.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, v.length - 1));
  return `${pct(mean)} ± ${pct(sd)}`;
}

export function bodyTable(runs: readonly SeedRecord[]): string {
  const L: string[] = [];
  const arms = BODY_ARMS;
  const label: Record<BodyArm, string> = {
    local: 'local-only',
    federated: 'federated',
    personalised: 'personalised',
    body: 'body + local head',
    bodyPersonalised: 'body + local head, personalised',
    bestOnValidation: 'better of the two personalised on validation',
    oracle: 'noise floor',
  };
  L.push(`Seeds ${runs.map((r) => r.seed).join(', ')}; SMALL_RUN configuration; WAPE in %, mean ± sd over the seeds.`, '');
  L.push(`| | ${arms.map((a) => label[a]).join(' | ')} |`, `| --- | ${arms.map(() => '---:').join(' | ')} |`);
  const med = (r: SeedRecord, a: BodyArm): number => median(r.shops.map((s) => s.wape[a]));
  L.push(`| median shop WAPE | ${arms.map((a) => ms(runs.map((r) => med(r, a)))).join(' | ')} |`);
  L.push(`| pooled WAPE | ${arms.map((a) => ms(runs.map((r) => r.pooled[a]))).join(' | ')} |`);
  L.push(`| worst shop WAPE | ${arms.map((a) => ms(runs.map((r) => Math.max(...r.shops.map((s) => s.wape[a]))))).join(' | ')} |`);
  L.push(`| median above the noise floor | ${arms.map((a) => ms(runs.map((r) => med(r, a) - med(r, 'oracle')))).join(' | ')} |`);
  const newGain = (r: SeedRecord, a: BodyArm): number => {
    const g = r.shops.filter((s) => s.historyDays < NEW_SHOP_DAYS).map((s) => s.wape.local - s.wape[a]);
    return g.reduce((x, y) => x + y, 0) / g.length;
  };
  const estGain = (r: SeedRecord, a: BodyArm): number => {
    const g = r.shops.filter((s) => s.historyDays >= NEW_SHOP_DAYS).map((s) => s.wape.local - s.wape[a]);
    return g.reduce((x, y) => x + y, 0) / g.length;
  };
  L.push(`| new shops (< ${NEW_SHOP_DAYS} days): mean gain over local (pt) | ${arms.map((a) => ms(runs.map((r) => newGain(r, a)))).join(' | ')} |`);
  L.push(`| established shops: mean gain over local (pt) | ${arms.map((a) => ms(runs.map((r) => estGain(r, a)))).join(' | ')} |`);
  const shown = ['personalised', 'body', 'bodyPersonalised', 'bestOnValidation'] as const;
  L.push('', '### Targets per seed (worst shop against its local-only model; new shops\' mean gain)', '');
  L.push(`| seed | kept round (federated / body) | ${shown.map((a) => `${label[a]}: worst, new-shop gain`).join(' | ')} | seconds |`);
  L.push(`| ---: | ---: | ${shown.map(() => '---').join(' | ')} | ---: |`);
  for (const r of runs) {
    const cell = (a: BodyArm): string => {
      const worst = r.shops.reduce((w, s) => (s.wape[a] - s.wape.local > w.d ? { d: s.wape[a] - s.wape.local, id: s.shopId } : w), { d: -Infinity, id: '' });
      const g = newGain(r, a);
      return `${worst.d <= LOSS_TOLERANCE ? '' : '**'}${pt(worst.d)}${worst.d <= LOSS_TOLERANCE ? '' : '**'} (${worst.id}), ${g >= NEW_SHOP_GAIN ? '' : '**'}${pt(g)}${g >= NEW_SHOP_GAIN ? '' : '**'}`;
    };
    L.push(`| ${r.seed} | ${r.rounds.federated} / ${r.rounds.body} | ${shown.map(cell).join(' | ')} | ${r.seconds.toFixed(0)} |`);
  }
  const chosenBody = runs.reduce((n, r) => n + r.shops.filter((s) => s.bestOnValidation === 'bodyPersonalised').length, 0);
  const all = runs.reduce((n, r) => n + r.shops.length, 0);
  L.push('', `Bold: the target is missed (limit ${pt(LOSS_TOLERANCE)} pt per shop; new shops ≥ ${pt(NEW_SHOP_GAIN)} pt). The better-on-validation rule took body + local head for ${chosenBody} of ${all} shop-runs.`);
  return L.join('\n') + '\n';
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'run') {
  const { values } = parseArgs({ args: rest, options: { seeds: { type: 'string', default: '6,7,8,9,10' }, out: { type: 'string', default: 'body-study.json' }, lr: { type: 'string' } } });
  const runs: SeedRecord[] = [];
  for (const seed of values.seeds.split(',').map(Number)) {
    runs.push(await runSeed(seed, values.lr === undefined ? undefined : Number(values.lr)));
    await writeFile(values.out, `${JSON.stringify(runs, null, 1)}\n`);
    console.error(`[seed ${seed}] done in ${runs.at(-1)!.seconds.toFixed(0)} s; wrote ${values.out}`);
  }
} else if (command === 'table') {
  const runs: SeedRecord[] = [];
  for (const f of rest) runs.push(...(JSON.parse(await readFile(f, 'utf8')) as SeedRecord[]));
  runs.sort((x, y) => x.seed - y.seed);
  process.stdout.write(bodyTable(runs));
} else if (command !== undefined) {
  console.error('usage: body-study.ts run --seeds 6,7,8 --out FILE | body-study.ts table FILE…');
  process.exit(2);
}
