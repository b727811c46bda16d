import { describe, expect, it } from 'vitest';
import { ConfigError } from './_assert.ts';
import { DEFAULT_DEADLINES, DEFAULT_LIMITS, parseCoordinatorConfig } from './config.ts';

/** A minimal valid config: only the required fields. */
function minimal(): Record<string, any> {
  return {
    task: {
      id: 'demand-v1',
      modelLength: 10,
      rounds: 3,
      cohortSize: 10,
      minClients: 8,
      threshold: 6,
      quant: { clipNorm: 1, weightBound: 1000, metricBound: 10 },
    },
  };
}

function withChange(change: (c: Record<string, any>) => void): Record<string, any> {
  const c = minimal();
  change(c);
  return c;
}

describe('parseCoordinatorConfig', () => {
  it('fills every default and resolves paths against baseDir', () => {
    const c = parseCoordinatorConfig({ ...minimal(), task: { ...minimal()['task'], initialModel: 'init.f32' } }, '/srv/tally');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7800 });
    expect(c.dataDir).toBe('/srv/tally/tally-data');
    expect(c.enrolment).toBe('/srv/tally/clients.json');
    expect(c.limits).toEqual(DEFAULT_LIMITS);
    expect(c.limits).toEqual({ maxConnections: 1000, maxPendingAuth: 64, authTimeoutMs: 10_000, maxBufferedBytes: 64 * 1024 * 1024, heartbeatMs: 15_000 });
    expect(c.task.deadlines).toEqual(DEFAULT_DEADLINES);
    expect(c.task.deadlines).toEqual({ trainMs: 120_000, stageMs: 30_000, retryMs: 1000 });
    expect(c.task).toMatchObject({
      initialModel: '/srv/tally/init.f32',
      corruptFraction: 0.05,
      graph: 'complete',
      activeAdversary: true,
      metrics: [],
      strategy: { name: 'fedavg', serverLr: 1 },
    });
    // fractionalBits: the largest that fits 10 · ⌈1000 · 1 · 2^f⌉ < 2^31, i.e. 17.
    expect(c.task.quant.fractionalBits).toBe(17);
  });

  it('keeps absolute paths and TLS', () => {
    const c = parseCoordinatorConfig(
      { ...minimal(), listen: { host: '0.0.0.0', port: 0, tls: { cert: 'c.pem', key: '/etc/k.pem' } }, dataDir: '/var/tally' },
      '/srv',
    );
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 0, tls: { cert: '/srv/c.pem', key: '/etc/k.pem' } });
    expect(c.dataDir).toBe('/var/tally');
  });

  it('chooses the threshold per round when none is set', () => {
    const c = parseCoordinatorConfig(
      withChange((x) => {
        delete x['task'].threshold;
        x['task'].cohortSize = 40;
        x['task'].minClients = 30;
        x['task'].graph = 'harary';
      }),
      '/',
    );
    expect(c.task.threshold).toBeUndefined();
  });

  const cases: [string, (c: Record<string, any>) => void, string, RegExp][] = [
    ['root not an object', (c) => Object.assign(c, { task: 5 }), 'task', /^task: expected an object, got 5$/],
    ['unknown top-level key', (c) => (c['lisen'] = {}), 'lisen', /^lisen: unknown key; expected only task, listen, dataDir, enrolment, limits$/],
    ['listen null', (c) => (c['listen'] = null), 'listen', /^listen: expected an object, got null$/],
    ['port out of range', (c) => (c['listen'] = { port: 70000 }), 'listen.port', /^listen.port: expected an integer in \[0, 65535\], got 70000$/],
    ['host not a string', (c) => (c['listen'] = { host: 7 }), 'listen.host', /expected a host name or IP address, got 7/],
    ['tls without key', (c) => (c['listen'] = { tls: { cert: 'a' } }), 'listen.tls.key', /^listen.tls.key: expected a file path .*got nothing$/],
    ['negative limit', (c) => (c['limits'] = { maxConnections: -1 }), 'limits.maxConnections', /expected an integer in \[1, 1000000\], got -1/],
    ['unknown limit', (c) => (c['limits'] = { maxConections: 5 }), 'limits.maxConections', /unknown key/],
    ['pending above connections', (c) => (c['limits'] = { maxConnections: 10, maxPendingAuth: 20 }), 'limits.maxPendingAuth', /at most limits.maxConnections \(10\), got 20/],
    ['buffer below one offer', (c) => (c['limits'] = { maxBufferedBytes: 2048 }), 'limits.maxBufferedBytes', /expected at least 65576 bytes .* got 2048/],
    ['missing task id', (c) => delete c['task'].id, 'task.id', /^task.id: expected a task id .*got nothing$/],
    ['bad task id', (c) => (c['task'].id = '../etc'), 'task.id', /got string "..\/etc"/],
    ['modelLength zero', (c) => (c['task'].modelLength = 0), 'task.modelLength', /expected an integer in \[1, \d+\], got 0/],
    ['rounds not integer', (c) => (c['task'].rounds = 1.5), 'task.rounds', /got 1.5/],
    ['cohortSize 1', (c) => (c['task'].cohortSize = 1), 'task.cohortSize', /expected an integer in \[2, 1000\], got 1/],
    ['minClients above cohort', (c) => (c['task'].minClients = 11), 'task.minClients', /expected an integer in \[2, 10\], got 11/],
    ['threshold too low for privacy', (c) => (c['task'].threshold = 4), 'task.threshold', /^task.threshold: params: expected t > k\/2/],
    ['threshold above minClients', (c) => (c['task'].minClients = 6), 'task.minClients', /only 6 clients cannot use threshold 6.*raise minClients or lower the threshold/],
    ['corruptFraction 1', (c) => (c['task'].corruptFraction = 1), 'task.corruptFraction', /expected a fraction in \[0, 1\), got 1/],
    ['graph unknown', (c) => (c['task'].graph = 'ring'), 'task.graph', /expected one of "complete", "harary", got string "ring"/],
    ['deadline zero', (c) => (c['task'].deadlines = { stageMs: 0 }), 'task.deadlines.stageMs', /expected an integer in \[1, 2147483647\], got 0/],
    ['clipNorm missing', (c) => delete c['task'].quant.clipNorm, 'task.quant.clipNorm', /expected a finite number > 0, got nothing/],
    ['weightBound fractional', (c) => (c['task'].quant.weightBound = 2.5), 'task.quant.weightBound', /got 2.5/],
    ['quant does not fit the ring', (c) => (c['task'].quant.fractionalBits = 30), 'task.quant', /^task.quant: quantization needs \d+ bits .*lower fractionalBits to at most 17/],
    ['metric name', (c) => (c['task'].metrics = ['loss', '1bad']), 'task.metrics[1]', /expected a metric name/],
    ['duplicate metric', (c) => (c['task'].metrics = ['loss', 'loss']), 'task.metrics[1]', /distinct names, got "loss" twice/],
    ['strategy unknown', (c) => (c['task'].strategy = { name: 'sgd' }), 'task.strategy.name', /^task.strategy.name: expected one of/],
    ['strategy parameter', (c) => (c['task'].strategy = { name: 'fedadam', beta1: 1.5 }), 'task.strategy.beta1', /expected a number in \[0, 1\), got 1.5/],
    ['no safe threshold', (c) => { delete c['task'].threshold; c['task'].cohortSize = 4; c['task'].minClients = 4; }, 'task', /no safe threshold on the complete graph of 4 clients/],
  ];

  it.each(cases)('refuses %s, naming the field', (_name, change, field, message) => {
    let err: unknown;
    try {
      parseCoordinatorConfig(withChange(change), '/srv');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
    expect((err as ConfigError).message).toMatch(message);
  });
});
