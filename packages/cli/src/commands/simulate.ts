/**
 * `tally simulate`: the demand-forecast demo end to end on this machine. A thin
 * wrapper: the flags become `SimulateOptions` and the run is the example's
 * `simulate` (examples/demand-forecast/src/simulate.ts). The example (and with it
 * TensorFlow.js) is imported only when this command runs, so the other commands
 * start as fast as before. The example is a development dependency: it ships with the
 * Tally repository, not with the published @tally/cli, so an installed `tally` says
 * where to find it instead (loadDemo).
 *
 * Output: progress (one line per round attempt) and the final table on stdout; with
 * --json, stdout carries JSON lines instead (one `{"type":"round",…}` per attempt,
 * then one `{"type":"summary",…}`) and every log line goes to stderr.
 */
import type { SimulateOptions } from '@tally/example-demand-forecast';
import { EXIT, RuntimeError, UsageError, errText, type ExitCode } from '../exit-codes.ts';
import type { Io } from '../io.ts';
import { createCliLogger } from '../log.ts';

export interface SimulateArgs {
  readonly shops?: string;
  readonly rounds?: string;
  readonly graph?: string;
  readonly dropout?: string;
  readonly dropoutStage?: string;
  readonly seed?: string;
  readonly dpEpsilon?: string;
  readonly dpDelta?: string;
  readonly out: string;
  readonly json: boolean;
  readonly verbose: boolean;
}

/** The default of --out (relative to the working directory). */
export const DEFAULT_SIMULATE_OUT = 'results/demand-forecast';

/** Flag of each option, for messages. */
const FLAG: Readonly<Record<string, string>> = {
  shops: '--shops',
  rounds: '--rounds',
  graph: '--graph',
  dropout: '--dropout',
  dropoutStage: '--dropout-stage',
  seed: '--seed',
  dp: '--dp-epsilon',
};

/** The flags' syntax (ranges are checked by the example's resolveSimulateOptions). Throws UsageError. */
export function parseSimulateArgs(a: SimulateArgs): SimulateOptions {
  const int = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d{1,10}$/.test(v)) throw new UsageError(`${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  let dropout: number | undefined;
  if (a.dropout !== undefined) {
    dropout = /^(\d+\.?\d*|\.\d+)$/.test(a.dropout) ? Number(a.dropout) : Number.NaN;
    if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout: expected a probability P with 0 ≤ P < 1 (e.g. 0.1), got ${JSON.stringify(a.dropout)}`);
  }
  if (a.dropoutStage !== undefined && !(dropout !== undefined && dropout > 0)) {
    throw new UsageError('--dropout-stage: only applies with --dropout P > 0 (e.g. --dropout 0.1 --dropout-stage ShareKeys)');
  }
  if (a.out === '') throw new UsageError('--out: expected a folder, got an empty string');
  const positive = (flag: string, v: string): number => {
    const x = /^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(v) ? Number(v) : Number.NaN;
    if (!(x > 0 && Number.isFinite(x))) throw new UsageError(`${flag}: expected a number > 0 (e.g. 8), got ${JSON.stringify(v)}`);
    return x;
  };
  if (a.dpDelta !== undefined && a.dpEpsilon === undefined) throw new UsageError('--dp-delta: only applies with --dp-epsilon E (e.g. --dp-epsilon 8 --dp-delta 1e-6)');
  const dpEpsilon = a.dpEpsilon === undefined ? undefined : positive('--dp-epsilon', a.dpEpsilon);
  const dpDelta = a.dpDelta === undefined ? undefined : positive('--dp-delta', a.dpDelta);
  if (dpDelta !== undefined && dpDelta >= 1) throw new UsageError(`--dp-delta: expected a probability in (0, 1) (e.g. 1e-6), got ${JSON.stringify(a.dpDelta)}`);
  const shops = int('--shops', a.shops);
  const rounds = int('--rounds', a.rounds);
  const seed = int('--seed', a.seed);
  return {
    ...(shops !== undefined ? { shops } : {}),
    ...(rounds !== undefined ? { rounds } : {}),
    ...(a.graph !== undefined ? { graph: a.graph as NonNullable<SimulateOptions['graph']> } : {}),
    ...(dropout !== undefined ? { dropout } : {}),
    ...(a.dropoutStage !== undefined ? { dropoutStage: a.dropoutStage as NonNullable<SimulateOptions['dropoutStage']> } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(dpEpsilon !== undefined ? { dp: { epsilon: dpEpsilon, ...(dpDelta !== undefined ? { delta: dpDelta } : {}) } } : {}),
    out: a.out,
  };
}

export async function simulateCommand(args: SimulateArgs, io: Io): Promise<ExitCode> {
  const options = parseSimulateArgs(args);
  const ex = await loadDemo();
  const asUsage = (err: unknown): never => {
    if (err instanceof ex.SimulateOptionError) {
      throw new UsageError(`${FLAG[err.option] ?? err.option}: ${err.message.slice(err.option.length + 2)}`);
    }
    throw err;
  };
  try {
    ex.resolveSimulateOptions(options);
    ex.checkDpOption(options.dp);
  } catch (err) {
    asUsage(err);
  }

  // Progress and summary: stdout, or stderr when stdout carries JSON.
  const say = args.json ? (line: string) => io.err(line) : (line: string) => io.out(line);
  const logger = { info: say, warn: (line: string) => io.err(`warning: ${line}`) };
  const verbose = args.verbose
    ? {
        coordinatorLogger: createCliLogger((line) => io.err(line), 'coordinator', 'info'),
        clientLogger: (shopId: string) => createCliLogger((line) => io.err(line), shopId, 'info'),
      }
    : {};
  const abort = new AbortController();
  const unsubscribe = io.onInterrupt(() => {
    io.err('interrupted: closing the coordinator and the client nodes');
    abort.abort(new Error('interrupted'));
  });
  let result;
  try {
    result = await ex.simulate(options, {
      logger,
      signal: abort.signal,
      ...verbose,
      onCoordinator: (c) => {
        say(`console: ${c.console.url} (token ${c.console.token}, also in ${c.console.tokenFile})`);
        say(`  open ${c.console.link}`);
      },
      ...(args.json ? { onRound: (r) => io.out(JSON.stringify({ type: 'round', ...ex.roundJson(r) })) } : {}),
    });
  } catch (err) {
    if (abort.signal.aborted) return EXIT.interrupted;
    if (err instanceof ex.SimulateOptionError) asUsage(err);
    throw new RuntimeError(errText(err));
  } finally {
    unsubscribe();
  }
  if (args.json) {
    io.out(JSON.stringify({ type: 'summary', ...ex.simulationJson(result) }));
  } else {
    for (const line of ex.summaryLines(result)) io.out(line);
  }
  say(`wrote ${result.written.join(', ')} to ${args.out}`);
  return EXIT.ok;
}

type Demo = typeof import('@tally/example-demand-forecast');

/** The demo package, present in the Tally repository's workspace only. */
async function loadDemo(): Promise<Demo> {
  try {
    return await import('@tally/example-demand-forecast');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND' || !/example-demand-forecast/.test(errText(err))) throw err;
    throw new RuntimeError(
      'the simulation is the demand-forecast demo, which ships with the Tally repository, not with @tally/cli: ' +
        'clone the repository and run `npx -y pnpm@12.4.2 install && npx -y pnpm@12.4.2 demo` there',
    );
  }
}
