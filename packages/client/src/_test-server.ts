/**
 * @internal A tiny coordinator stand-in for the client's tests: a real ws server
 * on 127.0.0.1:0 speaking the real codec. Tests script it message by message and
 * wait on events (never on sleeps). Not exported from the package.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import {
  clientStep,
  completeGraph,
  createClient,
  osRandom,
  serverStep,
  startServer,
  verifySignature,
  type ClientState,
  type KeyPair,
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
import { Lines, Mailbox } from '@tally/test-support';

export { Mailbox };
import type { Logger } from './logger.ts';

export interface TestConnection {
  readonly ws: WebSocket;
  readonly nonce: Uint8Array;
  /** Client messages, parsed with the real parser (a parse error is delivered as a ProtocolError). */
  readonly inbox: Mailbox<NodeClientMessage | ProtocolError>;
  /** Resolves with the close code the server saw. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(msg: CoordinatorMessage): void;
  sendRaw(data: Uint8Array | string): void;
  /** The next message, which must be of type `type`. */
  expect<T extends NodeClientMessage['type']>(type: T): Promise<Extract<NodeClientMessage, { type: T }>>;
}

export interface TestServer {
  readonly url: string;
  readonly connections: Mailbox<TestConnection>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Answer pings (ws's default). Off to test the client's heartbeat. */
  readonly autoPong?: boolean;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: opts.autoPong ?? true });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const connections = new Mailbox<TestConnection>();
  wss.on('connection', (ws) => {
    const nonce = osRandom(32);
    const inbox = new Mailbox<NodeClientMessage | ProtocolError>();
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on('message', (data) => inbox.put(parseClientMessage(decode(data as Buffer))));
    const conn: TestConnection = {
      ws,
      nonce,
      inbox,
      closed,
      send: (msg) => ws.send(encode(msg)),
      sendRaw: (data) => ws.send(data),
      async expect(type) {
        const m = await inbox.next();
        if (m instanceof ProtocolError) throw new Error(`expected ${type}, got an unparsable frame: ${m.message}`);
        if (m.type !== type) throw new Error(`expected ${type}, got ${m.type}`);
        return m as never;
      },
    };
    ws.send(encode({ type: 'Challenge', nonce, coordinatorVersion: 'test-server/0' }));
    connections.put(conn);
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Runs the auth handshake on the next connection; returns it and the client's identity key. */
export async function acceptClient(
  server: TestServer,
  welcome: { clientId: number; taskId: string } = { clientId: 1, taskId: 'demand' },
): Promise<{ conn: TestConnection; identityKey: Uint8Array }> {
  const conn = await server.connections.next();
  const hello = await conn.expect('Hello');
  const auth = await conn.expect('AuthResponse');
  if (!verifySignature(auth.sig, authTranscript(conn.nonce, hello.identityKey), hello.identityKey)) {
    throw new Error('AuthResponse does not verify');
  }
  conn.send({ type: 'Welcome', ...welcome });
  return { conn, identityKey: hello.identityKey };
}

export function offer(overrides: Partial<TaskOffer> = {}): TaskOffer {
  return {
    type: 'TaskOffer',
    session: new Uint8Array(16).fill(7),
    round: 0,
    taskId: 'demand',
    cohortSize: 3,
    threshold: 2,
    graph: 'complete',
    degree: (overrides.cohortSize ?? 3) - 1,
    model: new Float32Array([0.5, -0.25, 1]),
    quant: { clipNorm: 10, weightBound: 1000, cohortSize: 3, fractionalBits: 10, metricCount: 1, metricBound: 100 },
    deadlineMs: 60_000,
    ...overrides,
  };
}

/**
 * One whole secagg round over the socket: the real server machine, the node as
 * client `nodeId`, and `peers` as in-memory client machines. Returns the server's
 * final state (outcome 'ready' on success).
 */
export async function runSecAggRound(
  conn: TestConnection,
  args: {
    session: Uint8Array;
    round: number;
    nodeId: number;
    nodeKey: Uint8Array;
    peers: readonly { id: number; identity: KeyPair; input: Uint32Array }[];
    threshold: number;
  },
): Promise<ServerState> {
  const roster = [{ id: args.nodeId, identityKey: args.nodeKey }, ...args.peers.map((p) => ({ id: p.id, identityKey: p.identity.publicKey }))].sort(
    (a, b) => a.id - b.id,
  );
  const started = startServer({
    session: args.session,
    round: args.round,
    roster,
    graph: completeGraph(roster.map((e) => e.id)),
    threshold: args.threshold,
    vectorLength: args.peers[0]!.input.length,
  });
  const server = started.state;
  const peers = new Map<number, ClientState>(args.peers.map((p) => [p.id, createClient({ identity: p.identity, input: p.input })]));
  const pending: ServerOutMessage[] = [...started.outbox];
  while (server.stage !== 'Done') {
    let waitForNode = false;
    for (let out = pending.shift(); out !== undefined; out = pending.shift()) {
      if (out.to === args.nodeId) {
        conn.send(out.msg);
        waitForNode = true;
        continue;
      }
      const step = clientStep(peers.get(out.to)!, out.msg);
      peers.set(out.to, step.state);
      for (const m of step.outbox) pending.push(...serverStep(server, { type: 'message', from: out.to, msg: m }).outbox);
    }
    if ((server.stage as ServerState['stage']) === 'Done') break;
    if (!waitForNode) {
      pending.push(...serverStep(server, { type: 'deadline' }).outbox);
      continue;
    }
    const m = await conn.inbox.next();
    if (m instanceof ProtocolError) throw m;
    if (m.type === 'Hello' || m.type === 'AuthResponse' || m.type === 'OfferReply') throw new Error(`unexpected ${m.type} during the round`);
    pending.push(...serverStep(server, { type: 'message', from: args.nodeId, msg: m }).outbox);
  }
  return server;
}

/** A Logger that keeps its lines (`debug message`, …) and lets a test wait for one (Lines, shared). */
export class RecordingLogger extends Lines implements Logger {
  constructor() {
    super('lower');
  }
}
