/**
 * The `tally` command: parses the command line (node:util parseArgs) and runs one
 * command. Returns the exit code; every error ends up as one message on stderr
 * that says what to do (exit-codes.ts).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { client } from './commands/client.ts';
import { consoleToken } from './commands/console-token.ts';
import { coordinator } from './commands/coordinator.ts';
import { exportCommand } from './commands/export.ts';
import { DEFAULT_FORECAST_OUT, forecastCommand } from './commands/forecast.ts';
import { keygen } from './commands/keygen.ts';
import { ledger } from './commands/ledger.ts';
import { parseLogFormat } from './log.ts';
import { DEFAULT_SIMULATE_OUT, simulateCommand } from './commands/simulate.ts';
import { EXIT, RuntimeError, UsageError, errText, type ExitCode } from './exit-codes.ts';
import { CLIENT_HELP, CONSOLE_TOKEN_HELP, COORDINATOR_HELP, EXPORT_HELP, FORECAST_HELP, KEYGEN_HELP, LEDGER_HELP, MAIN_HELP, SIMULATE_HELP, VERSION } from './help.ts';
import type { Io } from './io.ts';

const COMMANDS = {
  keygen: {
    help: KEYGEN_HELP,
    options: {
      out: { type: 'string', short: 'o' },
      force: { type: 'boolean', short: 'f', default: false },
      name: { type: 'string', short: 'n' },
      enrol: { type: 'string', short: 'e' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) =>
      keygen(
        {
          out: required(v, 'out', 'FILE', 'tally keygen --out keys/shop-a.json'),
          force: v['force'] === true,
          ...(typeof v['name'] === 'string' ? { name: v['name'] } : {}),
          ...(typeof v['enrol'] === 'string' ? { enrol: v['enrol'] } : {}),
        },
        io,
      ),
  },
  coordinator: {
    help: COORDINATOR_HELP,
    options: {
      config: { type: 'string', short: 'c' },
      verbose: { type: 'boolean', short: 'v', default: false },
      'exit-on-complete': { type: 'boolean', default: false },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) =>
      coordinator(
        {
          config: required(v, 'config', 'FILE', 'tally coordinator --config coordinator.json'),
          verbose: v['verbose'] === true,
          exitOnComplete: v['exit-on-complete'] === true,
          logFormat: logFormat(v),
        },
        io,
      ),
  },
  client: {
    help: CLIENT_HELP,
    options: {
      config: { type: 'string', short: 'c' },
      verbose: { type: 'boolean', short: 'v', default: false },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) =>
      client({ config: required(v, 'config', 'FILE', 'tally client --config shop-a.json'), verbose: v['verbose'] === true, logFormat: logFormat(v) }, io),
  },
  ledger: {
    help: LEDGER_HELP,
    options: {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean', default: false },
      serve: { type: 'boolean', default: false },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) =>
      ledger(
        {
          config: required(v, 'config', 'FILE', 'tally ledger --config shop-a.json'),
          json: v['json'] === true,
          serve: v['serve'] === true,
          ...(typeof v['port'] === 'string' ? { port: v['port'] } : {}),
        },
        io,
      ),
  },
  'console-token': {
    help: CONSOLE_TOKEN_HELP,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) => consoleToken({ config: required(v, 'config', 'FILE', 'tally console-token --config coordinator.json') }, io),
  },
  forecast: {
    help: FORECAST_HELP,
    options: {
      model: { type: 'string', short: 'm' },
      sales: { type: 'string', short: 's' },
      days: { type: 'string', short: 'd' },
      out: { type: 'string', short: 'o', default: DEFAULT_FORECAST_OUT },
      svg: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) =>
      forecastCommand(
        {
          model: required(v, 'model', 'DIR', 'tally forecast --model model/shop-a --sales data/shop-a.csv'),
          sales: required(v, 'sales', 'FILE', 'tally forecast --model model/shop-a --sales data/shop-a.csv'),
          ...optional(v, 'days', 'days'),
          out: typeof v['out'] === 'string' ? v['out'] : DEFAULT_FORECAST_OUT,
          ...optional(v, 'svg', 'svg'),
        },
        io,
      ),
  },
  export: {
    help: EXPORT_HELP,
    options: {
      config: { type: 'string', short: 'c' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) =>
      exportCommand(
        {
          config: required(v, 'config', 'FILE', 'tally export --config coordinator.json --out model'),
          out: required(v, 'out', 'DIR', 'tally export --config coordinator.json --out model'),
        },
        io,
      ),
  },
  simulate: {
    help: SIMULATE_HELP,
    options: {
      shops: { type: 'string' },
      rounds: { type: 'string' },
      graph: { type: 'string' },
      dropout: { type: 'string' },
      'dropout-stage': { type: 'string' },
      seed: { type: 'string' },
      'dp-epsilon': { type: 'string' },
      'dp-delta': { type: 'string' },
      out: { type: 'string', short: 'o', default: DEFAULT_SIMULATE_OUT },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    run: (v: Values, io: Io) =>
      simulateCommand(
        {
          ...optional(v, 'shops', 'shops'),
          ...optional(v, 'rounds', 'rounds'),
          ...optional(v, 'graph', 'graph'),
          ...optional(v, 'dropout', 'dropout'),
          ...optional(v, 'dropout-stage', 'dropoutStage'),
          ...optional(v, 'seed', 'seed'),
          ...optional(v, 'dp-epsilon', 'dpEpsilon'),
          ...optional(v, 'dp-delta', 'dpDelta'),
          out: typeof v['out'] === 'string' ? v['out'] : DEFAULT_SIMULATE_OUT,
          json: v['json'] === true,
          verbose: v['verbose'] === true,
        },
        io,
      ),
  },
} as const satisfies Record<string, { help: string; options: ParseArgsConfig['options']; run: (v: Values, io: Io) => Promise<ExitCode> }>;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
type CommandName = keyof typeof COMMANDS;

function isCommand(s: string): s is CommandName {
  return Object.hasOwn(COMMANDS, s);
}

/** `{ [key]: value }` when the flag was given, else `{}`. */
function optional<K extends string>(v: Values, flag: string, key: K): { [P in K]?: string } {
  const s = v[flag];
  return typeof s === 'string' ? ({ [key]: s } as { [P in K]?: string }) : {};
}

function logFormat(v: Values): 'text' | 'json' {
  try {
    return parseLogFormat(v['log-format']);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function required(v: Values, name: string, metavar: string, example: string): string {
  const s = v[name];
  if (typeof s !== 'string' || s === '') throw new UsageError(`missing --${name} ${metavar} (e.g. ${example})`);
  return s;
}

export async function main(argv: readonly string[], io: Io): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(MAIN_HELP);
    return EXIT.usage;
  }
  if (first === '-h' || first === '--help') {
    io.out(MAIN_HELP);
    return EXIT.ok;
  }
  if (first === '-V' || first === '--version') {
    io.out(VERSION);
    return EXIT.ok;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) io.out(MAIN_HELP);
    else if (isCommand(topic)) io.out(COMMANDS[topic].help);
    else return usage(io, `tally help: unknown command ${JSON.stringify(topic)}; the commands are ${Object.keys(COMMANDS).join(', ')}`, 'tally --help');
    return EXIT.ok;
  }
  if (!isCommand(first)) {
    const what = first.startsWith('-') ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`;
    return usage(io, `tally: ${what}; the commands are ${Object.keys(COMMANDS).join(', ')}`, 'tally --help');
  }
  const cmd = COMMANDS[first];
  let values: Values;
  try {
    const options: ParseArgsConfig['options'] = cmd.options;
    values = parseArgs({ args: [...rest], options, strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    return usage(io, `tally ${first}: ${errText(err)}`, `tally ${first} --help`);
  }
  if (values['help'] === true) {
    io.out(cmd.help);
    return EXIT.ok;
  }
  try {
    return await cmd.run(values, io);
  } catch (err) {
    if (err instanceof UsageError) return usage(io, `tally ${first}: ${err.message}`, `tally ${first} --help`);
    if (err instanceof RuntimeError) {
      io.err(`tally ${first}: ${err.message}`);
      return EXIT.failure;
    }
    io.err(`tally ${first}: unexpected error (a bug; please report it with this output): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return EXIT.failure;
  }
}

function usage(io: Io, message: string, helpCommand: string): ExitCode {
  io.err(`${message}\nRun '${helpCommand}' for usage.`);
  return EXIT.usage;
}
