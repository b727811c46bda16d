import { describe, expect, it } from 'vitest';
import { ConfigError, parseClientConfig } from './config.ts';

const valid = {
  coordinator: 'ws://127.0.0.1:7800',
  keyFile: 'keys/shop-a.json',
  policy: { tasks: ['demand'], minCohort: 3, minThreshold: 2, maxRounds: 50 },
};

function errorOf(json: unknown): ConfigError {
  try {
    parseClientConfig(json, '/etc/tally');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('parseClientConfig', () => {
  it('resolves paths against the config directory and fills defaults', () => {
    const c = parseClientConfig({ ...valid, trainer: { kind: 'linear-csv', data: 'a.csv' } }, '/etc/tally');
    expect(c.keyFile).toBe('/etc/tally/keys/shop-a.json');
    expect(c.reconnect).toEqual({ initialMs: 500, maxMs: 30_000 });
    expect(c.policy).toEqual(valid.policy);
    expect(c.trainer).toEqual({ kind: 'linear-csv', data: 'a.csv' });
    expect(c.ca).toBeUndefined();
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
