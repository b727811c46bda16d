/**
 * A minimal client for the coordinator's tests: the real `ws` client, the wire
 * codec, secagg's client machine and quantiser. It authenticates, answers every
 * TaskOffer with a deterministic update, runs the secagg stages, and records what
 * it sent and received so that tests can compare the coordinator's result with
 * the plain sum. `intercept` lets a test misbehave at any point.
 *
 * Not the production client (packages/client): no policy, no reconnect.
 */
import { WebSocket } from 'ws';
import {
  clientCommitment,
  clientStep,
  createClient,
  encodeUpdate,
  generateIdentity,
  planQuantization,
  signMessage,
  type ClientMessage,
  type ClientState,
  type KeyPair,
  type QuantPlan,
  type ServerMessage,
} from '@tally/secagg';
import {
  ProtocolError,
  authTranscript,
  decode,
  encode,
  parseCoordinatorMessage,
  type CoordinatorMessage,
  type NodeClientMessage,
  type TaskOffer,
  type Welcome,
} from '@tally/wire';

export interface TestUpdate {
  readonly delta: Float32Array;
  readonly weight: number;
  readonly metrics: readonly number[];
}

export interface TestClientOptions {
  readonly url: string;
  readonly identity?: KeyPair;
  /** The update for an offer; null declines it. Default: `deterministicUpdate(id)`. */
  readonly update?: (offer: TaskOffer, clientId: number) => TestUpdate | null;
  /** 'bad-signature' signs the wrong transcript; 'silent' never authenticates. */
  readonly auth?: 'honest' | 'bad-signature' | 'silent';
  /**
   * Sees every coordinator message before the client handles it; return true to
   * swallow it (the client then does nothing for it).
   */
  readonly intercept?: (msg: CoordinatorMessage, client: TestClient) => boolean;
  /** A dishonest client: rewrites its encoded lanes before masking (e.g. its weight or count lane). */
  readonly tamperLanes?: (lanes: Uint32Array, plan: QuantPlan) => void;
  /** A dishonest client: rewrites each secagg message it sends (e.g. a forged share). */
  readonly tamperOut?: (msg: ClientMessage) => ClientMessage;
  /** false: never answer pings (a dead peer, for heartbeat tests). Default true. */
  readonly autoPong?: boolean;
}

export interface Submitted {
  readonly round: number;
  readonly update: TestUpdate;
  readonly lanes: Uint32Array;
  readonly plan: QuantPlan;
}

/** A small, deterministic update for client `id` in `round`: deltas in [-0.1, 0.1], weight 10·id, metric id/10. */
export function deterministicUpdate(id: number, round: number, modelLength: number, metricCount: number): TestUpdate {
  const delta = new Float32Array(modelLength);
  for (let j = 0; j < modelLength; j++) delta[j] = (((id * 7 + j * 3 + round) % 11) - 5) / 50;
  return { delta, weight: 10 * id, metrics: Array.from({ length: metricCount }, (_, k) => id / 10 + k) };
}

type Waiter = { readonly pred: (m: CoordinatorMessage) => boolean; readonly resolve: (m: CoordinatorMessage) => void; readonly reject: (e: Error) => void };

export class TestClient {
  readonly ws: WebSocket;
  readonly identity: KeyPair;
  readonly received: CoordinatorMessage[] = [];
  readonly submitted = new Map<number, Submitted>();
  readonly clientErrors: Error[] = [];
  readonly welcome: Promise<Welcome>;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  clientId = 0;
  private readonly opts: TestClientOptions;
  private machine: { session: Uint8Array; round: number; state: ClientState } | null = null;
  private waiters: Waiter[] = [];
  private isClosed = false;

  constructor(opts: TestClientOptions) {
    this.opts = opts;
    this.identity = opts.identity ?? generateIdentity();
    this.ws = new WebSocket(opts.url, { perMessageDeflate: false, autoPong: opts.autoPong ?? true });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.isClosed = true;
        const err = new Error(`socket closed (${code} ${reason.toString()}) while waiting`);
        for (const w of this.waiters) w.reject(err);
        this.waiters = [];
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ws.on('error', () => undefined);
    this.welcome = this.waitFor((m): m is Welcome => m.type === 'Welcome');
    this.welcome.catch(() => undefined);
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) return;
      const msg = parseCoordinatorMessage(decode(new Uint8Array(data as Buffer)));
      if (msg instanceof ProtocolError) {
        this.clientErrors.push(msg);
        return;
      }
      this.onMessage(msg);
    });
  }

  /** The first received message (past or future) matching `pred`. Rejects if the socket closes first. */
  waitFor<T extends CoordinatorMessage>(pred: (m: CoordinatorMessage) => m is T, past?: boolean): Promise<T>;
  waitFor(pred: (m: CoordinatorMessage) => boolean, past?: boolean): Promise<CoordinatorMessage>;
  waitFor(pred: (m: CoordinatorMessage) => boolean, past = true): Promise<CoordinatorMessage> {
    if (past) {
      const hit = this.received.find(pred);
      if (hit) return Promise.resolve(hit);
    }
    if (this.isClosed) return Promise.reject(new Error('socket already closed'));
    return new Promise((resolve, reject) => this.waiters.push({ pred, resolve, reject }));
  }

  send(msg: NodeClientMessage): void {
    this.ws.send(encode(msg));
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (!this.isClosed) this.ws.close(1000, 'test done');
    return this.closed;
  }

  terminate(): Promise<{ code: number; reason: string }> {
    this.ws.terminate();
    return this.closed;
  }

  private onMessage(msg: CoordinatorMessage): void {
    this.received.push(msg);
    const ready = this.waiters.filter((w) => w.pred(msg));
    this.waiters = this.waiters.filter((w) => !w.pred(msg));
    if (this.opts.intercept?.(msg, this) !== true) this.handle(msg);
    for (const w of ready) w.resolve(msg);
  }

  private handle(msg: CoordinatorMessage): void {
    switch (msg.type) {
      case 'Challenge': {
        if (this.opts.auth === 'silent') return;
        const pk = this.identity.publicKey;
        this.send({ type: 'Hello', identityKey: pk, clientVersion: 'tally-test-client/0' });
        const transcript = this.opts.auth === 'bad-signature' ? authTranscript(new Uint8Array(32), pk) : authTranscript(msg.nonce, pk);
        this.send({ type: 'AuthResponse', sig: signMessage(this.identity.secretKey, transcript) });
        return;
      }
      case 'Welcome':
        this.clientId = msg.clientId;
        return;
      case 'TaskOffer':
        this.onOffer(msg);
        return;
      case 'RoundResult':
        this.machine = null;
        return;
      case 'ErrorNotice':
      case 'GlobalModel':
        return;
      default:
        this.onSecAgg(msg);
    }
  }

  private onOffer(offer: TaskOffer): void {
    const plan = planQuantization(offer.quant, offer.model.length);
    const update = this.opts.update
      ? this.opts.update(offer, this.clientId)
      : deterministicUpdate(this.clientId, offer.round, offer.model.length, offer.quant.metricCount);
    if (update === null) {
      this.send({ type: 'OfferReply', session: offer.session, round: offer.round, accept: false, reason: 'DECLINE_POLICY' });
      return;
    }
    const { lanes } = encodeUpdate(plan, { delta: update.delta, weight: update.weight, metrics: update.metrics });
    this.opts.tamperLanes?.(lanes, plan);
    this.submitted.set(offer.round, { round: offer.round, update, lanes, plan });
    const state = createClient({ identity: this.identity, input: lanes });
    this.machine = { session: offer.session, round: offer.round, state };
    const keyCommit = state.stage === 'Init' ? clientCommitment(state) : undefined;
    this.send({ type: 'OfferReply', session: offer.session, round: offer.round, accept: true, ...(keyCommit === undefined ? {} : { keyCommit }) });
  }

  private onSecAgg(msg: ServerMessage): void {
    const m = this.machine;
    if (m === null) return;
    try {
      const step = clientStep(m.state, msg);
      m.state = step.state;
      for (const out of step.outbox) this.send(this.opts.tamperOut ? this.opts.tamperOut(out) : out);
    } catch (err) {
      this.clientErrors.push(err as Error);
    }
  }
}
