// Issue 8, point 2: low-order X25519 keys (RFC 7748 §6.1) in an advert.
import { describe, expect, it } from 'vitest';
import { SecAggErrorCode } from './errors.ts';
import { isUsableX25519Key } from './key-check.ts';
import { generateIdentity, generateX25519, signMessage } from './keys.ts';
import { advertTranscript } from './transcript.ts';
import { simulateRound } from './simulation.ts';

// u = 0 and u = 1 are points of order 1 and 4 (RFC 7748 §6.1 lists the all-zero output they force).
const ZERO = new Uint8Array(32);
const ONE = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
const inputs = (n: number): Uint32Array[] => Array.from({ length: n }, (_, i) => new Uint32Array([i + 1]));

describe('X25519 key check', () => {
  it('refuses low-order points and accepts real keys', () => {
    expect(isUsableX25519Key(ZERO)).toBe(false);
    expect(isUsableX25519Key(ONE)).toBe(false);
    expect(isUsableX25519Key(new Uint8Array(31))).toBe(false);
    for (let i = 0; i < 20; i++) expect(isUsableX25519Key(generateX25519().publicKey)).toBe(true);
  });

  it('the server refuses a low-order key at AdvertiseKeys; the others go on', () => {
    const r = simulateRound({
      inputs: inputs(5),
      threshold: 3,
      tamperClient: (from, m) => (from === 2 && m.type === 'AdvertiseKeys' ? { ...m, sPk: ONE } : m),
    });
    expect(r.serverErrors.get(2)?.code).toBe(SecAggErrorCode.BadMessage);
    expect(r.serverErrors.get(2)?.message).toMatch(/sPk is a low-order X25519 point/);
    expect(r.outcome.kind).toBe('ready');
    if (r.outcome.kind === 'ready') expect(r.outcome.survivors).toEqual([1, 3, 4, 5]);
    expect(r.sum).toEqual(r.plainSum);
  });

  it('a client drops a peer with a low-order key, not the round', () => {
    // Client 2 is corrupt and signs a low-order key; the coordinator forwards it to client 1.
    const identities = Array.from({ length: 5 }, () => generateIdentity());
    const r = simulateRound({
      inputs: inputs(5),
      threshold: 3,
      identities,
      tamper: (to, m) =>
        to === 1 && m.type === 'KeyList'
          ? { ...m, adverts: m.adverts.map((a) => (a.id === 2 ? { ...a, cPk: ZERO, sig: signMessage(identities[1]!.secretKey, advertTranscript(m, 2, ZERO, a.sPk, a.bPk)) } : a)) }
          : m,
    });
    // Client 1 carried on with its other neighbours (before, every such client left with BadMessage).
    expect(r.clientErrors.get(1)).toBeUndefined();
  });
});
