/**
 * `pnpm load [--clients N] [--model M] [--rounds R] [--hosts H] [--graph harary|complete] [--gc-ms G] [--json]`
 *
 * One coordinator (in this process) and N real client nodes (spread over H child
 * processes) on 127.0.0.1 run R rounds of SecAgg+ with a model of M weights; prints
 * the round time, the stage timings and the coordinator's memory (see runLoad in
 * load-harness.ts for what is measured). Defaults: 300 clients, 100 000 weights,
 * 1 round, 2 hosts, the Harary graph, a forced GC every 250 ms to measure live
 * memory (--gc-ms 0: only at stage closes). Exits 1 when the task does not finish or the
 * model differs from plain fedavg by more than the quantisation allows.
 */
import { parseArgs } from 'node:util';
import { formatLoad, runLoad } from './load-harness.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '300' },
    model: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '1' },
    hosts: { type: 'string', default: '2' },
    graph: { type: 'string', default: 'harary' },
    'gc-ms': { type: 'string', default: '250' },
    json: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    'client-log': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write('usage: pnpm load [--clients 300] [--model 100000] [--rounds 1] [--hosts 2] [--graph harary|complete] [--gc-ms 250] [--json] [--quiet] [--client-log]\n');
  process.exit(0);
}

function int(name: string, s: string, min: number, max: number): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`load: --${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(s)}\n`);
    process.exit(2);
  }
  return v;
}

const graph = values.graph;
if (graph !== 'harary' && graph !== 'complete') {
  process.stderr.write(`load: --graph: expected harary or complete, got ${JSON.stringify(graph)}\n`);
  process.exit(2);
}

const result = await runLoad({
  clients: int('clients', values.clients, 2, 1000),
  modelLength: int('model', values.model, 1, 16_000_000),
  rounds: int('rounds', values.rounds, 1, 1000),
  hosts: int('hosts', values.hosts, 1, 64),
  graph,
  retainedEveryMs: int('gc-ms', values['gc-ms'], 0, 60_000),
  clientLog: values['client-log'],
  ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) }),
});
process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${formatLoad(result)}\n`);
if (result.error.worst > result.error.bound) {
  process.stderr.write(`load: the model is off by ${result.error.worst}, more than the quantisation bound ${result.error.bound}\n`);
  process.exitCode = 1;
}
