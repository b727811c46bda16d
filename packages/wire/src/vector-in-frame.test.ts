import { describe, expect, it } from 'vitest';
import { decode, encode } from './codec.ts';
import { resolveLimits } from './limits.ts';
import { parseClientMessage, parseCoordinatorMessage } from './parse.ts';

const session = new Uint8Array(16).fill(7);

/** `frame` copied into a fresh buffer at byte offset `at`, as a socket read could hand it over. */
function placed(frame: Uint8Array, at: number): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(frame.length + at + 3), at, frame.length);
  buf.set(frame);
  return buf;
}

const lanes = (n: number, seed: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => (Math.imul(i + 1, 2654435761) ^ seed) >>> 0);

describe('vectors parsed in their own frame (WireLimits.frameOwned)', () => {
  // Every offset mod 4 of the frame, and two lengths (bin16 and bin32 headers).
  for (const n of [100, 70_000]) {
    for (let at = 0; at < 4; at++) {
      it(`MaskedInput of ${n} lanes at frame offset ${at}: the lanes, a view into the frame, aligned`, () => {
        const y = lanes(n, at);
        const frame = placed(encode({ type: 'MaskedInput', session, round: 3, y }), at);
        const msg = parseClientMessage(decode(frame), { frameOwned: true });
        if (msg instanceof Error || msg.type !== 'MaskedInput') throw new Error(`expected MaskedInput, got ${String(msg)}`);
        expect(msg.y.buffer).toBe(frame.buffer); // no copy
        expect(msg.y.byteOffset % 4).toBe(0);
        expect(msg.y.byteOffset).toBeGreaterThanOrEqual(frame.byteOffset);
        expect(msg.y.byteOffset + msg.y.byteLength).toBeLessThanOrEqual(frame.byteOffset + frame.length);
        expect(Buffer.from(msg.y.buffer, msg.y.byteOffset, msg.y.byteLength).equals(Buffer.from(y.buffer))).toBe(true);
      });
    }
  }

  it('a model (TaskOffer, GlobalModel) keeps its float32 values, non-finite ones still refused', () => {
    const model = Float32Array.from({ length: 1000 }, (_, i) => Math.fround(Math.sin(i) * 3));
    for (let at = 0; at < 4; at++) {
      const frame = placed(encode({ type: 'GlobalModel', taskId: 'demand.v1', round: 2, final: false, model }), at);
      const msg = parseCoordinatorMessage(decode(frame), { frameOwned: true });
      if (msg instanceof Error || msg.type !== 'GlobalModel') throw new Error(`expected GlobalModel, got ${String(msg)}`);
      expect(msg.model.buffer).toBe(frame.buffer);
      expect([...msg.model]).toEqual([...model]);
    }
    const bad = model.slice();
    bad[500] = Number.NaN;
    const err = parseCoordinatorMessage(decode(placed(encode({ type: 'GlobalModel', taskId: 'demand.v1', round: 2, final: false, model: bad }), 1)), { frameOwned: true });
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/body\.model\.data.*500.*finite/);
  });

  it('without frameOwned the vector is a copy and the frame is left exactly as it was', () => {
    const y = lanes(5000, 9);
    for (let at = 0; at < 4; at++) {
      const frame = placed(encode({ type: 'MaskedInput', session, round: 3, y }), at);
      const before = Buffer.from(frame);
      const msg = parseClientMessage(decode(frame));
      if (msg instanceof Error || msg.type !== 'MaskedInput') throw new Error(`expected MaskedInput, got ${String(msg)}`);
      expect(msg.y.buffer).not.toBe(frame.buffer);
      expect(Buffer.from(frame).equals(before)).toBe(true);
      // The same frame decodes again to the same message.
      const again = parseClientMessage(decode(frame));
      expect(again instanceof Error ? again : [...again.type === 'MaskedInput' ? again.y : []]).toEqual([...y]);
    }
  });

  it('a wrong length is refused before anything in the frame moves', () => {
    const frame = placed(encode({ type: 'MaskedInput', session, round: 3, y: lanes(64, 1) }), 1);
    const before = Buffer.from(frame);
    const err = parseClientMessage(decode(frame), { frameOwned: true, expectedVectorLength: 65 });
    expect(err).toBeInstanceOf(Error);
    expect(Buffer.from(frame).equals(before)).toBe(true);
  });

  it('frameOwned must be a boolean', () => {
    expect(() => resolveLimits({ frameOwned: 'yes' as unknown as boolean })).toThrow(/limits\.frameOwned: expected a boolean, got yes/);
    expect(resolveLimits({ frameOwned: true }).frameOwned).toBe(true);
  });
});
