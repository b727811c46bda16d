/**
 * Command line of the DP utility study (dp-study.ts): `run` one shop count over some
 * seeds into a JSON file; `table` combines files into the README's table.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DP_STUDY_DELTA, planTable, runDpStudy, studyTable, type DpStudyCell, type DpStudyFile } from './dp-study.ts';

const argv = process.argv.slice(2);
const [command, ...rest] = argv[0] === '--' ? argv.slice(1) : argv;
if (command === 'run') {
  const { values } = parseArgs({
    args: rest,
    options: {
      shops: { type: 'string', default: '16' },
      seeds: { type: 'string', default: '1' },
      epsilons: { type: 'string', default: 'inf,8,4,2,1' },
      rounds: { type: 'string', default: '8' },
      epochs: { type: 'string', default: '1' },
      clip: { type: 'string', default: '0.5' },
      delta: { type: 'string', default: String(DP_STUDY_DELTA) },
      personalise: { type: 'boolean', default: false },
      'finetune-epochs': { type: 'string', default: '10' },
      'finetune-patience': { type: 'string', default: '2' },
      out: { type: 'string', default: 'dp-study.json' },
    },
  });
  const epsilons = values.epsilons.split(',').map((e) => (e === 'inf' ? Infinity : Number(e)));
  for (const e of epsilons) if (!(e > 0)) throw new RangeError(`dp-study: expected --epsilons of positive numbers or inf, got ${values.epsilons}`);
  await runDpStudy(
    Number(values.shops),
    values.seeds.split(',').map(Number),
    epsilons,
    {
      rounds: Number(values.rounds),
      epochsPerRound: Number(values.epochs),
      clipNorm: Number(values.clip),
      delta: Number(values.delta),
      personalise: values.personalise,
      finetuneMaxEpochs: Number(values['finetune-epochs']),
      finetunePatience: Number(values['finetune-patience']),
    },
    values.out,
  );
} else if (command === 'table') {
  const cells: DpStudyCell[] = [];
  for (const f of rest) cells.push(...(JSON.parse(await readFile(f, 'utf8')) as DpStudyFile).cells);
  process.stdout.write(studyTable(cells));
} else if (command === 'plan') {
  const { values } = parseArgs({
    args: rest,
    options: {
      shops: { type: 'string', default: '16,64,128,256,1024' },
      epsilons: { type: 'string', default: '8,4,2,1' },
      rounds: { type: 'string', default: '8' },
      clip: { type: 'string', default: '0.5' },
      delta: { type: 'string', default: String(DP_STUDY_DELTA) },
      weights: { type: 'string', default: '1633' },
    },
  });
  const settings = { clipNorm: Number(values.clip), delta: Number(values.delta), rounds: Number(values.rounds) };
  process.stdout.write(planTable(values.shops.split(',').map(Number), values.epsilons.split(',').map(Number), Number(values.weights), settings));
} else if (command !== undefined) {
  console.error('usage: dp-study-main.ts run --shops N --seeds 1,2 --out FILE [--epsilons inf,8,4,2,1] [--rounds R] [--epochs E] [--clip C] [--personalise] | dp-study-main.ts table FILE… | dp-study-main.ts plan [--shops 16,64] [--epsilons 8,1] [--rounds R] [--clip C] [--weights M]');
  process.exit(2);
}
