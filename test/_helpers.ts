/**
 * Shared set-up for the cross-package tests: a real coordinator on 127.0.0.1:0 with
 * enrolled identities, real client nodes, a raw authenticated socket for tests that
 * misbehave on purpose, loggers that record their lines, and one cleanup list that
 * closes everything a test started (call `cleanup()` in afterEach).
 *
 * Nothing here sleeps: every wait is on an event, a log line or a socket.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { generateIdentity, signMessage, toHex, type KeyPair } from '@tally/secagg';
import {
  ProtocolError,
  authTranscript,
  decode,
  encode,
  parseCoordinatorMessage,
  type CoordinatorMessage,
  type ErrorNotice,
  type NodeClientMessage,
  type Welcome,
} from '@tally/wire';
import {
  parseCoordinatorConfig,
  parseEnrolment,
  startCoordinator,
  type Coordinator,
  type CoordinatorEvent,
} from '@tally/coordinator';
import { startClientNode, type ClientNode, type ClientNodeOptions, type Policy, type Trainer } from '@tally/client';

// ---- cleanup and logging: shared with the packages' tests ---------------------------------

export { Lines, cleanup, onCleanup, tempDir } from '@tally/test-support';
import { Lines, TEST_TASK_ID, onCleanup, tempDir, testCoordinatorConfig } from '@tally/test-support';

// ---- coordinator ----------------------------------------------------------------------

export const TASK_ID = TEST_TASK_ID;

/** A valid coordinator config JSON for a small task (4 weights, 1 metric); `task` and `limits` override. */
export function configJson(task: Record<string, unknown> = {}, limits: Record<string, unknown> = {}): Record<string, unknown> {
  return testCoordinatorConfig(task, { limits: { maxBufferedBytes: 1 << 20, ...limits } });
}

export interface Started {
  readonly coordinator: Coordinator;
  /** Enrolled identities; identity i has client id i + 1. */
  readonly ids: KeyPair[];
  readonly events: CoordinatorEvent[];
  readonly log: Lines;
}

/** Starts a coordinator on 127.0.0.1:0 with `n` enrolled identities (closed by cleanup()). */
export async function startTestCoordinator(opts: {
  readonly n: number;
  readonly task?: Record<string, unknown>;
  readonly limits?: Record<string, unknown>;
}): Promise<Started> {
  const dataDir = await tempDir();
  const ids = Array.from({ length: opts.n }, () => generateIdentity());
  const config = parseCoordinatorConfig({ ...configJson(opts.task, opts.limits), dataDir }, dataDir);
  const enrolment = parseEnrolment(
    { clients: ids.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) },
    'test',
  );
  const log = new Lines();
  const coordinator = await startCoordinator({ config, logger: log, enrolment, unmaskThreads: 1 });
  onCleanup(() => coordinator.close());
  const events: CoordinatorEvent[] = [];
  coordinator.on((e) => events.push(e));
  return { coordinator, ids, events, log };
}

/** The first coordinator event (past or future) matching `pred`. */
export function waitEvent<T extends CoordinatorEvent>(s: Started, pred: (e: CoordinatorEvent) => e is T): Promise<T> {
  const hit = s.events.find(pred);
  if (hit !== undefined) return Promise.resolve(hit as T);
  return new Promise((resolve) => {
    const off = s.coordinator.on((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}

export type RoundEvent = Extract<CoordinatorEvent, { type: 'round' }>;

export const isRound = (e: CoordinatorEvent): e is RoundEvent => e.type === 'round';
export const isCommitted =
  (round: number) =>
  (e: CoordinatorEvent): e is RoundEvent =>
    e.type === 'round' && e.summary.round === round && e.summary.status === 'committed';

// ---- client nodes -------------------------------------------------------------------

/** Moves every weight by +0.01 and reports 10 samples and loss 0.5: small enough for every quantisation used here. */
export const trivialTrainer: Trainer = {
  async train({ weights }) {
    return { delta: new Float32Array(weights.length).fill(0.01), weight: 10, metrics: [0.5] };
  },
};

// Fault tests retry a round many times: allow it (the default policy.maxAttemptsPerRound is 3).
export const POLICY: Policy = { tasks: [TASK_ID], minCohort: 2, minThreshold: 1, maxRounds: 1_000_000, maxAttemptsPerRound: 1000 };

/** A real client node (closed by cleanup()) and its log. */
export function startNode(url: string, identity: KeyPair, overrides: Partial<ClientNodeOptions> = {}): { node: ClientNode; log: Lines } {
  const log = new Lines();
  const node = startClientNode({
    url,
    identity,
    trainer: trivialTrainer,
    policy: POLICY,
    logger: log,
    reconnect: { initialMs: 5, maxMs: 20 },
    heartbeatMs: 0,
    ...overrides,
  });
  onCleanup(() => node.close());
  return { node, log };
}

// ---- a raw socket ---------------------------------------------------------------------

export interface RawClientOptions {
  /** Authenticate with this enrolled identity as soon as the Challenge arrives. */
  readonly identity?: KeyPair;
  /** Sees every parsed message after it is recorded (and after the Challenge is answered). */
  readonly onMessage?: (msg: CoordinatorMessage) => void;
  /** Register with cleanup() (default true); a caller that opens thousands closes its own. */
  readonly track?: boolean;
}

export type RoundTrip = 'pong' | 'closed';

/**
 * One WebSocket to the coordinator with the real `ws` client and the wire codec, and
 * nothing else: it answers the Challenge (when given an identity) and records what
 * arrives. Tests send whatever they like through it.
 */
export class RawClient {
  readonly ws: WebSocket;
  readonly received: CoordinatorMessage[] = [];
  /** Frames from the coordinator that did not parse (never expected). */
  readonly invalid: ProtocolError[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  /** Rejects when the socket closes first. */
  readonly welcome: Promise<Welcome>;
  isClosed = false;
  #waiters: { readonly pred: (m: CoordinatorMessage) => boolean; readonly resolve: (m: CoordinatorMessage) => void; readonly reject: (e: Error) => void }[] = [];
  #pongs: ((r: RoundTrip) => void)[] = [];

  constructor(url: string, opts: RawClientOptions = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.isClosed = true;
        const err = new Error(`socket closed (${code} ${reason.toString()})`);
        for (const w of this.#waiters.splice(0)) w.reject(err);
        for (const p of this.#pongs.splice(0)) p('closed');
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ws.on('pong', () => this.#pongs.shift()?.('pong'));
    this.welcome = this.waitFor((m): m is Welcome => m.type === 'Welcome');
    this.welcome.catch(() => undefined);
    const identity = opts.identity;
    this.ws.on('message', (data, isBinary) => {
      const msg = isBinary
        ? parseCoordinatorMessage(decode(toBytes(data)))
        : new ProtocolError('WIRE_MALFORMED', 'text frame from the coordinator');
      if (msg instanceof ProtocolError) {
        this.invalid.push(msg);
        return;
      }
      this.received.push(msg);
      if (msg.type === 'Challenge' && identity !== undefined) {
        this.send({ type: 'Hello', identityKey: identity.publicKey, clientVersion: 'tally-test/0' });
        this.send({ type: 'AuthResponse', sig: signMessage(identity.secretKey, authTranscript(msg.nonce, identity.publicKey)) });
      }
      opts.onMessage?.(msg);
      const hit = this.#waiters.filter((w) => w.pred(msg));
      this.#waiters = this.#waiters.filter((w) => !hit.includes(w));
      for (const w of hit) w.resolve(msg);
    });
    if (opts.track !== false) onCleanup(() => this.terminate());
  }

  /** The first message (past, unless `past` is false, or future) matching `pred`; rejects if the socket closes first. */
  waitFor<T extends CoordinatorMessage>(pred: (m: CoordinatorMessage) => m is T, past?: boolean): Promise<T>;
  waitFor(pred: (m: CoordinatorMessage) => boolean, past?: boolean): Promise<CoordinatorMessage>;
  waitFor(pred: (m: CoordinatorMessage) => boolean, past = true): Promise<CoordinatorMessage> {
    if (past) {
      const hit = this.received.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
    }
    if (this.isClosed) return Promise.reject(new Error('socket already closed'));
    return new Promise((resolve, reject) => this.#waiters.push({ pred, resolve, reject }));
  }

  notices(from = 0): ErrorNotice[] {
    return this.received.slice(from).filter((m): m is ErrorNotice => m.type === 'ErrorNotice');
  }

  send(msg: NodeClientMessage): void {
    this.ws.send(encode(msg), { binary: true });
  }

  sendRaw(data: Uint8Array | string, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  /**
   * A ping, answered with 'pong' or 'closed'. The coordinator handles frames in the
   * order they arrive and answers the ping after the frames sent before it, so once
   * the pong is here every earlier frame has been handled (and any notice for it
   * has arrived).
   */
  roundTrip(): Promise<RoundTrip> {
    if (this.isClosed || this.ws.readyState !== WebSocket.OPEN) return this.closed.then(() => 'closed' as const);
    const p = new Promise<RoundTrip>((resolve) => this.#pongs.push(resolve));
    this.ws.ping();
    return p;
  }

  terminate(): Promise<unknown> {
    if (this.ws.readyState === WebSocket.CONNECTING) {
      // terminate() on a connecting socket emits an error and then close.
      this.ws.terminate();
      return this.closed;
    }
    if (!this.isClosed) this.ws.terminate();
    return this.closed;
  }
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/** GET /status over loopback HTTP with the console token: the status code and the parsed body. */
export async function getStatus(coordinator: Coordinator): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${coordinator.port}/status`, { headers: { authorization: `Bearer ${coordinator.console.token}` } });
  return { status: res.status, body: await res.json() };
}

/** A self-signed certificate for 127.0.0.1 in `dir`, made with the system's openssl (the TLS and fail-fast tests). */
export function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
