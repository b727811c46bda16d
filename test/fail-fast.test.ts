/**
 * What retrying cannot fix ends the client node at once (status 'incompatible', the
 * CLI's exit 2) with a message that names the setting to change, instead of a client
 * that retries for ever and a coordinator that re-offers every second. Real coordinator,
 * real client nodes, real sockets (and real TLS) on loopback.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, toHex } from '@tally/secagg';
import { parseCoordinatorConfig, parseEnrolment, silentLogger, startCoordinator } from '@tally/coordinator';
import { main } from '@tally/cli';
import { POLICY, TASK_ID, cleanup, configJson, onCleanup, startNode, startTestCoordinator, selfSigned, tempDir } from './_helpers.ts';

afterEach(cleanup);

describe('checked at authentication (Welcome carries the task descriptor)', () => {
  it.each([
    ['not consented', {}, { policy: { ...POLICY, tasks: ['another-task'] } }, /does not consent to \(policy\.tasks: "another-task"\): add it to policy\.tasks/],
    ['policy never satisfiable: minCohort', {}, { policy: { ...POLICY, minCohort: 5 } }, /at most 2 clients \(task\.cohortSize\), below this client's policy\.minCohort \(5\)/],
    ['policy never satisfiable: minThreshold', {}, { policy: { ...POLICY, minThreshold: 2 } }, /fixes the Shamir threshold at 1 \(task\.threshold\), below this client's policy\.minThreshold \(2\)/],
    ['passive task, active policy', { activeAdversary: false }, {}, /honest-but-curious mode .*set policy\.allowPassive/],
    ['model mismatch', {}, { modelLength: 7 }, /model of 4 weights \(task\.modelLength\), but this client's trainer produces 7/],
  ] as const)('%s: the node stops with status incompatible and says what to change', async (_name, task, overrides, message) => {
    const s = await startTestCoordinator({ n: 2, task });
    const { node, log } = startNode(s.coordinator.url, s.ids[0]!, overrides);
    const result = await node.done;
    expect(result.status).toBe('incompatible');
    expect(result.reason).toMatch(message);
    expect(log.lines.some((l) => l.includes('cannot take part'))).toBe(true);
    expect(node.stats().connections).toBe(1); // no retry
  });

  it('not enrolled: incompatible, naming the key to enrol', async () => {
    const s = await startTestCoordinator({ n: 2 });
    const stranger = generateIdentity();
    const { node } = startNode(s.coordinator.url, stranger);
    const result = await node.done;
    expect(result.status).toBe('incompatible');
    expect(result.reason).toContain(`enrol public key ${toHex(stranger.publicKey)}`);
  });
});

describe('TLS trust and scheme, at connect time', () => {
  it('wss:// with a self-signed certificate and no ca: incompatible, saying so and to set ca', async () => {
    const dir = await tempDir();
    const tls = selfSigned(dir);
    const ids = [generateIdentity(), generateIdentity()];
    const config = parseCoordinatorConfig({ ...configJson(), dataDir: dir, listen: { host: '127.0.0.1', port: 0, tls } }, dir);
    const enrolment = parseEnrolment({ clients: ids.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) }, 'tls');
    const coordinator = await startCoordinator({ config, enrolment, logger: silentLogger, unmaskThreads: 1 });
    onCleanup(() => coordinator.close());

    const untrusting = startNode(coordinator.url, ids[0]!).node;
    const r1 = await untrusting.done;
    expect(r1.status).toBe('incompatible');
    expect(r1.reason).toMatch(/not trusted: its certificate is self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\), and this client has no ca: set ca in the client config/);

    // ws:// to the same TLS server: the scheme is wrong.
    const plain = startNode(coordinator.url.replace('wss:', 'ws:'), ids[1]!).node;
    const r2 = await plain.done;
    expect(r2.status).toBe('incompatible');
    expect(r2.reason).toMatch(/uses ws:\/\/, but the coordinator there speaks TLS: use wss:\/\//);
  });

  it('wss:// to a coordinator that speaks plain ws://: incompatible', async () => {
    const s = await startTestCoordinator({ n: 2 });
    const { node } = startNode(s.coordinator.url.replace('ws:', 'wss:'), s.ids[0]!);
    const result = await node.done;
    expect(result.status).toBe('incompatible');
    expect(result.reason).toMatch(/uses wss:\/\/, but the coordinator there speaks plain ws:\/\//);
  });

  it('a ws:// server that hangs up but is not TLS is retried as before', async () => {
    // An https server that is not a coordinator would answer TLS; a plain TCP reset must not stop the node.
    const server = createHttpsServer();
    server.on('connection', (socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as { port: number }).port;
    const { node, log } = startNode(`ws://127.0.0.1:${port}`, generateIdentity());
    await log.waitFor(/still cannot reach|reconnecting in/);
    expect(node.stats().connections).toBe(0);
    await node.close();
    expect((await node.done).status).toBe('closed');
  });
});

it('tally client exits 2 with the message when it does not consent to the task', async () => {
  const s = await startTestCoordinator({ n: 2 });
  const dir = await tempDir();
  const key = join(dir, 'key.json');
  const identity = s.ids[0]!;
  await writeFile(key, JSON.stringify({ publicKey: toHex(identity.publicKey), secretKey: toHex(identity.secretKey) }), { mode: 0o600 });
  await writeFile(join(dir, 'shop.csv'), 'a,b,c,y\n1,2,3,4\n');
  const config = join(dir, 'client.json');
  await writeFile(
    config,
    JSON.stringify({
      coordinator: s.coordinator.url,
      keyFile: key,
      policy: { tasks: ['something-else'], minCohort: 2, minThreshold: 1, maxRounds: 10 },
      trainer: { kind: 'linear-csv', data: 'shop.csv', target: 'y' },
    }),
  );
  let err = '';
  const io = { out: (t: string) => void (err += `${t}\n`), err: (t: string) => void (err += `${t}\n`), onInterrupt: () => () => {} };
  expect(await main(['client', '--config', config], io)).toBe(2);
  expect(err).toMatch(/does not consent to \(policy\.tasks: "something-else"\)/);
  expect(TASK_ID).toBe('test-task');
});
