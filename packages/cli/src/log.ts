/**
 * The CLI's log lines, one per event, to standard error:
 *
 *   2025-06-01T12:00:00.000Z INFO  client  round 3 committed: 3 survivors, loss=0.0912
 *
 * The logger fits both the client's Logger (debug/info/warn/error with a message)
 * and the coordinator's (info/warn/error with optional key=value fields).
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Readonly<Record<string, unknown>>;

export interface CliLogger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const SAFE = /^[A-Za-z0-9._:/@+-]+$/;

function formatValue(v: unknown): string {
  if (typeof v === 'string') return SAFE.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'object' && v !== null) {
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  }
  return String(v);
}

export function formatLine(level: LogLevel, component: string, msg: string, fields?: LogFields, now = new Date()): string {
  const tail = fields === undefined ? '' : Object.entries(fields).map(([k, v]) => ` ${k}=${formatValue(v)}`).join('');
  return `${now.toISOString()} ${level.toUpperCase().padEnd(5)} ${component.padEnd(11)} ${msg.replace(/\r?\n/g, '\\n')}${tail}`;
}

/** Lines below `minLevel` are dropped. */
export function createCliLogger(write: (line: string) => void, component: string, minLevel: LogLevel = 'info'): CliLogger {
  const min = LOG_LEVELS.indexOf(minLevel);
  const at =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (LOG_LEVELS.indexOf(level) >= min) write(formatLine(level, component, msg, fields));
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
