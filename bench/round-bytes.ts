/**
 * Per-client byte counts for `bench/round.ts`, taken where the bytes really go:
 * each TCP socket a client opens (diagnostics_channel 'net.client.socket'),
 * read through socket.bytesWritten / socket.bytesRead. They therefore include the
 * WebSocket framing (2-14 bytes per frame; a client's frames carry a 4-byte
 * masking key, RFC 6455 §5.3), pings and the close handshake; not TCP/IP headers.
 *
 * A client's round starts when its model frame has been read (the trainer is
 * called: `markRoundStart`) and ends when its socket has closed. Upload in the
 * round is exact (a client writes nothing between its handshake and its reply to
 * the model). Download adds back the model frame itself, whose size the caller
 * knows (`modelFrameBytes`); what is left before it is the connection's upgrade
 * and handshake, reported on its own.
 *
 * Attribution: a socket belongs to the client whose `claim` call created it
 * synchronously (ws opens the TCP connection inside `new WebSocket`). A socket
 * opened later, by a reconnect timer, cannot be attributed and is an orphan: its
 * bytes are counted apart and the bench reports that the figures are incomplete.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export interface ByteCounts {
  readonly read: number;
  readonly written: number;
}

/** One client's sockets and the counts at the start of its round. */
export class ClientBytes {
  readonly sockets: Socket[] = [];
  atRoundStart: ByteCounts | null = null;

  /** Σ over this client's sockets, now (the counters survive the socket's close). */
  counts(): ByteCounts {
    let read = 0;
    let written = 0;
    for (const s of this.sockets) {
      read += s.bytesRead;
      written += s.bytesWritten ?? 0;
    }
    return { read, written };
  }

  markRoundStart(): void {
    this.atRoundStart ??= this.counts();
  }
}

export interface RoundBytes {
  /** Written by the client from the model frame's arrival to the socket's close. */
  readonly up: number;
  /** Read by the client in the same span, plus the model frame. */
  readonly down: number;
  /** Written before the round: the HTTP upgrade request and (secure round) Hello + AuthResponse. */
  readonly upBefore: number;
  /** Read before the model frame: the upgrade response and (secure round) Challenge + Welcome. */
  readonly downBefore: number;
}

export function roundBytes(c: ClientBytes, modelFrameBytes: number): RoundBytes | null {
  const start = c.atRoundStart;
  if (start === null) return null;
  const end = c.counts();
  return {
    up: end.written - start.written,
    down: end.read - start.read + modelFrameBytes,
    upBefore: start.written,
    downBefore: start.read - modelFrameBytes,
  };
}

/** Size on the wire of one unmasked (server-to-client) binary frame: RFC 6455 §5.2 header + payload. */
export function serverFrameBytes(payload: number): number {
  return payload + (payload < 126 ? 2 : payload < 65_536 ? 4 : 10);
}

const CHANNEL = 'net.client.socket';

export class SocketMeter {
  readonly orphans: Socket[] = [];
  readonly #all: Socket[] = [];
  #claimant: ClientBytes | null = null;
  readonly #onSocket = (message: unknown): void => {
    const socket = (message as { socket: Socket }).socket;
    this.#all.push(socket);
    if (this.#claimant === null) this.orphans.push(socket);
    else this.#claimant.sockets.push(socket);
  };

  constructor() {
    subscribe(CHANNEL, this.#onSocket);
  }

  /** Runs `open`, attributing each client socket it creates synchronously to `client`. */
  claim<T>(client: ClientBytes, open: () => T): T {
    this.#claimant = client;
    try {
      return open();
    } finally {
      this.#claimant = null;
    }
  }

  /** Resolves once every socket seen so far has closed. */
  async allClosed(): Promise<void> {
    await Promise.all(
      this.#all.map((s) => (s.closed ? undefined : new Promise<void>((resolve) => s.once('close', () => resolve())))),
    );
  }

  orphanCounts(): ByteCounts {
    return {
      read: this.orphans.reduce((a, s) => a + s.bytesRead, 0),
      written: this.orphans.reduce((a, s) => a + (s.bytesWritten ?? 0), 0),
    };
  }

  dispose(): void {
    unsubscribe(CHANNEL, this.#onSocket);
  }
}
