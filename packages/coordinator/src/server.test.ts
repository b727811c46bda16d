import { describe, expect, it } from 'vitest';
import { insecureListenWarning } from './server.ts';

describe('insecureListenWarning (plain WebSocket beyond loopback)', () => {
  it.each(['0.0.0.0', '::', '10.1.2.3', 'fl.example'])('warns for %s without listen.tls', (host) => {
    expect(insecureListenWarning(host, false)).toMatch(new RegExp(`^listening on ${host.replace(/\./g, '\\.')} without listen\\.tls`));
  });
  it('is silent with listen.tls, or on loopback', () => {
    expect(insecureListenWarning('0.0.0.0', true)).toBeNull();
    for (const host of ['127.0.0.1', '::1', 'localhost']) expect(insecureListenWarning(host, false)).toBeNull();
  });
});
