// A dishonest server against honest client machines: each attack is refused.
import { describe, expect, it } from 'vitest';
import { SecAggError, SecAggErrorCode } from './errors.ts';
import { generateIdentity, generateX25519, signMessage } from './keys.ts';
import { completeGraph } from './graph.ts';
import { clientStep, createClient, type ClientState } from './client.ts';
import { serverStep, startServer } from './server.ts';
import { simulateRound } from './simulation.ts';
import { advertTranscript } from './transcript.ts';
import type { ClientMessage, KeyList, ServerMessage, UnmaskRequest, UnmaskShares } from './messages.ts';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SecAggError) return err.code;
    throw err;
  }
  return undefined;
};

/** Drives five honest clients with an honest server up to the end of MaskedInput. */
function upToSurvivorList(activeAdversary = true) {
  const ids = [1, 2, 3, 4, 5];
  const session = new Uint8Array(16).fill(1);
  const identities = ids.map(() => generateIdentity());
  const { state: server, outbox } = startServer({
    session,
    round: 0,
    roster: ids.map((id, i) => ({ id, identityKey: identities[i]!.publicKey })),
    graph: completeGraph(ids),
    threshold: 3,
    vectorLength: 4,
    activeAdversary,
  });
  const clients = new Map<number, ClientState>(
    ids.map((id, i) => [id, createClient({ identity: identities[i]!, input: new Uint32Array(4).fill(id) })]),
  );
  let queue = [...outbox];
  let lastServerMsgs: { to: number; msg: ServerMessage }[] = [];
  while (server.stage === 'AdvertiseKeys' || server.stage === 'ShareKeys' || server.stage === 'MaskedInput') {
    lastServerMsgs = queue;
    const replies: { from: number; msg: ClientMessage }[] = [];
    for (const { to, msg } of queue) {
      const step = clientStep(clients.get(to)!, msg);
      clients.set(to, step.state);
      replies.push(...step.outbox.map((m) => ({ from: to, msg: m })));
    }
    queue = [];
    for (const r of replies) queue.push(...serverStep(server, { type: 'message', ...r }).outbox);
  }
  return { ids, session, identities, clients, server, next: queue, lastServerMsgs };
}

describe('dishonest server', () => {
  it('cannot get both shares of one peer from a client (second unmask request refused)', () => {
    const { clients, session, next } = upToSurvivorList(false);
    // Passive mode: the server's UnmaskRequest says everybody survived.
    const c1 = clients.get(1)!;
    const first = clientStep(c1, next.find((m) => m.to === 1)!.msg);
    const reveal = first.outbox[0] as UnmaskShares;
    expect(reveal.selfMaskShares.map((s) => s.of).sort()).toEqual([2, 3, 4, 5]);
    expect(reveal.keyShares).toEqual([]);
    // Now it claims peer 5 dropped, to get 5's mask-key share as well.
    const second: UnmaskRequest = { type: 'UnmaskRequest', session, round: 0, survivors: [1, 2, 3, 4], signatures: [] };
    expect(codeOf(() => clientStep(first.state, second))).toBe(SecAggErrorCode.InvalidTransition);
  });

  it('cannot change the survivor list between the consistency check and unmasking', () => {
    const { clients, next, session } = upToSurvivorList(true);
    const signed = clientStep(clients.get(1)!, next.find((m) => m.to === 1)!.msg);
    expect(signed.state.stage).toBe('ConsistencyCheck');
    const req: UnmaskRequest = { type: 'UnmaskRequest', session, round: 0, survivors: [1, 2, 3, 4], signatures: [] };
    expect(codeOf(() => clientStep(signed.state, req))).toBe(SecAggErrorCode.Inconsistent);
  });

  it('showing different survivor lists to different clients is caught by the signatures', () => {
    const { clients, session, identities } = upToSurvivorList(true);
    // Clients 1-3 are told everyone survived; client 4 is told 5 dropped.
    const listFor = (id: number) => (id === 4 ? [1, 2, 3, 4] : [1, 2, 3, 4, 5]);
    const states = new Map<number, ClientState>();
    const sigs = new Map<number, Uint8Array>();
    for (const id of [1, 2, 3, 4]) {
      const step = clientStep(clients.get(id)!, { type: 'SurvivorList', session, round: 0, survivors: listFor(id) });
      states.set(id, step.state);
      sigs.set(id, (step.outbox[0] as { sig: Uint8Array }).sig);
    }
    const allSigs = [...sigs].map(([id, sig]) => ({ id, sig }));
    // With every signature attached, every client sees one that is over another list.
    for (const id of [1, 2, 3, 4]) {
      const survivors = listFor(id);
      const req: UnmaskRequest = {
        type: 'UnmaskRequest',
        session,
        round: 0,
        survivors,
        signatures: allSigs.filter((s) => survivors.includes(s.id)),
      };
      expect(codeOf(() => clientStep(states.get(id)!, req))).toBe(SecAggErrorCode.Inconsistent);
    }
    // Hiding client 4's signature from 1-3 lets them go on (they agree with each other),
    // but client 4 then lacks t=3 matching signatures and reveals nothing: the server
    // never gets 5's key shares, so it cannot strip 5's masks from 5's input.
    const req4: UnmaskRequest = { type: 'UnmaskRequest', session, round: 0, survivors: [1, 2, 3, 4], signatures: [{ id: 4, sig: sigs.get(4)! }] };
    expect(codeOf(() => clientStep(states.get(4)!, req4))).toBe(SecAggErrorCode.BelowThreshold);
    void identities;
  });

  it("counts only its neighbours' signatures: its own does not make up the threshold (issue 8)", () => {
    const { clients, session } = upToSurvivorList(true);
    const everyone = [1, 2, 3, 4, 5];
    const states = new Map<number, ClientState>();
    const sigs = new Map<number, Uint8Array>();
    for (const id of [1, 2, 3]) {
      const step = clientStep(clients.get(id)!, { type: 'SurvivorList', session, round: 0, survivors: everyone });
      states.set(id, step.state);
      sigs.set(id, (step.outbox[0] as { sig: Uint8Array }).sig);
    }
    // t = 3 signatures on the list, but one is client 1's own: only 2 neighbours confirmed it.
    const withOwn: UnmaskRequest = { type: 'UnmaskRequest', session, round: 0, survivors: everyone, signatures: [1, 2, 3].map((id) => ({ id, sig: sigs.get(id)! })) };
    expect(codeOf(() => clientStep(states.get(1)!, withOwn))).toBe(SecAggErrorCode.BelowThreshold);
    // Client 2 sees the same three, two of them (1 and 3) its neighbours': also refused.
    expect(codeOf(() => clientStep(states.get(2)!, withOwn))).toBe(SecAggErrorCode.BelowThreshold);
  });

  it('a message replayed from another round is refused', () => {
    const identities = [1, 2, 3, 4].map(() => generateIdentity());
    const session = new Uint8Array(16).fill(9);
    let oldKeyList: KeyList | undefined;
    simulateRound({
      inputs: [1, 2, 3, 4].map(() => new Uint32Array(3)),
      threshold: 2,
      identities,
      session,
      round: 0,
      tamper: (to, msg) => {
        if (to === 1 && msg.type === 'KeyList') oldKeyList = msg;
        return msg;
      },
    });
    expect(oldKeyList).toBeDefined();
    // Round 1: the server replays round 0's key list as is ...
    const replayed = simulateRound({
      inputs: [1, 2, 3, 4].map(() => new Uint32Array(3)),
      threshold: 2,
      identities,
      session,
      round: 1,
      tamper: (to, msg) => (to === 1 && msg.type === 'KeyList' ? oldKeyList! : msg),
    });
    expect(replayed.clientErrors.get(1)?.code).toBe(SecAggErrorCode.WrongRound);
    // ... or re-labelled as round 1: the adverts' signatures bind round 0, so they fail.
    const relabelled = simulateRound({
      inputs: [1, 2, 3, 4].map(() => new Uint32Array(3)),
      threshold: 2,
      identities,
      session,
      round: 1,
      tamper: (to, msg) => (to === 1 && msg.type === 'KeyList' ? { ...oldKeyList!, round: 1 } : msg),
    });
    expect(relabelled.clientErrors.get(1)?.code).toBe(SecAggErrorCode.BadSignature);
    // The other clients still finish the round without client 1.
    expect(relabelled.outcome.kind).toBe('ready');
    if (relabelled.outcome.kind === 'ready') expect(relabelled.outcome.survivors).toEqual([2, 3, 4]);
  });

  it('substituting a key advert (man in the middle) is refused', () => {
    const r = simulateRound({
      inputs: [1, 2, 3, 4].map(() => new Uint32Array(3)),
      threshold: 3,
      tamper: (to, msg) => {
        if (to !== 1 || msg.type !== 'KeyList') return msg;
        const fake = generateX25519();
        // Signed, but by a key that is not client 2's enrolled identity.
        const mallory = generateIdentity();
        const adverts = msg.adverts.map((a) =>
          a.id === 2 ? { ...a, sPk: fake.publicKey, sig: signMessage(mallory.secretKey, advertTranscript(msg, 2, a.cPk, fake.publicKey, a.bPk)) } : a,
        );
        return { ...msg, adverts };
      },
    });
    expect(r.clientErrors.get(1)?.code).toBe(SecAggErrorCode.BadSignature);
  });

  it('a threshold at or below half the neighbourhood is refused', () => {
    const r = simulateRound({
      inputs: [1, 2, 3, 4, 5].map(() => new Uint32Array(3)),
      threshold: 3,
      tamper: (_to, msg) => (msg.type === 'RoundStart' ? { ...msg, threshold: 2 } : msg),
    });
    for (const id of [1, 2, 3, 4, 5]) expect(r.clientErrors.get(id)?.code).toBe(SecAggErrorCode.PrivacyViolation);
    expect(r.outcome.kind).toBe('aborted');
  });

  it('an honest client never reveals both shares of one peer, whatever survivor list it is shown', () => {
    for (const survivors of [[1, 2, 3, 4, 5], [1, 2, 3, 4], [1, 3, 4, 5], [1, 2, 3, 5]]) {
      const { clients, session } = upToSurvivorList(false);
      const step = clientStep(clients.get(1)!, { type: 'UnmaskRequest', session, round: 0, survivors, signatures: [] });
      const out = step.outbox[0] as UnmaskShares;
      const self = new Set(out.selfMaskShares.map((s) => s.of));
      const key = new Set(out.keyShares.map((s) => s.of));
      expect([...self].filter((id) => key.has(id))).toEqual([]);
      expect(new Set([...self, ...key])).toEqual(new Set([2, 3, 4, 5]));
    }
  });
});
