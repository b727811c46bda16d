/**
 * `pnpm fuzz [--frames N] [--seed S] [--per-burst B]`: the fuzz harness of
 * fuzz.test.ts, for as long as you like. Prints frames tried, notices and closes by
 * code, and crashes; exits 1 on any crash or broken expectation.
 */
import { parseArgs } from 'node:util';
import { formatReport, runFuzz } from './fuzz-harness.ts';

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`--${name}: expected a positive integer, got ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: { frames: { type: 'string' }, seed: { type: 'string' }, 'per-burst': { type: 'string' } },
  strict: true,
});
const frames = positiveInt(values.frames, 'frames', 20_000);
const seed = values.seed === undefined ? (Date.now() >>> 0) : positiveInt(values.seed, 'seed', 1);
const perBurst = values['per-burst'] === undefined ? undefined : positiveInt(values['per-burst'], 'per-burst', 50);

const t0 = performance.now();
const report = await runFuzz({
  seed,
  frames,
  ...(perBurst === undefined ? {} : { perBurst }),
  progress: (line) => process.stdout.write(`  ${line}\n`),
});
for (const line of formatReport(report)) process.stdout.write(`${line}\n`);
process.stdout.write(`(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
process.exit(report.crashes === 0 && report.violations.length === 0 ? 0 : 1);
