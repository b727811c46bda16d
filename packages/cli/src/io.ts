/** What a command needs from the process, injected so commands run in tests without one. */
export interface Io {
  /** Results for the user (keygen's public key, help text). */
  out(text: string): void;
  /** Logs and error messages. */
  err(text: string): void;
  /** Calls `handler` on the first SIGINT or SIGTERM; returns an unsubscribe function. */
  onInterrupt(handler: () => void): () => void;
}

/** The real process's Io, and which signal stopped it (for the exit code: 128 + signal number). */
export interface ProcessIo extends Io {
  /** The first SIGINT or SIGTERM received, else null. */
  signal(): 'SIGINT' | 'SIGTERM' | null;
}

/**
 * A repeat of the first signal within this window is the same Ctrl-C delivered twice:
 * the terminal signals the whole foreground process group, and a wrapper in it (pnpm
 * running `pnpm tally ...`) forwards its own copy to this process as well. Counting
 * that copy as a second Ctrl-C cut the graceful shutdown short.
 */
export const SIGNAL_ECHO_MS = 1_000;

/**
 * The real process. Signals: the first SIGINT/SIGTERM goes to the commands'
 * handlers (a clean shutdown), or exits at once (130 or 143) when none is listening;
 * a second one, later than SIGNAL_ECHO_MS after the first, exits at once.
 */
export function processIo(): ProcessIo {
  const handlers = new Set<() => void>();
  let first: { signal: 'SIGINT' | 'SIGTERM'; at: number } | null = null;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    const now = performance.now();
    if (first !== null) {
      if (now - first.at < SIGNAL_ECHO_MS) return;
      process.exit(exitCodeFor(signal));
    }
    first = { signal, at: now };
    if (handlers.size === 0) process.exit(exitCodeFor(signal));
    for (const h of [...handlers]) h();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: () => first?.signal ?? null,
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    onInterrupt(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
  };
}

/** 128 + the signal's number, the shell's convention. */
export function exitCodeFor(signal: 'SIGINT' | 'SIGTERM'): 130 | 143 {
  return signal === 'SIGINT' ? 130 : 143;
}
