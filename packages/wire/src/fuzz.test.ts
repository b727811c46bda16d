import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT_SAMPLES, COORDINATOR_SAMPLES } from './_fixtures.ts';
import { decode, encode } from './codec.ts';
import { ProtocolErrorCode, isProtocolError } from './errors.ts';
import { parseClientMessage, parseCoordinatorMessage } from './parse.ts';

const FRAMES = [...COORDINATOR_SAMPLES, ...CLIENT_SAMPLES].map((m) => Uint8Array.from(encode(m)));

/** decode + both parsers: each must return (never throw), and any error must be the peer's, not ours. */
function outcome(bytes: Uint8Array): void {
  const decoded = decode(bytes);
  for (const r of [parseCoordinatorMessage(decoded), parseClientMessage(decoded)]) {
    if (isProtocolError(r)) expect(r.code, r.message).not.toBe(ProtocolErrorCode.Internal);
    else expect(typeof r.type).toBe('string');
  }
}

/** A valid frame with a few bytes overwritten, inserted or removed. */
const mutatedFrame = fc
  .record({
    frame: fc.constantFrom(...FRAMES),
    edits: fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
  })
  .map(({ frame, edits }) => {
    const b = [...frame];
    for (const [op, pos, byte] of edits) {
      const i = pos % (b.length + 1);
      if (op === 'set' && i < b.length) b[i] = byte;
      else if (op === 'insert') b.splice(i, 0, byte);
      else b.splice(i, 1);
    }
    return Uint8Array.from(b);
  });

describe('hostile input never throws', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => outcome(b)), { numRuns: 2000 });
  });

  it('mutated valid frames', () => {
    fc.assert(fc.property(mutatedFrame, (b) => outcome(b)), { numRuns: 3000 });
  });

  it('msgpack extension and edge tokens at the start of a frame', () => {
    // ext types (timestamp, typed array, error, regexp, set, structured-clone id/pointer, bundled strings, bigint),
    // nil, never-used 0xc1, huge declared lengths with no data.
    const heads = [0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8, 0xc9, 0xc0, 0xc1, 0xdc, 0xdd, 0xde, 0xdf, 0xc6, 0xdb];
    const types = [0xff, 0x74, 0x65, 0x78, 0x73, 0x69, 0x70, 0x62, 0x42, 0x00];
    fc.assert(
      fc.property(fc.constantFrom(...heads), fc.constantFrom(...types), fc.uint8Array({ maxLength: 40 }), (h, t, rest) =>
        outcome(Uint8Array.from([h, t, ...rest])),
      ),
      { numRuns: 2000 },
    );
    outcome(Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]));
    outcome(Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff]));
    outcome(Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]));
  });

  it('deep nesting', () => {
    outcome(new Uint8Array(200_000).fill(0x91));
    outcome(new Uint8Array(200_000).fill(0x81).map((x, i) => (i % 2 ? 0xa1 : x)));
  });

  it('arbitrary JS values handed to parse', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true, withBigInt: true, withNullPrototype: true, withMap: true, withSet: true, withDate: true }), (u) => {
        for (const r of [parseCoordinatorMessage(u), parseClientMessage(u)]) {
          expect(isProtocolError(r) && r.code).not.toBe(ProtocolErrorCode.Internal);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bodies under a valid envelope', () => {
    const types = [...new Set([...COORDINATOR_SAMPLES, ...CLIENT_SAMPLES].map((m) => m.type))];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.anything({ withTypedArray: true }), (type, body) => {
        const u = { v: 1, type, session: new Uint8Array(16), round: 1, body };
        for (const r of [parseCoordinatorMessage(u), parseClientMessage(u)]) {
          expect(isProtocolError(r) && r.code).not.toBe(ProtocolErrorCode.Internal);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('truncation', () => {
  it('a valid frame cut at every byte offset is Malformed, never a message or an exception', () => {
    let cuts = 0;
    for (const frame of FRAMES) {
      for (let n = 0; n < frame.length; n++) {
        // Copy so that the cut frame is its own buffer, as a socket would deliver it.
        const cut = frame.slice(0, n);
        const decoded = decode(cut);
        for (const r of [parseCoordinatorMessage(decoded), parseClientMessage(decoded)]) {
          expect(isProtocolError(r) && r.code, `${n}/${frame.length}`).toBe(ProtocolErrorCode.Malformed);
        }
        // And as a view into the full frame (the bytes after the cut are present but not ours).
        const view = decode(frame.subarray(0, n));
        expect(isProtocolError(view) && view.code).toBe(ProtocolErrorCode.Malformed);
        cuts++;
      }
    }
    expect(cuts).toBeGreaterThan(1000);
  });
});
