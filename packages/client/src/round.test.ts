import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { generateIdentity, osRandom, type KeyPair, type ServerMessage } from '@tally/secagg';
import type { TaskOffer } from '@tally/wire';
import { offer, RecordingLogger } from './_test-server.ts';
import type { Policy } from './policy.ts';
import { MAX_REMEMBERED_ROUNDS, RoundRunner } from './round.ts';
import type { Trainer } from './trainer.ts';

const POLICY: Policy = { tasks: ['demand'], minCohort: 3, minThreshold: 2, maxRounds: 10 };
const trainer: Trainer = { train: async ({ weights }) => ({ delta: new Float32Array(weights.length), weight: 1, metrics: [0] }) };
const always = (): boolean => true;

function runner(identity: KeyPair, extra: { policy?: Policy; enrolled?: ReadonlyMap<number, Uint8Array> } = {}) {
  const log = new RecordingLogger();
  const r = new RoundRunner({ identity, trainer, policy: POLICY, random: osRandom, log, ...extra });
  return { r, log };
}

/** The RoundStart the node would get as id 1 of the roster `keys` (ids 1..n), complete graph. */
function roundStart(o: TaskOffer, keys: readonly Uint8Array[], over: Partial<Extract<ServerMessage, { type: 'RoundStart' }>> = {}): ServerMessage {
  const roster = keys.map((identityKey, i) => ({ id: i + 1, identityKey }));
  return {
    type: 'RoundStart',
    session: o.session,
    round: o.round,
    you: 1,
    roster,
    neighbours: roster.slice(1).map((e) => e.id),
    graph: 'complete',
    degree: roster.length - 1,
    commitments: [],
    threshold: o.threshold,
    vectorLength: o.model.length + 3 + 1,
    activeAdversary: true,
    ...over,
  };
}

describe('freshSession: one (session, round) is never run twice', () => {
  it('refuses a second offer for a session and round it took part in, and warns', async () => {
    const { r, log } = runner(generateIdentity());
    expect(await r.onOffer(offer(), always)).toMatchObject({ accept: true });
    const again = await r.onOffer(offer(), always);
    expect(again).toMatchObject({ accept: false, round: 0 });
    expect(again?.reason).toBe('DECLINE_REPLAYED_ROUND');
    expect(log.lines).toContainEqual(expect.stringMatching(/^warn refused round 0 of task demand: .* \(policy\.freshSession\)$/));
    // Another round of the session, or the same round of another session, is fresh.
    expect(await r.onOffer(offer({ round: 1 }), always)).toMatchObject({ accept: true });
    expect(await r.onOffer(offer({ session: new Uint8Array(16).fill(8) }), always)).toMatchObject({ accept: true });
  });

  it('also after an offer it took up but declined (training failed): it began to take part', async () => {
    let fail = true;
    const log = new RecordingLogger();
    const r = new RoundRunner({
      identity: generateIdentity(),
      trainer: { train: async (i) => (fail ? Promise.reject(new Error('no data')) : trainer.train(i)) },
      policy: POLICY,
      random: osRandom,
      log,
    });
    expect(await r.onOffer(offer(), always)).toMatchObject({ accept: false, reason: 'DECLINE_TRAINING_FAILED' });
    fail = false;
    expect((await r.onOffer(offer(), always))?.reason).toBe('DECLINE_REPLAYED_ROUND');
  });

  it('does not count an offer its policy refused as taking part', async () => {
    const { r } = runner(generateIdentity());
    expect(await r.onOffer(offer({ cohortSize: 2 }), always)).toMatchObject({ accept: false });
    expect(await r.onOffer(offer(), always)).toMatchObject({ accept: true });
  });

  it(`remembers the last ${MAX_REMEMBERED_ROUNDS} pairs, and forgets the oldest first`, async () => {
    // maxRounds × maxAttemptsPerRound bounds the attempts joined over the node's lifetime: leave room.
    const { r } = runner(generateIdentity(), { policy: { ...POLICY, maxRounds: 1000 } });
    for (let round = 0; round <= MAX_REMEMBERED_ROUNDS; round++) {
      expect(await r.onOffer(offer({ round }), always)).toMatchObject({ accept: true });
    }
    // Rounds 1..1024 are remembered; round 0 was forgotten when round 1024 came.
    expect(await r.onOffer(offer({ round: MAX_REMEMBERED_ROUNDS }), always)).toMatchObject({ accept: false });
    expect(await r.onOffer(offer({ round: 1 }), always)).toMatchObject({ accept: false });
    expect(await r.onOffer(offer({ round: 0 }), always)).toMatchObject({ accept: true });
  });
});

describe('RoundStart against the accepted offer, the mode and the peer list', () => {
  const me = generateIdentity();
  const [b, c, d, rogue] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()].map((k) => k.publicKey) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const enrolled = new Map([
    [1, me.publicKey],
    [2, b],
    [3, c],
    [4, d],
  ]);

  it.each([
    ['matchesOffer', offer({ threshold: 3 }), [me.publicKey, b, c], { threshold: 2 }, /round threshold 2 is below the offered threshold 3/],
    ['matchesOffer', offer(), [me.publicKey, b, c, d], { threshold: 3 }, /round roster of 4 is larger than the offered cohort of 3/],
    ['peers', offer(), [me.publicKey, b, rogue], {}, /roster entry id 3 carries another identity key .* otherwise the coordinator is adding keys of its own$/],
    ['activeAdversary', offer(), [me.publicKey, b, c], { activeAdversary: false }, /honest-but-curious mode .*set policy\.allowPassive to true only if/],
  ] as const)('leaves the round by %s, advertising nothing', async (rule, o, keys, over, reason) => {
    const { r, log } = runner(me, { enrolled });
    expect(await r.onOffer(o, always)).toMatchObject({ accept: true });
    expect(r.onRoundMessage(roundStart(o, keys, over))).toEqual([]);
    const line = log.lines.find((l) => l.startsWith('warn round 0: leaving the round: '));
    expect(line).toContain(`(policy.${rule})`);
    expect(line).toMatch(reason);
    // It left: a well-formed RoundStart now gets nothing either.
    expect(r.onRoundMessage(roundStart(o, [me.publicKey, b, c]))).toEqual([]);
  });

  it('advertises keys for an enrolled roster as offered, and for passive mode only with allowPassive', async () => {
    const { r } = runner(me, { enrolled });
    const o = offer();
    await r.onOffer(o, always);
    expect(r.onRoundMessage(roundStart(o, [me.publicKey, b, c])).map((m) => m.type)).toEqual(['AdvertiseKeys']);

    const passive = runner(me, { enrolled, policy: { ...POLICY, allowPassive: true } }).r;
    await passive.onOffer(o, always);
    const out = passive.onRoundMessage(roundStart(o, [me.publicKey, b, c], { activeAdversary: false }));
    expect(out.map((m) => m.type)).toEqual(['AdvertiseKeys']);
  });

  it('without a peer list, checks only the size of the roster (the stated limit)', async () => {
    const { r } = runner(me);
    const o = offer();
    await r.onOffer(o, always);
    expect(r.onRoundMessage(roundStart(o, [me.publicKey, b, rogue])).map((m) => m.type)).toEqual(['AdvertiseKeys']);
  });
});

describe('memory: what a live round keeps', () => {
  it('lets the TaskOffer and its model go once the offer is answered (the round keeps only the update)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const me = generateIdentity();
    const { r } = runner(me);
    let o: TaskOffer | null = offer();
    const model = new WeakRef(o.model);
    expect(await r.onOffer(o, always)).toMatchObject({ accept: true });
    o = null;
    // The round is live (its secagg machine waits for RoundStart) while the model is collected.
    const out = r.onRoundMessage(roundStart(offer(), [me.publicKey, generateIdentity().publicKey, generateIdentity().publicKey]));
    expect(out.map((m) => m.type)).toEqual(['AdvertiseKeys']);
    for (let i = 0; i < 3 && model.deref() !== undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(model.deref(), 'the model is still reachable from the live round').toBeUndefined();
  });
});
