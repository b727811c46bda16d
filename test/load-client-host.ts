/**
 * Child process that runs client nodes for the fault and load tests
 * (`spawnClientHost` in load-harness.ts starts it with `node --import tsx`).
 *
 * It waits for one `start` command on the IPC channel, starts one real client node
 * (packages/client) per identity, each training with `updateOf`, and reports
 * `started`, then `done` for each node as it stops. It exits when every node has
 * stopped, after `stop` (closing each node with 1000), or as soon as the parent
 * goes away. Killing it with SIGKILL
 * is the point of some tests: nothing here may depend on running at exit.
 */
import { fromHex } from '@tally/secagg';
import { startClientNode, type ClientNode, type Logger } from '@tally/client';
import { trainerFor, type HostCommand, type HostReport } from './load-harness.ts';

if (typeof process.send !== 'function') {
  process.stderr.write('load-client-host: expected to be started with an IPC channel (spawnClientHost in test/load-harness.ts)\n');
  process.exit(2);
}

/** Resolves once the report is handed to the channel (so that a disconnect after it does not drop it). */
const report = (r: HostReport): Promise<void> =>
  new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(r, undefined, undefined, () => resolve());
  });

const nodes = new Map<number, ClientNode>();

function loggerFor(id: number, verbose: boolean): Logger {
  const line = (level: string) => (msg: string) => process.stderr.write(`client ${id} ${level} ${msg}\n`);
  const none = (): void => {};
  return verbose ? { debug: none, info: line('INFO'), warn: line('WARN'), error: line('ERROR') } : { debug: none, info: none, warn: none, error: line('ERROR') };
}

async function start(cmd: Extract<HostCommand, { type: 'start' }>): Promise<void> {
  const all: Promise<void>[] = [];
  for (const c of cmd.clients) {
    const node = startClientNode({
      url: cmd.url,
      identity: { secretKey: fromHex(c.secretKey), publicKey: fromHex(c.publicKey) },
      trainer: trainerFor(c.id),
      policy: { tasks: [cmd.taskId], minCohort: 2, minThreshold: 2, maxRounds: 1_000_000, graph: 'harary' },
      logger: loggerFor(c.id, cmd.verbose),
      reconnect: cmd.reconnect,
      ...(cmd.heartbeatMs === undefined ? {} : { heartbeatMs: cmd.heartbeatMs }),
    });
    nodes.set(c.id, node);
    all.push(
      node.done.then((r) =>
        report({ type: 'done', id: c.id, status: r.status, rounds: r.rounds, connections: node.stats().connections, reason: r.reason }),
      ),
    );
  }
  await report({ type: 'started' });
  await Promise.all(all);
  process.disconnect?.();
}

process.on('message', (cmd: HostCommand) => {
  if (cmd.type === 'start' && nodes.size === 0) {
    void start(cmd);
  } else if (cmd.type === 'stop') {
    void Promise.all([...nodes.values()].map((n) => n.close())).then(() => process.exit(0));
  }
});
// The channel closed: every node has stopped, or the parent is gone (crashed, or
// killed). Either way there is nobody to report to: leave now; the OS closes the sockets.
process.on('disconnect', () => process.exit(0));
// 'disconnect' does not always arrive when the parent is killed (seen on Node 20):
// also leave once this process has been handed to another parent.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
