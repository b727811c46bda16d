/**
 * The baseline of `bench/round.ts`: one plaintext FedAvg round over the same kind
 * of sockets (ws, loopback, no compression), kept as small as honesty allows.
 *
 *   server -> each client   the model: one binary frame of m little-endian float32
 *   client -> server        one binary frame [weight, loss, delta_1 .. delta_m] as float32
 *   server -> each client   the result: one frame [total weight, mean loss] as float64,
 *                           then close 1000
 *
 * The server waits for all n clients, sends the model, sums w·δ (float64) as the
 * updates arrive and, once all n are in, applies the weighted mean to the model.
 * No authentication, no persistence, no deadlines, no validation beyond the frame
 * length: everything the secure round does on top of this is its overhead.
 */
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Trainer } from '@tally/client';

/** Floats ahead of the delta in an update frame: weight, loss. */
export const UPDATE_HEADER = 2;

export interface PlainRound {
  /** From the first model frame queued to the last result frame queued. */
  readonly ms: number;
  /** From the first model frame queued to the last update summed. */
  readonly collectMs: number;
  /** Weighted mean and model update after the last update arrived. */
  readonly aggregateMs: number;
  readonly totalWeight: number;
  readonly meanLoss: number;
  readonly model: Float32Array;
}

export interface PlainServer {
  readonly url: string;
  /** Resolves when the round is done; rejects if a client sends a malformed update or leaves early. */
  readonly done: Promise<PlainRound>;
  close(): Promise<void>;
}

function bytesOf(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return data;
}

/** A float32 view of `buf` (copied when ws handed over an unaligned slice). */
export function float32Of(buf: Buffer): Float32Array {
  if (buf.byteLength % 4 !== 0) throw new RangeError(`expected a multiple of 4 bytes, got ${buf.byteLength}`);
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return new Float32Array(new Uint8Array(buf).buffer);
}

export interface PlainServerOptions {
  readonly n: number;
  readonly model: Float32Array;
  /** Called just before the model frames are queued, and just after the result frames are. */
  readonly onStart?: () => void;
  readonly onEnd?: () => void;
}

export async function startPlainServer(o: PlainServerOptions): Promise<PlainServer> {
  const { n, model } = o;
  const m = model.length;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 4 * (m + UPDATE_HEADER) + 1024 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const { port } = wss.address() as { port: number };

  const peers: WebSocket[] = [];
  const seen = new Set<WebSocket>();
  const sum = new Float64Array(m);
  let totalWeight = 0;
  let lossSum = 0;
  let t0 = 0;
  let finished = false;
  let resolveDone!: (r: PlainRound) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<PlainRound>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const fail = (why: string): void => {
    if (finished) return;
    finished = true;
    rejectDone(new Error(`plaintext round: ${why}`));
  };

  const onUpdate = (ws: WebSocket, data: RawData): void => {
    if (seen.has(ws)) return fail('a client sent two updates');
    const f = float32Of(bytesOf(data));
    if (f.length !== m + UPDATE_HEADER) return fail(`expected ${m + UPDATE_HEADER} floats, got ${f.length}`);
    seen.add(ws);
    const w = f[0]!;
    totalWeight += w;
    lossSum += w * f[1]!;
    for (let i = 0; i < m; i++) sum[i]! += w * f[i + UPDATE_HEADER]!;
    if (seen.size < n) return;
    const tCollected = performance.now();
    const next = new Float32Array(m);
    for (let i = 0; i < m; i++) next[i] = model[i]! + sum[i]! / totalWeight;
    const meanLoss = lossSum / totalWeight;
    const result = new Float64Array([totalWeight, meanLoss]);
    for (const p of peers) p.send(result, { binary: true });
    const t1 = performance.now();
    o.onEnd?.();
    finished = true;
    resolveDone({ ms: t1 - t0, collectMs: tCollected - t0, aggregateMs: t1 - tCollected, totalWeight, meanLoss, model: next });
    for (const p of peers) p.close(1000, 'task complete');
  };

  wss.on('connection', (ws) => {
    if (peers.length >= n) {
      ws.close(1008, 'round is full');
      return;
    }
    peers.push(ws);
    ws.on('message', (data) => onUpdate(ws, data));
    ws.on('close', () => {
      if (!seen.has(ws)) fail('a client left before sending its update');
    });
    if (peers.length === n) {
      o.onStart?.();
      t0 = performance.now();
      const frame = new Uint8Array(model.buffer, model.byteOffset, model.byteLength);
      for (const p of peers) p.send(frame, { binary: true });
    }
  });

  return {
    url: `ws://127.0.0.1:${port}`,
    done,
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of peers) p.terminate();
        wss.close(() => resolve());
      }),
  };
}

export interface PlainClientResult {
  readonly trained: boolean;
  readonly committed: boolean;
  readonly closeCode: number;
}

/**
 * One plaintext client: reads the model, trains, sends its update in one frame,
 * reads the result. Resolves when the socket closes.
 */
export function runPlainClient(o: { readonly url: string; readonly taskId: string; readonly trainer: Trainer; readonly m: number }): Promise<PlainClientResult> {
  const { m } = o;
  return new Promise((resolve) => {
    const ws = new WebSocket(o.url, { perMessageDeflate: false, maxPayload: 4 * m + 1024 });
    let trained = false;
    let committed = false;
    ws.on('message', (data) => {
      if (!trained) {
        trained = true;
        const weights = float32Of(bytesOf(data));
        void o.trainer.train({ taskId: o.taskId, round: 1, weights }).then((out) => {
          const frame = new Float32Array(m + UPDATE_HEADER);
          frame[0] = out.weight;
          frame[1] = out.metrics[0] ?? 0;
          frame.set(out.delta, UPDATE_HEADER);
          ws.send(frame, { binary: true });
        });
        return;
      }
      committed = true;
    });
    ws.on('error', () => undefined); // the close that follows says enough
    ws.on('close', (code) => resolve({ trained, committed, closeCode: code }));
  });
}
