/**
 * `trainer.kind: "demand"`: reads the shop's sales export and builds the demand
 * trainer of @tally/demand. Imported only when a config names this kind
 * (trainer-config.ts), because it loads TensorFlow.js.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '@tally/client';
import { DemandShopTrainer, SalesCsvError, initBackend, parseSalesCsv, type SalesIssue, type SalesTable } from './_demand.ts';
import type { BuiltTrainer, DemandConfig } from './trainer-config.ts';

/** Issues shown one per line; the rest are counted. */
const MAX_SHOWN = 10;

export async function buildDemandTrainer(config: DemandConfig, field: string, warn: (line: string) => void, stateDir?: string): Promise<BuiltTrainer> {
  let text: string;
  try {
    text = await readFile(config.sales, 'utf8');
  } catch (err) {
    throw new ConfigError(`${field}.sales`, `cannot read ${config.sales}: ${(err as Error).message}`);
  }
  let table: SalesTable;
  try {
    table = parseSalesCsv(text, { columns: config.columns, delimiter: config.delimiter, dateFormat: config.dateFormat, source: config.sales });
  } catch (err) {
    if (err instanceof SalesCsvError) throw new ConfigError(`${field}.${/column/.test(err.message) ? 'columns' : 'sales'}`, err.message);
    throw err;
  }
  const warnings = issueLines(table.issues, config.sales);
  await initBackend({ logger: { info: () => {}, warn } });
  // The last save's line about the shop's own model (set by the trainer when a task ends).
  let personal: string | undefined;
  const trainer = new DemandShopTrainer(
    table,
    { columns: config.columns, delimiter: table.delimiter, dateFormat: table.dateFormat },
    { epochs: config.epochs, batchSize: config.batchSize, learningRate: config.learningRate, seed: config.seed, ...(stateDir === undefined ? {} : { headDir: stateDir }) },
    (issues, sales) => {
      for (const line of issueLines(issues, config.sales)) warn(line);
      warn(`${config.sales}: ${sales.data.dates.length} days (${sales.firstDate} to ${sales.lastDate}); sells ${sales.carried.filter(Boolean).length} of the task's ${sales.carried.length} products`);
    },
    (_choice, why) => {
      personal = why;
    },
  );
  const days = new Set(table.records.map((r) => r.day)).size;
  return {
    trainer,
    modelLength: null,
    warnings,
    description: `demand on ${table.records.length} sales lines over ${days} days of ${config.sales} (delimiter ${JSON.stringify(table.delimiter)}, dates ${table.dateFormat}); the task declares the products; epochs ${config.epochs}, batch ${config.batchSize}, learning rate ${config.learningRate}, absolute-error loss (as the simulation); the latest days held out to choose this shop's own model when the task ends; when a task federates only the body, this shop's own output layer stays ${stateDir === undefined ? 'in memory' : `in ${stateDir}`}`,
    saveModel: async (dir, weights, info) => {
      personal = undefined;
      await trainer.saveModel(dir, weights, info);
      return personal;
    },
  };
}

/** `file:line: message` lines, at most MAX_SHOWN, then a count. */
export function issueLines(issues: readonly SalesIssue[], file: string): string[] {
  const lines = issues.slice(0, MAX_SHOWN).map((i) => `${file}:${i.line}: ${i.message}`);
  if (issues.length > MAX_SHOWN) lines.push(`${file}: … and ${issues.length - MAX_SHOWN} more problem line(s)`);
  return lines;
}
