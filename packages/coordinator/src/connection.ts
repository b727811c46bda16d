/**
 * One client's WebSocket. The inbound pipeline for every frame:
 *
 *   binary? -> decode(budget) -> parseClientMessage(limits) -> authenticated ? deliver : authStep
 *
 * Any ProtocolError from the pipeline is frame-level: the client gets an
 * ErrorNotice and the socket is closed with the error's close code (CLOSE_CODES).
 * A frame above `maxPayload` never reaches us: ws closes with 1009 itself. After
 * authentication, well-formed messages go to `hooks.message` (the task decides what
 * they mean); this file makes no protocol decisions beyond authentication.
 *
 * Resource bounds: the auth timeout; before authentication, frames of at most
 * PRE_AUTH_BUDGET (1 KiB): ws itself is told so for this socket (setSocketMaxPayload),
 * so a longer frame is closed with 1009 from its header, before its payload is
 * buffered, and decode() checks the length again before reading a byte; parse
 * limits that refuse any list or vector. After authentication each frame is
 * bounded by its type's budget (frameBudget under the task's limits) before it
 * is decoded. `maxBufferedBytes` on the send buffer (a client that
 * does not read is dropped rather than buffered without end); liveness via the
 * heartbeat (a ping each interval, terminate when the previous one got no pong).
 */
import type { RawData, WebSocket } from 'ws';
import { osRandom, type RandomSource } from '@tally/secagg';
import {
  NONCE_BYTES,
  PRE_AUTH_BUDGET,
  ProtocolError,
  ProtocolErrorCode,
  decode,
  encode,
  errorNotice,
  frameBudget,
  parseClientMessage,
  type DecodeBudget,
  type CoordinatorMessage,
  type NodeClientMessage,
  type TaskDescriptor,
  type WireLimits,
} from '@tally/wire';
import { authStep, type AuthState } from './auth.ts';
import type { EnrolledClient, Enrolment } from './enrolment.ts';
import type { Logger } from './logger.ts';
import { setSocketMaxPayload } from './ws-payload.ts';

/** What the rest of the coordinator sees of an authenticated client. */
export interface Peer {
  readonly id: number;
  readonly name: string;
  /** Queues one message; false when the socket is gone or was dropped for buffering too much. */
  send(msg: CoordinatorMessage): boolean;
  /** Queues an encoded frame; resolves once ws has written it (true) or failed to (false). */
  sendFrame(frame: Uint8Array): Promise<boolean>;
  /** An ErrorNotice that does not end the connection (stage and round errors). */
  notice(err: ProtocolError): void;
  close(code: number, reason: string): void;
}

export interface ConnectionHooks {
  readonly enrolment: Enrolment;
  /** Parse limits for authenticated clients (vector length of the current task). */
  readonly limits: Partial<WireLimits>;
  /** Registers the authenticated connection; returns a Duplicate error when the identity is already connected. */
  readonly authenticated: (conn: ClientConnection) => ProtocolError | null;
  readonly message: (conn: ClientConnection, msg: NodeClientMessage) => void;
  /** Called once, when the socket has closed (authenticated or not). */
  readonly closed: (conn: ClientConnection, code: number, reason: string) => void;
  readonly logger: Logger;
}

export interface ConnectionOptions {
  readonly taskId: string;
  /** Sent in Welcome so that clients refuse at authentication what no round could satisfy. */
  readonly task?: TaskDescriptor;
  readonly coordinatorVersion: string;
  readonly authTimeoutMs: number;
  readonly maxBufferedBytes: number;
  /** Source of challenge nonces (default: the OS CSPRNG). */
  readonly random?: RandomSource;
}

/** Before authentication only Hello and AuthResponse make sense: refuse any list or vector outright. */
const PRE_AUTH_LIMITS: Partial<WireLimits> = { maxCohort: 0, maxVectorLength: 0, maxCiphertextBytes: 0, maxShareBytes: 0, maxMetrics: 0 };

/** RFC 6455 §5.5: a close frame's reason is at most 123 bytes of UTF-8. */
function closeReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r, 'utf8') > 123) r = r.slice(0, -1);
  return r;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

export class ClientConnection implements Peer {
  readonly remote: string;
  private readonly ws: WebSocket;
  private readonly hooks: ConnectionHooks;
  private readonly opts: ConnectionOptions;
  private auth: AuthState;
  private authTimer: NodeJS.Timeout | undefined;
  private alive = true;
  private closing = false;
  private closedFired = false;
  /** Frame bound after authentication: the server's maxPayload, restored on Welcome. */
  private readonly maxPayload: number | null;
  private readonly budget: DecodeBudget;

  constructor(ws: WebSocket, remote: string, hooks: ConnectionHooks, opts: ConnectionOptions) {
    this.ws = ws;
    this.remote = remote;
    this.hooks = hooks;
    this.opts = opts;
    const nonce = (opts.random ?? osRandom)(NONCE_BYTES);
    this.auth = { stage: 'challenged', nonce };
    const limits = hooks.limits;
    this.budget = (type) => frameBudget(type, limits);
    this.maxPayload = setSocketMaxPayload(ws, PRE_AUTH_BUDGET.bytes);
    ws.on('message', (data, isBinary) => {
      this.alive = true; // any frame shows the peer is there, not only a pong
      this.receive(data, isBinary);
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('error', (err) => this.onSocketError(err));
    ws.on('close', (code, reason) => this.onClosed(code, reason.toString('utf8')));
    this.authTimer = setTimeout(() => {
      this.fail(new ProtocolError(ProtocolErrorCode.PolicyRefused, `no authentication within ${opts.authTimeoutMs} ms (limits.authTimeoutMs); send Hello and AuthResponse right after the Challenge`));
    }, opts.authTimeoutMs);
    this.send({ type: 'Challenge', nonce, coordinatorVersion: opts.coordinatorVersion });
  }

  get client(): EnrolledClient | undefined {
    return this.auth.stage === 'done' ? this.auth.client : undefined;
  }

  get authenticated(): boolean {
    return this.auth.stage === 'done' && !this.closing;
  }

  /** The enrolled id (0 before authentication). */
  get id(): number {
    return this.client?.id ?? 0;
  }

  get name(): string {
    return this.client?.name ?? '';
  }

  /** A label for logs: `id 3 (shop-c)` or the remote address before authentication. */
  get label(): string {
    const c = this.client;
    return c ? `id ${c.id} (${c.name})` : `unauthenticated ${this.remote}`;
  }

  /** The inbound pipeline for one frame (see the top of this file). Never throws. */
  receive(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    try {
      if (!isBinary) {
        this.fail(new ProtocolError(ProtocolErrorCode.Malformed, 'expected a binary frame, got a text frame'));
        return;
      }
      const authed = this.auth.stage === 'done';
      const msg = parseClientMessage(decode(toBytes(data), authed ? this.budget : PRE_AUTH_BUDGET), authed ? this.hooks.limits : PRE_AUTH_LIMITS);
      if (msg instanceof ProtocolError) {
        this.fail(msg);
        return;
      }
      if (this.auth.stage !== 'done') {
        this.authenticate(msg);
        return;
      }
      if (msg.type === 'Hello' || msg.type === 'AuthResponse') {
        this.notice(new ProtocolError(ProtocolErrorCode.WrongStage, `already authenticated; ${msg.type} is only valid right after connecting`));
        return;
      }
      this.hooks.message(this, msg);
    } catch (err) {
      // A bug on our side; the client gets a generic notice and the server goes on.
      this.hooks.logger.error(`internal error handling a frame from ${this.label}: ${(err as Error).message}; this is a coordinator bug, please report it`, {
        stack: (err as Error).stack,
      });
      this.notice(new ProtocolError(ProtocolErrorCode.Internal, 'internal error in the coordinator'));
    }
  }

  private authenticate(msg: NodeClientMessage): void {
    const next = authStep(this.auth, msg, this.hooks.enrolment);
    if (next instanceof ProtocolError) {
      this.hooks.logger.warn(`refused ${this.remote}: ${next.message}`, { code: next.code });
      this.fail(next);
      return;
    }
    this.auth = next;
    if (next.stage !== 'done') return;
    clearTimeout(this.authTimer);
    if (this.maxPayload !== null) setSocketMaxPayload(this.ws, this.maxPayload);
    const dup = this.hooks.authenticated(this);
    if (dup) {
      this.hooks.logger.warn(`refused a second connection for ${this.label} from ${this.remote}: ${dup.message}`, { code: dup.code });
      this.fail(dup);
      return;
    }
    this.send({ type: 'Welcome', clientId: next.client.id, taskId: this.opts.taskId, ...(this.opts.task === undefined ? {} : { task: this.opts.task }) });
  }

  send(msg: CoordinatorMessage): boolean {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return false;
    if (!this.checkBuffer()) return false;
    this.ws.send(encode(msg), { binary: true }, (err) => {
      if (err) this.hooks.logger.warn(`send to ${this.label} failed: ${err.message}`);
    });
    return true;
  }

  sendFrame(frame: Uint8Array): Promise<boolean> {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return Promise.resolve(false);
    if (!this.checkBuffer()) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.ws.send(frame, { binary: true }, (err) => {
        if (err) this.hooks.logger.warn(`send to ${this.label} failed: ${err.message}`);
        resolve(err === undefined || err === null);
      });
    });
  }

  notice(err: ProtocolError): void {
    this.send(errorNotice(err));
  }

  /** ErrorNotice, then close with the error's close code. */
  fail(err: ProtocolError): void {
    if (this.closing) return;
    this.notice(err);
    this.close(err.closeCode, err.message);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.authTimer);
    try {
      this.ws.close(code, closeReason(reason));
    } catch {
      this.ws.terminate();
    }
  }

  /** Drops the socket without a close handshake (dead or hostile peer). */
  terminate(reason: string): void {
    if (!this.closedFired) this.hooks.logger.warn(`dropping ${this.label}: ${reason}`);
    this.closing = true;
    clearTimeout(this.authTimer);
    this.ws.terminate();
  }

  /**
   * One heartbeat tick: terminate if nothing (pong or frame) came since the last
   * ping, else ping again. `lateTick`: this process's own event loop was stalled past
   * the interval, so unread pongs may be waiting; only ping this time.
   */
  heartbeat(lateTick = false): void {
    if (this.closedFired) return;
    if (!this.alive && !lateTick) {
      this.terminate('no pong since the last heartbeat (limits.heartbeatMs)');
      return;
    }
    if (!this.checkBuffer()) return;
    this.alive = false;
    try {
      this.ws.ping();
    } catch {
      // not open yet or already closing: the close event follows
    }
  }

  /** False (and the socket terminated) when the client lets more than maxBufferedBytes pile up. */
  private checkBuffer(): boolean {
    if (this.ws.bufferedAmount <= this.opts.maxBufferedBytes) return true;
    this.terminate(`over ${this.opts.maxBufferedBytes} bytes (limits.maxBufferedBytes) waiting to be sent: the client is not reading`);
    return false;
  }

  private onSocketError(err: Error): void {
    const code = (err as { code?: string }).code;
    this.hooks.logger.warn(`socket error from ${this.label}: ${err.message}`, code === undefined ? undefined : { code });
  }

  private onClosed(code: number, reason: string): void {
    clearTimeout(this.authTimer);
    this.closing = true;
    if (this.closedFired) return;
    this.closedFired = true;
    try {
      this.hooks.closed(this, code, reason);
    } catch (err) {
      this.hooks.logger.error(`internal error after ${this.label} closed: ${(err as Error).message}; this is a coordinator bug, please report it`);
    }
  }
}
