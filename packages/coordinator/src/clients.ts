/**
 * The authenticated clients, by enrolled id: at most one live connection per
 * identity (a second one is refused with WIRE_DUPLICATE_CONNECTION). The round
 * loop reads it to pick cohorts and waits on it for enough clients.
 */
import type { Peer } from './connection.ts';

export class ClientRegistry<P extends Peer = Peer> {
  private readonly byId = new Map<number, P>();
  private waiters: { readonly n: number; readonly resolve: () => void }[] = [];

  /** False when the id already has a live connection. */
  add(peer: P): boolean {
    if (this.byId.has(peer.id)) return false;
    this.byId.set(peer.id, peer);
    this.wake();
    return true;
  }

  /** Removes `peer` if it is the registered connection for its id. */
  remove(peer: P): boolean {
    if (this.byId.get(peer.id) !== peer) return false;
    this.byId.delete(peer.id);
    return true;
  }

  get(id: number): P | undefined {
    return this.byId.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Connected ids, ascending. */
  ids(): number[] {
    return [...this.byId.keys()].sort((a, b) => a - b);
  }

  peers(): P[] {
    return this.ids().map((id) => this.byId.get(id)!);
  }

  /** Resolves once at least `n` clients are connected; rejects with `signal.reason` when aborted. */
  waitForAtLeast(n: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.byId.size >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal.reason);
      };
      const waiter = {
        n,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.byId.size >= w.n);
    this.waiters = this.waiters.filter((w) => this.byId.size < w.n);
    for (const w of ready) w.resolve();
  }
}
