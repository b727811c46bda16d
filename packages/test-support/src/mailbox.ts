/** A FIFO whose reads wait for the next write: how the test servers hand frames to a test without sleeping. */
export class Mailbox<T> {
  readonly #items: T[] = [];
  #waiters: ((t: T) => void)[] = [];

  put(item: T): void {
    const w = this.#waiters.shift();
    if (w) w(item);
    else this.#items.push(item);
  }

  /** Items waiting to be read. */
  get size(): number {
    return this.#items.length;
  }

  next(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
