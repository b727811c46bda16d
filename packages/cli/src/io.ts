/** What a command needs from the process, injected so commands run in tests without one. */
export interface Io {
  /** Results for the user (keygen's public key, help text). */
  out(text: string): void;
  /** Logs and error messages. */
  err(text: string): void;
  /** Calls `handler` on the first SIGINT or SIGTERM; returns an unsubscribe function. */
  onInterrupt(handler: () => void): () => void;
}

/**
 * The real process. Signals: the first SIGINT/SIGTERM goes to the commands'
 * handlers (a clean shutdown), or exits with 130 at once when none is listening;
 * a second one always exits at once.
 */
export function processIo(): Io {
  const handlers = new Set<() => void>();
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals > 1 || handlers.size === 0) process.exit(130);
    for (const h of [...handlers]) h();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    onInterrupt(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
  };
}
