/**
 * Model-sized arrays for MaskedInput.y, lent when a node masks and taken back once the
 * message is on the wire (node.ts, the send's callback). A fresh 4 MB array costs a page
 * fault per 4 KiB on first touch (14–18 ms on the bench VM); a returned one is warm.
 *
 * One pool per thread (module state), shared by every node on the thread: each masks and
 * sends in one synchronous step, and an array is lent again only after its send finished,
 * so no two messages ever share one. An array that never comes back (a send that never
 * completes) is simply collected; the pool keeps at most MAX_IDLE.
 */
const MAX_IDLE = 2;

export class LanePool {
  readonly #idle: Uint32Array[] = [];
  readonly #lent = new WeakSet<Uint32Array>();

  /** An array of `lanes` lanes (contents unspecified: the masking writes every lane). */
  take(lanes: number): Uint32Array {
    const i = this.#idle.findIndex((b) => b.length === lanes);
    const buf = i >= 0 ? this.#idle.splice(i, 1)[0]! : new Uint32Array(lanes);
    this.#lent.add(buf);
    return buf;
  }

  /** Takes back an array this pool lent (anything else is ignored); true if it was one. */
  give(buf: Uint32Array): boolean {
    if (!this.#lent.has(buf)) return false;
    this.#lent.delete(buf);
    if (this.#idle.length < MAX_IDLE) this.#idle.push(buf);
    return true;
  }

  /** Arrays ready to lend (for tests). */
  get idle(): number {
    return this.#idle.length;
  }
}

/** This thread's pool for MaskedInput.y (round.ts lends, node.ts takes back). */
export const maskedInputPool = new LanePool();
