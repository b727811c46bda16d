// The full stage x message table for both machines: each valid transition works,
// every other one fails with a typed InvalidTransition error and changes nothing.
import { describe, expect, it } from 'vitest';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import { generateIdentity } from './keys.ts';
import { completeGraph } from './graph.ts';
import { CLIENT_EXPECTS, clientStep, createClient, type ClientState } from './client.ts';
import { SERVER_EXPECTS, serverStep, startServer, type ServerState } from './server.ts';
import type { ClientMessage, ServerMessage } from './messages.ts';

const N = 4;
const T = 3;
const ids = [1, 2, 3, 4];
const session = new Uint8Array(16).fill(7);
const round = 3;

interface Trace {
  /** Client 1's state before each server message it received, and after the last. */
  clientStates: ClientState[];
  /** Each server message client 1 received, in order. */
  toClient1: ServerMessage[];
  /** Each message client 1 sent, in order. */
  fromClient1: ClientMessage[];
}

/**
 * Runs a full honest round. When `stopAt` names a server stage, returns the server
 * as soon as it enters that stage, with the client messages that stage awaits.
 */
function run(activeAdversary: boolean, stopAt?: ServerState['stage']) {
  const identities = ids.map(() => generateIdentity());
  const { state: server, outbox } = startServer({
    session,
    round,
    roster: ids.map((id, i) => ({ id, identityKey: identities[i]!.publicKey })),
    graph: completeGraph(ids),
    threshold: T,
    vectorLength: 5,
    activeAdversary,
  });
  const clients = ids.map((id, i) => createClient({ identity: identities[i]!, input: new Uint32Array(5).fill(id) }));
  const trace: Trace = { clientStates: [clients[0]!], toClient1: [], fromClient1: [] };
  let toClients = [...outbox];
  while (server.stage !== 'Done') {
    const replies: { from: number; msg: ClientMessage }[] = [];
    for (const { to, msg } of toClients) {
      const step = clientStep(clients[to - 1]!, msg);
      clients[to - 1] = step.state;
      if (to === 1) {
        trace.toClient1.push(msg);
        trace.clientStates.push(step.state);
        trace.fromClient1.push(...step.outbox);
      }
      replies.push(...step.outbox.map((m) => ({ from: to, msg: m })));
    }
    if (server.stage === stopAt) return { server, pending: replies, trace };
    toClients = [];
    for (const r of replies) toClients.push(...serverStep(server, { type: 'message', ...r }).outbox);
  }
  return { server, pending: [], trace };
}

function expectInvalid(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SecAggError);
  expect((caught as SecAggError).code).toBe(SecAggErrorCode.InvalidTransition);
}

describe.each([true, false])('client transitions (activeAdversary=%s)', (active) => {
  const { trace } = run(active);
  const serverMsgs = new Map(trace.toClient1.map((m) => [m.type, m]));
  const types: ServerMessage['type'][] = ['RoundStart', 'KeyList', 'ShareBundle', 'SurvivorList', 'UnmaskRequest'];
  // A SurvivorList exists only in active mode; build one for the passive table.
  if (!serverMsgs.has('SurvivorList')) serverMsgs.set('SurvivorList', { type: 'SurvivorList', session, round, survivors: ids });

  it('walked through every stage', () => {
    expect(trace.clientStates.map((s) => s.stage)).toEqual(
      active
        ? ['Init', 'AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask']
        : ['Init', 'AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'Unmask'],
    );
  });

  const cases = trace.clientStates.flatMap((state, i) => types.map((type) => ({ state, i, type })));
  it.each(cases.map((c) => [c.state.stage, c.type, c] as const))('%s + %s', (_s, _t, { state, i, type }) => {
    const msg = serverMsgs.get(type)!;
    const valid = CLIENT_EXPECTS[state.stage].includes(type) && trace.toClient1[i]?.type === type;
    if (valid) {
      const step = clientStep(state, msg);
      expect(step.state.stage).toBe(trace.clientStates[i + 1]!.stage);
      expect(step.outbox).toHaveLength(1);
    } else {
      expectInvalid(() => clientStep(state, msg));
    }
  });
});

describe.each([true, false])('server transitions (activeAdversary=%s)', (active) => {
  const library = new Map(run(active).trace.fromClient1.map((m) => [m.type, m]));
  if (!library.has('ConsistencySignature')) {
    library.set('ConsistencySignature', { type: 'ConsistencySignature', session, round, sig: new Uint8Array(64) });
  }
  const types: ClientMessage['type'][] = ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencySignature', 'UnmaskShares'];
  const stages: ServerState['stage'][] = active
    ? ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask', 'Done']
    : ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'Unmask', 'Done'];

  it.each(stages.flatMap((stage) => types.map((type) => [stage, type] as const)))('%s + %s', (stage, type) => {
    const { server, pending } = run(active, stage === 'Done' ? undefined : stage);
    expect(server.stage).toBe(stage);
    if (SERVER_EXPECTS[stage] === type) {
      // The genuine message of this round: accepted, and the round moves on when all have answered.
      for (const p of pending) serverStep(server, { type: 'message', ...p });
      expect(server.stage).not.toBe(stage);
    } else {
      const waitingBefore = [...server.waiting];
      expectInvalid(() => serverStep(server, { type: 'message', from: 1, msg: library.get(type)! }));
      expect([...server.waiting]).toEqual(waitingBefore);
      expect(server.stage).toBe(stage);
    }
  });
});
