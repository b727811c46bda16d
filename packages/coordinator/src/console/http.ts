/**
 * The coordinator's HTTP resources besides the WebSocket upgrade:
 *
 *   GET /healthz         open: `{"ok":true}`, nothing about the task or the shops
 *   GET /                open: the console page (and /console/*.js|css): no data in them
 *   GET /status          token: the status JSON (status.ts)
 *   GET /metrics         token: Prometheus text (metrics.ts)
 *   GET /api/state       token: the console snapshot (state.ts)
 *   GET /api/events      token: the same snapshot as Server-Sent Events, pushed on change
 *   GET /api/audit       token: audit records, newest first (?q=terms&limit=N)
 *   GET /api/model       token: the current global model, raw little-endian float32
 *
 * "token" means `Authorization: Bearer <console token>` (token.ts); without it the
 * answer is 401 and carries no data. The page takes the token from the URL fragment
 * (`/#token=...`, which browsers never send to a server, so it is in no access log),
 * removes it from the address bar, and sends it as that header; the event stream is
 * read with fetch() for the same reason (EventSource cannot send headers, and a
 * token in a query string would be logged by any proxy on the way).
 *
 * Bounds: at most `maxStreams` event streams at once (more get 503); pushes are
 * coalesced (at most one per PUSH_MS, only when something changed); a comment line
 * every KEEPALIVE_MS keeps idle proxies from cutting the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { Logger } from '../logger.ts';
import type { Asset } from './assets.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { ConsoleState } from './state.ts';
import { bearerMatches } from './token.ts';

/** Default bound on concurrent event streams. */
export const DEFAULT_MAX_STREAMS = 16;
const PUSH_MS = 250;
const TICK_MS = 1000;
const KEEPALIVE_MS = 15_000;
const MAX_QUERY = 200;
const MAX_AUDIT_LIMIT = 500;

/** The page may load its own files and talk to its own origin, nothing else. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
} as const;

export interface ConsoleHttpDeps {
  readonly token: string;
  readonly state: ConsoleState;
  readonly assets: ReadonlyMap<string, Asset>;
  readonly metrics: CoordinatorMetrics;
  readonly status: () => unknown;
  /** The current global model and the round it is the result of (0: the initial model). */
  readonly model: () => { readonly round: number; readonly weights: Float32Array };
  readonly taskId: string;
  readonly logger: Logger;
  readonly maxStreams?: number;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

export class ConsoleHttp {
  readonly #d: ConsoleHttpDeps;
  readonly #streams = new Set<ServerResponse>();
  readonly #maxStreams: number;
  #version = 0;
  #pushed = -1;
  #pushTimer: NodeJS.Timeout | null = null;
  #tick: NodeJS.Timeout | null = null;
  #keepalive: NodeJS.Timeout | null = null;
  #lastStage = '';

  constructor(deps: ConsoleHttpDeps) {
    this.#d = deps;
    this.#maxStreams = deps.maxStreams ?? DEFAULT_MAX_STREAMS;
  }

  /** Something the console shows changed: push to the streams soon (coalesced). */
  changed(): void {
    this.#version++;
    if (this.#streams.size === 0 || this.#pushTimer !== null) return;
    this.#pushTimer = setTimeout(() => {
      this.#pushTimer = null;
      this.#push();
    }, PUSH_MS);
    this.#pushTimer.unref();
  }

  /** Ends every stream and timer (the transport closes the sockets). Idempotent. */
  close(): void {
    for (const t of [this.#pushTimer, this.#tick, this.#keepalive]) if (t !== null) clearTimeout(t);
    this.#pushTimer = this.#tick = this.#keepalive = null;
    for (const s of this.#streams) s.end();
    this.#streams.clear();
  }

  /** Handles a request; false when the path is not one of ours (the caller answers 404). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://coordinator.invalid');
    const path = url.pathname;
    const asset = this.#d.assets.get(path);
    const guarded = path === '/status' || path === '/metrics' || path.startsWith('/api/');
    if (path !== '/healthz' && asset === undefined && !guarded) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'method not allowed; the console is read-only: use GET' }, { allow: 'GET, HEAD' });
      return true;
    }
    if (path === '/healthz') {
      json(res, 200, { ok: true });
      return true;
    }
    if (asset !== undefined) {
      send(res, 200, asset.type, asset.body, PAGE_HEADERS);
      return true;
    }
    if (!bearerMatches(req.headers.authorization, this.#d.token)) {
      json(res, 401, { error: 'the console token is required: send "Authorization: Bearer <token>" (print it with `tally console-token --config <coordinator config>`)' }, { 'www-authenticate': 'Bearer realm="tally"' });
      return true;
    }
    try {
      this.#guarded(path, url, req, res);
    } catch (err) {
      this.#d.logger.error(`GET ${path} failed: ${(err as Error).message}; this is a coordinator bug`);
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.end();
    }
    return true;
  }

  #guarded(path: string, url: URL, req: IncomingMessage, res: ServerResponse): void {
    switch (path) {
      case '/status':
        json(res, 200, this.#d.status());
        return;
      case '/metrics':
        this.#d.metrics.text().then(
          (text) => send(res, 200, this.#d.metrics.contentType, text),
          (err: unknown) => {
            this.#d.logger.error(`GET /metrics failed: ${(err as Error).message}; this is a coordinator bug`);
            json(res, 500, { error: 'internal error' });
          },
        );
        return;
      case '/api/state':
        json(res, 200, this.#d.state.snapshot());
        return;
      case '/api/events':
        this.#openStream(req, res);
        return;
      case '/api/audit': {
        const q = (url.searchParams.get('q') ?? '').slice(0, MAX_QUERY);
        const n = Number(url.searchParams.get('limit') ?? '100');
        const limit = Number.isSafeInteger(n) && n >= 1 ? Math.min(n, MAX_AUDIT_LIMIT) : 100;
        json(res, 200, { query: q, ...this.#d.state.searchAudit(q, limit) });
        return;
      }
      case '/api/model': {
        const { round, weights } = this.#d.model();
        const body = Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength);
        send(res, 200, 'application/octet-stream', body, {
          'content-disposition': `attachment; filename="${this.#d.taskId}-round-${round}.f32"`,
          'x-tally-round': String(round),
          'x-tally-model-sha256': createHash('sha256').update(body).digest('hex'),
          'access-control-expose-headers': 'x-tally-round, x-tally-model-sha256',
        });
        return;
      }
      default:
        json(res, 404, { error: `not found: ${path}` });
    }
  }

  #openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.#streams.size >= this.#maxStreams) {
      json(res, 503, { error: `too many open console streams (${this.#maxStreams}); close a console tab` }, { 'retry-after': '5' });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write(`retry: 2000\n\n`);
    this.#write(res, JSON.stringify(this.#d.state.snapshot()));
    this.#streams.add(res);
    res.on('close', () => {
      this.#streams.delete(res);
      if (this.#streams.size === 0) this.#stopTimers();
    });
    this.#startTimers();
  }

  #write(res: ServerResponse, data: string): void {
    res.write(`event: state\ndata: ${data}\n\n`);
  }

  #push(): void {
    if (this.#streams.size === 0) return;
    this.#pushed = this.#version;
    const data = JSON.stringify(this.#d.state.snapshot());
    for (const s of this.#streams) this.#write(s, data);
  }

  #startTimers(): void {
    if (this.#tick === null) {
      // The round loop announces stage ends, not starts: look once a second for a new stage.
      this.#tick = setInterval(() => {
        const key = this.#d.state.stageKey();
        if (key !== this.#lastStage) {
          this.#lastStage = key;
          this.#version++;
        }
        if (this.#version !== this.#pushed && this.#pushTimer === null) this.#push();
      }, TICK_MS);
      this.#tick.unref();
    }
    if (this.#keepalive === null) {
      this.#keepalive = setInterval(() => {
        for (const s of this.#streams) s.write(': keep-alive\n\n');
      }, KEEPALIVE_MS);
      this.#keepalive.unref();
    }
  }

  #stopTimers(): void {
    if (this.#tick !== null) clearInterval(this.#tick);
    if (this.#keepalive !== null) clearInterval(this.#keepalive);
    this.#tick = this.#keepalive = null;
  }
}
