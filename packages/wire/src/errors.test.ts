import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, ProtocolError, ProtocolErrorCode, isProtocolError, isProtocolErrorCode } from './errors.ts';
import { errorNotice } from './messages.ts';

describe('ProtocolError', () => {
  it('maps every code to a close code a server may send (RFC 6455 §7.4)', () => {
    const sendable = new Set([1002, 1003, 1008, 1009, 1011]);
    for (const code of Object.values(ProtocolErrorCode)) {
      const close = CLOSE_CODES[code];
      expect(sendable.has(close) || (close >= 4000 && close <= 4999), code).toBe(true);
    }
    expect(Object.keys(CLOSE_CODES).sort()).toEqual(Object.values(ProtocolErrorCode).sort());
  });

  it('carries code, close code and field, and prefixes the field to the message', () => {
    const e = new ProtocolError(ProtocolErrorCode.TooLarge, 'expected at most 3 entries, got 4', 'body.survivors');
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.code, e.closeCode, e.field]).toEqual(['ProtocolError', 'WIRE_TOO_LARGE', 1009, 'body.survivors']);
    expect(e.message).toBe('body.survivors: expected at most 3 entries, got 4');
    expect(new ProtocolError(ProtocolErrorCode.Internal, 'x').field).toBeUndefined();
  });

  it('is recognised by isProtocolError and its codes by isProtocolErrorCode', () => {
    expect(isProtocolError(new ProtocolError(ProtocolErrorCode.Malformed, 'x'))).toBe(true);
    expect(isProtocolError(new Error('x'))).toBe(false);
    expect(isProtocolError({ code: 'WIRE_MALFORMED' })).toBe(false);
    expect(isProtocolErrorCode('WIRE_AUTH_FAILED')).toBe(true);
    expect(isProtocolErrorCode('AuthFailed')).toBe(false);
  });

  it('errorNotice keeps the code and cuts long messages to fit the default string limit', () => {
    const e = new ProtocolError(ProtocolErrorCode.BadField, 'y'.repeat(5000), 'body.x');
    const n = errorNotice(e);
    expect(n.type).toBe('ErrorNotice');
    expect(n.code).toBe('WIRE_BAD_FIELD');
    expect(n.message.length).toBe(1024);
    expect(n.message.startsWith('body.x: yyy')).toBe(true);
    expect(errorNotice(new ProtocolError(ProtocolErrorCode.Duplicate, 'short')).message).toBe('short');
  });
});
