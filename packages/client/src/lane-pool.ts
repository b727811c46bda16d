/**
 * Model-sized arrays for MaskedInput.y, lent when a node masks and taken back once the
 * message is on the wire (node.ts, the send's callback). A fresh 4 MB array costs a page
 * fault per 4 KiB on first touch (14–18 ms on the bench VM); a returned one is warm.
 *
 * Each array sits FRAME_HEADROOM bytes into its buffer, so that the node can write the
 * MaskedInput frame's head (wire `encodeParts`) right before the vector and hand the
 * socket one frame with no copy: not two fragments, which the coordinator's WebSocket
 * library would copy back into one 4 MB message per client.
 *
 * One pool per thread (module state), shared by every node on the thread: each masks and
 * sends in one synchronous step, and an array is lent again only after its send finished,
 * so no two messages ever share one. An array that never comes back (a send that never
 * completes) is simply collected; the pool keeps at most MAX_IDLE.
 */
const MAX_IDLE = 2;
/** Room for a MaskedInput frame's head (about 100 bytes); a multiple of 4, so y stays aligned. */
export const FRAME_HEADROOM = 256;

export class LanePool {
  readonly #idle: Uint32Array[] = [];
  readonly #lent = new WeakSet<Uint32Array>();

  /** An array of `lanes` lanes (contents unspecified: the masking writes every lane). */
  take(lanes: number): Uint32Array {
    const i = this.#idle.findIndex((b) => b.length === lanes);
    const buf = i >= 0 ? this.#idle.splice(i, 1)[0]! : new Uint32Array(new ArrayBuffer(FRAME_HEADROOM + 4 * lanes), FRAME_HEADROOM, lanes);
    this.#lent.add(buf);
    return buf;
  }

  /**
   * The whole frame `head ‖ y` in y's own buffer (the head written into the headroom just
   * before y), or null when y is not lent by this pool or the head does not fit.
   */
  frame(y: Uint32Array, head: Uint8Array): Uint8Array | null {
    if (!this.#lent.has(y) || head.length > y.byteOffset) return null;
    const at = y.byteOffset - head.length;
    const frame = new Uint8Array(y.buffer, at, head.length + y.byteLength);
    frame.set(head, 0);
    return frame;
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

/** This thread's pool for MaskedInput.y (round.ts lends, node.ts writes the frame around it and takes it back). */
export const maskedInputPool = new LanePool();
