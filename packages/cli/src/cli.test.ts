/**
 * The `tally` binary as a user meets it: spawned as a process (node --import tsx),
 * checking help texts, exit codes and the messages of bad invocations.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { runTally, spawnTally } from './_run.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('help', () => {
  it('tally --help lists the commands and the exit codes, exit 0', async () => {
    const r = await runTally(['--help']);
    expect(r.code).toBe(0);
    for (const s of ['Usage:', 'keygen', 'coordinator', 'client', 'Exit codes:', '130', 'examples/quickstart']) expect(r.stdout).toContain(s);
  });

  it('tally with no command prints the help to stderr, exit 2', async () => {
    const r = await runTally([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Commands:');
  });

  it.each([
    ['keygen', ['--out FILE', '--force', '--enrol', 'mode', '0600']],
    ['coordinator', ['--config FILE', '"modelLength"', '"strategy"', 'resumes']],
    ['client', ['--config FILE', '"policy"', '"minCohort"', '"linear-csv"', 'initialMs', '"demand"', '"modelDir"', '"columns"', 'line numbers']],
    ['forecast', ['--model DIR', '--sales FILE', '--days N', '--out FILE', 'normalisation.json', 'SVG', 'stdout']],
    ['export', ['--config FILE', '--out DIR', 'tally-weights/1', 'float32', 'final-model']],
  ])('tally %s --help shows usage, flags and an example, exit 0', async (cmd, parts) => {
    const r = await runTally([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`tally ${cmd}`);
    expect(r.stdout).toContain('Exit codes:');
    for (const p of parts) expect(r.stdout).toContain(p);
  });

  it('tally help <cmd> is the same as <cmd> --help', async () => {
    const [a, b] = await Promise.all([runTally(['help', 'client']), runTally(['client', '-h'])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });

  it('--version prints the version', async () => {
    const r = await runTally(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('usage errors exit 2 and point at the help', () => {
  it.each([
    [['frobnicate'], /unknown command "frobnicate"; the commands are keygen, coordinator, client/],
    [['--bogus'], /unknown option --bogus/],
    [['keygen'], /missing --out FILE/],
    [['keygen', '--out'], /--out/],
    [['client', '--config', 'x.json', '--nope'], /Unknown option '--nope'/],
    [['client', 'extra'], /Unexpected argument 'extra'/],
    [['coordinator'], /missing --config FILE/],
  ])('tally %j', async (args, message) => {
    const r = await runTally(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Run 'tally( \w+)? --help' for usage\./);
  });
});

describe('config errors exit 2 and name the file and field', () => {
  const clientConfig = {
    coordinator: 'ws://127.0.0.1:7800',
    keyFile: 'key.json',
    policy: { tasks: ['demand'], minCohort: 3, minThreshold: 2, maxRounds: 5 },
    trainer: { kind: 'linear-csv', data: 'shop.csv', target: 'demand' },
  };

  async function config(name: string, json: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, typeof json === 'string' ? json : JSON.stringify(json));
    return path;
  }

  it('a missing config file', async () => {
    const r = await runTally(['client', '--config', join(dir, 'nope.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read the client config .*nope\.json: no such file/);
  });

  it('a config that is not JSON', async () => {
    const r = await runTally(['client', '--config', await config('bad.json', '{ "coordinator": ')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not valid JSON/);
  });

  it('a client config with a bad policy field', async () => {
    const path = await config('client-bad.json', { ...clientConfig, policy: { ...clientConfig.policy, minCohort: 1 } });
    const r = await runTally(['client', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`client config ${path}: policy.minCohort: expected an integer in [2, 1000], got number 1`);
  });

  it('a client config whose key file is missing says how to make one', async () => {
    await writeFile(join(dir, 'shop.csv'), 'x,demand\n1,2\n');
    const r = await runTally(['client', '--config', await config('client-nokey.json', clientConfig)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/keyFile: cannot read key file .*key\.json.*create one with: tally keygen --out/);
  });

  it('a client config whose trainer names a missing column', async () => {
    await writeFile(join(dir, 'shop.csv'), 'x,sales\n1,2\n');
    const key = join(dir, 'key.json');
    const kg = await runTally(['keygen', '--out', key, '--force']);
    expect(kg.code).toBe(0);
    const r = await runTally(['client', '--config', await config('client-col.json', clientConfig)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/trainer\.target: .*no column named "demand"; the columns are x, sales/);
  });

  it('a coordinator config with a bad task field', async () => {
    const path = await config('coord-bad.json', {
      enrolment: 'enrolment.json',
      task: { id: 'demand', modelLength: 4, rounds: 0, cohortSize: 3, minClients: 3, quant: { clipNorm: 1, weightBound: 10, metricBound: 10 } },
    });
    const r = await runTally(['coordinator', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`coordinator config ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: task\\.rounds: `));
  });
});

describe('signals', () => {
  it('tally client shuts down cleanly on SIGINT and exits 130', async () => {
    // A port nobody listens on: the client keeps retrying until interrupted.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    await writeFile(join(dir, 'shop.csv'), 'x,demand\n1,2\n');
    const key = join(dir, 'sig-key.json');
    expect((await runTally(['keygen', '--out', key])).code).toBe(0);
    const path = join(dir, 'client-sig.json');
    await writeFile(
      path,
      JSON.stringify({
        coordinator: `ws://127.0.0.1:${port}`,
        keyFile: key,
        policy: { tasks: ['demand'], minCohort: 3, minThreshold: 2, maxRounds: 5 },
        trainer: { kind: 'linear-csv', data: 'shop.csv', target: 'demand' },
      }),
    );
    const run = spawnTally(['client', '--config', path]);
    await run.waitForStderr(/cannot reach ws:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/);
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted: closing the connection/);
    expect(r.stderr).toMatch(/stopped: closed by the operator; contributed to 0 round\(s\)/);
  });
});
