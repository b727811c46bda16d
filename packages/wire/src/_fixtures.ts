/** Valid sample messages of every type, for the tests. Bytes are fixed patterns, not keys. */

import type { CoordinatorMessage, NodeClientMessage } from './messages.ts';

export const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) & 0xff);

const session = bytes(16, 1);
const round = 42;

export const COORDINATOR_SAMPLES: readonly CoordinatorMessage[] = [
  { type: 'Challenge', nonce: bytes(32, 2), coordinatorVersion: 'tally-coordinator/0.1.0' },
  { type: 'Welcome', clientId: 7, taskId: 'demand-forecast.v1' },
  { type: 'Welcome', clientId: 8, taskId: 'demand-forecast.v1', task: { rounds: 20, modelLength: 7, cohortSize: 5, threshold: null, activeAdversary: true } },
  {
    type: 'Welcome',
    clientId: 9,
    taskId: 'demand-forecast.v1',
    task: {
      rounds: 10,
      modelLength: 3,
      cohortSize: 4,
      threshold: 3,
      activeAdversary: true,
      dp: { mechanism: 'ddgauss', noiseMultiplier: 0, clipNorm: 0.5, minSurvivors: 3, cohortSize: 4, beta: 0.05, wrapProbability: 1e-6, epsilon: 8, delta: 1e-6, rounds: 10 },
    },
  },
  {
    type: 'TaskOffer',
    session,
    round,
    taskId: 'demand-forecast.v1',
    cohortSize: 5,
    threshold: 3,
    graph: 'harary',
    degree: 4,
    model: new Float32Array([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, Math.fround(0.1)]),
    quant: { clipNorm: 1.5, weightBound: 1000, cohortSize: 5, fractionalBits: 16, metricCount: 2, metricBound: 10 },
    deadlineMs: 60_000,
  },
  {
    type: 'TaskOffer',
    session,
    round,
    taskId: 'demand-forecast.v1',
    cohortSize: 3,
    threshold: 2,
    graph: 'complete',
    degree: 2,
    model: new Float32Array([1, 2]),
    quant: { clipNorm: 1, weightBound: 10, cohortSize: 3, fractionalBits: 12, metricCount: 0, metricBound: 0 },
    deadlineMs: 1000,
    modelSpec: '{"kind":"demand","products":["bread"]}',
  },
  {
    type: 'TaskOffer',
    session,
    round,
    taskId: 'demand-forecast.v1',
    cohortSize: 4,
    threshold: 3,
    graph: 'complete',
    degree: 3,
    model: new Float32Array([1, 2, 3]),
    quant: { clipNorm: 1, weightBound: 10, cohortSize: 4, fractionalBits: 12, metricCount: 0, metricBound: 0 },
    deadlineMs: 1000,
    dp: { mechanism: 'ddgauss', noiseMultiplier: 1.25, clipNorm: 1, minSurvivors: 3, cohortSize: 4, beta: Math.exp(-3), wrapProbability: 1e-9, epsilon: 4, delta: 1e-5, rounds: 10 },
  },
  { type: 'RoundResult', session, round, status: 'committed', metrics: { loss: 0.25, 'val_acc.top-1': 0.9 }, survivors: 4 },
  { type: 'RoundResult', session, round, status: 'aborted', reason: 'ROUND_SECAGG_ABORTED', survivors: 2 },
  { type: 'GlobalModel', taskId: 'demand-forecast.v1', round: 3, final: false, model: new Float32Array([0.5, -1.25, 3]) },
  { type: 'GlobalModel', taskId: 'demand-forecast.v1', round: 5, final: true, model: new Float32Array([2]) },
  { type: 'ErrorNotice', code: 'WIRE_BAD_FIELD', message: 'body.sig: expected 64 bytes, got 12' },
  {
    type: 'RoundStart',
    session,
    round,
    you: 2,
    roster: [
      { id: 1, identityKey: bytes(32, 3) },
      { id: 2, identityKey: bytes(32, 4) },
      { id: 5, identityKey: bytes(32, 5) },
      { id: 2 ** 31, identityKey: bytes(32, 6) },
    ],
    neighbours: [5, 1, 2 ** 31],
    graph: 'complete',
    degree: 3,
    commitments: [],
    threshold: 3,
    vectorLength: 1003,
    activeAdversary: true,
  },
  {
    type: 'KeyList',
    session,
    round,
    adverts: [
      { id: 1, cPk: bytes(32, 7), sPk: bytes(32, 8), bPk: bytes(32, 23), sig: bytes(64, 9) },
      { id: 5, cPk: bytes(32, 10), sPk: bytes(32, 11), bPk: bytes(32, 24), sig: new Uint8Array(0) },
    ],
  },
  {
    type: 'ShareBundle',
    session,
    round,
    shares: [
      { peer: 1, ct: bytes(120, 12) },
      { peer: 5, ct: bytes(1, 13) },
    ],
  },
  { type: 'SurvivorList', session, round, survivors: [1, 2, 5] },
  {
    type: 'UnmaskRequest',
    session,
    round,
    survivors: [1, 2],
    signatures: [
      { id: 1, sig: bytes(64, 14) },
      { id: 2, sig: bytes(64, 15) },
    ],
  },
];

export const CLIENT_SAMPLES: readonly NodeClientMessage[] = [
  { type: 'Hello', identityKey: bytes(32, 16), clientVersion: 'tally-client/0.1.0' },
  { type: 'AuthResponse', sig: bytes(64, 17) },
  { type: 'OfferReply', session, round, accept: true },
  { type: 'OfferReply', session, round, accept: true, keyCommit: bytes(32, 25) },
  { type: 'OfferReply', session, round, accept: false, reason: 'DECLINE_POLICY' },
  { type: 'AdvertiseKeys', session, round, cPk: bytes(32, 18), sPk: bytes(32, 19), bPk: bytes(32, 26), sig: bytes(64, 20) },
  { type: 'AdvertiseKeys', session, round: 0, cPk: bytes(32, 18), sPk: bytes(32, 19), bPk: bytes(32, 26), sig: new Uint8Array(0) },
  { type: 'ShareKeys', session, round, shares: [{ peer: 3, ct: bytes(100, 21) }] },
  { type: 'MaskedInput', session, round: 0xffffffff /* MAX_ROUND */, y: new Uint32Array([0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) },
  { type: 'ConsistencySignature', session, round, sig: bytes(64, 22) },
  {
    type: 'UnmaskShares',
    session,
    round,
    selfMaskShares: [
      { of: 1, share: bytes(33, 23) },
      { of: 2, share: bytes(33, 24) },
    ],
    keyShares: [{ of: 5, share: bytes(33, 25) }],
  },
];
