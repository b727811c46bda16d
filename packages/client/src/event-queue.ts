/**
 * A FIFO of events handled one at a time, in arrival order, even when a handler
 * is async (local training takes seconds; the frames that arrive meanwhile wait
 * here rather than interleave). Socket callbacks only push; all protocol logic
 * runs in the handler.
 *
 * Bounded: push() refuses past `maxLength` waiting events (the caller decides
 * what to do: the node drops the connection), except `force`d pushes, which the
 * node uses for connection lifecycle events that must never be lost.
 */
export class EventQueue<E> {
  readonly maxLength: number;
  readonly #handle: (event: E) => void | Promise<void>;
  readonly #onError: (err: unknown, event: E) => void;
  readonly #items: E[] = [];
  #running = false;
  #idleWaiters: (() => void)[] = [];

  /** `onError` gets what a handler threw; the queue then goes on with the next event. */
  constructor(handle: (event: E) => void | Promise<void>, onError: (err: unknown, event: E) => void, maxLength: number) {
    if (!Number.isSafeInteger(maxLength) || maxLength < 1) throw new RangeError(`maxLength: expected an integer ≥ 1, got ${maxLength}`);
    this.#handle = handle;
    this.#onError = onError;
    this.maxLength = maxLength;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Enqueue `event`; false (and nothing queued) when full and not `force`d. */
  push(event: E, force = false): boolean {
    if (!force && this.#items.length >= this.maxLength) return false;
    this.#items.push(event);
    if (!this.#running) void this.#drain();
    return true;
  }

  /** Resolves once the queue is empty and no handler runs. */
  idle(): Promise<void> {
    if (!this.#running && this.#items.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      for (let event = this.#items.shift(); event !== undefined; event = this.#items.shift()) {
        try {
          await this.#handle(event);
        } catch (err) {
          this.#onError(err, event);
        }
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
