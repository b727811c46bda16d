/**
 * `tally simulate` as a user meets it: help and flag validation (exit 2 with a message
 * naming the flag). The simulation itself is tested through its API in
 * examples/demand-forecast/src/simulate.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CapturedIo, runTally } from './_run.ts';
import { parseSimulateArgs } from './commands/simulate.ts';
import { main } from './main.ts';

describe('tally simulate --help', () => {
  it('shows usage, every flag with its default, the JSON shape and an example, exit 0', async () => {
    const r = await runTally(['simulate', '--help']);
    expect(r.code).toBe(0);
    for (const s of [
      'tally simulate',
      '--shops N',
      '(default 16',
      '--rounds N',
      '(default 15)',
      '--graph KIND',
      '(default complete)',
      '--dropout P',
      '--dropout-stage STAGE',
      '(default MaskedInput)',
      '--seed N',
      '(default 1)',
      '--out DIR',
      'results/demand-forecast',
      '--json',
      '{"type":"round"',
      'Example',
      'Exit codes:',
    ]) {
      expect(r.stdout).toContain(s);
    }
  });

  it('is listed in tally --help', async () => {
    const io = new CapturedIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdout).toMatch(/\n {2}simulate {6}/);
  });
});

describe('tally simulate: bad flags exit 2 and name the flag', () => {
  it.each([
    [['--shops', 'many'], /--shops: expected a non-negative integer, got "many"/],
    [['--shops', '65'], /--shops: expected an integer in \[2, 64\], got 65/],
    [['--shops', '4'], /--shops: 4 shops are too few for a safe threshold on the complete graph: use at least 7 shops/],
    [['--rounds', '0'], /--rounds: expected an integer in \[1, 1000\], got 0/],
    [['--rounds', '2.5'], /--rounds: expected a non-negative integer, got "2.5"/],
    [['--graph', 'star'], /--graph: expected one of complete, harary, got star/],
    [['--dropout', '1'], /--dropout: expected a probability P with 0 ≤ P < 1/],
    [['--dropout', 'half'], /--dropout: expected a probability/],
    [['--dropout-stage', 'Unmask'], /--dropout-stage: only applies with --dropout P > 0/],
    [['--dropout', '0.1', '--dropout-stage', 'Later'], /--dropout-stage: expected one of AdvertiseKeys, ShareKeys, MaskedInput, ConsistencyCheck, Unmask, got Later/],
    [['--seed', 'x'], /--seed: expected a non-negative integer, got "x"/],
    [['--dp-epsilon', '0'], /--dp-epsilon: expected a number > 0 \(e\.g\. 8\), got "0"/],
    [['--dp-epsilon', 'lots'], /--dp-epsilon: expected a number > 0/],
    [['--dp-delta', '1e-6'], /--dp-delta: only applies with --dp-epsilon E/],
    [['--dp-epsilon', '8', '--dp-delta', '2'], /--dp-delta: expected a probability in \(0, 1\)/],
    [['--out='], /--out: expected a folder/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['extra'], /Unexpected argument 'extra'/],
  ])('tally simulate %j', async (args, message) => {
    // In-process (main() with a captured Io): validation happens before any data or socket.
    const io = new CapturedIo();
    expect(await main(['simulate', ...args], io)).toBe(2);
    expect(io.stderr).toMatch(message);
    expect(io.stderr).toMatch(/Run 'tally simulate --help' for usage\./);
    expect(io.stdout).toBe('');
  });
});

describe('parseSimulateArgs', () => {
  it('turns the flags into options', () => {
    expect(
      parseSimulateArgs({ shops: '8', rounds: '5', graph: 'harary', dropout: '0.25', dropoutStage: 'ShareKeys', seed: '3', out: 'o', json: true, verbose: false }),
    ).toEqual({ shops: 8, rounds: 5, graph: 'harary', dropout: 0.25, dropoutStage: 'ShareKeys', seed: 3, out: 'o' });
    expect(parseSimulateArgs({ out: 'results/demand-forecast', json: false, verbose: false })).toEqual({ out: 'results/demand-forecast' });
    expect(parseSimulateArgs({ dropout: '.5', out: 'o', json: false, verbose: false })).toMatchObject({ dropout: 0.5 });
    expect(parseSimulateArgs({ dpEpsilon: '8', out: 'o', json: false, verbose: false })).toEqual({ dp: { epsilon: 8 }, out: 'o' });
    expect(parseSimulateArgs({ dpEpsilon: '0.5', dpDelta: '1e-5', out: 'o', json: false, verbose: false })).toEqual({ dp: { epsilon: 0.5, delta: 1e-5 }, out: 'o' });
  });
});
