// wss://: a coordinator with listen.tls and client nodes that trust its certificate.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { generateIdentity, toHex } from '@tally/secagg';
import { parseCoordinatorConfig, parseEnrolment, silentLogger, startCoordinator } from '@tally/coordinator';
import { cleanup, configJson, onCleanup, startNode, selfSigned, tempDir } from './_helpers.ts';

afterEach(cleanup);

describe('TLS (wss://)', () => {
  it('a coordinator with listen.tls runs a round with nodes that trust its certificate; an untrusting socket is refused', async () => {
    const dir = await tempDir();
    const tls = selfSigned(dir);
    const ids = Array.from({ length: 3 }, () => generateIdentity());
    const config = parseCoordinatorConfig(
      { ...configJson({ cohortSize: 3, minClients: 3, threshold: 2 }), dataDir: dir, listen: { host: '127.0.0.1', port: 0, tls } },
      dir,
    );
    const enrolment = parseEnrolment({ clients: ids.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) }, 'tls');
    const coordinator = await startCoordinator({ config, enrolment, logger: silentLogger, unmaskThreads: 1 });
    onCleanup(() => coordinator.close());
    expect(coordinator.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);

    // Without the certificate in its trust store a client cannot even connect.
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(coordinator.url);
      ws.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
      ws.on('open', () => {
        ws.close();
        resolve('opened');
      });
    });
    expect(refused).toMatch(/SELF_SIGNED|CERT|UNABLE_TO_VERIFY/);

    const ca = readFileSync(tls.cert);
    for (const identity of ids) startNode(coordinator.url, identity, { ca });
    const summary = await coordinator.done;
    expect(summary).toMatchObject({ finished: true, lastRound: 1, committed: 1 });
    // Every node moved the model by +0.01 per weight: the mean is +0.01.
    for (const w of summary.model) expect(w).toBeCloseTo(0.01, 4);
  });
});
