/**
 * The network edge: an http (or https, with listen.tls) server carrying
 *   GET /status   the status JSON (status.ts), unless `http` takes the request
 *   `http`        the console, /metrics, /healthz (console/http.ts) behind the console token
 *   upgrades      WebSocket connections for clients (any path)
 * Any other path is 404.
 *
 * Bounds, each with its default in config.ts: `maxConnections` open sockets and
 * `maxPendingAuth` unauthenticated ones (beyond either, the upgrade is answered
 * HTTP 503 with Retry-After before any WebSocket exists); `maxPayload` per inbound
 * frame (sized from the model by the caller; ws closes with 1009 beyond it);
 * per-message compression off (no decompression bombs); a heartbeat every
 * `heartbeatMs`.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { isLoopbackHost } from '@tally/wire';
import { ConfigError } from './_assert.ts';
import type { LimitsConfig, ListenConfig } from './config.ts';
import type { Logger } from './logger.ts';

/** What the transport needs of a connection it hosts. */
export interface HostedSocket {
  readonly authenticated: boolean;
  heartbeat(lateTick?: boolean): void;
  close(code: number, reason: string): void;
  terminate(reason: string): void;
}

export interface TransportOptions {
  readonly listen: ListenConfig;
  readonly limits: LimitsConfig;
  /** Largest inbound frame in bytes (ws `maxPayload`). */
  readonly maxPayload: number;
  readonly status: () => unknown;
  /** Wraps a new socket; the transport tracks it until it closes. */
  readonly accept: (ws: WebSocket, remote: string) => HostedSocket;
  readonly logger: Logger;
  /** Answers the requests it knows (returns true); the others fall through to /status and 404. */
  readonly http?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface Transport {
  readonly url: string;
  readonly port: number;
  /** Bytes read from and written to client WebSocket connections so far (frames with their headers). */
  traffic(): { readonly bytesIn: number; readonly bytesOut: number };
  /** Closes every socket (close frame, then terminate after `graceMs`) and stops listening. Idempotent. */
  close(code: number, reason: string, graceMs?: number): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function refuseUpgrade(socket: Duplex, why: string): void {
  socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`);
  socket.destroy();
}

async function readTls(listen: ListenConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!listen.tls) return undefined;
  const read = async (path: string, field: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new ConfigError(field, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { cert: await read(listen.tls.cert, 'listen.tls.cert'), key: await read(listen.tls.key, 'listen.tls.key') };
}

/** The start-up warning for listening beyond loopback without listen.tls, or null (SECURITY.md, Transport). */
export function insecureListenWarning(host: string, tls: boolean): string | null {
  if (tls || isLoopbackHost(host)) return null;
  return `listening on ${host} without listen.tls: the network between clients and this coordinator can read the model and the aggregates and pose as the coordinator; set listen.tls (wss://), or listen on 127.0.0.1 behind a TLS proxy`;
}

export async function startTransport(opts: TransportOptions): Promise<Transport> {
  const { listen, limits, logger } = opts;
  const tls = await readTls(listen);
  /** Open sockets, each with a promise of its close event. */
  const sockets = new Map<HostedSocket, Promise<void>>();
  let upgrading = 0;

  // Upgraded sockets, for the byte counters: the live ones are read when asked; a closed one adds its totals.
  const live = new Set<Socket>();
  const closedBytes = { bytesIn: 0, bytesOut: 0 };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (opts.http?.(req, res) === true) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/status' || opts.http !== undefined) {
      json(res, 404, { error: 'not found' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'method not allowed; use GET' }, { allow: 'GET, HEAD' });
      return;
    }
    try {
      json(res, 200, opts.status());
    } catch (err) {
      logger.error(`GET /status failed: ${(err as Error).message}; this is a coordinator bug`);
      json(res, 500, { error: 'internal error' });
    }
  };

  let server: Server;
  try {
    server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createHttpServer(onRequest);
  } catch (err) {
    throw new ConfigError('listen.tls', `cannot use the certificate and key: ${(err as Error).message}`, { cause: err });
  }
  // ws `maxPayload`: frames above it close the socket with 1009 before they are buffered.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false, clientTracking: false });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const raw = req.socket;
    live.add(raw);
    raw.once('close', () => {
      live.delete(raw);
      closedBytes.bytesIn += raw.bytesRead;
      closedBytes.bytesOut += raw.bytesWritten;
    });
    const open = sockets.size + upgrading;
    let pending = upgrading;
    for (const s of sockets.keys()) if (!s.authenticated) pending++;
    if (open >= limits.maxConnections) {
      logger.warn(`refused a connection from ${req.socket.remoteAddress}: ${open} open (limits.maxConnections)`);
      refuseUpgrade(socket, 'too many connections');
      return;
    }
    if (pending >= limits.maxPendingAuth) {
      logger.warn(`refused a connection from ${req.socket.remoteAddress}: ${pending} not yet authenticated (limits.maxPendingAuth)`);
      refuseUpgrade(socket, 'too many connections awaiting authentication');
      return;
    }
    upgrading++;
    let counted = true;
    const done = (): void => {
      if (counted) upgrading--;
      counted = false;
    };
    socket.once('close', done);
    wss.handleUpgrade(req, socket, head, (ws) => {
      done();
      const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
      const hosted = opts.accept(ws, remote);
      sockets.set(
        hosted,
        new Promise((resolve) => {
          ws.once('close', () => {
            sockets.delete(hosted);
            resolve();
          });
        }),
      );
    });
  });

  let lastTick = performance.now();
  const heartbeat = setInterval(() => {
    // A tick far behind schedule means our own event loop stalled (e.g. a long
    // unmask): pongs may be sitting unread, so this tick only pings.
    const now = performance.now();
    const late = now - lastTick > 1.5 * limits.heartbeatMs;
    lastTick = now;
    for (const s of sockets.keys()) s.heartbeat(late);
  }, limits.heartbeatMs);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      // A port in use is a run-time condition (exit 1 in the CLI), not a config mistake.
      if (err.code === 'EADDRINUSE') {
        reject(Object.assign(new Error(`cannot listen on ${listen.host}:${listen.port}: the port is in use; stop the other process or change listen.port`, { cause: err }), { code: err.code }));
        return;
      }
      reject(new ConfigError('listen', `cannot listen on ${listen.host}:${listen.port}: ${err.message}; pick another port or stop the other process`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error(`http server error: ${err.message}`));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : listen.port;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const url = `${tls ? 'wss' : 'ws'}://${host}:${port}`;
  const plain = insecureListenWarning(listen.host, tls !== undefined);
  if (plain !== null) logger.warn(plain);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    traffic() {
      let bytesIn = closedBytes.bytesIn;
      let bytesOut = closedBytes.bytesOut;
      for (const s of live) {
        bytesIn += s.bytesRead;
        bytesOut += s.bytesWritten;
      }
      return { bytesIn, bytesOut };
    },
    close(code, reason, graceMs = 1000) {
      closing ??= (async () => {
        clearInterval(heartbeat);
        const closed = Promise.all(sockets.values());
        for (const s of sockets.keys()) s.close(code, reason);
        const timer = setTimeout(() => {
          for (const s of sockets.keys()) s.terminate('did not answer the close frame in time');
        }, graceMs);
        await closed;
        clearTimeout(timer);
        wss.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
