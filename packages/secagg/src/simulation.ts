/**
 * Runs one whole secure-aggregation round in memory: real client and server
 * machines, real crypto, messages passed by a FIFO instead of sockets. Used by the
 * property tests and by the benchmark; also a readable walk-through of the protocol.
 *
 * A client listed in `dropAt` goes silent from that stage on: it never sends its
 * message for that stage, and the server learns of it either from a disconnect
 * (`dropStyle: 'disconnect'`) or when the stage's deadline fires ('deadline').
 */
import { SecAggError } from './errors.ts';
import { generateIdentity, type KeyPair } from './keys.ts';
import { completeGraph, type Graph } from './graph.ts';
import { clientCommitment, clientStep, createClient, type ClientState } from './client.ts';
import { serverStep, startServer, type ServerEvent, type ServerOutcome, type ServerState } from './server.ts';
import { unmask } from './unmask.ts';
import { osRandom, type RandomSource } from './random.ts';
import { STAGES, type ClientId, type ClientMessage, type ServerMessage, type Stage } from './messages.ts';

export interface SimulationOptions {
  readonly inputs: readonly Uint32Array[];
  readonly threshold: number;
  /** Neighbours per client; omit (or n-1) for the complete graph, else the seeded Harary graph (graph-seed.ts). */
  readonly degree?: number;
  readonly dropAt?: ReadonlyMap<ClientId, Stage>;
  readonly dropStyle?: 'disconnect' | 'deadline';
  readonly activeAdversary?: boolean;
  readonly session?: Uint8Array;
  readonly round?: number;
  readonly identities?: readonly KeyPair[];
  readonly random?: RandomSource;
  /** Called with every message a client is about to get; may replace it (dishonest-server tests). */
  readonly tamper?: (to: ClientId, msg: ServerMessage) => ServerMessage;
  /** Rewrites a client's message before the server sees it (a dishonest client). */
  readonly tamperClient?: (from: ClientId, msg: ClientMessage) => ClientMessage;
  /** Skip the unmasking (the benchmark times it separately). */
  readonly skipUnmask?: boolean;
  /**
   * Timing hook for the benchmark: called after every machine step with the step's
   * duration by `now` (the package itself has no clock; the caller brings one).
   */
  readonly observe?: {
    readonly now: () => number;
    readonly step: (who: 'client' | 'server', id: ClientId | null, what: string, ms: number) => void;
  };
}

export interface SimulationResult {
  readonly outcome: ServerOutcome;
  /** The unmasked sum (when the round completed and unmasking was not skipped). */
  readonly sum?: Uint32Array;
  /** The plain sum of the survivors' inputs, for comparison. */
  readonly plainSum?: Uint32Array;
  readonly server: ServerState;
  /** The round's graph (null when it aborted before the Harary graph was drawn). */
  readonly graph: Graph | null;
  /** Each client's last state. */
  readonly clients: ReadonlyMap<ClientId, ClientState>;
  /** Errors raised by client machines, by client. */
  readonly clientErrors: ReadonlyMap<ClientId, SecAggError>;
  /** Errors raised by the server on a client's message, by client. */
  readonly serverErrors: ReadonlyMap<ClientId, SecAggError>;
}

const SENDS: Record<ClientMessage['type'], Stage> = {
  AdvertiseKeys: 'AdvertiseKeys',
  ShareKeys: 'ShareKeys',
  MaskedInput: 'MaskedInput',
  ConsistencySignature: 'ConsistencyCheck',
  UnmaskShares: 'Unmask',
};

export function simulateRound(o: SimulationOptions): SimulationResult {
  const random = o.random ?? osRandom;
  const n = o.inputs.length;
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const identities = o.identities ?? ids.map(() => generateIdentity(random));
  const clients = new Map<ClientId, ClientState>(
    ids.map((id, i) => [id, createClient({ identity: identities[i]!, input: o.inputs[i]!, random })]),
  );
  const commitments = new Map([...clients].map(([id, c]) => [id, clientCommitment(c as Extract<ClientState, { stage: 'Init' }>)]));
  const graph = o.degree === undefined || o.degree >= n - 1 ? completeGraph(ids) : { kind: 'harary' as const, degree: o.degree, commitments };
  const started = startServer({
    session: o.session ?? random(16),
    round: o.round ?? 0,
    roster: ids.map((id, i) => ({ id, identityKey: identities[i]!.publicKey })),
    graph,
    threshold: o.threshold,
    vectorLength: o.inputs[0]!.length,
    activeAdversary: o.activeAdversary ?? true,
  });
  const server = started.state;
  const clientErrors = new Map<ClientId, SecAggError>();
  const serverErrors = new Map<ClientId, SecAggError>();
  const gone = new Set<ClientId>();
  const toClients: { to: ClientId; msg: ServerMessage }[] = [...started.outbox];
  const toServer: ServerEvent[] = [];

  const obs = o.observe;
  const deliverToServer = (ev: ServerEvent): void => {
    try {
      const t0 = obs?.now();
      toClients.push(...serverStep(server, ev).outbox);
      if (obs) obs.step('server', ev.type === 'message' ? ev.from : null, ev.type === 'message' ? ev.msg.type : ev.type, obs.now() - t0!);
    } catch (err) {
      if (!(err instanceof SecAggError) || ev.type !== 'message') throw err;
      serverErrors.set(ev.from, err);
    }
  };

  while (server.stage !== 'Done') {
    const next = toClients.shift();
    if (next) {
      const { to } = next;
      if (gone.has(to)) continue;
      const msg = o.tamper ? o.tamper(to, next.msg) : next.msg;
      let out: readonly ClientMessage[];
      try {
        const t0 = obs?.now();
        const step = clientStep(clients.get(to)!, msg);
        if (obs) obs.step('client', to, msg.type, obs.now() - t0!);
        clients.set(to, step.state);
        out = step.outbox;
      } catch (err) {
        if (!(err instanceof SecAggError)) throw err;
        // A client that refuses a step leaves the round.
        clientErrors.set(to, err);
        gone.add(to);
        toServer.push({ type: 'dropped', id: to, reason: `client refused: ${err.code}` });
        out = [];
      }
      for (const m of out) {
        const drop = o.dropAt?.get(to);
        if (drop !== undefined && stageIndex(SENDS[m.type]) >= stageIndex(drop)) {
          gone.add(to);
          if ((o.dropStyle ?? 'disconnect') === 'disconnect') toServer.push({ type: 'dropped', id: to, reason: 'disconnected' });
          continue;
        }
        toServer.push({ type: 'message', from: to, msg: o.tamperClient ? o.tamperClient(to, m) : m });
      }
      continue;
    }
    const ev = toServer.shift();
    if (ev) {
      deliverToServer(ev);
      continue;
    }
    // Nothing in flight and the server still waits: its stage deadline fires.
    deliverToServer({ type: 'deadline' });
  }

  const outcome = server.outcome;
  if (outcome.kind !== 'ready') return { outcome, server, graph: server.graph, clients, clientErrors, serverErrors };
  const plainSum = new Uint32Array(o.inputs[0]!.length);
  for (const id of outcome.survivors) {
    const x = o.inputs[id - 1]!;
    for (let i = 0; i < plainSum.length; i++) plainSum[i] = (plainSum[i]! + x[i]!) >>> 0;
  }
  const sum = o.skipUnmask ? undefined : unmask(outcome.plan);
  return { outcome, sum, plainSum, server, graph: server.graph, clients, clientErrors, serverErrors };
}

function stageIndex(s: Stage): number {
  return STAGES.indexOf(s);
}
