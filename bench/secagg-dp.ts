/**
 * Cost of the distributed-DP step (issue 14), run at the end of `pnpm bench:secagg`
 * and alone with `tsx bench/secagg-dp.ts [--quick]`.
 *
 * For m lanes (1e6 by default; 1e5 with --quick), on one core, in one process:
 *   aesFloorMs      raw AES-256-CTR keystream for m lanes (4m bytes): the floor of any masking
 *   rotateMs        randomized Hadamard rotation of the padded update (D = 2^⌈log2 m⌉)
 *   roundMs         conditional randomized rounding (one draw: each lane rounded with a CSPRNG word)
 *   noiseMs         D exact discrete Gaussian draws (CKS 2020 with exact lazy comparisons)
 *   clientDpMs      the whole client step: encodeDpUpdate (clip, rotate, round, noise, wrap)
 *   serverInverseMs decodeDpSum on the unmasked sum (centring, inverse rotation, de-scaling)
 * Each figure is the median of 5 timed runs after one warm-up, wall clock (performance.now);
 * the same medians in process CPU time are recorded too (`cpuMs`): on a shared machine
 * the wall clock also counts time spent waiting for a core.
 * Targets (issue 14): clientDpMs ≤ 200 and serverInverseMs ≤ 100 at m = 1e6.
 *
 * Writes bench/results/secagg-dp.json (secagg-dp-quick.json with --quick).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { aesCtrKeystreamFloor, decodeDpSum, encodeDpUpdate, osRandom, planDpForTarget, rotationSeed } from '@tally/secagg';
// Internal stages, timed one by one (not part of the package's public surface).
import { rotate, rotationSigns } from '../packages/secagg/src/dp-rotation.ts';
import { UniformStream } from '../packages/secagg/src/dp-random.ts';
import { discreteGaussian } from '../packages/secagg/src/dp-noise.ts';
import { _stochasticRound } from '../packages/secagg/src/quantize.ts';

const RUNS = 5;

const cpuMs: Record<string, number> = {};

function medianOf(name: string, f: () => void): number {
  f(); // warm-up: JIT tiers, page faults, sampler tables
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
  cpuMs[name] = mid(cpu);
  return mid(times);
}

export interface DpBenchRecord {
  readonly m: number;
  readonly paddedLength: number;
  readonly localSigma2: number;
  readonly noiseMultiplier: number;
  readonly aesFloorMs: number;
  readonly rotateMs: number;
  readonly roundMs: number;
  readonly noiseMs: number;
  readonly clientDpMs: number;
  readonly serverInverseMs: number;
  /** The same medians in process CPU time. */
  readonly cpuMs: Readonly<Record<string, number>>;
}

export function runDpBench(quick: boolean): DpBenchRecord {
  const m = quick ? 100_000 : 1_000_000;
  // A realistic plan: 16 shops, threshold 8, (ε, δ) = (4, 1e-5) over 20 rounds.
  const plan = planDpForTarget({ clipNorm: 1, cohortSize: 16, minSurvivors: 8 }, m, { epsilon: 4, delta: 1e-5, rounds: 20 });
  const D = plan.paddedLength;
  const seed = rotationSeed(new Uint8Array(16), 1);
  const delta = new Float32Array(m);
  const words = new Uint32Array(osRandom(4 * m).buffer);
  for (let i = 0; i < m; i++) delta[i] = (words[i]! / 2 ** 32 - 0.5) * 1e-3;

  const key = osRandom(32);
  const aesFloorMs = medianOf('aesFloorMs', () => aesCtrKeystreamFloor(key, 4 * m));
  const signs = rotationSigns(seed, D);
  const x = new Float64Array(D);
  const rotateMs = medianOf('rotateMs', () => {
    for (let i = 0; i < m; i++) x[i] = delta[i]! * plan.scale;
    rotate(x, signs);
  });
  const out = new Int32Array(D);
  const roundMs = medianOf('roundMs', () => {
    const stream = new UniformStream(osRandom);
    for (let i = 0; i < D; i++) out[i] = _stochasticRound(x[i]!, stream.next32());
  });
  const g = discreteGaussian(plan.localSigma2);
  const noiseMs = medianOf('noiseMs', () => {
    const stream = new UniformStream(osRandom);
    for (let i = 0; i < D; i++) out[i] = out[i]! + g.sample(stream);
  });
  let lanes: Uint32Array = new Uint32Array(0);
  const clientDpMs = medianOf('clientDpMs', () => {
    lanes = encodeDpUpdate(plan, delta, seed).lanes;
  });
  const serverInverseMs = medianOf('serverInverseMs', () => {
    decodeDpSum(plan, lanes, seed);
  });
  return { m, paddedLength: D, localSigma2: plan.localSigma2, noiseMultiplier: plan.noiseMultiplier, aesFloorMs, rotateMs, roundMs, noiseMs, clientDpMs, serverInverseMs, cpuMs: { ...cpuMs } };
}

export function reportDpBench(quick: boolean): void {
  const r = runDpBench(quick);
  const f = (v: number): string => v.toFixed(1);
  console.log(`\ndistributed DP step on one core (${cpus()[0]?.model ?? 'unknown cpu'}), m = ${r.m} (D = ${r.paddedLength}), σ² = ${r.localSigma2}, z = ${r.noiseMultiplier.toFixed(3)}`);
  console.log('aesFloorMs\trotateMs\troundMs\tnoiseMs\tclientDpMs\tserverInverseMs');
  console.log([r.aesFloorMs, r.rotateMs, r.roundMs, r.noiseMs, r.clientDpMs, r.serverInverseMs].map(f).join('\t'), '\t(wall)');
  console.log(['aesFloorMs', 'rotateMs', 'roundMs', 'noiseMs', 'clientDpMs', 'serverInverseMs'].map((k) => f(r.cpuMs[k] ?? NaN)).join('\t'), '\t(cpu)');
  if (r.m === 1_000_000) {
    console.log(`targets: clientDpMs ≤ 200 (${r.clientDpMs <= 200 ? 'met' : 'MISSED'}), serverInverseMs ≤ 100 (${r.serverInverseMs <= 100 ? 'met' : 'MISSED'})`);
  }
  const here = dirname(fileURLToPath(import.meta.url));
  mkdirSync(join(here, 'results'), { recursive: true });
  const file = join(here, 'results', quick ? 'secagg-dp-quick.json' : 'secagg-dp.json');
  writeFileSync(file, JSON.stringify({ bench: 'secagg-dp', date: new Date().toISOString(), cpu: cpus()[0]?.model, node: process.version, record: r }, null, 2));
  console.log(`wrote ${file}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  reportDpBench(process.argv.includes('--quick'));
}
