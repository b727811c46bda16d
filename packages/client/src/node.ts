/**
 * The client node: one WebSocket connection to the coordinator, kept up with
 * reconnects, over which it authenticates, answers task offers under its policy,
 * trains (through the injected Trainer), and drives the secagg client machine.
 *
 * Socket callbacks only enqueue events; one EventQueue handles them in order, so
 * frames that arrive while the trainer runs wait their turn (STYLE.md: no
 * protocol logic in ws callbacks). Per-round work lives in round.ts.
 *
 * Connection outcomes (close codes from @tally/wire's CLOSE_CODES):
 * - 1000 from the coordinator: the task is complete; `done` resolves.
 * - 4005 auth failed, 4006 not enrolled, 4007 duplicate connection (on the first
 *   connection; after a reconnect it is most likely our own stale socket, so the
 *   node backs off and retries), 4001 another
 *   protocol version, 1008 refused by the coordinator's policy (e.g. the task is
 *   already complete): retrying cannot help; `done` resolves with status
 *   'rejected' and the log says what to do.
 * - anything else (network loss, coordinator restart, a frame we refused): the
 *   node reconnects after an exponential, jittered delay (backoff.ts).
 */
import { WebSocket } from 'ws';
import { osRandom, signMessage, toHex, type KeyPair, type RandomSource } from '@tally/secagg';
import {
  CLOSE_CODES,
  DEFAULT_LIMITS,
  DeclineReason,
  ProtocolError,
  ProtocolErrorCode,
  authTranscript,
  decode,
  encode,
  encodeParts,
  frameBudget,
  isLoopbackHost,
  parseCoordinatorMessage,
  type CoordinatorMessage,
  type GlobalModel,
  type NodeClientMessage,
  type WireLimits,
} from '@tally/wire';
import { backoffDelay, resolveReconnect, type ReconnectOptions } from './backoff.ts';
import { EventQueue } from './event-queue.ts';
import { maskedInputPool } from './lane-pool.ts';
import type { Ledger } from './ledger.ts';
import { silentLogger, type Logger } from './logger.ts';
import { peerIdOf } from './peers.ts';
import type { Policy } from './policy.ts';
import { ParticipationStore } from './participation-store.ts';
import { DpBudgetStore } from './dp-budget-store.ts';
import { RoundRunner, type RoundMessage } from './round.ts';
import type { Trainer } from './trainer.ts';
import { checkTask, speaksTls, tlsProblem } from './compat.ts';

export const CLIENT_VERSION = 'tally-client/0.1.0';

/**
 * Default frame bound: the largest vector the wire accepts (DEFAULT_LIMITS.maxVectorLength
 * lanes of 4 bytes, i.e. 64 MiB) plus 64 KiB of envelope. A TaskOffer carries the model.
 */
export const DEFAULT_MAX_PAYLOAD = 4 * DEFAULT_LIMITS.maxVectorLength + 65_536;
/** Default interval of the client's ping; a connection with no pong for a whole interval is dropped. */
export const DEFAULT_HEARTBEAT_MS = 30_000;
/** Default bound on the opening handshake (TCP, TLS, HTTP upgrade). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default bound on frames waiting to be handled (they wait while the trainer runs). */
export const DEFAULT_MAX_QUEUED_FRAMES = 1024;

export interface ClientNodeOptions {
  /** ws:// or wss:// URL of the coordinator. */
  readonly url: string;
  /** The enrolled Ed25519 identity key pair. */
  readonly identity: KeyPair;
  readonly trainer: Trainer;
  readonly policy: Policy;
  /**
   * The shop's copy of the enrolment list: enrolled client id -> identity public key
   * (the config's `peers`). Every RoundStart roster entry must be in it with the same
   * key, or the node leaves the round (policy rule peers). Without it the node cannot
   * tell enrolled shops from keys the coordinator adds, and says so once at start.
   */
  readonly enrolled?: ReadonlyMap<number, Uint8Array>;
  readonly logger?: Logger;
  /** Reconnect delays; default { initialMs: 500, maxMs: 30000 }. */
  readonly reconnect?: Partial<ReconnectOptions>;
  /** CSPRNG for secagg keys, stochastic rounding and reconnect jitter. Default: the OS CSPRNG. */
  readonly random?: RandomSource;
  /** PEM CA certificate(s) to trust for a wss:// coordinator (e.g. a self-signed one). */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /**
   * Weights the trainer's model has, where it knows: a task with another modelLength
   * (Welcome.task) stops the node at authentication (status 'incompatible').
   */
  readonly modelLength?: number;
  /** Ping interval in ms; 0 turns the heartbeat off. Default DEFAULT_HEARTBEAT_MS. */
  readonly heartbeatMs?: number;
  /** Largest frame accepted from the coordinator, in bytes. Default DEFAULT_MAX_PAYLOAD. */
  readonly maxPayload?: number;
  /** Bounds applied when parsing the coordinator's messages. Default DEFAULT_LIMITS. */
  readonly limits?: Partial<WireLimits>;
  /** Most frames waiting to be handled before the connection is dropped. Default DEFAULT_MAX_QUEUED_FRAMES. */
  readonly maxQueuedFrames?: number;
  /**
   * Directory for the participation record (participation-store.ts): the (session,
   * round) pairs taken part in and the rounds contributed, so that a restart resets
   * neither. Absent: kept in memory only, and the node warns at start.
   */
  readonly stateDir?: string;
  /**
   * Called with each committed global model (GlobalModel): after every committed
   * round, and with `final` when the task completes. Frames wait while it runs, so
   * it should be quick or hand the work off; an error it throws is logged.
   */
  readonly onModel?: (model: GlobalModel) => void | Promise<void>;
  /** The shop's privacy ledger (`Ledger.open(stateDir)`); absent: nothing is recorded. */
  readonly ledger?: Ledger;
}

export const NODE_STATUSES = ['completed', 'rejected', 'incompatible', 'closed'] as const;
/**
 * completed: the coordinator ended the task (close 1000); rejected: it refused us for good;
 * incompatible: this client's own setup can never work with this coordinator's task (not
 * enrolled or the wrong key, no consent, a policy no round can meet, another model length,
 * a TLS trust or ws/wss mismatch; compat.ts): a configuration to fix; closed: close() was called.
 */
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface NodeResult {
  /** Rounds this node sent a masked input for. */
  readonly rounds: number;
  readonly reason: string;
  readonly status: NodeStatus;
}

export type ConnectionState = 'connecting' | 'authenticating' | 'ready' | 'waiting' | 'stopped';

export interface ClientNodeStats {
  readonly state: ConnectionState;
  /** Enrolled id from the last Welcome, or null before the first. */
  readonly clientId: number | null;
  /** Sockets opened so far (1 + successful reconnects). */
  readonly connections: number;
  readonly offersAccepted: number;
  readonly offersRefused: number;
  /** Rounds this node sent a masked input for (counted against policy.maxRounds). */
  readonly roundsContributed: number;
  /** RoundResults received, by status. */
  readonly roundsCommitted: number;
  readonly roundsAborted: number;
  /** Rounds this node left because its secagg machine refused a message. */
  readonly roundErrors: number;
  /** Frames from the coordinator that failed to parse. */
  readonly invalidFrames: number;
}

export interface ClientNode {
  /** Resolves when the node stops for good (never rejects). */
  readonly done: Promise<NodeResult>;
  /** Stops the node: no reconnect, the socket closed with 1000. Idempotent. */
  close(): Promise<void>;
  stats(): ClientNodeStats;
}

/** One socket and what was learnt on it. A new socket gets a new Connection. */
interface Connection {
  readonly ws: WebSocket;
  challenged: boolean;
  authed: boolean;
  /** The heartbeat saw traffic since its last tick. */
  alive: boolean;
  /** Set when this side closed the socket: whether to stop, and why. */
  localClose: { readonly stop: NodeStatus | null; readonly reason: string } | null;
  /** Last socket error, for the close log line (e.g. ECONNREFUSED). */
  lastError: string | null;
  /** A connect error no retry can fix (compat.ts tlsProblem), else null. */
  fatal: string | null;
  /** The socket was reset (ECONNRESET). */
  reset: boolean;
  /** Last ErrorNotice from the coordinator. */
  lastNotice: string | null;
}

type NodeEvent =
  | { readonly kind: 'open'; readonly conn: Connection }
  | { readonly kind: 'frame'; readonly conn: Connection; readonly data: Uint8Array; readonly binary: boolean }
  | { readonly kind: 'close'; readonly conn: Connection; readonly code: number; readonly reason: string };

/** Close codes after which reconnecting cannot help, and what the operator should do. */
function terminalClose(code: number, publicKeyHex: string, detail = ''): string | null {
  switch (code) {
    case CLOSE_CODES.WIRE_POLICY_REFUSED:
      return `the coordinator refuses this client by its policy${detail === '' ? '' : ` (${detail})`}: nothing to retry; ask its operator why`;
    case CLOSE_CODES.WIRE_NOT_ENROLLED:
      return `the coordinator does not know this client's key: ask the coordinator operator to enrol public key ${publicKeyHex}`;
    case CLOSE_CODES.WIRE_AUTH_FAILED:
      return `the coordinator could not verify this client's signature: check that keyFile holds the key pair that was enrolled (public key ${publicKeyHex})`;
    case CLOSE_CODES.WIRE_DUPLICATE_CONNECTION:
      return `another node is already connected with public key ${publicKeyHex}: stop it, or give this node its own key (tally keygen) and enrol it (if this node was just restarted, wait for the coordinator to drop the old connection, about two heartbeats, and start it again)`;
    case CLOSE_CODES.WIRE_UNSUPPORTED_VERSION:
      return 'the coordinator speaks another protocol version: upgrade tally on whichever side is older';
    default:
      return null;
  }
}

export function startClientNode(options: ClientNodeOptions): ClientNode {
  return new Node(options);
}

class Node implements ClientNode {
  readonly done: Promise<NodeResult>;
  readonly #url: string;
  readonly #identity: KeyPair;
  readonly #log: Logger;
  readonly #reconnect: ReconnectOptions;
  readonly #random: RandomSource;
  readonly #ca: ClientNodeOptions['ca'];
  readonly #heartbeatMs: number;
  readonly #maxPayload: number;
  readonly #limits: Partial<WireLimits> | undefined;
  readonly #queue: EventQueue<NodeEvent>;
  readonly #rounds: RoundRunner;
  readonly #publicKeyHex: string;
  readonly #enrolled: ReadonlyMap<number, Uint8Array> | undefined;
  readonly #policy: Policy;
  readonly #modelLength: number | undefined;
  readonly #trainer: Trainer;
  readonly #onModel: ClientNodeOptions['onModel'];
  #resolveDone!: (r: NodeResult) => void;
  #conn: Connection | null = null;
  #state: ConnectionState = 'connecting';
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #result: NodeResult | null = null;
  #closing: Promise<void> | null = null;
  #clientId: number | null = null;
  #connections = 0;
  #invalidFrames = 0;

  constructor(o: ClientNodeOptions) {
    checkIdentity(o.identity);
    this.#enrolled = o.enrolled === undefined ? undefined : checkEnrolled(o.enrolled);
    this.#url = o.url;
    this.#identity = o.identity;
    this.#policy = o.policy;
    this.#modelLength = o.modelLength;
    this.#log = o.logger ?? silentLogger;
    this.#reconnect = resolveReconnect(o.reconnect);
    this.#random = o.random ?? osRandom;
    this.#ca = o.ca;
    this.#heartbeatMs = nonNegativeInt(o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, 'heartbeatMs');
    this.#maxPayload = nonNegativeInt(o.maxPayload ?? DEFAULT_MAX_PAYLOAD, 'maxPayload');
    // Frames come fresh from the socket and are never read again after parsing: vectors may stay in them (WireLimits.frameOwned).
    this.#limits = { ...o.limits, frameOwned: true };
    this.#publicKeyHex = toHex(o.identity.publicKey);
    this.#trainer = o.trainer;
    this.#onModel = o.onModel;
    this.#rounds = new RoundRunner({
      identity: o.identity,
      trainer: o.trainer,
      policy: o.policy,
      ...(this.#enrolled === undefined ? {} : { enrolled: this.#enrolled }),
      random: this.#random,
      log: this.#log,
      ...(o.stateDir === undefined ? {} : { store: new ParticipationStore(o.stateDir), dpBudget: new DpBudgetStore(o.stateDir) }),
      ...(o.ledger === undefined ? {} : { ledger: o.ledger }),
    });
    this.#checkPeerList();
    const plain = insecureTransportWarning(o.url);
    if (plain !== null) this.#log.warn(plain);
    if (o.stateDir === undefined) {
      this.#log.warn('no stateDir: which rounds this client took part in, how many (policy.maxRounds), and the privacy budget spent (policy.maxEpsilon) are kept in memory only; a restart forgets them');
    }
    this.#queue = new EventQueue<NodeEvent>(
      (ev) => this.#handle(ev),
      (err) => this.#log.error(`internal error while handling an event (a bug; please report it): ${errText(err)}`),
      o.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES,
    );
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    this.#connect();
  }

  /** Says once, at start, what the peer list (or its absence) means for this node. */
  #checkPeerList(): void {
    const enrolled = this.#enrolled;
    if (enrolled === undefined) {
      this.#log.warn('no peer list (peers): without it this client cannot tell enrolled shops from keys the coordinator adds; see SECURITY.md');
      return;
    }
    const own = peerIdOf(enrolled, this.#identity.publicKey);
    if (own === null) {
      this.#log.warn(
        `this client's public key ${this.#publicKeyHex} is not in its peer list of ${enrolled.size}: every round will be refused (policy.peers); get the coordinator operator's current enrolment list`,
      );
    } else {
      this.#log.debug(`peer list: ${enrolled.size} enrolled clients, this one as id ${own}; every round's roster is checked against it`);
    }
  }

  stats(): ClientNodeStats {
    return { state: this.#state, clientId: this.#clientId, connections: this.#connections, invalidFrames: this.#invalidFrames, ...this.#rounds.stats() };
  }

  close(): Promise<void> {
    if (this.#closing === null) {
      this.#finish('closed', 'closed by the operator');
      this.#closing = this.#closeSocket();
    }
    return this.#closing;
  }

  // ---- socket lifecycle: callbacks only enqueue -----------------------------------------

  #connect(): void {
    this.#retryTimer = null;
    if (this.#result !== null) return;
    this.#state = 'connecting';
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#url, {
        maxPayload: this.#maxPayload,
        perMessageDeflate: false, // masked vectors do not compress; inflating is a resource risk
        handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT_MS,
        ...(this.#ca === undefined ? {} : { ca: this.#ca as string | Buffer | (string | Buffer)[] }),
      });
    } catch (err) {
      // Only a malformed URL throws synchronously: nothing to retry.
      this.#log.error(`cannot connect to ${this.#url}: ${errText(err)}`);
      this.#finish('rejected', `bad coordinator URL: ${errText(err)}`);
      return;
    }
    const conn: Connection = { ws, challenged: false, authed: false, alive: true, localClose: null, lastError: null, lastNotice: null, fatal: null, reset: false };
    this.#conn = conn;
    ws.on('open', () => this.#queue.push({ kind: 'open', conn }, true));
    ws.on('message', (data, binary) => {
      conn.alive = true;
      if (!this.#queue.push({ kind: 'frame', conn, data: asBytes(data), binary })) {
        this.#log.warn(`more than ${this.#queue.maxLength} frames are waiting to be handled; dropping the connection`);
        this.#closeConn(conn, CLOSE_CODES.WIRE_TOO_LARGE, 'too many queued frames');
      }
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err) => {
      conn.lastError = errText(err);
      conn.fatal ??= tlsProblem(err, this.#url, this.#ca !== undefined);
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') conn.reset = true;
    });
    ws.on('close', (code, reason) => this.#queue.push({ kind: 'close', conn, code, reason: reason.toString('utf8') }, true));
  }

  async #handle(ev: NodeEvent): Promise<void> {
    if (ev.kind === 'close') return this.#onClose(ev.conn, ev.code, ev.reason);
    // Events of a replaced or closing socket, or after stop, are stale.
    if (ev.conn !== this.#conn || this.#result !== null || ev.conn.localClose !== null) return;
    if (ev.kind === 'open') return this.#onOpen(ev.conn);
    return this.#onFrame(ev.conn, ev.data, ev.binary);
  }

  #onOpen(conn: Connection): void {
    this.#connections++;
    this.#state = 'authenticating';
    this.#log.debug(`connected to ${this.#url}; waiting for the coordinator's challenge`);
    this.#startHeartbeat(conn);
  }

  #onClose(conn: Connection, code: number, reason: string): void {
    if (conn !== this.#conn) return;
    this.#stopHeartbeat();
    this.#conn = null;
    this.#rounds.connectionLost();
    if (this.#result !== null) return;
    const local = conn.localClose;
    if (local?.stop != null) return this.#finish(local.stop, local.reason);
    const why = [
      local !== null ? `closed by this client: ${local.reason}` : `code ${code}${reason === '' ? '' : ` (${reason})`}`,
      conn.lastNotice,
      conn.lastError,
    ]
      .filter((s) => s !== null)
      .join('; ');
    if (local === null && code === 1000) {
      const detail = reason === '' || reason === 'task complete' ? '' : ` (${reason})`;
      this.#log.info(`the coordinator closed the connection: task complete${detail}`);
      return this.#finish('completed', `task complete${detail}`);
    }
    // 4007 after this node was connected is most likely its own previous socket, not yet
    // noticed as gone by the coordinator: back off and retry (CLOSE_CODES: "back off").
    const ownStaleSocket = code === CLOSE_CODES.WIRE_DUPLICATE_CONNECTION && this.#clientId !== null;
    const terminal = local === null && !ownStaleSocket ? terminalClose(code, this.#publicKeyHex, conn.lastNotice ?? reason) : null;
    if (terminal !== null) {
      this.#log.error(`the coordinator refused this client (${why}): ${terminal}`);
      return this.#finish(code === CLOSE_CODES.WIRE_NOT_ENROLLED || code === CLOSE_CODES.WIRE_AUTH_FAILED ? 'incompatible' : 'rejected', terminal);
    }
    if (conn.fatal !== null) {
      this.#log.error(`cannot connect to ${this.#url}: ${conn.fatal}`);
      return this.#finish('incompatible', conn.fatal);
    }
    if (local === null && !conn.challenged && conn.reset && this.#url.startsWith('ws:')) {
      // Reset before any HTTP answer: a TLS server on a ws:// URL looks like this. Ask it once.
      void this.#probeScheme();
      return;
    }
    this.#retryLater(why, conn.challenged, ownStaleSocket);
  }

  #retryLater(why: string, challenged = false, ownStaleSocket = false): void {
    const attempt = this.#attempt++;
    const delay = backoffDelay(this.#reconnect, attempt, this.#random);
    const retry = `reconnecting in ${(delay / 1000).toFixed(1)} s`;
    if (ownStaleSocket) this.#log.warn(`the coordinator still holds this client's previous connection (${why}); ${retry}`);
    else if (challenged) this.#log.warn(`connection lost (${why}); ${retry}`);
    // While the coordinator stays unreachable, say so at the first failure and every 10th, not at each.
    else if (attempt === 0) this.#log.warn(`cannot reach ${this.#url} (${why}); ${retry}`);
    else if (attempt % 10 === 0) this.#log.warn(`still cannot reach ${this.#url} after ${attempt + 1} attempts (${why}); ${retry}`);
    else this.#log.debug(`cannot reach ${this.#url} (${why}); ${retry}`);
    this.#state = 'waiting';
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  /** A ws:// URL whose server hung up: stop if it speaks TLS (wrong scheme), else retry as usual. */
  async #probeScheme(): Promise<void> {
    const u = new URL(this.#url);
    const tls = await speaksTls(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 80));
    if (this.#result !== null) return;
    if (tls) {
      const reason = `${this.#url} uses ws://, but the coordinator there speaks TLS: use wss:// in coordinator (with ca set to its certificate if it is self-signed)`;
      this.#log.error(`cannot connect to ${this.#url}: ${reason}`);
      return this.#finish('incompatible', reason);
    }
    this.#retryLater('socket hang up before any answer');
  }

  // ---- frames ----------------------------------------------------------------------------

  async #onFrame(conn: Connection, data: Uint8Array, binary: boolean): Promise<void> {
    // Each frame is bounded by its type before it is decoded; before Welcome only the
    // small connection messages get more than the base budget (frame-budget.ts).
    const limits = this.#limits;
    const budget = (type: string | undefined) => frameBudget(conn.authed || isPreAuthName(type) ? type : undefined, limits);
    const msg = binary
      ? parseCoordinatorMessage(decode(data, budget), limits)
      : new ProtocolError(ProtocolErrorCode.Malformed, 'expected a binary frame, got a text frame');
    if (msg instanceof ProtocolError) {
      this.#invalidFrames++;
      const stop = msg.code === ProtocolErrorCode.UnsupportedVersion ? ('rejected' as const) : null;
      this.#log.warn(`the coordinator sent an invalid frame (${msg.code}: ${msg.message}); closing the connection${stop ? '' : ' and reconnecting'}`);
      this.#closeConn(conn, msg.closeCode, `${msg.code}: ${msg.message}`, stop === null ? null : { stop, reason: terminalClose(CLOSE_CODES.WIRE_UNSUPPORTED_VERSION, '')! });
      return;
    }
    if (!conn.authed && !isPreAuth(msg.type)) {
      return this.#wrongStage(conn, `${msg.type} before authentication`);
    }
    switch (msg.type) {
      case 'Challenge':
        return this.#onChallenge(conn, msg);
      case 'Welcome':
        return this.#onWelcome(conn, msg);
      case 'ErrorNotice':
        conn.lastNotice = `${msg.code}: ${msg.message}`;
        this.#log.warn(`the coordinator reports ${msg.code}: ${msg.message}`);
        return;
      case 'TaskOffer': {
        const mismatch = this.#trainer.checkOffer?.({ taskId: msg.taskId, modelLength: msg.model.length, ...(msg.modelSpec === undefined ? {} : { modelSpec: msg.modelSpec }) }) ?? null;
        if (mismatch !== null) {
          // Refused before any training; retrying cannot fix a model mismatch, so the node stops.
          this.#log.error(`refused round ${msg.round} of task ${msg.taskId}: ${mismatch}`);
          this.#send(conn, { type: 'OfferReply', session: msg.session, round: msg.round, accept: false, reason: DeclineReason.ModelMismatch });
          this.#closeConn(conn, 1000, 'model mismatch', { stop: 'incompatible', reason: mismatch });
          return;
        }
        const reply = await this.#rounds.onOffer(msg, () => conn === this.#conn && conn.localClose === null && this.#result === null);
        if (reply !== null) this.#send(conn, reply);
        const stop = this.#rounds.takeStop();
        if (stop !== null) {
          // A spent privacy budget: no later round of this task can fit (each costs the same).
          if (stop.status === 'incompatible') this.#log.error(`cannot take part: ${stop.reason}`);
          else this.#log.info(`stopping: ${stop.reason}`);
          this.#closeConn(conn, 1000, stop.status === 'completed' ? 'privacy budget spent' : 'client cannot take part in this task', { stop: stop.status, reason: stop.reason });
        }
        return;
      }
      case 'RoundResult':
        return this.#rounds.onResult(msg);
      case 'GlobalModel':
        return this.#onGlobalModel(msg);
      default:
        for (const out of this.#rounds.onRoundMessage(msg satisfies RoundMessage)) this.#send(conn, out);
    }
  }

  async #onGlobalModel(msg: GlobalModel): Promise<void> {
    this.#log.debug(`received the ${msg.final ? 'final' : 'committed'} global model of round ${msg.round} (${msg.model.length} weights)`);
    if (this.#onModel === undefined) return;
    try {
      await this.#onModel(msg);
    } catch (err) {
      this.#log.error(`could not keep the global model of round ${msg.round}: ${errText(err)}`);
    }
  }

  #onChallenge(conn: Connection, msg: Extract<CoordinatorMessage, { type: 'Challenge' }>): void {
    if (conn.challenged) {
      this.#log.warn('the coordinator sent a second Challenge on one connection; ignored');
      return;
    }
    conn.challenged = true;
    const sig = signMessage(this.#identity.secretKey, authTranscript(msg.nonce, this.#identity.publicKey));
    this.#send(conn, { type: 'Hello', identityKey: this.#identity.publicKey, clientVersion: CLIENT_VERSION });
    this.#send(conn, { type: 'AuthResponse', sig });
    this.#log.debug(`challenged by ${msg.coordinatorVersion}; authenticating as ${this.#publicKeyHex}`);
  }

  #onWelcome(conn: Connection, msg: Extract<CoordinatorMessage, { type: 'Welcome' }>): void {
    if (!conn.challenged || conn.authed) return this.#wrongStage(conn, 'Welcome without a pending authentication');
    conn.authed = true;
    this.#attempt = 0;
    this.#state = 'ready';
    this.#clientId = msg.clientId;
    this.#log.info(`authenticated with ${this.#url} as client ${msg.clientId}; the coordinator runs task ${msg.taskId}`);
    const listed = this.#enrolled === undefined ? null : peerIdOf(this.#enrolled, this.#identity.publicKey);
    if (listed !== null && listed !== msg.clientId) {
      this.#log.warn(
        `the coordinator calls this client ${msg.clientId}, but the peer list enrols its key as ${listed}: every round will be refused (policy.peers); check that peers is the coordinator's current enrolment list`,
      );
    }
    // What no round of this task could satisfy stops the node now, not offer after offer (compat.ts).
    const mismatch = checkTask(msg.taskId, msg.task, this.#policy, this.#modelLength, this.#rounds.dpSpent());
    if (mismatch !== null) {
      this.#log.error(`cannot take part: ${mismatch}`);
      this.#closeConn(conn, 1000, 'client cannot take part in this task', { stop: 'incompatible', reason: mismatch });
    }
  }

  #wrongStage(conn: Connection, what: string): void {
    this.#invalidFrames++;
    const err = new ProtocolError(ProtocolErrorCode.WrongStage, `unexpected ${what}`);
    this.#log.warn(`the coordinator sent ${what}; closing the connection and reconnecting`);
    this.#closeConn(conn, err.closeCode, err.message);
  }

  #send(conn: Connection, msg: NodeClientMessage): void {
    // A MaskedInput's y may be lent by this thread's pool (round.ts): it goes back once the
    // message is on the wire (or was never sent), never while the socket may still read it.
    const release = (): void => {
      if (msg.type === 'MaskedInput') maskedInputPool.give(msg.y);
    };
    if (conn.ws.readyState !== WebSocket.OPEN) return release();
    // A MaskedInput's frame is written around its vector, in place (lane-pool.ts): the frame's
    // head goes into the headroom before y, and the socket gets one frame with no copy of
    // the vector (the same bytes as encode(msg); wire encodeParts). Else encode copies it.
    let frame: Uint8Array | null = null;
    if (msg.type === 'MaskedInput') {
      const [head] = encodeParts(msg);
      frame = maskedInputPool.frame(msg.y, head!);
    }
    frame ??= encode(msg);
    conn.ws.send(frame, { binary: true }, (err) => {
      release();
      if (err) this.#log.debug(`sending ${msg.type} failed: ${err.message}`);
    });
    this.#rounds.sent(msg, frame.length);
  }

  // ---- heartbeat and closing ---------------------------------------------------------------

  #startHeartbeat(conn: Connection): void {
    if (this.#heartbeatMs === 0) return;
    let lastTick = performance.now();
    this.#heartbeat = setInterval(() => {
      // Far behind schedule: our event loop was busy (training), pongs may be unread; only ping.
      const now = performance.now();
      const late = now - lastTick > 1.5 * this.#heartbeatMs;
      lastTick = now;
      if (!conn.alive && !late) {
        this.#log.warn(`no answer from the coordinator for ${this.#heartbeatMs} ms; dropping the connection`);
        conn.lastError = 'heartbeat timeout';
        conn.ws.terminate();
        return;
      }
      conn.alive = false;
      conn.ws.ping();
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  #closeConn(conn: Connection, code: number, reason: string, localClose: Connection['localClose'] = null): void {
    if (conn.localClose !== null) return;
    conn.localClose = localClose ?? { stop: null, reason };
    if (conn.ws.readyState === WebSocket.CONNECTING) conn.ws.terminate();
    else conn.ws.close(code, closeReason(reason));
  }

  #finish(status: NodeStatus, reason: string): void {
    if (this.#result !== null) return;
    this.#result = { rounds: this.#rounds.stats().roundsContributed, reason, status };
    this.#state = 'stopped';
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#stopHeartbeat();
    this.#resolveDone(this.#result);
  }

  async #closeSocket(): Promise<void> {
    const conn = this.#conn;
    if (conn === null || conn.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => conn.ws.once('close', () => resolve()));
    this.#closeConn(conn, 1000, 'client shutting down', { stop: 'closed', reason: 'closed by the operator' });
    await closed;
  }
}

/** RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of them the code. */
function closeReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r, 'utf8') > 123) r = r.slice(0, -1);
  return r;
}

function isPreAuth(type: CoordinatorMessage['type']): boolean {
  return type === 'Challenge' || type === 'Welcome' || type === 'ErrorNotice';
}

/**
 * The start-up warning for a plain ws:// coordinator beyond loopback, or null:
 * without TLS the network sees the model and the aggregates and can pose as the
 * coordinator (SECURITY.md, Transport).
 */
export function insecureTransportWarning(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null; // the connect attempt reports a malformed URL
  }
  if (u.protocol !== 'ws:' || isLoopbackHost(u.hostname)) return null;
  return `coordinator ${url} is plain ws:// to a host beyond this machine: the network can read the model and the aggregates and pose as the coordinator; use wss:// (with ca for a private certificate)`;
}

function isPreAuthName(type: string | undefined): boolean {
  return type === 'Challenge' || type === 'Welcome' || type === 'ErrorNotice';
}

/** ws hands over a Buffer for the default binaryType; the others are normalised for safety. */
function asBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

function checkIdentity(identity: KeyPair): void {
  if (!(identity?.secretKey instanceof Uint8Array) || identity.secretKey.length !== 32) {
    throw new TypeError('identity.secretKey: expected 32 bytes (an Ed25519 seed)');
  }
  if (!(identity.publicKey instanceof Uint8Array) || identity.publicKey.length !== 32) {
    throw new TypeError('identity.publicKey: expected 32 bytes');
  }
}

/** A defensive copy of the peer list, every entry checked (the CLI's comes from parsePeerList; a library caller's may not). */
function checkEnrolled(enrolled: ReadonlyMap<number, Uint8Array>): ReadonlyMap<number, Uint8Array> {
  if (typeof enrolled !== 'object' || enrolled === null || typeof enrolled[Symbol.iterator] !== 'function') {
    throw new TypeError('enrolled: expected a Map of client id to identity public key');
  }
  const copy = new Map<number, Uint8Array>();
  for (const [id, key] of enrolled) {
    if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`enrolled: expected positive integer ids, got ${String(id)}`);
    if (!(key instanceof Uint8Array)) throw new TypeError(`enrolled: id ${id}: expected a Uint8Array identity key`);
    if (key.length !== 32) throw new RangeError(`enrolled: id ${id}: expected a 32-byte identity key, got ${key.length} bytes`);
    copy.set(id, new Uint8Array(key));
  }
  return copy;
}

function nonNegativeInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name}: expected a non-negative integer, got ${v}`);
  return v;
}

function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
