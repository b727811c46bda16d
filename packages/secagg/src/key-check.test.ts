// Issue 8, point 2: low-order X25519 keys (RFC 7748 §6.1) in an advert.
import { describe, expect, it } from 'vitest';
import { SecAggErrorCode } from './errors.ts';
import fc from 'fast-check';
import { LOW_ORDER_X25519, isUsableX25519Key, usableByAgreement } from './key-check.ts';
import { x25519Shared } from './keys.ts';
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

  it('the seven encodings are exactly the small-order points: the agreement refuses each (top bit set or not), and nothing near them', () => {
    const p = 2n ** 255n - 19n;
    const le = (x: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
    // The u-coordinates of order 8 in decimal, as RFC 7748 implementations list them.
    const order8 = [325606250916557431795983626356110631294008115727848805560023387167927233504n, 39382357235489614581723060781553021112529911719440698176882885853963445705823n];
    expect(LOW_ORDER_X25519.map((b) => Buffer.from(b).toString('hex'))).toEqual([0n, 1n, ...order8, p - 1n, p, p + 1n].map((x) => Buffer.from(le(x)).toString('hex')));
    for (const bad of LOW_ORDER_X25519) {
      const high = Uint8Array.from(bad);
      high[31]! |= 0x80;
      for (const key of [bad, high]) {
        expect(usableByAgreement(key)).toBe(false);
        expect(isUsableX25519Key(key)).toBe(false);
        expect(() => x25519Shared(generateX25519().secretKey, key)).toThrow();
      }
      // Neighbours of each (±1 in the low byte and in the top byte) are ordinary points.
      for (const [i, d] of [[0, 1], [0, -1], [30, 1], [30, -1]] as const) {
        const near = Uint8Array.from(bad);
        near[i] = (near[i]! + d) & 0xff;
        if (LOW_ORDER_X25519.some((b) => Buffer.from(b).equals(Buffer.from(near)))) continue;
        expect(isUsableX25519Key(near)).toBe(usableByAgreement(near));
      }
    }
    // Every other 255-bit residue that reduces to a small value (p + 2 .. 2^255 - 1 are 2 .. 18).
    for (let x = p + 2n; x < 2n ** 255n; x++) expect(isUsableX25519Key(le(x))).toBe(usableByAgreement(le(x)));
  });

  it('agrees with the agreement-based check on random keys and random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        expect(isUsableX25519Key(key)).toBe(usableByAgreement(key));
      }),
      { numRuns: 300 },
    );
    for (let i = 0; i < 50; i++) expect(isUsableX25519Key(generateX25519().publicKey)).toBe(true);
    expect(isUsableX25519Key(new Uint8Array(33))).toBe(false);
    expect(isUsableX25519Key('x'.repeat(32))).toBe(false);
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

  it('a client refuses a KeyList in which an advert reuses another member\'s key, or one key for two roles (each signed by its owner)', () => {
    for (const kind of ['reuse', 'roles'] as const) {
      const identities = Array.from({ length: 5 }, () => generateIdentity());
      const r = simulateRound({
        inputs: inputs(5),
        threshold: 3,
        identities,
        // Client 2 (corrupt) signs an advert whose cPk is client 3's cPk (found at id 3, the
        // second to carry it), or equals its own sPk.
        tamper: (to, m) => {
          if (to !== 1 || m.type !== 'KeyList') return m;
          const three = m.adverts.find((a) => a.id === 3)!;
          return {
            ...m,
            adverts: m.adverts.map((a) => {
              if (a.id !== 2) return a;
              const cPk = kind === 'reuse' ? three.cPk : a.sPk;
              return { ...a, cPk, sig: signMessage(identities[1]!.secretKey, advertTranscript(m, 2, cPk, a.sPk, a.bPk)) };
            }),
          };
        },
      });
      const err = r.clientErrors.get(1);
      expect(err?.code, kind).toBe(SecAggErrorCode.BadMessage);
      expect(err?.message, kind).toMatch(kind === 'reuse' ? /KeyList: id 3 reuses a public key/ : /KeyList: id 2 uses one key for two roles/);
    }
  });
});
