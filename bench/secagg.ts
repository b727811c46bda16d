/**
 * Secure-aggregation cost per round: `pnpm bench:secagg [--quick] [--budget-gb N]`, or one
 * chosen configuration: `pnpm bench:secagg --n 100 --k 14 --t 8 --m 1e6 --dropout 0.1 [--reps 3]`
 * (k = n - 1 is the complete graph; defaults: k = n - 1, t = floor(k/2) + 1, dropout 0).
 *
 * For n clients, m lanes, a dropout rate and a graph (complete = SecAgg, Harary =
 * SecAgg+ with k, t from chooseParams), it measures
 *   clientMaskMs    median over clients of the MaskedInput step (k+1 masks of m lanes)
 *   clientRoundMs   median over clients of all their steps in the round (keys, shares, masking,
 *                   signatures; "round" mode only)
 *   clientExpandMs  the mask expansion alone: k+1 keystreams added into one vector (median of 3)
 *   clientAesMs     raw AES-CTR keystream for the same (k+1)·m·4 bytes (baseline, median of 3)
 *   clientStepOverAesPaired, clientRoundOverAesPaired
 *                   the same ratios with the floor measured right after each client's masking
 *                   step (interleaved pairs, median over the pairs): steadier on a loaded machine
 *   serverSumMs     adding the masked vectors as they arrive
 *   plainSumMs      adding the plain vectors (baseline)
 *   serverUnmaskMs  Shamir reconstruction + regenerating and removing every mask (worker threads)
 *   serverUnmaskOneThreadMs
 *                   the same Shamir time + the same unmask on one thread with the same kernel
 *                   (`unmask`: chunk-major SIMD accumulator), measured right after: what the pool saves
 *   aesFloorMs      raw AES-CTR keystream, one thread, for the mask bytes the server regenerates (median of 3)
 *   clientAesNativeMs, aesFloorNativeMs
 *                   the same two floors with the native kernel's AES (@tally/native discardKeystream:
 *                   OpenSSL AES-CTR into one reused 16 KiB scratch, no allocation): the hardware's
 *                   floor, below node:crypto's by what `cipher.update` spends on fresh buffers (null
 *                   where the native kernel is not loaded)
 *   exact           the unmasked sum equals the plain sum
 *
 * Two ways to measure, chosen per configuration and written in each record's `mode`:
 * - "round": one whole round in memory with the real machines (simulateRound),
 *   clients dropping after ShareKeys (the server's worst case: their pairwise masks
 *   must be regenerated). Used while its O(n·k) public-key work and O(n·k·m) client
 *   masking fit the budget.
 * - "components": past that, the same code paths measured separately: one real
 *   client's maskInput() with k real peer keys, the server's buildUnmaskPlan() on real
 *   Shamir shares of real secrets, and the unmask pool on that plan; `exact` is null.
 * Configurations whose server work alone exceeds the budget are listed as skipped.
 *
 * Writes bench/results/secagg.json and prints a table.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { randomInt } from 'node:crypto';
import {
  STAGES,
  MaskAccumulator,
  addVectors,
  aesCtrKeystreamFloor,
  maskKernel,
  nativeStatus,
  buildUnmaskPlan,
  chooseParams,
  completeGraph,
  createUnmaskPool,
  generateX25519,
  hararyGraph,
  maskInput,
  maskJobs,
  osRandom,
  simdAvailable,
  simulateRound,
  unmask,
  curveBackend,
  splitSecret,
  type Graph,
  type Share,
  type Stage,
  type UnmaskPlan,
} from '@tally/secagg';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'budget-gb': { type: 'string', default: '24' },
    n: { type: 'string' },
    k: { type: 'string' },
    t: { type: 'string' },
    m: { type: 'string' },
    dropout: { type: 'string' },
    reps: { type: 'string' },
    warmup: { type: 'string', default: '1' },
    compare: { type: 'string' },
    'compare-m': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: pnpm bench:secagg [--quick] [--budget-gb N] | --n N --m M [...] | --compare FILE [--compare-m LIST]
  --quick        n in {10, 100}, m in {1e4, 1e5}: a one-minute smoke run
  --budget-gb N  skip configurations whose server mask regeneration exceeds N GB of keystream (default 24)
  --n N --m M [--k K] [--t T] [--dropout D] [--reps R] [--warmup W]
                 one configuration only: W discarded warm-up runs (default 1), then R measured
                 runs (default 5, or 3 when one run expands more than 4e8 lanes of keystream);
                 each ratio against its floor measured in the same run, as median [min-max];
                 k = n - 1 is the complete graph
  --compare FILE re-run every measured row of FILE (e.g. bench/results/secagg.json) once,
                 after one warm-up run, and print each ratio beside the committed one (writes
                 secagg-compare.json; FILE is not touched); --compare-m 1e4,1e5 keeps only those m`);
  process.exit(0);
}
const budgetBytes = Number(args['budget-gb']) * 1e9;
if (!(budgetBytes > 0)) throw new RangeError(`--budget-gb: expected a positive number, got ${args['budget-gb']}`);

/** A number flag: integers like 1e6 allowed; undefined when absent. */
function numberFlag(name: 'n' | 'k' | 't' | 'm' | 'dropout' | 'reps' | 'warmup', integer: boolean): number | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(`--${name}: expected a non-negative ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  }
  return v;
}
const chosen = ((): { n: number; k: number; t: number; m: number; dropout: number; reps: number; warmup: number } | undefined => {
  const n = numberFlag('n', true);
  const m = numberFlag('m', true);
  const k = numberFlag('k', true);
  const t = numberFlag('t', true);
  const dropout = numberFlag('dropout', false);
  const warmup = numberFlag('warmup', true) ?? 1;
  if (n === undefined && m === undefined && k === undefined && t === undefined && dropout === undefined) return undefined;
  if (n === undefined || m === undefined) throw new RangeError('--n and --m are both needed to choose a configuration');
  if (n < 3) throw new RangeError(`--n: expected at least 3, got ${n}`);
  const kk = k ?? n - 1;
  if (kk < 2 || kk > n - 1) throw new RangeError(`--k: expected an integer in [2, ${n - 1}], got ${kk}`);
  const tt = t ?? Math.floor(kk / 2) + 1;
  if (2 * tt <= kk || tt > kk) throw new RangeError(`--t: expected an integer in (${kk}/2, ${kk}], got ${tt}`);
  if ((dropout ?? 0) >= 1) throw new RangeError(`--dropout: expected a rate in [0, 1), got ${dropout}`);
  // More runs when one is cheap: the client expands (k+1)·m lanes per run, n clients of them in "round" mode.
  const reps = numberFlag('reps', true) ?? ((kk + 1) * m * n > 4e8 ? 3 : 5);
  if (reps < 1) throw new RangeError(`--reps: expected at least 1, got ${reps}`);
  return { n, k: kk, t: tt, m, dropout: dropout ?? 0, reps, warmup };
})();

const NS = args.quick ? [10, 100] : [10, 100, 500];
const MS = args.quick ? [1e4, 1e5] : [1e4, 1e5, 1e6];
const DROPOUTS = [0, 0.1, 0.3];
const GRAPHS = ['complete', 'harary'] as const;
const CORRUPT = 0.05;
/** "round" mode while the whole in-memory round stays this small. */
const ROUND_MAX_PAIRS = 2500; // n·k public-key operations (~5 ms each with noble)
const ROUND_MAX_CLIENT_BYTES = 6e9; // Σ client keystream bytes

interface Record {
  n: number;
  graph: 'complete' | 'harary';
  k: number;
  t: number;
  m: number;
  dropout: number;
  dropped: number;
  mode: 'round' | 'components' | 'skipped';
  clientMaskMs: number | null;
  clientRoundMs: number | null;
  clientExpandMs: number | null;
  clientAesMs: number | null;
  clientStepOverAesPaired: number | null;
  clientRoundOverAesPaired: number | null;
  serverSumMs: number | null;
  plainSumMs: number | null;
  serverUnmaskMs: number | null;
  serverShamirMs: number | null;
  serverUnmaskOneThreadMs?: number | null;
  aesFloorMs: number | null;
  clientAesNativeMs: number | null;
  aesFloorNativeMs: number | null;
  masksRegenerated: number;
  exact: boolean | null;
  note?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function randomVector(m: number): Uint32Array {
  const v = new Uint32Array(m);
  for (let off = 0; off < m; off += 16384) {
    const n = Math.min(16384, m - off);
    v.set(new Uint32Array(osRandom(n * 4).buffer, 0, n), off);
  }
  return v;
}

function addInto(acc: Uint32Array, x: Uint32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + x[i]!) >>> 0;
}

/** Median of three timed runs of `f` (steady state: the first run also pays for page faults and JIT tiers). */
function median3(f: () => number): number {
  return median([f(), f(), f()]);
}

/** Mask expansion alone: k+1 keystreams of m lanes added into one vector (the PRG part of MaskedInput), on one thread. */
function expandMs(k: number, m: number): number {
  const masks = Array.from({ length: k + 1 }, () => ({ key: osRandom(32), sign: 1 as const }));
  const x = new Uint32Array(m);
  return median3(() => {
    const t0 = performance.now();
    const acc = new MaskAccumulator(x); // as maskInput does (without its helper thread)
    acc.addAll(masks);
    acc.result();
    const ms = performance.now() - t0;
    acc.dispose();
    return ms;
  });
}

/** Median of three timings of `bytes` keystream bytes under a fresh key, made by `make`. */
function keystreamMs(bytes: number, make: (key: Uint8Array, bytes: number) => void): number {
  const key = osRandom(32);
  return median3(() => {
    const t0 = performance.now();
    make(key, bytes);
    return performance.now() - t0;
  });
}

/** Raw AES-256-CTR keystream for `bytes` (the baseline), median of three. */
function aesMs(bytes: number): number {
  // One call per 256 MiB (the PRG's per-call limit is 1 GiB).
  return keystreamMs(bytes, (key, n) => {
    for (let left = n; left > 0; left -= 2 ** 28) aesCtrKeystreamFloor(key, Math.min(left, 2 ** 28));
  });
}

/** The same keystream on the native kernel's AES (no per-chunk allocation), median of three; null without it. */
function aesNativeMs(bytes: number): number | null {
  const native = nativeStatus().kernel;
  return native === null ? null : keystreamMs(bytes, (key, n) => native.discardKeystream(key, n));
}

/** Pick dropouts so that every client keeps at least t live neighbours (the round can succeed). */
function pickDropped(graph: Graph, t: number, count: number): number[] {
  const ids = [...graph.keys()];
  for (let attempt = 0; attempt < 200; attempt++) {
    const shuffled = [...ids];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const dropped = new Set(shuffled.slice(0, count));
    const ok = ids.every((u) => graph.get(u)!.filter((v) => !dropped.has(v)).length >= t);
    if (ok) return [...dropped].sort((a, b) => a - b);
  }
  throw new Error(`no dropout pattern of ${count} keeps ${t} live neighbours everywhere`);
}

function paramsFor(n: number, graph: 'complete' | 'harary', dropout: number): { k: number; t: number } | string {
  if (graph === 'complete') {
    const k = n - 1;
    const dropped = Math.ceil(dropout * n);
    // t > k/2 for safety; at most k - dropped so that every neighbourhood keeps t.
    const t = Math.floor(k / 2) + 1;
    return k - dropped >= t ? { k, t } : `complete graph: ${dropped} dropouts leave fewer than t=${t} of ${k} neighbours`;
  }
  try {
    const p = chooseParams({ n, dropoutRate: dropout, corruptFraction: CORRUPT });
    return { k: p.k, t: p.t };
  } catch (err) {
    return `chooseParams refused: ${(err as Error).message.split('\n')[0]}`;
  }
}

const pool = createUnmaskPool();
// Warm the pool's workers as the coordinator does at start-up (thread start-up is not part of a round).
await pool.warm(chosen?.m);

/** Shamir time + the plan's unmask on this thread (the pool's single-thread reference, same kernel), in ms. */
function oneThreadUnmaskMs(shamirMs: number, plan: UnmaskPlan): number {
  const t0 = performance.now();
  unmask(plan);
  return shamirMs + performance.now() - t0;
}

/** The figures both modes share: client mask expansion and its AES baseline, the server's AES floor. */
function baselines(k: number, m: number, plan: UnmaskPlan): Partial<Record> {
  const jobs = maskJobs(plan).length;
  return {
    clientExpandMs: expandMs(k, m),
    clientAesMs: aesMs((k + 1) * m * 4),
    aesFloorMs: aesMs(jobs * m * 4),
    clientAesNativeMs: aesNativeMs((k + 1) * m * 4),
    aesFloorNativeMs: aesNativeMs(jobs * m * 4),
    masksRegenerated: jobs,
  };
}

async function measureRound(n: number, k: number, t: number, m: number, dropout: number): Promise<Partial<Record>> {
  const inputs = Array.from({ length: n }, () => randomVector(m));
  const ids = inputs.map((_, i) => i + 1);
  const graph = k >= n - 1 ? completeGraph(ids) : hararyGraph(ids, k);
  const dropped = pickDropped(graph, t, Math.ceil(dropout * n));
  const dropAt = new Map<number, Stage>(dropped.map((id) => [id, 'MaskedInput']));
  const clientMask: number[] = [];
  const clientTotal = new Map<number, number>();
  const floorAfterMask = new Map<number, number>();
  const maskMsOf = new Map<number, number>();
  const floorKey = osRandom(32);
  let serverSum = 0;
  let shamir = 0;
  const r = simulateRound({
    inputs,
    threshold: t,
    degree: k,
    dropAt,
    skipUnmask: true,
    observe: {
      now: () => performance.now(),
      step: (who, id, what, ms) => {
        if (who === 'client' && what === 'ShareBundle') {
          clientMask.push(ms);
          if (id !== null) {
            maskMsOf.set(id, ms);
            // The floor for this step, measured right after it (outside its timing).
            const f0 = performance.now();
            aesCtrKeystreamFloor(floorKey, (k + 1) * m * 4);
            floorAfterMask.set(id, performance.now() - f0);
          }
        }
        if (who === 'client' && id !== null) clientTotal.set(id, (clientTotal.get(id) ?? 0) + ms);
        if (who === 'server' && what === 'MaskedInput') serverSum += ms;
        if (who === 'server' && what === 'UnmaskShares') shamir = ms; // the last one closes the stage
      },
    },
  });
  if (r.outcome.kind !== 'ready') throw new Error(`round aborted: ${r.outcome.kind === 'aborted' ? r.outcome.reason : ''}`);
  const plan = r.outcome.plan;
  const t0 = performance.now();
  const sum = await pool.unmask(plan);
  const unmaskMs = performance.now() - t0 + shamir;
  const unmaskOneMs = oneThreadUnmaskMs(shamir, plan);
  const survivors = r.outcome.survivors;
  const plain = new Uint32Array(m);
  const p0 = performance.now();
  for (const id of survivors) addInto(plain, inputs[id - 1]!);
  const plainSumMs = performance.now() - p0;
  return {
    ...baselines(k, m, plan),
    dropped: dropped.length,
    clientMaskMs: median(clientMask),
    // Clients that finished the round (the dropped ones stopped after ShareKeys).
    clientRoundMs: median(survivors.map((id) => clientTotal.get(id) ?? 0)),
    clientStepOverAesPaired: median(survivors.map((id) => maskMsOf.get(id)! / floorAfterMask.get(id)!)),
    clientRoundOverAesPaired: median(survivors.map((id) => clientTotal.get(id)! / floorAfterMask.get(id)!)),
    serverSumMs: serverSum,
    plainSumMs,
    serverUnmaskMs: unmaskMs,
    serverShamirMs: shamir,
    serverUnmaskOneThreadMs: unmaskOneMs,
    exact: Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).equals(Buffer.from(plain.buffer)),
  };
}

async function measureComponents(n: number, k: number, t: number, m: number, dropout: number): Promise<Partial<Record>> {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const graph = k >= n - 1 ? completeGraph(ids) : hararyGraph(ids, k);
  const dropped = pickDropped(graph, t, Math.ceil(dropout * n));
  const droppedSet = new Set(dropped);
  const survivors = ids.filter((id) => !droppedSet.has(id));
  const ctx = { session: osRandom(16), round: 0 };

  // Client: one real MaskedInput computation with k real peer keys.
  const peers = Array.from({ length: k }, (_, i) => ({ id: i + 2, sPk: generateX25519().publicKey }));
  const mine = generateX25519();
  const x = randomVector(m);
  const clientMask: number[] = [];
  const paired: number[] = [];
  const floorKey = osRandom(32);
  for (let rep = 0; rep < 3; rep++) {
    const c0 = performance.now();
    maskInput(x, ctx, 1, osRandom(32), mine.secretKey, peers);
    const stepMs = performance.now() - c0;
    clientMask.push(stepMs);
    const f0 = performance.now(); // its floor, right after it
    for (let left = (k + 1) * m * 4; left > 0; left -= 2 ** 28) aesCtrKeystreamFloor(floorKey, Math.min(left, 2 ** 28));
    paired.push(stepMs / (performance.now() - f0));
  }

  // Server sum: the survivors' vectors added as they arrive (a few distinct vectors reused).
  const distinct = Array.from({ length: Math.min(4, survivors.length) }, () => randomVector(m));
  const acc = new Uint32Array(m);
  const s0 = performance.now();
  for (let i = 0; i < survivors.length; i++) addVectors(acc, distinct[i % distinct.length]!); // the server's code path (server.ts)
  const serverSumMs = performance.now() - s0;
  const plain = new Uint32Array(m);
  const p0 = performance.now();
  for (let i = 0; i < survivors.length; i++) addInto(plain, distinct[i % distinct.length]!);
  const plainSumMs = performance.now() - p0;

  // Server unmask: real secrets, real Shamir shares held by each owner's neighbours.
  const maskPublicKeys = new Map<number, Uint8Array>();
  const selfMaskShares = new Map<number, Share[]>();
  const keyShares = new Map<number, Share[]>();
  const selfMaskPublicKeys = new Map<number, Uint8Array>();
  for (const u of ids) {
    const s = generateX25519();
    const b = generateX25519(); // the self-mask seed is b's secret, checked against its public key
    maskPublicKeys.set(u, s.publicKey);
    selfMaskPublicKeys.set(u, b.publicKey);
    const holders = graph.get(u)!.filter((v) => !droppedSet.has(v));
    if (droppedSet.has(u)) keyShares.set(u, splitSecret(s.secretKey, t, graph.get(u)!).filter((sh) => holders.includes(sh.x)));
    else selfMaskShares.set(u, splitSecret(b.secretKey, t, graph.get(u)!).filter((sh) => holders.includes(sh.x)));
  }
  const u0 = performance.now();
  const plan = buildUnmaskPlan({ ctx, threshold: t, masked: acc, survivors, dropped, selfMaskShares, keyShares, maskPublicKeys, selfMaskPublicKeys, graph });
  const shamir = performance.now() - u0;
  await pool.unmask(plan);
  const unmaskMs = performance.now() - u0;
  const unmaskOneMs = oneThreadUnmaskMs(shamir, plan);
  return {
    ...baselines(k, m, plan),
    dropped: dropped.length,
    clientMaskMs: median(clientMask),
    clientRoundMs: null,
    clientStepOverAesPaired: median(paired),
    clientRoundOverAesPaired: null,
    serverSumMs,
    plainSumMs,
    serverUnmaskMs: unmaskMs,
    serverShamirMs: shamir,
    serverUnmaskOneThreadMs: unmaskOneMs,
    exact: null,
  };
}

const records: Record[] = [];
const fmt = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '-' : v.toFixed(d));
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : a / b);
const EMPTY = { clientMaskMs: null, clientRoundMs: null, clientExpandMs: null, clientAesMs: null, clientStepOverAesPaired: null, clientRoundOverAesPaired: null, serverSumMs: null, plainSumMs: null, serverUnmaskMs: null, serverShamirMs: null, serverUnmaskOneThreadMs: null, aesFloorMs: null, clientAesNativeMs: null, aesFloorNativeMs: null, exact: null };

/** The measuring mode for a configuration, or the reason it is skipped. */
function modeFor(n: number, k: number, m: number, dropout: number): Record['mode'] | string {
  const d = Math.ceil(dropout * n);
  const serverMasks = n - d + d * Math.round((k * (n - d)) / n);
  const serverBytes = serverMasks * m * 4;
  const clientBytes = n * (k + 1) * m * 4;
  if (serverBytes > budgetBytes) return `server would regenerate ~${(serverBytes / 1e9).toFixed(0)} GB of keystream (budget ${args['budget-gb']} GB)`;
  return n * k <= ROUND_MAX_PAIRS && clientBytes <= ROUND_MAX_CLIENT_BYTES ? 'round' : 'components';
}

async function measure(n: number, graph: 'complete' | 'harary', k: number, t: number, m: number, dropout: number): Promise<Record> {
  const base = { n, graph, m, dropout, k, t, dropped: 0, masksRegenerated: 0 };
  const mode = modeFor(n, k, m, dropout);
  if (mode !== 'round' && mode !== 'components') return { ...base, ...EMPTY, mode: 'skipped', note: mode };
  const got = mode === 'round' ? await measureRound(n, k, t, m, dropout) : await measureComponents(n, k, t, m, dropout);
  return { ...base, ...EMPTY, ...got, k, t, mode } as Record;
}

console.log(`secagg bench on ${cpus()[0]?.model ?? 'unknown cpu'} (${availableParallelism()} threads), unmask pool of ${pool.threads}, mask kernel ${maskKernel().name}${nativeStatus().kernel === null ? '' : ` (AES ${nativeStatus().kernel!.aes()})`}, wasm simd ${simdAvailable ? 'on' : 'off'}, curves ${curveBackend}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(
  ['n', 'graph', 'k', 't', 'm', 'drop', 'mode', 'clientStep', 'clientRound', 'expand', 'rawAES', 'step/AES', 'round/AES', 'step/AES paired', 'round/AES paired', 'sum', 'plainSum', 'sum/plain', 'unmask', 'shamir', 'aesFloor', 'unmask/floor', 'unmask1', 'unmask/unmask1', 'rawAESn', 'step/AESn', 'aesFloorN', 'unmask/floorN', 'exact'].join('\t'),
);
const row = (rec: Record): string =>
  [
    rec.n, rec.graph, rec.k, rec.t, rec.m, rec.dropout, rec.mode,
    fmt(rec.clientMaskMs), fmt(rec.clientRoundMs), fmt(rec.clientExpandMs), fmt(rec.clientAesMs),
    fmt(ratio(rec.clientMaskMs, rec.clientAesMs), 2), fmt(ratio(rec.clientRoundMs, rec.clientAesMs), 2),
    fmt(rec.clientStepOverAesPaired, 2), fmt(rec.clientRoundOverAesPaired, 2),
    fmt(rec.serverSumMs), fmt(rec.plainSumMs), fmt(ratio(rec.serverSumMs, rec.plainSumMs), 2),
    fmt(rec.serverUnmaskMs), fmt(rec.serverShamirMs), fmt(rec.aesFloorMs), fmt(ratio(rec.serverUnmaskMs, rec.aesFloorMs), 2),
    fmt(rec.serverUnmaskOneThreadMs), fmt(ratio(rec.serverUnmaskMs, rec.serverUnmaskOneThreadMs), 2),
    fmt(rec.clientAesNativeMs), fmt(ratio(rec.clientMaskMs, rec.clientAesNativeMs), 2), fmt(rec.aesFloorNativeMs), fmt(ratio(rec.serverUnmaskMs, rec.aesFloorNativeMs), 2), String(rec.exact),
  ].join('\t');

/** Per-rep ratios of a chosen configuration, and their medians. */
const RATIOS = {
  clientStepOverAes: (r: Record) => ratio(r.clientMaskMs, r.clientAesMs),
  clientRoundOverAes: (r: Record) => ratio(r.clientRoundMs, r.clientAesMs),
  clientStepOverAesPaired: (r: Record) => r.clientStepOverAesPaired,
  clientRoundOverAesPaired: (r: Record) => r.clientRoundOverAesPaired,
  expandOverAes: (r: Record) => ratio(r.clientExpandMs, r.clientAesMs),
  sumOverPlain: (r: Record) => ratio(r.serverSumMs, r.plainSumMs),
  unmaskOverFloor: (r: Record) => ratio(r.serverUnmaskMs, r.aesFloorMs),
  unmaskOverOneThread: (r: Record) => ratio(r.serverUnmaskMs, r.serverUnmaskOneThreadMs),
  clientStepOverNativeAes: (r: Record) => ratio(r.clientMaskMs, r.clientAesNativeMs),
  clientRoundOverNativeAes: (r: Record) => ratio(r.clientRoundMs, r.clientAesNativeMs),
  unmaskOverNativeFloor: (r: Record) => ratio(r.serverUnmaskMs, r.aesFloorNativeMs),
} as const;

const compareFile = args.compare;
/** A ratio this much above the committed one is flagged (the shared machine's run-to-run noise is about this big). */
const WORSE_FACTOR = 1.25;

/** A configuration's key fields, as in Record. */
interface ComparedRow extends Pick<Record, 'n' | 'graph' | 'k' | 't' | 'm' | 'dropout' | 'mode'> {
  /** Ratio name -> [committed, now]. */
  ratios: { [name: string]: [number | null, number | null] };
  worse: string[];
}

/** Re-runs each measured row of a committed results file once and sets its ratios beside the committed ones. */
async function compareWith(file: string): Promise<ComparedRow[]> {
  const committed = (JSON.parse(readFileSync(file, 'utf8')) as { records: Record[] }).records;
  const onlyM = args['compare-m']?.split(',').map(Number);
  const rows = committed.filter((r) => r.mode !== 'skipped' && (onlyM === undefined || onlyM.includes(r.m)));
  if (rows.length === 0) throw new Error(`--compare ${file}: no measured rows${onlyM === undefined ? '' : ` with m in ${onlyM.join(',')}`}`);
  console.log(`comparing ${rows.length} rows of ${file} (committed ${(JSON.parse(readFileSync(file, 'utf8')) as { date?: string }).date ?? '?'}); one warm-up run first`);
  const first = rows[0]!;
  await measure(first.n, first.graph, first.k, first.t, first.m, first.dropout);
  const out: ComparedRow[] = [];
  for (const old of rows) {
    const now = await measure(old.n, old.graph, old.k, old.t, old.m, old.dropout);
    const ratios: ComparedRow['ratios'] = {};
    const worse: string[] = [];
    for (const [name, f] of Object.entries(RATIOS)) {
      const a = f(old) ?? null;
      const b = now.mode === 'skipped' ? null : f(now);
      if (a === null && b === null) continue;
      ratios[name] = [a, b];
      if (a !== null && b !== null && b > a * WORSE_FACTOR) worse.push(name);
    }
    out.push({ n: old.n, graph: old.graph, k: old.k, t: old.t, m: old.m, dropout: old.dropout, mode: now.mode, ratios, worse });
    const cells = Object.entries(ratios).map(([name, [a, b]]) => `${name} ${fmt(a, 2)}->${fmt(b, 2)}`);
    console.log(`${old.n}\t${old.graph}\tk=${old.k}\tm=${old.m}\td=${old.dropout}\t${now.mode}\t${cells.join('  ')}${worse.length > 0 ? `\tWORSE: ${worse.join(', ')}` : ''}`);
  }
  const flagged = out.filter((r) => r.worse.length > 0);
  console.log(`${flagged.length} of ${out.length} rows have a ratio more than ${WORSE_FACTOR}x the committed one${flagged.length > 0 ? ' (re-run those alone before calling it a regression: the machine is shared)' : ''}`);
  return out;
}

let summary: { [K in keyof typeof RATIOS]: number | null } | undefined;
type Range = { median: number; min: number; max: number } | null;
let ranges: { [K in keyof typeof RATIOS]: Range } | undefined;
let comparison: ComparedRow[] | undefined;
/** Median, min and max of one ratio over the measured runs. */
function rangeOf(recs: readonly Record[], f: (r: Record) => number | null): Range {
  const xs = recs.map(f).filter((x): x is number => x !== null);
  return xs.length === 0 ? null : { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}
const fmtRange = (r: Range): string => (r === null ? '-' : `${r.median.toFixed(2)} [${r.min.toFixed(2)}-${r.max.toFixed(2)}]`);

if (compareFile !== undefined) {
  comparison = await compareWith(compareFile);
} else if (chosen !== undefined) {
  const { n, k, t, m, dropout, reps, warmup } = chosen;
  const graph = k >= n - 1 ? 'complete' : 'harary';
  for (let rep = 0; rep < warmup + reps; rep++) {
    const rec = await measure(n, graph, k, t, m, dropout);
    if (rec.mode === 'skipped') {
      records.push(rec);
      console.log(`skipped: ${rec.note}`);
      break;
    }
    // The warm-up runs pay for JIT tiers, first-touch page faults and helper threads loading: not counted.
    if (rep < warmup) {
      console.log(`${row(rec)}\t(warm-up, not counted)`);
      continue;
    }
    records.push(rec);
    console.log(row(rec));
  }
  ranges = Object.fromEntries(Object.entries(RATIOS).map(([name, f]) => [name, rangeOf(records, f)])) as typeof ranges;
  summary = Object.fromEntries(Object.entries(ranges!).map(([name, r]) => [name, r?.median ?? null])) as typeof summary;
  console.log(`over ${records.length} runs after ${warmup} warm-up, median [min-max]:`);
  for (const [name, r] of Object.entries(ranges!)) console.log(`  ${name.padEnd(26)} ${fmtRange(r)}`);
} else {
  for (const n of NS) {
    for (const graph of GRAPHS) {
      for (const dropout of DROPOUTS) {
        const params = paramsFor(n, graph, dropout);
        for (const m of MS) {
          if (typeof params === 'string') {
            records.push({ n, graph, m, dropout, k: 0, t: 0, dropped: 0, masksRegenerated: 0, ...EMPTY, mode: 'skipped', note: params });
            console.log(`${n}\t${graph}\t-\t-\t${m}\t${dropout}\tskipped: ${params}`);
            continue;
          }
          const rec = await measure(n, graph, params.k, params.t, m, dropout);
          records.push(rec);
          console.log(rec.mode === 'skipped' ? `${n}\t${graph}\t${rec.k}\t${rec.t}\t${m}\t${dropout}\tskipped: ${rec.note}` : row(rec));
        }
      }
    }
  }
}
await pool.close();

const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(here, 'results'), { recursive: true });
const out = join(
  here,
  'results',
  compareFile !== undefined
    ? 'secagg-compare.json'
    : chosen !== undefined
    ? `secagg-n${chosen.n}-k${chosen.k}-t${chosen.t}-m${chosen.m}-d${chosen.dropout}.json`
    : args.quick
      ? 'secagg-quick.json'
      : 'secagg.json',
);
writeFileSync(
  out,
  JSON.stringify(
    {
      bench: 'secagg',
      date: new Date().toISOString(),
      cpu: cpus()[0]?.model,
      threads: availableParallelism(),
      unmaskThreads: pool.threads,
      wasmSimd: simdAvailable,
      maskKernel: maskKernel(),
      curves: curveBackend,
      node: process.version,
      command: `pnpm bench:secagg ${process.argv.slice(2).join(' ')}`.trim(),
      loadAverageAtEnd: loadavg(),
      stages: STAGES,
      notes: [
        'clientMaskMs is the whole MaskedInput step (share decryption, k X25519 agreements, k+1 mask expansions)',
        'clientAesMs / clientExpandMs is the mask expansion throughput as a fraction of raw AES-CTR (target >= 0.70)',
        'serverUnmaskMs / aesFloorMs: target <= 1.5 at n=100, m=1e6; aesFloorMs is single-threaded',
        'serverUnmaskMs / serverUnmaskOneThreadMs: the pool against the same unmask (same Shamir time, same kernel) on one thread, measured right after',
        'clientMaskMs / clientAesMs: target <= 2 at n=100, m=1e6 (k=14 and complete); clientRoundMs / clientAesMs: target <= 3 at n=100, k=14',
        'serverSumMs / plainSumMs: target <= 1.2; serverSumMs runs the server code path (addVectors), plainSumMs a plain (a + b) >>> 0 loop',
        'dropouts happen after ShareKeys, so every dropped client costs the server its pairwise masks',
        "the *Native* floors and ratios use the native kernel's AES (no per-chunk allocation): the stricter floor; the targets are stated against node:crypto's",
      ],
      ...(summary === undefined ? {} : { medianRatios: summary, ratioRanges: ranges, warmupRuns: chosen?.warmup }),
      ...(comparison === undefined ? {} : { comparedWith: compareFile, comparison }),
      records,
    },
    null,
    2,
  ),
);
console.log(`wrote ${out}`);

// Distributed DP (issue 14): its own file, same run (not in --compare, which writes nothing else).
if (compareFile === undefined) {
  const { reportDpBench } = await import('./secagg-dp.ts');
  reportDpBench(Boolean(args.quick));
}
