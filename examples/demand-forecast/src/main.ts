/**
 * Runs the whole in-process experiment and writes the report:
 *
 *   pnpm --filter @tally/example-demand-forecast demo [--out DIR] [--rounds N] [--backend auto|wasm|cpu] [--seed N] [--shop ID]
 *
 * (or `tsx examples/demand-forecast/src/main.ts …` from the repository root).
 * Default output folder: results/demand-forecast.
 */
import { parseArgs } from 'node:util';
import { BACKEND_PREFERENCES, type BackendPreference } from '@tally/ml';
import { METHODS } from './evaluate.ts';
import { runExperiment } from './experiment.ts';
import { checkTargets } from './targets.ts';
import { writeReport } from './report.ts';

// `pnpm … demo -- --rounds 5` passes the `--` through; accept it.
const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    out: { type: 'string', default: 'results/demand-forecast' },
    rounds: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    seed: { type: 'string' },
    shop: { type: 'string' },
  },
});
const backend = values.backend as BackendPreference;
if (!BACKEND_PREFERENCES.includes(backend)) {
  console.error(`--backend: expected one of ${BACKEND_PREFERENCES.join(', ')}, got ${values.backend}`);
  process.exit(2);
}
const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name}: expected a non-negative integer, got ${v}`);
    process.exit(2);
  }
  return n;
};
const rounds = int('rounds', values.rounds);
const seed = int('seed', values.seed);

const logger = { info: (m: string) => console.log(m), warn: (m: string) => console.warn(m) };
const result = await runExperiment(
  {
    backend,
    ...(rounds !== undefined ? { training: { rounds } } : {}),
    ...(seed !== undefined ? { data: { seed } } : {}),
  },
  { logger },
);
try {
  const written = await writeReport(values.out, {
    prepared: result.prepared,
    evaluation: result.evaluation,
    history: result.history,
    federatedWeights: result.federated,
    choices: result.arms.choices,
    ...(values.shop !== undefined ? { forecastShop: values.shop } : {}),
    extra: {
      timings: result.timings,
      bestRound: result.bestRound,
      localEpochs: result.arms.local.map((r) => r.epochs),
      centralisedEpochs: result.arms.centralised.epochs,
      glmRidge: result.arms.glm.map((g) => g.ridge),
    },
  });
  const s = result.evaluation.summary;
  const pct = (v: number | undefined): string => (v === undefined ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  const methods = METHODS.filter((m) => s.methods.includes(m));
  console.log('');
  console.log(`median shop WAPE: ${methods.map((m) => `${m} ${pct(s.medianWape[m])}`).join(', ')}`);
  console.log(`pooled WAPE:      ${methods.map((m) => `${m} ${pct(s.pooledWape[m])}`).join(', ')}`);
  console.log(`worst shop WAPE:  ${methods.map((m) => `${m} ${pct(s.worstWape[m])}`).join(', ')}`);
  for (const t of checkTargets(result.evaluation)) console.log(`target ${t.target}: ${t.holds === null ? 'n/a' : t.holds ? 'holds' : 'DOES NOT HOLD'} (${t.detail})`);
  const t = result.timings;
  console.log(
    `time: ${t.totalSeconds.toFixed(1)} s (federated ${t.federatedSeconds.toFixed(1)} s, local-only ${t.localSeconds.toFixed(1)} s, ` +
      `centralised ${t.centralisedSeconds.toFixed(1)} s, personalisation ${t.personaliseSeconds.toFixed(1)} s, GLM ${t.glmSeconds.toFixed(1)} s) on ${result.prepared.backend.backend}`,
  );
  console.log(`wrote ${written.join(', ')} to ${values.out}`);
} finally {
  result.prepared.dispose();
}
