/**
 * The CLI's log lines, one per event, to standard error. Two formats:
 *
 *   text (default), for people:
 *   2025-06-01T12:00:00.000Z INFO  client      round 3 committed: 3 survivors, loss=0.0912
 *
 *   json (`--log-format json`), for log collectors, one pino object per line:
 *   {"level":"info","time":"2025-06-01T12:00:00.000Z","component":"client","msg":"round 3 committed: ..."}
 *
 * The logger fits both the client's Logger (debug/info/warn/error with a message)
 * and the coordinator's (info/warn/error with optional key=value fields); text
 * lines format their fields with the coordinator's formatter, so there is one.
 */
import { formatLogFields } from '@tally/coordinator';
import { pino } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Readonly<Record<string, unknown>>;
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface CliLogger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function formatLine(level: LogLevel, component: string, msg: string, fields?: LogFields, now = new Date()): string {
  return `${now.toISOString()} ${level.toUpperCase().padEnd(5)} ${component.padEnd(11)} ${msg.replace(/\r?\n/g, '\\n')}${formatLogFields(fields)}`;
}

/** Lines below `minLevel` are dropped. `write` gets one line without its newline. */
export function createCliLogger(write: (line: string) => void, component: string, minLevel: LogLevel = 'info', format: LogFormat = 'text'): CliLogger {
  if (format === 'json') return jsonLogger(write, component, minLevel);
  const min = LOG_LEVELS.indexOf(minLevel);
  const at =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (LOG_LEVELS.indexOf(level) >= min) write(formatLine(level, component, msg, fields));
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** pino, writing synchronously through `write` (so lines interleave in order with the rest of the CLI's output). */
function jsonLogger(write: (line: string) => void, component: string, minLevel: LogLevel): CliLogger {
  const log = pino(
    {
      level: minLevel,
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (s: string) => write(s.endsWith('\n') ? s.slice(0, -1) : s) },
  );
  const at =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (fields === undefined) log[level](msg);
      else log[level]({ ...fields }, msg);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Parses --log-format; throws a message naming the flag. */
export function parseLogFormat(v: unknown): LogFormat {
  if (v === undefined) return 'text';
  if (v === 'text' || v === 'json') return v;
  throw new Error(`--log-format: expected text or json, got ${JSON.stringify(v)}`);
}
