/** `tally forecast`: a shop's next days from its saved model folder and its sales export. TF.js is loaded here only. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { EXIT, RuntimeError, UsageError, errText, type ExitCode } from '../exit-codes.ts';
import type { Io } from '../io.ts';

export const DEFAULT_FORECAST_DAYS = 7;
export const DEFAULT_FORECAST_OUT = 'forecast.csv';

export interface ForecastArgs {
  readonly model: string;
  readonly sales: string;
  readonly days?: string;
  readonly out: string;
  readonly svg?: string;
}

export async function forecastCommand(args: ForecastArgs, io: Io): Promise<ExitCode> {
  const days = args.days === undefined ? DEFAULT_FORECAST_DAYS : Number(args.days);
  if (!/^\d+$/.test(args.days ?? '7') || !Number.isInteger(days) || days < 1 || days > 366) {
    throw new UsageError(`--days: expected an integer from 1 to 366, got ${JSON.stringify(args.days)}`);
  }
  let text: string;
  try {
    text = await readFile(args.sales, 'utf8');
  } catch (err) {
    throw new UsageError(`--sales: cannot read ${args.sales}: ${errText(err)}`);
  }
  const demand = await import('../_demand.ts');
  await demand.initBackend({ logger: { info: () => {}, warn: (m) => io.err(`warning: ${m}`) } });
  let f;
  try {
    f = await demand.forecastShop({ modelDir: args.model, sales: { text, source: args.sales }, days });
  } catch (err) {
    throw new RuntimeError(errText(err));
  }
  for (const issue of f.issues.slice(0, 10)) io.err(`warning: ${args.sales}:${issue.line}: ${issue.message}`);
  if (f.issues.length > 10) io.err(`warning: ${args.sales}: … and ${f.issues.length - 10} more problem line(s)`);
  const round = typeof f.info['round'] === 'number' ? ` after round ${f.info['round']}${f.info['final'] === true ? ' (final)' : ''}` : '';
  const taskId = typeof f.info['taskId'] === 'string' ? ` of task ${f.info['taskId']}` : '';
  io.out(`forecast for ${f.dates[0]} to ${f.dates[f.dates.length - 1]}, units per day, from ${f.used.line}; global model${taskId}${round}:`);
  io.out(demand.forecastTable(f));
  const out = resolve(args.out);
  const svg = resolve(args.svg ?? (out.endsWith('.csv') ? `${out.slice(0, -4)}.svg` : `${out}.svg`));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, demand.forecastCsv(f));
  await mkdir(dirname(svg), { recursive: true });
  await writeFile(svg, demand.forecastSvg(f, `Sales and ${days}-day forecast${taskId}`));
  io.out(`wrote ${out} and ${svg}`);
  return EXIT.ok;
}
