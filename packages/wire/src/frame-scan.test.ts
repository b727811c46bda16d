import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CLIENT_SAMPLES, COORDINATOR_SAMPLES, bytes } from './_fixtures.ts';
import { decode, encode } from './codec.ts';
import { ProtocolErrorCode, isProtocolError } from './errors.ts';
import { PRE_AUTH_BUDGET, frameBudget } from './frame-budget.ts';
import { MAX_FRAME_DEPTH, scanFrame } from './frame-scan.ts';
import { DEFAULT_LIMITS } from './limits.ts';
import { parseClientMessage } from './parse.ts';

/** An encoder that uses every extension msgpackr has, as a hostile peer would. */
const hostile = new Packr({ useRecords: true, structuredClone: true, moreTypes: true, largeBigIntToString: false } as ConstructorParameters<typeof Packr>[0]);
/** msgpackr's own decoder with its defaults: what decode() used to hand frames to. */
const permissive = new Unpackr({ useRecords: false, structuredClone: false, int64AsType: 'number' } as ConstructorParameters<typeof Unpackr>[0]);

const envelope = (body: unknown): Record<string, unknown> => ({ v: 1, type: 'OfferReply', session: bytes(16, 1), round: 1, body });
const code = (r: unknown): string | null => (isProtocolError(r) ? r.code : null);

/** A hand-made ext frame: fixext/ext header, type byte, payload. */
function ext(type: number, payload: Uint8Array): Uint8Array {
  const head = payload.length === 1 ? [0xd4] : payload.length === 2 ? [0xd5] : payload.length === 4 ? [0xd6] : payload.length === 8 ? [0xd7] : payload.length === 16 ? [0xd8] : [0xc7, payload.length];
  return Uint8Array.from([...head, type & 0xff, ...payload]);
}

describe('decode refuses every MessagePack extension before msgpackr builds it', () => {
  const cases: [string, Uint8Array, (x: unknown) => boolean][] = [
    ['a record (ext 0x72)', new Packr({ useRecords: true }).pack([{ a: 1, b: 2 }, { a: 3, b: 4 }]), () => true],
    ['a RegExp (ext 0x78)', hostile.pack(envelope(/a+$/g)), (x) => (x as { body: unknown }).body instanceof RegExp],
    ['an Error (ext 0x65)', hostile.pack(envelope(new Error('boom'))), (x) => (x as { body: unknown }).body instanceof Error],
    ['a Set (ext 0x73)', hostile.pack(envelope(new Set([1, 2, 3]))), (x) => (x as { body: unknown }).body instanceof Set],
    ['a Date (timestamp ext -1)', hostile.pack(envelope(new Date(0))), (x) => (x as { body: unknown }).body instanceof Date],
    ['a typed array (ext 0x74)', hostile.pack(envelope(new Float64Array([1, 2]))), (x) => (x as { body: unknown }).body instanceof Float64Array],
    ['a BigInt (ext 0x42)', ext(0x42, Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), (x) => typeof x === 'bigint'],
    ['undefined (ext 0)', hostile.pack(envelope(undefined)), (x) => (x as { body: unknown }).body === undefined],
    ['a structured-clone reference (ext 0x69/0x70)', (() => { const o = { self: null as unknown }; o.self = o; return hostile.pack(o); })(), (x) => (x as { self: unknown }).self === x],
    ['an unknown extension (ext 0x10)', ext(0x10, bytes(4, 1)), () => true],
    ['an ext 8 with a 3-byte payload', ext(0x10, bytes(3, 1)), () => true],
    ['the never-used byte 0xc1', Uint8Array.from([0x91, 0xc1]), () => true],
  ];

  it.each(cases)('%s is WIRE_MALFORMED', (_, frame, builds) => {
    // What msgpackr alone does with these bytes (unknown types aside): it builds the object.
    let built: unknown;
    try {
      built = permissive.unpack(frame);
    } catch {
      built = undefined;
    }
    if (built !== undefined && !(_ === 'undefined (ext 0)')) expect(builds(built)).toBe(true);
    const r = decode(frame);
    expect(code(r)).toBe(ProtocolErrorCode.Malformed);
    expect((r as Error).message).toMatch(/extension|0xc1/);
  });

  it('every frame encode() writes is free of extensions (scan agrees with the encoder)', () => {
    for (const m of [...COORDINATOR_SAMPLES, ...CLIENT_SAMPLES]) {
      const shape = scanFrame(encode(m), MAX_FRAME_DEPTH, Number.POSITIVE_INFINITY);
      if (isProtocolError(shape)) throw shape;
      expect(shape.type).toBe(m.type);
    }
  });

  it('property: for any plain value, scan accepts it and decode equals msgpackr', () => {
    const plainPackr = new Packr({ useRecords: false });
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 300 })),
      node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 20 }), fc.dictionary(fc.string(), tie('node'), { maxKeys: 20 })),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const frame = plainPackr.pack(v);
        const shape = scanFrame(frame, 64, Number.POSITIVE_INFINITY);
        if (isProtocolError(shape)) throw shape;
        const r = decode(frame);
        if (isProtocolError(r)) expect(r.message).toMatch(/nesting at most/); // deeper than MAX_FRAME_DEPTH
        else expect(r).toStrictEqual(permissive.unpack(frame));
      }),
    );
  });

  it('property: any truncation of a valid frame is Malformed', () => {
    const frame = encode(CLIENT_SAMPLES.find((m) => m.type === 'UnmaskShares')!);
    for (let cut = 1; cut < frame.length; cut++) expect(code(scanFrame(frame.subarray(0, cut), MAX_FRAME_DEPTH, Infinity))).toBe(ProtocolErrorCode.Malformed);
  });
});

describe('nesting depth', () => {
  const nested = (depth: number): Uint8Array => {
    const b = new Uint8Array(depth + 1).fill(0x91); // fixarray of 1
    b[depth] = 0x01;
    return b;
  };

  it(`accepts ${MAX_FRAME_DEPTH} levels and refuses ${MAX_FRAME_DEPTH + 1}`, () => {
    expect(decode(nested(MAX_FRAME_DEPTH))).not.toBeInstanceOf(Error);
    expect(code(decode(nested(MAX_FRAME_DEPTH + 1)))).toBe(ProtocolErrorCode.Malformed);
  });

  it('refuses a million levels as Malformed without recursing', () => {
    const r = decode(nested(1_000_000));
    expect(code(r)).toBe(ProtocolErrorCode.Malformed);
    expect((r as Error).message).toMatch(/nesting/);
  });
});

describe('frame budgets', () => {
  /** The attack of issue 8: about 1.1 MB of one-entry maps, before authentication. */
  const manyObjects = (n: number): Uint8Array => {
    const out = new Uint8Array(5 + 5 * n);
    out.set([0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]); // array32 of n
    for (let i = 0; i < n; i++) out.set([0x81, 0xa1, 0x61, 0x91, 0xc0], 5 + 5 * i); // {a: [null]}: 3 objects in 5 bytes
    return out;
  };

  it('without a budget, the same frame would become about a million objects (what msgpackr builds)', () => {
    const built = permissive.unpack(manyObjects(1000)) as unknown[];
    expect(built).toHaveLength(1000);
    expect(built[0]).toStrictEqual({ a: [null] });
  });

  it('an unauthenticated 1.1 MB frame of small objects is refused unread (PRE_AUTH_BUDGET)', () => {
    const frame = manyObjects(220_000);
    expect(frame.length).toBeGreaterThan(1_000_000);
    const r = decode(frame, PRE_AUTH_BUDGET);
    expect(code(r)).toBe(ProtocolErrorCode.TooLarge);
    expect((r as Error).message).toMatch(/at most 1024 bytes/);
  });

  it('Hello and AuthResponse fit the pre-auth budget', () => {
    for (const m of CLIENT_SAMPLES.filter((x) => x.type === 'Hello' || x.type === 'AuthResponse')) {
      expect(parseClientMessage(decode(encode(m), PRE_AUTH_BUDGET))).not.toBeInstanceOf(Error);
    }
  });

  it('every sample message fits its type budget under the default limits', () => {
    const budget = (t: string | undefined) => frameBudget(t, DEFAULT_LIMITS);
    for (const m of [...COORDINATOR_SAMPLES, ...CLIENT_SAMPLES]) expect(decode(encode(m), budget)).not.toBeInstanceOf(Error);
  });

  it('a MaskedInput of exactly the expected length fits; the frame is bounded by the vector', () => {
    const limits = { ...DEFAULT_LIMITS, expectedVectorLength: 100_000 };
    const y = new Uint32Array(100_000);
    const frame = encode({ type: 'MaskedInput', session: bytes(16, 1), round: 1, y });
    expect(frame.length).toBeLessThanOrEqual(frameBudget('MaskedInput', limits).bytes);
    expect(decode(frame, (t) => frameBudget(t, limits))).not.toBeInstanceOf(Error);
  });

  it('a frame too large for its type is WIRE_TOO_LARGE: an OfferReply padded to 64 KiB, a MaskedInput-sized frame of tiny maps', () => {
    const limits = { ...DEFAULT_LIMITS, expectedVectorLength: 100_000 };
    const budget = (t: string | undefined) => frameBudget(t, limits);
    const padded = new Packr({ useRecords: false }).pack({ v: 1, type: 'OfferReply', session: bytes(16, 1), round: 1, body: { accept: false, pad: bytes(65_536, 1) } });
    expect(code(decode(padded, budget))).toBe(ProtocolErrorCode.TooLarge);
    const maps = Array.from({ length: 50_000 }, () => ({ a: null }));
    const exploding = new Packr({ useRecords: false }).pack({ v: 1, type: 'MaskedInput', session: bytes(16, 1), round: 1, body: { y: maps } });
    expect(exploding.length).toBeLessThan(frameBudget('MaskedInput', limits).bytes);
    const r = decode(exploding, budget);
    expect(code(r)).toBe(ProtocolErrorCode.TooLarge);
    expect((r as Error).message).toMatch(/expected at most \d+ values in/);
  });

  it('a frame without a type gets the small base budget', () => {
    const big = new Packr({ useRecords: false }).pack({ v: 1, body: bytes(100_000, 1) });
    expect(code(decode(big, (t) => frameBudget(t, DEFAULT_LIMITS)))).toBe(ProtocolErrorCode.TooLarge);
  });
});
