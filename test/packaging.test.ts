/**
 * Tally as a company installs it: build the workspace, `pnpm pack` every published
 * package (which rewrites `workspace:*` and applies `publishConfig`), install the
 * tarballs with plain `npm` into an empty folder outside the workspace, and run them
 * with plain `node` (no pnpm, no tsx, no TypeScript sources):
 *
 *   npx tally --help, tally keygen ×3, a coordinator and three `tally client`
 *   processes on loopback until the task completes, one client training with the
 *   user's own Trainer module (`trainer.kind: "module"`); and a TypeScript consumer
 *   that type-checks against the published .d.ts with `moduleResolution: nodenext`.
 *
 * It needs the npm registry for third-party packages (`--prefer-offline`: the npm cache
 * serves repeats). It never skips: a failure here is a packaging bug (or no registry).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeStatus } from '@tally/secagg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The published packages (everything under packages/ without "private": true). */
const PUBLISHED = ['secagg', 'wire', 'coordinator', 'client', 'ml', 'demand', 'cli'] as const;
/** The optional native mask kernel: C sources that npm builds at install (node-gyp), no dist. */
const NATIVE = 'native';
/** Whether this machine builds it: the workspace's own install did (a C toolchain is here), or CI says it must. */
const NATIVE_BUILDS = nativeStatus().kernel !== null || process.env['CI'] === 'true';
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
}

/** A clean environment: no loaders, nothing from the workspace's tools on PATH beyond node and npm. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', npm_config_yes: 'true' };
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && k !== 'npm_config_yes' && k !== 'npm_config_cache') delete env[k];
  for (const k of ['VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'TSX', 'TS_NODE_PROJECT']) delete env[k];
  return env;
}

function start(cmd: string, args: readonly string[], cwd: string): { child: ChildProcess; done: Promise<Run>; text: () => string; waitFor: (re: RegExp) => Promise<RegExpMatchArray> } {
  const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] = [];
  const onData = (d: string): void => {
    out += d;
    waiters = waiters.filter((w) => {
      const m = out.match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const w of waiters) w.reject(new Error(`${cmd} ${args.join(' ')} exited (${code ?? signal}) before printing ${w.re}:\n${out}`));
      waiters = [];
      resolve({ code, signal, out });
    });
  });
  return {
    child,
    done,
    text: () => out,
    waitFor: (re) => {
      const m = out.match(re);
      return m ? Promise.resolve(m) : new Promise((resolve, reject) => waiters.push({ re, resolve, reject }));
    },
  };
}

async function run(cmd: string, args: readonly string[], cwd: string): Promise<Run> {
  const r = await start(cmd, args, cwd).done;
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.code ?? r.signal}:\n${r.out}`);
  return r;
}

let tmp: string;
let app: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tally-packaging-'));
  app = join(tmp, 'app');
  await mkdir(app);
  const tStart = performance.now();
  // 1. Build from scratch (no stale files from deleted sources), with the workspace's own TypeScript.
  await Promise.all(PUBLISHED.map((p) => rm(join(ROOT, 'packages', p, 'dist'), { recursive: true, force: true })));
  await Promise.all(PUBLISHED.map((p) => rm(join(ROOT, 'packages', p, 'tsconfig.build.tsbuildinfo'), { force: true })));
  await run(process.execPath, [TSC, '-b', 'tsconfig.build.json'], ROOT);
  // 2. pnpm pack each package (the README's pnpm, so the rewrite is the one a release gets).
  const packs = join(tmp, 'packs');
  await mkdir(packs);
  await Promise.all([...PUBLISHED, NATIVE].map((p) => run('npx', ['-y', 'pnpm@12.4.2', 'pack', '--pack-destination', packs], join(ROOT, 'packages', p))));
  const tarballs = (await readdir(packs)).filter((f) => f.endsWith('.tgz')).map((f) => join(packs, f));
  expect(tarballs).toHaveLength(PUBLISHED.length + 1);
  // 3. Plain npm into an empty folder outside the workspace. tfjs-node (optional) needs a
  //    download this network blocks; the ml package falls back to wasm/cpu without it. So
  //    optional dependencies are left out, and @tally/native (secagg's optional kernel, which
  //    a default install builds) is named on the command line: npm builds it with node-gyp.
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'shop-app', private: true, type: 'module' }));
  const t0 = performance.now();
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', '@types/node@20.19.43', ...tarballs], app);
  console.log(`packaging: build + pack ${Math.round(t0 - tStart)} ms, npm install ${Math.round(performance.now() - t0)} ms`);
}, 600_000);

afterAll(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(tmp, { recursive: true, force: true });
});

describe('installed from the packed tarballs with npm, run with plain node', () => {
  it('ships built JavaScript and types only: no TypeScript sources, no tsx, no workspace: ranges, a license', async () => {
    for (const p of PUBLISHED) {
      const dir = join(app, 'node_modules/@tally', p);
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(pkg['private'], p).toBeUndefined();
      expect(pkg['license'], p).toBe('Apache-2.0');
      const exports = pkg['exports'] as Record<string, { types: string; import: string }>;
      expect(exports['.'], p).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
      // Subpaths (demand's ./spec, which loads no TF.js) point into dist too.
      for (const [sub, e] of Object.entries(exports)) expect(e, `${p} ${sub}`).toEqual({ types: expect.stringMatching(/^\.\/dist\/.*\.d\.ts$/), import: expect.stringMatching(/^\.\/dist\/.*\.js$/) });
      const deps = JSON.stringify([pkg['dependencies'], pkg['optionalDependencies'], pkg['peerDependencies']]);
      expect(deps, p).not.toMatch(/workspace:|tsx|example-demand-forecast/);
      expect(await readFile(join(dir, 'LICENSE'), 'utf8'), p).toMatch(/Apache License\s+Version 2\.0/);
      const files = await readdir(join(dir, 'dist'), { recursive: true });
      expect(files.filter((f) => /\.(ts|mts|cts)$/.test(f) && !f.endsWith('.d.ts')), p).toEqual([]);
      expect(files.filter((f) => /\.test\.|_test-|\.mjs$/.test(f)), p).toEqual([]);
      expect(files, p).toContain('index.js');
      expect(files, p).toContain('index.d.ts');
      expect(files, p).toContain('index.js.map');
    }
    // secagg names the native kernel as optional, at the released version; npm built it at
    // install from its C source (the tarball ships no binary of the workspace's).
    const secagg = JSON.parse(await readFile(join(app, 'node_modules/@tally/secagg/package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
    expect(secagg.optionalDependencies).toEqual({ '@tally/native': '0.1.0' });
    const native = join(app, 'node_modules/@tally/native');
    const shipped = ['LICENSE', 'README.md', 'binding.gyp', 'index.cjs', 'index.d.ts', 'install.cjs', 'package.json', 'src'];
    if (NATIVE_BUILDS) {
      expect((await readdir(native)).sort()).toEqual([...shipped, 'build'].sort());
      expect(await readdir(join(native, 'build/Release'))).toContain('tally_native.node');
    } else {
      expect((await readdir(native)).filter((f) => f !== 'build').sort()).toEqual(shipped);
    }
    const bin = await readFile(join(app, 'node_modules/@tally/cli/dist/bin.js'), 'utf8');
    expect(bin.split('\n')[0]).toBe('#!/usr/bin/env node');
    // Installing the CLI does not pull in the demo or TensorFlow through it.
    const cli = JSON.parse(await readFile(join(app, 'node_modules/@tally/cli/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(cli.dependencies).sort()).toEqual(['@tally/client', '@tally/coordinator', '@tally/secagg', 'jsonc-parser', 'pino']);
  });

  it('npx tally --help; keygen; a coordinator and three clients (one with its own Trainer module) complete the task', async () => {
    const help = await run('npx', ['tally', '--help'], app);
    expect(help.out).toMatch(/Usage:/);
    expect(help.out).toMatch(/coordinator +run the coordinator/);

    const shops = ['shop-a', 'shop-b', 'shop-c'] as const;
    for (const s of shops) {
      const r = await run('npx', ['tally', 'keygen', '--out', `keys/${s}.json`, '--enrol', 'enrolment.json', '--name', s], app);
      expect(r.out).toMatch(/[0-9a-f]{64}/);
    }
    // Data: y = 2·x1 − 1·x2 + 0.5, noise-free, a different slice per shop.
    for (const [i, s] of shops.entries()) {
      const rows = ['x1,x2,y'];
      for (let k = 0; k < 40; k++) {
        const x1 = ((k * 7 + i * 13) % 20) / 10 - 1;
        const x2 = ((k * 11 + i * 5) % 20) / 10 - 1;
        rows.push(`${x1},${x2},${2 * x1 - x2 + 0.5}`);
      }
      await writeFile(join(app, `${s}.csv`), `${rows.join('\n')}\n`);
    }
    // The user's own Trainer: plain JavaScript, least squares on its CSV by gradient descent.
    await writeFile(
      join(app, 'my-trainer.mjs'),
      `import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export function createTrainer(options, { configDir }) {
  const lines = readFileSync(resolve(configDir, options.data), 'utf8').trim().split('\\n').slice(1);
  const rows = lines.map((l) => l.split(',').map(Number));
  return {
    async train({ weights }) {
      const w = Float32Array.from(weights);
      const grad = new Float64Array(w.length);
      let loss = 0;
      for (let epoch = 0; epoch < options.epochs; epoch++) {
        grad.fill(0);
        loss = 0;
        for (const [x1, x2, y] of rows) {
          const err = w[0] * x1 + w[1] * x2 + w[2] - y;
          loss += err * err / rows.length;
          grad[0] += 2 * err * x1 / rows.length;
          grad[1] += 2 * err * x2 / rows.length;
          grad[2] += 2 * err / rows.length;
        }
        for (let j = 0; j < w.length; j++) w[j] -= options.lr * grad[j];
      }
      return { delta: w.map((v, j) => v - weights[j]), weight: rows.length, metrics: [loss] };
    },
  };
}
`,
    );
    // The coordinator's config, written the way the help shows it: with comments and a trailing comma.
    await writeFile(
      join(app, 'coordinator.json'),
      `{
  "listen": { "host": "127.0.0.1", "port": 0 },   // any free port
  "dataDir": ".tally-data",
  "enrolment": "enrolment.json",
  "task": {
    "id": "packaged",
    "modelLength": 3,
    "rounds": 3, "cohortSize": 3, "minClients": 3,
    "dropoutTolerance": 0, "corruptFraction": 0,
    "deadlines": { "trainMs": 60000, "stageMs": 30000 },
    "quant": { "clipNorm": 10, "weightBound": 1000, "fractionalBits": 12, "metricBound": 100 },
    "metrics": ["loss"],
  },
}
`,
    );
    const coordinator = start('npx', ['tally', 'coordinator', '--config', 'coordinator.json', '--exit-on-complete'], app);
    running.push(coordinator.child);
    const url = (await coordinator.waitFor(/clients connect to (ws:\/\/\S+)/))[1]!;

    const clients = shops.map(async (s, i) => {
      const trainer =
        i === 2
          ? { kind: 'module', module: './my-trainer.mjs', options: { data: `${s}.csv`, epochs: 20, lr: 0.2 } }
          : { kind: 'linear-csv', data: `${s}.csv`, target: 'y', epochs: 20, lr: 0.2, batchSize: 40 };
      const config = {
        coordinator: url,
        keyFile: `keys/${s}.json`,
        peers: 'enrolment.json',
        policy: { tasks: ['packaged'], minCohort: 3, minThreshold: 2, maxRounds: 10 },
        reconnect: { initialMs: 100, maxMs: 1000 },
        trainer,
      };
      await writeFile(join(app, `${s}.client.json`), JSON.stringify(config, null, 2));
      const c = start('npx', ['tally', 'client', '--config', `${s}.client.json`], app);
      running.push(c.child);
      return c.done;
    });
    const results = await Promise.all(clients);
    for (const r of results) {
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/stopped: task complete; contributed to 3 round\(s\), 3 committed/);
    }
    expect(results[2]!.out).toMatch(/trainer: module .*my-trainer\.mjs/);
    // The native mask kernel that npm built at install is the one masking (where this
    // machine can build it, as the workspace's install shows; else WebAssembly, saying why).
    for (const r of results) expect(r.out).toMatch(NATIVE_BUILDS ? /mask kernel: native \(@tally\/native/ : /mask kernel: wasm-simd \(WebAssembly SIMD; no native kernel: /);
    const c = await coordinator.done;
    expect(c.code, c.out).toBe(0);
    expect(c.out).toMatch(/task packaged: complete at round 3/);
    // Nothing ran through tsx or a TypeScript source.
    for (const r of [c, ...results]) expect(r.out).not.toMatch(/tsx|\.ts:\d|ERR_UNKNOWN_FILE_EXTENSION/);
    // The model moved toward the truth [2, -1, 0.5].
    const model = c.out.match(/final model: \[([^\]]+)\]/)![1]!.split(', ').map(Number);
    expect(model[0]!).toBeGreaterThan(1);
    expect(model[1]!).toBeLessThan(-0.4);
  });

  // Two consumers: every Tally package but ml with skipLibCheck off (our .d.ts checked in full),
  // and ml with skipLibCheck on (tsc --init's default): TensorFlow.js's own .d.ts files do
  // not pass a strict check (TS2411 in @tensorflow/tfjs-layers), which is not ours to fix.
  it.each([
    {
      name: 'consumer',
      skipLibCheck: false,
      code: `import { main, type TrainerFactory, type Trainer } from '@tally/cli';
import { startCoordinator, parseCoordinatorConfig, type Coordinator } from '@tally/coordinator';
import { startClientNode, type ClientNode, type TrainOutput } from '@tally/client';
import { generateIdentity, toHex } from '@tally/secagg';
import { encode, type TaskOffer } from '@tally/wire';

export const createTrainer: TrainerFactory = () => {
  const t: Trainer = {
    async train({ weights }): Promise<TrainOutput> {
      return { delta: new Float32Array(weights.length), weight: 1, metrics: [] };
    },
  };
  return t;
};
export const hex: string = toHex(generateIdentity().publicKey);
export const fns = [main, startCoordinator, parseCoordinatorConfig, startClientNode, encode];
export type Types = [Coordinator, ClientNode, TaskOffer];
`,
    },
    {
      name: 'consumer-ml',
      skipLibCheck: true,
      code: `import { initBackend, BACKEND_PREFERENCES } from '@tally/ml';
export const x = [initBackend, BACKEND_PREFERENCES];
`,
    },
  ])('a TypeScript consumer ($name) type-checks with module/moduleResolution nodenext and no special flags', async ({ name, skipLibCheck, code }) => {
    const dir = join(app, name);
    await mkdir(dir);
    const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck, types: ['node'] };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
    await writeFile(join(dir, 'index.ts'), code);
    // The workspace's tsc, run in the consumer's folder: it sees only what npm installed there.
    const r = await start(process.execPath, [TSC, '-p', 'tsconfig.json'], dir).done;
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});
