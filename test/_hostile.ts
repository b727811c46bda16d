/**
 * A dishonest coordinator for the client node's tests: a ws server on 127.0.0.1:0
 * that speaks the real wire protocol, authenticates real client nodes exactly as the
 * coordinator does, runs secagg's own server machine, and lets a test tamper with
 * (or invent) any message on the way out. Every frame a node sends is parsed and
 * kept, so a test can check what the node actually revealed.
 *
 * Rogue participants (identities the test made up, not enrolled anywhere) run as
 * in-memory secagg client machines fed straight into the server machine.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import {
  clientStep,
  createClient,
  equalBytes,
  osRandom,
  serverStep,
  startServer,
  toHex,
  verifySignature,
  type ClientState,
  type Graph,
  type HararySpec,
  type KeyPair,
  type RosterEntry,
  type ServerMessage,
  type ServerOutMessage,
  type ServerState,
} from '@tally/secagg';
import {
  ProtocolError,
  authTranscript,
  decode,
  encode,
  parseClientMessage,
  type CoordinatorMessage,
  type NodeClientMessage,
  type TaskOffer,
} from '@tally/wire';
import { Mailbox } from '@tally/test-support';
import { TASK_ID, onCleanup } from './_helpers.ts';

type Sent = NodeClientMessage;

/** One authenticated client node, as the hostile coordinator sees it. */
export class HostilePeer {
  readonly id: number;
  readonly identityKey: Uint8Array;
  readonly ws: WebSocket;
  /** Every message the node sent after authenticating, parsed with the real parser. */
  readonly sent: Sent[];
  readonly #inbox: Mailbox<Sent>;

  constructor(id: number, identityKey: Uint8Array, ws: WebSocket, inbox: Mailbox<Sent>, sent: Sent[]) {
    this.id = id;
    this.identityKey = identityKey;
    this.ws = ws;
    this.#inbox = inbox;
    this.sent = sent;
  }

  send(msg: CoordinatorMessage): void {
    this.ws.send(encode(msg), { binary: true });
  }

  /** The node's next message, which must be of `type`. */
  async next<T extends Sent['type']>(type: T): Promise<Extract<Sent, { type: T }>> {
    const m = await this.#inbox.next();
    if (m.type !== type) throw new Error(`client ${this.id}: expected ${type}, got ${m.type}`);
    return m as Extract<Sent, { type: T }>;
  }

  /**
   * A ping and its pong. The node answers pings as frames arrive, so once the pong
   * is here everything the node sent before it has arrived too.
   */
  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('pong', () => resolve());
      this.ws.ping();
    });
  }

  /** Messages of `type` the node sent for `session`. */
  sentOf<T extends Sent['type']>(type: T, session?: Uint8Array): Extract<Sent, { type: T }>[] {
    return this.sent.filter(
      (m): m is Extract<Sent, { type: T }> => m.type === type && (session === undefined || ('session' in m && equalBytes(m.session, session))),
    );
  }
}

export interface Hostile {
  readonly url: string;
  /** The peer authenticated with the key enrolled as `id` (waits for it). */
  peer(id: number): Promise<HostilePeer>;
  close(): Promise<void>;
}

/** Starts the hostile coordinator; `enrolled` maps client id to identity public key. */
export async function startHostile(enrolled: ReadonlyMap<number, Uint8Array>): Promise<Hostile> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const byKey = new Map([...enrolled].map(([id, key]) => [toHex(key), id]));
  const peers = new Map<number, HostilePeer>();
  const waiting = new Map<number, ((p: HostilePeer) => void)[]>();

  wss.on('connection', (ws) => {
    const nonce = osRandom(32);
    const inbox = new Mailbox<Sent>();
    const sent: Sent[] = [];
    let hello: Extract<Sent, { type: 'Hello' }> | null = null;
    ws.on('message', (data) => {
      const msg = parseClientMessage(decode(new Uint8Array(data as Buffer)));
      if (msg instanceof ProtocolError) throw new Error(`a client node sent an invalid frame: ${msg.message}`);
      if (msg.type === 'Hello') {
        hello = msg;
        return;
      }
      if (msg.type === 'AuthResponse') {
        const id = hello === null ? undefined : byKey.get(toHex(hello.identityKey));
        if (hello === null || id === undefined || !verifySignature(msg.sig, authTranscript(nonce, hello.identityKey), hello.identityKey)) {
          ws.close(4005, 'auth failed');
          return;
        }
        const peer = new HostilePeer(id, hello.identityKey, ws, inbox, sent);
        peers.set(id, peer);
        peer.send({ type: 'Welcome', clientId: id, taskId: TASK_ID });
        for (const w of waiting.get(id) ?? []) w(peer);
        waiting.delete(id);
        return;
      }
      sent.push(msg);
      inbox.put(msg);
    });
    ws.send(encode({ type: 'Challenge', nonce, coordinatorVersion: 'hostile/0' }), { binary: true });
  });

  const { port } = wss.address() as { port: number };
  const hostile: Hostile = {
    url: `ws://127.0.0.1:${port}`,
    peer(id) {
      const p = peers.get(id);
      if (p) return Promise.resolve(p);
      return new Promise((resolve) => waiting.set(id, [...(waiting.get(id) ?? []), resolve]));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
  onCleanup(() => hostile.close());
  return hostile;
}

// ---- rounds ----------------------------------------------------------------------------

export const MODEL_LENGTH = 4;
/** Model lanes + weight, clipped and count lanes + one metric (secagg's quantisation layout). */
export const VECTOR_LENGTH = MODEL_LENGTH + 3 + 1;

export function taskOffer(
  session: Uint8Array,
  round: number,
  cohortSize: number,
  threshold: number,
  shape: { readonly graph: 'complete' | 'harary'; readonly degree: number } = { graph: 'complete', degree: cohortSize - 1 },
): TaskOffer {
  return {
    type: 'TaskOffer',
    session,
    round,
    taskId: TASK_ID,
    cohortSize,
    threshold,
    graph: shape.graph,
    degree: shape.degree,
    model: new Float32Array(MODEL_LENGTH),
    quant: { clipNorm: 10, weightBound: 100, cohortSize, fractionalBits: 16, metricCount: 1, metricBound: 10 },
    deadlineMs: 60_000,
  };
}

/** Sends the offer to every peer and waits for each to accept it; returns each one's advert-key commitment. */
export async function offerAll(peers: readonly HostilePeer[], offer: TaskOffer): Promise<Map<number, Uint8Array>> {
  for (const p of peers) p.send(offer);
  const commits = new Map<number, Uint8Array>();
  for (const p of peers) {
    const reply = await p.next('OfferReply');
    if (!reply.accept) throw new Error(`client ${p.id} declined: ${reply.reason}`);
    if (reply.keyCommit !== undefined) commits.set(p.id, reply.keyCommit);
  }
  return commits;
}

export interface RoundOptions {
  readonly session: Uint8Array;
  readonly round: number;
  /** Real nodes, by id. */
  readonly peers: readonly HostilePeer[];
  /** Made-up participants: id and identity key pair (not enrolled with anyone). */
  readonly rogues?: readonly { readonly id: number; readonly identity: KeyPair }[];
  /** The complete graph, or a Harary spec (degree and the commitments offerAll returned). */
  readonly graph: Graph | HararySpec;
  readonly threshold: number;
  readonly activeAdversary: boolean;
  /** Lanes of a masked input; default VECTOR_LENGTH (the plain layout). */
  readonly vectorLength?: number;
}

/**
 * One round driven by secagg's real server machine. `stage()` delivers the pending
 * stage messages (through `tamper` when given), lets the rogues answer in memory,
 * and waits for every real node the machine waits for. Tests take over where they
 * attack.
 */
export class HostileRound {
  readonly state: ServerState;
  readonly roster: readonly RosterEntry[];
  pending: ServerOutMessage[];
  readonly #opts: RoundOptions;
  readonly #peers: Map<number, HostilePeer>;
  readonly #rogues = new Map<number, ClientState>();

  constructor(opts: RoundOptions) {
    this.#opts = opts;
    this.#peers = new Map(opts.peers.map((p) => [p.id, p]));
    this.roster = [
      ...opts.peers.map((p) => ({ id: p.id, identityKey: p.identityKey })),
      ...(opts.rogues ?? []).map((r) => ({ id: r.id, identityKey: r.identity.publicKey })),
    ].sort((a, b) => a.id - b.id);
    for (const r of opts.rogues ?? []) this.#rogues.set(r.id, createClient({ identity: r.identity, input: new Uint32Array(VECTOR_LENGTH) }));
    const start = startServer({
      session: opts.session,
      round: opts.round,
      roster: this.roster,
      graph: opts.graph,
      threshold: opts.threshold,
      vectorLength: opts.vectorLength ?? VECTOR_LENGTH,
      activeAdversary: opts.activeAdversary,
    });
    this.state = start.state;
    this.pending = [...start.outbox];
  }

  isRogue(id: number): boolean {
    return this.#rogues.has(id);
  }

  /** A rogue's in-memory state (e.g. the shares it decrypted). */
  rogue(id: number): ClientState {
    return this.#rogues.get(id)!;
  }

  /** Feeds a message to a rogue machine and its answers to the server machine. */
  toRogue(id: number, msg: ServerMessage): void {
    const step = clientStep(this.#rogues.get(id)!, msg);
    this.#rogues.set(id, step.state);
    for (const m of step.outbox) this.pending.push(...serverStep(this.state, { type: 'message', from: id, msg: m }).outbox);
  }

  /** Sends `msg` to a real node, or hands it to a rogue. */
  deliver(to: number, msg: ServerMessage): void {
    if (this.#rogues.has(to)) this.toRogue(to, msg);
    else this.#peers.get(to)!.send(msg);
  }

  /** Delivers what is pending without waiting for the real nodes (for a stage they are expected to refuse). */
  deliverPending(): void {
    const out = this.pending;
    this.pending = [];
    for (const { to, msg } of out) this.deliver(to, msg);
  }

  /** Runs one stage: deliver what is pending, then collect the real nodes' answers. */
  async stage(tamper?: (to: number, msg: ServerMessage) => ServerMessage | null): Promise<void> {
    const out = this.pending;
    this.pending = [];
    const answering: HostilePeer[] = [];
    for (const { to, msg } of out) {
      const m = tamper ? tamper(to, msg) : msg;
      if (m === null) continue;
      this.deliver(to, m);
      const peer = this.#peers.get(to);
      if (peer) answering.push(peer);
    }
    const expected = SERVER_ANSWER[out[0]?.msg.type ?? 'RoundStart'];
    for (const p of answering) {
      const m = await p.next(expected);
      this.pending.push(...serverStep(this.state, { type: 'message', from: p.id, msg: m }).outbox);
    }
  }
}

const SERVER_ANSWER = {
  RoundStart: 'AdvertiseKeys',
  KeyList: 'ShareKeys',
  ShareBundle: 'MaskedInput',
  SurvivorList: 'ConsistencySignature',
  UnmaskRequest: 'UnmaskShares',
} as const satisfies Record<ServerMessage['type'], Sent['type']>;

/** Ids whose self-mask share and whose mask-key share `peer` revealed, over all its UnmaskShares for `session`. */
export function revealedBy(peer: HostilePeer, session: Uint8Array): { readonly selfMaskOf: number[]; readonly keyOf: number[]; readonly messages: number } {
  const msgs = peer.sentOf('UnmaskShares', session);
  return {
    selfMaskOf: msgs.flatMap((m) => m.selfMaskShares.map((s) => s.of)),
    keyOf: msgs.flatMap((m) => m.keyShares.map((s) => s.of)),
    messages: msgs.length,
  };
}
