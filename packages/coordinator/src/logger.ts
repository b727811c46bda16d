/**
 * Logging: a three-method interface the caller may implement (or route to its own
 * logger), and a line formatter for people reading a terminal or a file:
 *
 *   2025-06-01T12:00:00.000Z INFO  round 3 stage ShareKeys: 9/10 answered (1 dropped: id 4 no answer before the deadline) in 812 ms
 *
 * One line per event; fields follow the message as key=value (strings with spaces
 * quoted). Error lines say what to do, not only what went wrong.
 */

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export type LogLevel = 'info' | 'warn' | 'error';

const SAFE = /^[A-Za-z0-9._:/@+-]+$/;

function formatValue(v: unknown): string {
  if (typeof v === 'string') return SAFE.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** ` key=value ...` for a log line's fields ('' without fields); strings with spaces quoted. */
export function formatLogFields(fields?: LogFields): string {
  return fields === undefined ? '' : Object.entries(fields).map(([k, v]) => ` ${k}=${formatValue(v)}`).join('');
}

/** `time LEVEL message key=value ...`, one line (newlines in the message are escaped). */
export function formatLogLine(level: LogLevel, msg: string, fields?: LogFields, now: Date = new Date()): string {
  const tail = formatLogFields(fields);
  return `${now.toISOString()} ${level.toUpperCase().padEnd(5)} ${msg.replace(/\r?\n/g, '\\n')}${tail}`;
}

/** A logger writing formatted lines to `write` (default: standard error). */
export function createLogger(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  return {
    info: (msg, fields) => write(formatLogLine('info', msg, fields)),
    warn: (msg, fields) => write(formatLogLine('warn', msg, fields)),
    error: (msg, fields) => write(formatLogLine('error', msg, fields)),
  };
}

export const silentLogger: Logger = Object.freeze({ info() {}, warn() {}, error() {} });

/** One stage of one round, as the round driver reports it when the stage closes. */
export interface StageReport {
  readonly round: number;
  readonly stage: string;
  /** Clients the stage waited for. */
  readonly expected: number;
  /** Clients whose message was accepted. */
  readonly answered: number;
  /** Clients dropped while this stage was open or when it closed, with the reason. */
  readonly drops: readonly { readonly id: number; readonly reason: string }[];
  readonly ms: number;
  /** Verb for `answered` (TaskOffer: "accepted"). */
  readonly verb?: string;
}

/** `round 3 stage ShareKeys: 9/10 answered (1 dropped: id 4 no answer before the deadline) in 812 ms`. */
export function formatStageLine(r: StageReport): string {
  const drops =
    r.drops.length === 0 ? '' : ` (${r.drops.length} dropped: ${r.drops.map((d) => `id ${d.id} ${d.reason}`).join('; ')})`;
  return `round ${r.round} stage ${r.stage}: ${r.answered}/${r.expected} ${r.verb ?? 'answered'}${drops} in ${Math.round(r.ms)} ms`;
}
