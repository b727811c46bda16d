/**
 * The log sink ml writes to: one human-readable line per event. Structurally the
 * same as `@tally/client`'s Logger, so the CLI can hand the same object to both.
 */
export interface MlLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

/** Writes to the console (stderr for warnings). The default where none is given. */
export const consoleLogger: MlLogger = Object.freeze({
  info: (msg: string): void => console.log(msg),
  warn: (msg: string): void => console.warn(msg),
});

const noop = (): void => {};

export const silentMlLogger: MlLogger = Object.freeze({ info: noop, warn: noop });
