/**
 * Why does a shop's chosen model sometimes lose to its local-only model on the test
 * weeks? A study of the personalisation choice (issue #11), in two steps:
 *
 *   tsx src/choice-study.ts dump --seeds 1,2,3,4,5 --out study.json [--small]
 *   tsx src/choice-study.ts rules study.json > rules.md
 *
 * `dump` runs the in-process experiment per seed and keeps, per shop, the forecasts of
 * the three candidates (global, fine-tuned, local-only) on the validation days and on
 * the test weeks. `rules` replays choice rules on them offline: each rule sees only
 * the validation forecasts; the test forecasts only score the rule afterwards. It also
 * measures the noise of a 28-day WAPE difference (a day-block bootstrap of
 * WAPE(a) − WAPE(b) on the test weeks), the yardstick the 0.5-point target is held to.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { predictRows, setFlatWeights } from '@tally/ml';
import type { DemandConfigInput } from './config.ts';
import { denormalise } from './evaluate.ts';
import { runExperiment } from './experiment.ts';
import { SMALL_RUN } from './seeds.ts';
import { BLEND_GRID, blendForecast, chooseBlend, personalBlend } from '@tally/demand';
import { createRng } from './rng.ts';

const KINDS = ['global', 'finetuned', 'local'] as const;
type Kind = (typeof KINDS)[number];

interface Window {
  readonly day: number[];
  readonly units: number[];
  readonly f: Record<Kind, number[]>;
}

interface StudyShop {
  readonly seed: number;
  readonly shopId: string;
  readonly historyDays: number;
  readonly validation: Window;
  readonly test: Window;
}

async function dump(seeds: readonly number[], out: string, small: boolean): Promise<void> {
  const all: StudyShop[] = [];
  for (const seed of seeds) {
    const config: DemandConfigInput = { ...(small ? SMALL_RUN : { backend: 'wasm' }), data: { ...(small ? SMALL_RUN.data : {}), seed } };
    const r = await runExperiment(config, { logger: { info: (m) => console.error(`[seed ${seed}] ${m}`), warn: (m) => console.error(m) } });
    const model = r.prepared.createModel();
    try {
      r.prepared.shops.forEach((shop, i) => {
        const c = r.arms.choices[i]!;
        const w: Record<Kind, Float32Array> = { global: r.federated, finetuned: c.finetuned, local: r.arms.local[i]!.weights };
        const window = (rows: typeof shop.test): Window => {
          const f = {} as Record<Kind, number[]>;
          for (const k of KINDS) {
            setFlatWeights(model, w[k]);
            f[k] = Array.from(denormalise(predictRows(model, rows.x, shop.inputs, 1), rows, shop.scale), (v) => Math.round(v * 1e4) / 1e4);
          }
          return { day: Array.from(rows.day), units: Array.from(rows.units), f };
        };
        all.push({ seed, shopId: shop.shopId, historyDays: shop.historyDays, validation: window(shop.validation), test: window(shop.test) });
      });
    } finally {
      model.dispose();
      r.prepared.dispose();
    }
    await writeFile(out, JSON.stringify(all) + '\n');
    console.error(`[seed ${seed}] done; wrote ${out}`);
  }
}

const wapeOf = (units: readonly number[], f: ArrayLike<number>): number => {
  let e = 0;
  let u = 0;
  for (let i = 0; i < units.length; i++) {
    e += Math.abs((units[i] as number) - (f[i] as number));
    u += units[i] as number;
  }
  return u === 0 ? Number.NaN : e / u;
};

/** A rule maps a shop's validation window to a forecast recipe for any window. */
type Rule = (v: Window) => (w: Window) => ArrayLike<number>;

const pick = (k: Kind): ((w: Window) => number[]) => (w) => w.f[k];

function argmin(v: Window, kinds: readonly Kind[], margin = 0): Kind {
  // Shared candidates must beat local by `margin` (absolute WAPE) to be chosen.
  let best: Kind = 'local';
  let bestValue = wapeOf(v.units, v.f.local) - margin;
  for (const k of kinds) {
    if (k === 'local') continue;
    const x = wapeOf(v.units, v.f[k]);
    if (x < bestValue) {
      best = k;
      bestValue = x;
    }
  }
  return best;
}

const sharedOf = (v: Window): Kind => (wapeOf(v.units, v.f.finetuned) <= wapeOf(v.units, v.f.global) ? 'finetuned' : 'global');

const RULES: Record<string, Rule> = {
  'local only': () => pick('local'),
  'global only': () => pick('global'),
  'fine-tuned only': () => pick('finetuned'),
  'argmin of 3 (current)': (v) => pick(argmin(v, KINDS)),
  'argmin, shared needs 1 pt margin': (v) => pick(argmin(v, KINDS, 0.01)),
  'argmin, shared needs 2 pt margin': (v) => pick(argmin(v, KINDS, 0.02)),
  'fixed blend ½ local + ½ fine-tuned': () => (w) => blendForecast(w.f.local, w.f.finetuned, 0.5),
  'fixed blend ½ local + ½ best shared': (v) => {
    const s = sharedOf(v);
    return (w) => blendForecast(w.f.local, w.f[s], 0.5);
  },
  'blend local + best shared, weight on validation': (v) => {
    const s = sharedOf(v);
    const a = chooseBlend(v.units, v.f.local, v.f[s]).weight;
    return (w) => blendForecast(w.f.local, w.f[s], a);
  },
  '½ blend, local when the blend is worse on validation': (v) => {
    const s = sharedOf(v);
    const half = wapeOf(v.units, blendForecast(v.f.local, v.f[s], 0.5));
    return half <= wapeOf(v.units, v.f.local) ? (w) => blendForecast(w.f.local, w.f[s], 0.5) : pick('local');
  },
  'blend weight in {¾, ½, ¼} on validation': (v) => {
    const s = sharedOf(v);
    const a = chooseBlend(v.units, v.f.local, v.f[s], [0.75, 0.5, 0.25]).weight;
    return (w) => blendForecast(w.f.local, w.f[s], a);
  },
  'from ½, another grid weight only if ≥ 1 pt better on validation': (v) => {
    const s = sharedOf(v);
    const a = chooseBlend(v.units, v.f.local, v.f[s], BLEND_GRID, 0.5, 0.01).weight;
    return (w) => blendForecast(w.f.local, w.f[s], a);
  },
  'from ½, another grid weight only if ≥ 2 pt better on validation': (v) => {
    const s = sharedOf(v);
    const a = chooseBlend(v.units, v.f.local, v.f[s], BLEND_GRID, 0.5, 0.02).weight;
    return (w) => blendForecast(w.f.local, w.f[s], a);
  },
  'personalise.ts: from ½, move only if ≥ 1 pt better, never worse than local on validation': (v) => {
    const s = sharedOf(v);
    const a = personalBlend(v.units, v.f.local, v.f[s]).weight;
    return (w) => blendForecast(w.f.local, w.f[s], a);
  },
  'blend local + fine-tuned, weight on validation': (v) => {
    const a = chooseBlend(v.units, v.f.local, v.f.finetuned).weight;
    return (w) => blendForecast(w.f.local, w.f.finetuned, a);
  },
};

/** Day-block bootstrap sd of WAPE(a) − WAPE(b) over a window's days. */
function diffNoise(w: Window, a: ArrayLike<number>, b: ArrayLike<number>, draws = 400): number {
  const days = [...new Set(w.day)];
  const byDay = new Map<number, number[]>();
  w.day.forEach((d, i) => byDay.set(d, [...(byDay.get(d) ?? []), i]));
  const rng = createRng(99);
  const out: number[] = [];
  for (let k = 0; k < draws; k++) {
    let ea = 0;
    let eb = 0;
    let u = 0;
    for (let j = 0; j < days.length; j++) {
      const d = days[Math.floor(rng.next() * days.length)]!;
      for (const i of byDay.get(d)!) {
        ea += Math.abs(w.units[i]! - (a[i] as number));
        eb += Math.abs(w.units[i]! - (b[i] as number));
        u += w.units[i]!;
      }
    }
    if (u > 0) out.push((ea - eb) / u);
  }
  const m = out.reduce((x, y) => x + y, 0) / out.length;
  return Math.sqrt(out.reduce((x, y) => x + (y - m) ** 2, 0) / Math.max(1, out.length - 1));
}

function rules(shops: readonly StudyShop[]): string {
  const seeds = [...new Set(shops.map((s) => s.seed))].sort((a, b) => a - b);
  const L: string[] = [];
  L.push(`Seeds ${seeds.join(', ')}, ${shops.length} shop-runs. Every rule chooses on validation days only; the test weeks score it.`, '');
  L.push('Columns: per seed the worst shop\'s test WAPE minus its local-only WAPE (pt); shops more than 0.5 pt worse than local (all seeds); mean gain of new shops (< 365 days) over local (pt, per seed); median shop WAPE (mean over seeds).', '');
  L.push(`| rule | worst shop vs local, per seed | shops > 0.5 pt worse | new shops' mean gain, per seed | median WAPE |`, '| --- | --- | ---: | --- | ---: |');
  for (const [name, rule] of Object.entries(RULES)) {
    const worst: string[] = [];
    const gains: string[] = [];
    const medians: number[] = [];
    let over = 0;
    for (const seed of seeds) {
      const ss = shops.filter((s) => s.seed === seed);
      const d = ss.map((s) => wapeOf(s.test.units, rule(s.validation)(s.test)) - wapeOf(s.test.units, s.test.f.local));
      over += d.filter((x) => x > 0.005).length;
      worst.push(`${(Math.max(...d) * 100).toFixed(1)}`);
      const fresh = ss.map((s, i) => (s.historyDays < 365 ? -d[i]! : Number.NaN)).filter(Number.isFinite);
      gains.push(fresh.length === 0 ? 'n/a' : ((fresh.reduce((a, b) => a + b, 0) / fresh.length) * 100).toFixed(1));
      const w = ss.map((s) => wapeOf(s.test.units, rule(s.validation)(s.test))).sort((a, b) => a - b);
      medians.push(w.length % 2 === 1 ? w[w.length >> 1]! : (w[w.length / 2 - 1]! + w[w.length / 2]!) / 2);
    }
    L.push(`| ${name} | ${worst.join(', ')} | ${over} | ${gains.join(', ')} | ${((medians.reduce((a, b) => a + b, 0) / medians.length) * 100).toFixed(1)}% |`);
  }
  // Noise: how far apart two good forecasts' 28-day WAPEs wander by chance.
  const noiseFt = shops.map((s) => diffNoise(s.test, s.test.f.finetuned, s.test.f.local));
  const sorted = [...noiseFt].sort((a, b) => a - b);
  L.push('', `Noise of one shop's test-window WAPE difference (fine-tuned − local, day-block bootstrap sd): median ${(sorted[sorted.length >> 1]! * 100).toFixed(1)} pt, range ${(sorted[0]! * 100).toFixed(1)}–${(sorted.at(-1)! * 100).toFixed(1)} pt.`);
  const vNoise = shops.map((s) => diffNoise(s.validation, s.validation.f.finetuned, s.validation.f.local)).sort((a, b) => a - b);
  L.push(`The same on the validation window: median ${(vNoise[vNoise.length >> 1]! * 100).toFixed(1)} pt, range ${(vNoise[0]! * 100).toFixed(1)}–${(vNoise.at(-1)! * 100).toFixed(1)} pt.`);
  L.push(`Blend grid: ${BLEND_GRID.join(', ')} (weight on the local-only forecast).`);
  return L.join('\n') + '\n';
}

const argv = process.argv.slice(2);
const [command, ...rest] = argv[0] === '--' ? argv.slice(1) : argv;
if (command === 'dump') {
  const { values } = parseArgs({ args: rest, options: { seeds: { type: 'string', default: '1,2,3,4,5' }, out: { type: 'string', default: 'study.json' }, small: { type: 'boolean', default: false } } });
  await dump(values.seeds.split(',').map(Number), values.out, values.small);
} else if (command === 'rules') {
  const shops: StudyShop[] = [];
  for (const f of rest) shops.push(...(JSON.parse(await readFile(f, 'utf8')) as StudyShop[]));
  process.stdout.write(rules(shops));
} else {
  console.error('usage: choice-study.ts dump --seeds 1,2 --out FILE [--small] | choice-study.ts rules FILE…');
  process.exit(2);
}
