/** The `tally` command's exit codes (documented in `tally --help`). */
export const EXIT = {
  /** Done: the task completed, or keygen wrote the key. */
  ok: 0,
  /** Something failed at run time: refused by the coordinator, port in use, I/O error. */
  failure: 1,
  /** The command line or a config file is wrong; the message names the flag or field. */
  usage: 2,
  /** Stopped by SIGINT (Ctrl-C) after a clean shutdown (128 + SIGINT). */
  interrupted: 130,
  /** Stopped by SIGTERM after a clean shutdown (128 + SIGTERM): commands return `interrupted`, bin.ts says which signal. */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake on the command line or in a config file: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure at run time: exit code 1. */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
