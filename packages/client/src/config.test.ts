import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateIdentity, toHex } from '@tally/secagg';
import { ConfigError, parseClientConfig } from './config.ts';

const valid = {
  coordinator: 'ws://127.0.0.1:7800',
  keyFile: 'keys/shop-a.json',
  policy: { tasks: ['demand'], minCohort: 3, minThreshold: 2, maxRounds: 50 },
};

function errorOf(json: unknown, files: Record<string, string> = {}): ConfigError {
  try {
    parseClientConfig(json, '/etc/tally', { readFile: reader(files) });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('parseClientConfig', () => {
  it('stateDir (the participation record) resolves against the config directory; absent when not set', () => {
    expect(parseClientConfig({ ...valid, stateDir: 'state' }, '/etc/tally').stateDir).toBe('/etc/tally/state');
    expect(parseClientConfig(valid, '/etc/tally').stateDir).toBeUndefined();
  });

  it('resolves paths against the config directory and fills defaults', () => {
    const c = parseClientConfig({ ...valid, trainer: { kind: 'linear-csv', data: 'a.csv' } }, '/etc/tally');
    expect(c.keyFile).toBe('/etc/tally/keys/shop-a.json');
    expect(c.reconnect).toEqual({ initialMs: 500, maxMs: 30_000 });
    expect(c.policy).toEqual({ ...valid.policy, allowPassive: false });
    expect(c.trainer).toEqual({ kind: 'linear-csv', data: 'a.csv' });
    expect(c.ca).toBeUndefined();
    expect(c.peers).toBeUndefined();
  });

  it('takes policy.allowPassive when given', () => {
    expect(parseClientConfig({ ...valid, policy: { ...valid.policy, allowPassive: true } }, '/x').policy.allowPassive).toBe(true);
  });

  it('accepts wss with a CA file and a custom reconnect', () => {
    const c = parseClientConfig({ ...valid, coordinator: 'wss://fl.example:443', ca: '/pki/ca.pem', reconnect: { initialMs: 100 } }, '/x');
    expect(c.ca).toBe('/pki/ca.pem');
    expect(c.reconnect).toEqual({ initialMs: 100, maxMs: 30_000 });
  });

  it.each([
    ['coordinator', { ...valid, coordinator: 'http://127.0.0.1:7800' }, /ws:\/\/ or wss:\/\//],
    ['coordinator', { ...valid, coordinator: 'not a url' }, /ws:\/\/127\.0\.0\.1:7800/],
    ['keyFile', { ...valid, keyFile: undefined }, /missing/],
    ['policy', { ...valid, policy: [] }, /expected an object/],
    ['policy.tasks', { ...valid, policy: { ...valid.policy, tasks: [] } }, /non-empty list/],
    ['policy.tasks[1]', { ...valid, policy: { ...valid.policy, tasks: ['ok', '../etc'] } }, /task id/],
    ['policy.minCohort', { ...valid, policy: { ...valid.policy, minCohort: 1 } }, /in the clear/],
    ['policy.minThreshold', { ...valid, policy: { ...valid.policy, minThreshold: '2' } }, /integer/],
    ['policy.maxRounds', { ...valid, policy: { ...valid.policy, maxRounds: 0 } }, /integer in \[1,/],
    ['policy.maxRound', { ...valid, policy: { ...valid.policy, maxRound: 3 } }, /unknown field/],
    ['policy.allowPassive', { ...valid, policy: { ...valid.policy, allowPassive: 'yes' } }, /expected true or false, got "yes"/],
    ['peers', { ...valid, peers: '' }, /non-empty string/],
    ['reconnect.maxMs', { ...valid, reconnect: { initialMs: 1000, maxMs: 10 } }, /at least initialMs/],
    ['ca', { ...valid, ca: 'ca.pem' }, /only applies to a wss/],
    ['trainer', { ...valid, trainer: 'linear' }, /expected an object/],
    ['extra', { ...valid, extra: 1 }, /unknown field/],
  ])('names the field %s', (field, json, message) => {
    const err = errorOf(json);
    expect(err.field).toBe(field);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('refuses a non-object', () => {
    expect(errorOf([1, 2]).message).toMatch(/expected an object, got a list of 2/);
  });
});

describe('peers: the enrolment list the operator published', () => {
  const [a, b] = [generateIdentity().publicKey, generateIdentity().publicKey] as [Uint8Array, Uint8Array];
  const enrolment = (clients: unknown): string => JSON.stringify({ clients });
  const good = enrolment([
    { id: 1, name: 'shop-a', publicKey: toHex(a) },
    { id: 2, name: 'shop-b', publicKey: toHex(b).toUpperCase() },
  ]);

  it('reads the file relative to the config, and keeps ids and keys', () => {
    const c = parseClientConfig({ ...valid, peers: 'enrolment.json' }, '/etc/tally', { readFile: reader({ '/etc/tally/enrolment.json': good }) });
    expect(c.peers?.file).toBe('/etc/tally/enrolment.json');
    expect([...c.peers!.enrolled.keys()]).toEqual([1, 2]);
    expect(c.peers!.enrolled.get(1)).toEqual(a);
    expect(c.peers!.enrolled.get(2)).toEqual(b);
  });

  it('reads a real file from disk by default (the coordinator format, names and all)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-client-config-'));
    try {
      await writeFile(join(dir, 'enrolment.json'), good);
      const c = parseClientConfig({ ...valid, peers: 'enrolment.json' }, dir);
      expect(c.peers?.enrolled.size).toBe(2);
      const missing = (() => {
        try {
          parseClientConfig({ ...valid, peers: 'nope.json' }, dir);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(missing).toBeInstanceOf(ConfigError);
      expect((missing as ConfigError).message).toMatch(/^peers: cannot read the peer list .*nope\.json: no such file \(ask the coordinator operator/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const file = '/etc/tally/peers.json';
  const key = toHex(a);
  it.each([
    ['not JSON', '{ "clients": [', /the peer list \/etc\/tally\/peers\.json is not valid JSON/],
    ['not an enrolment file', '[1, 2]', /peers\.json: expected an enrolment file \{"clients": \[\.\.\.\]\}, got a list of 2/],
    ['no clients', enrolment([]), /peers\.json: clients: expected a list of 1 to 100000 enrolled clients, got a list of 0/],
    ['an entry that is not an object', enrolment(['shop-a']), /clients\[0\]: expected an object/],
    ['a bad id', enrolment([{ id: 0, name: 'x', publicKey: key }]), /clients\[0\]\.id: expected an integer in \[1, 2147483648\], got number 0/],
    ['a missing key', enrolment([{ id: 1, name: 'x' }]), /clients\[0\]\.publicKey: expected 64 hex characters \(an Ed25519 public key\), got nothing/],
    ['a short key', enrolment([{ id: 1, name: 'x', publicKey: key.slice(2) }]), /clients\[0\]\.publicKey: expected 64 hex characters/],
    [
      'a repeated id',
      enrolment([
        { id: 1, publicKey: key },
        { id: 1, publicKey: toHex(b) },
      ]),
      /clients\[1\]\.id: expected a unique id, got 1 again/,
    ],
    [
      'a repeated key (either case)',
      enrolment([
        { id: 1, publicKey: key },
        { id: 2, publicKey: key.toUpperCase() },
      ]),
      /clients\[1\]\.publicKey: expected a unique key, got the key of id 1 again/,
    ],
  ])('refuses %s, naming peers, the file and the place in it', (_what, text, message) => {
    const err = errorOf({ ...valid, peers: 'peers.json' }, { [file]: text });
    expect(err.field).toBe('peers');
    expect(err.message.startsWith('peers: ')).toBe(true);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(message);
  });
});

/** A readFile over in-memory files; any other path is ENOENT. */
function reader(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return text;
  };
}
