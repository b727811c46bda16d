import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from './loopback.ts';

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.255.0.9', '::1', '[::1]', '0:0:0:0:0:0:0:1'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  it.each(['0.0.0.0', '::', '10.0.0.1', '192.0.2.1', '127.0.0.256', '128.0.0.1', 'fl.example', 'localhost.example', '[2001:db8::1]', ''])('%s is not', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });
});
