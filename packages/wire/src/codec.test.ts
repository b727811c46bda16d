import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT_SAMPLES, COORDINATOR_SAMPLES, bytes } from './_fixtures.ts';
import { decode, encode, encodeParts } from './codec.ts';
import { ProtocolErrorCode, isProtocolError } from './errors.ts';
import type { CoordinatorMessage, NodeClientMessage, TaskOffer } from './messages.ts';
import { PROTOCOL_VERSION } from './messages.ts';
import { parseClientMessage, parseCoordinatorMessage } from './parse.ts';

const asBytes = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** Every byte array and vector in a parsed message, with its path. */
function views(x: unknown, path = ''): [string, ArrayBufferView][] {
  if (ArrayBuffer.isView(x)) return [[path, x]];
  if (Array.isArray(x)) return x.flatMap((e, i) => views(e, `${path}[${i}]`));
  if (typeof x === 'object' && x !== null) return Object.entries(x).flatMap(([k, v]) => views(v, `${path}.${k}`));
  return [];
}

/** msgpackr's raw output with Buffers made plain Uint8Arrays, to compare raw frames. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return new Uint8Array(x);
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object' && x !== null) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

/** Deep equality, plus exact bytes and exact (plain) classes for every typed array. */
function expectSame(got: unknown, want: unknown): void {
  expect(got).toStrictEqual(want);
  const g = views(got);
  const w = views(want);
  expect(g.map(([p]) => p)).toEqual(w.map(([p]) => p));
  g.forEach(([p, v], i) => {
    const [, wv] = w[i]!;
    expect(Object.getPrototypeOf(v), p).toBe(Object.getPrototypeOf(wv));
    expect(asBytes(v), p).toEqual(asBytes(wv));
  });
}

describe('roundtrip', () => {
  it.each(COORDINATOR_SAMPLES.map((m, i) => [`${i}:${m.type}`, m] as const))('coordinator %s', (_, msg) => {
    const parsed = parseCoordinatorMessage(decode(encode(msg)));
    if (isProtocolError(parsed)) throw parsed;
    expectSame(parsed, msg);
  });

  it.each(CLIENT_SAMPLES.map((m, i) => [`${i}:${m.type}`, m] as const))('client %s', (_, msg) => {
    const parsed = parseClientMessage(decode(encode(msg)));
    if (isProtocolError(parsed)) throw parsed;
    expectSame(parsed, msg);
  });

  it('covers every message type', () => {
    expect(new Set(COORDINATOR_SAMPLES.map((m) => m.type)).size).toBe(11);
    expect(new Set(CLIENT_SAMPLES.map((m) => m.type)).size).toBe(8);
  });

  it('u32 vectors are exact for any lanes', () => {
    fc.assert(
      fc.property(fc.uint32Array({ minLength: 1, maxLength: 300 }), fc.nat(), (y, round) => {
        const msg: NodeClientMessage = { type: 'MaskedInput', session: bytes(16, 1), round, y };
        const parsed = parseClientMessage(decode(encode(msg)));
        if (isProtocolError(parsed)) throw parsed;
        expectSame(parsed, msg);
      }),
    );
  });

  it('encodeParts: the pieces are exactly encode(msg); a MaskedInput splits before its vector, which is not copied', () => {
    const concat = (parts: readonly Uint8Array[]): Uint8Array => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    for (const msg of [...CLIENT_SAMPLES, ...COORDINATOR_SAMPLES]) {
      const parts = encodeParts(msg);
      expect(parts, msg.type).toHaveLength(msg.type === 'MaskedInput' ? 2 : 1);
      expect(Buffer.from(concat(parts)).equals(Buffer.from(encode(msg))), msg.type).toBe(true);
    }
    // Every bin header size: 1-byte (< 256 bytes), 2-byte (< 64 KiB), 4-byte lengths.
    const lengths = fc.oneof(fc.integer({ min: 1, max: 63 }), fc.integer({ min: 64, max: 16383 }), fc.integer({ min: 16384, max: 70000 }));
    fc.assert(
      fc.property(lengths, fc.nat(), fc.integer({ min: 0, max: 255 }), (lanes, round, fill) => {
        const y = new Uint32Array(lanes).fill(fill * 0x01010101);
        const msg: NodeClientMessage = { type: 'MaskedInput', session: bytes(16, 7), round, y };
        const parts = encodeParts(msg);
        expect(parts).toHaveLength(2);
        expect(parts[1]!.buffer).toBe(y.buffer); // the vector's own memory
        const frame = concat(parts);
        expect(Buffer.from(frame).equals(Buffer.from(encode(msg)))).toBe(true);
        const parsed = parseClientMessage(decode(frame));
        if (isProtocolError(parsed)) throw parsed;
        expectSame(parsed, msg);
      }),
      { numRuns: 40 },
    );
  });

  it('f32 vectors are bit-exact for any finite weights (including -0 and subnormals)', () => {
    fc.assert(
      fc.property(fc.float32Array({ minLength: 1, maxLength: 300, noDefaultInfinity: true, noNaN: true }), (model) => {
        const offer = COORDINATOR_SAMPLES.find((m): m is TaskOffer => m.type === 'TaskOffer')!;
        const msg: CoordinatorMessage = { ...offer, model };
        const parsed = parseCoordinatorMessage(decode(encode(msg)));
        if (isProtocolError(parsed)) throw parsed;
        expectSame(parsed, msg);
      }),
    );
  });

  it('encodes vectors that are views at an odd offset of a larger buffer', () => {
    const backing = new ArrayBuffer(4 * 10);
    const y = new Uint32Array(backing, 4, 3);
    y.set([9, 8, 0xfffffffe]);
    const parsed = parseClientMessage(decode(encode({ type: 'MaskedInput', session: bytes(16, 1), round: 1, y })));
    if (isProtocolError(parsed)) throw parsed;
    expect(parsed.type === 'MaskedInput' && [...parsed.y]).toEqual([9, 8, 0xfffffffe]);
  });
});

describe('frame layout', () => {
  it('is the documented envelope, vectors as little-endian bytes', () => {
    const raw = decode(encode({ type: 'MaskedInput', session: bytes(16, 1), round: 3, y: new Uint32Array([1, 0x01020304]) }));
    expect(plain(raw)).toStrictEqual({
      v: PROTOCOL_VERSION,
      type: 'MaskedInput',
      session: bytes(16, 1),
      round: 3,
      body: { y: { dtype: 'u32', length: 2, data: Uint8Array.from([1, 0, 0, 0, 4, 3, 2, 1]) } },
    });
  });

  it('omits session and round for connection-level messages, and absent optional fields', () => {
    expect(plain(decode(encode({ type: 'AuthResponse', sig: bytes(64, 1) })))).toStrictEqual({ v: 1, type: 'AuthResponse', body: { sig: bytes(64, 1) } });
    const raw = decode(encode({ type: 'OfferReply', session: bytes(16, 1), round: 1, accept: true, reason: undefined })) as {
      body: object;
    };
    expect(Object.keys(raw.body)).toEqual(['accept']);
  });

  it('never sends properties the message type does not declare', () => {
    const secretish = { id: 1, identityKey: bytes(32, 1), privateKey: bytes(32, 2) };
    const frame = encode({
      type: 'RoundStart',
      session: bytes(16, 1),
      round: 0,
      you: 1,
      roster: [secretish],
      neighbours: [],
      graph: 'complete',
      degree: 1,
      commitments: [],
      threshold: 1,
      vectorLength: 1,
      activeAdversary: false,
    });
    expect(JSON.stringify(decode(frame))).not.toContain('privateKey');
    expect(parseCoordinatorMessage(decode(frame))).not.toBeInstanceOf(Error);
  });
});

describe('decoding from the network', () => {
  it('decodes a frame at an odd offset of a larger buffer, vectors included', () => {
    for (const msg of [...COORDINATOR_SAMPLES, ...CLIENT_SAMPLES]) {
      const frame = encode(msg);
      for (const offset of [1, 2, 3, 5]) {
        const backing = new Uint8Array(frame.length + offset + 3).fill(0xee);
        backing.set(frame, offset);
        const unaligned = backing.subarray(offset, offset + frame.length);
        const parsed = COORDINATOR_SAMPLES.includes(msg as CoordinatorMessage)
          ? parseCoordinatorMessage(decode(unaligned))
          : parseClientMessage(decode(unaligned));
        if (isProtocolError(parsed)) throw parsed;
        expectSame(parsed, msg);
      }
    }
  });

  it('shares no memory with the frame: overwriting the frame after parse changes nothing', () => {
    const msg = CLIENT_SAMPLES.find((m) => m.type === 'UnmaskShares')!;
    const frame = Uint8Array.from(encode(msg));
    const parsed = parseClientMessage(decode(frame));
    frame.fill(0);
    expectSame(parsed, msg);
  });

  it('refuses empty frames, non-bytes and trailing bytes as Malformed', () => {
    const frame = encode(CLIENT_SAMPLES[0]!);
    const trailing = new Uint8Array(frame.length + 1);
    trailing.set(frame);
    for (const input of [new Uint8Array(0), 'hello' as unknown as Uint8Array, trailing]) {
      const r = decode(input);
      expect(isProtocolError(r) && r.code).toBe(ProtocolErrorCode.Malformed);
      expect(parseClientMessage(r)).toBe(r);
    }
  });

  it('refuses a well-formed MessagePack value that is not an envelope map as Malformed', () => {
    for (const u of [null, 1, 'x', [], [1, 2], bytes(4, 1), new Date(0)]) {
      const r = parseClientMessage(u);
      expect(isProtocolError(r) && r.code).toBe(ProtocolErrorCode.Malformed);
    }
  });
});
