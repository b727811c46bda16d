/**
 * The node's log sink: one human-readable line per event. The CLI prints them with
 * a timestamp; tests collect them. Messages never contain secret keys.
 */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const noop = (): void => {};

export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
