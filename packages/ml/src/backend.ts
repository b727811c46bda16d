/**
 * Backend choice. Order: `tfjs-node` (native libtensorflow; an optional dependency whose
 * install downloads libtensorflow, which some networks block), then
 * `@tensorflow/tfjs-backend-wasm` (the .wasm binaries ship inside the npm package),
 * then the pure-JS `cpu` backend. The choice is logged with the reason each skipped
 * backend was unavailable, and returned.
 *
 * One backend per process: the first successful call fixes it and later calls return
 * the same choice (tfjs keeps one global engine; tfjs-node cannot be unloaded).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { tf } from './tf.ts';
import { consoleLogger, type MlLogger } from './logger.ts';

export const BACKEND_PREFERENCES = ['auto', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

/** What runs, in tfjs's own name (`tensorflow` for tfjs-node, `wasm`, `cpu`), and why. */
export interface BackendChoice {
  readonly backend: string;
  readonly reason: string;
}

export interface InitBackendOptions {
  /** 'auto' (default) = tfjs-node, else wasm, else cpu. A named backend is tried first, then the rest of that order. */
  readonly prefer?: BackendPreference;
  readonly logger?: MlLogger;
  /**
   * Folder holding the `tfjs-backend-wasm*.wasm` binaries, as a file path. Default: the
   * `dist/` folder of the installed `@tensorflow/tfjs-backend-wasm`. (Tests point it at
   * an empty folder to force the wasm backend to fail.)
   */
  readonly wasmDir?: string;
}

type Candidate = 'tfjs-node' | 'wasm' | 'cpu';

const ORDER: Readonly<Record<BackendPreference, readonly Candidate[]>> = {
  auto: ['tfjs-node', 'wasm', 'cpu'],
  'tfjs-node': ['tfjs-node', 'wasm', 'cpu'],
  wasm: ['wasm', 'cpu'],
  cpu: ['cpu'],
};

const require = createRequire(import.meta.url);
let chosen: Promise<BackendChoice> | undefined;

/** Picks and initialises the tfjs backend once per process; see the file comment. */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const prefer = options.prefer ?? 'auto';
  if (!BACKEND_PREFERENCES.includes(prefer)) {
    throw new TypeError(`initBackend: expected prefer in ${BACKEND_PREFERENCES.join('|')}, got ${String(prefer)}`);
  }
  const logger = options.logger ?? consoleLogger;
  if (chosen !== undefined) {
    return chosen.then((c) => {
      logger.info(`ml: backend already initialised: ${c.backend} (${c.reason})`);
      return c;
    });
  }
  const run = choose(ORDER[prefer], options.wasmDir, logger);
  chosen = run;
  // A failed choice (cpu failing is not expected) must not pin the process.
  run.catch(() => {
    if (chosen === run) chosen = undefined;
  });
  return run;
}

/** The backend tfjs runs now, or undefined before initBackend. */
export function currentBackend(): string | undefined {
  return chosen === undefined ? undefined : tf.getBackend();
}

async function choose(order: readonly Candidate[], wasmDir: string | undefined, logger: MlLogger): Promise<BackendChoice> {
  const skipped: string[] = [];
  for (const candidate of order) {
    let detail: string;
    try {
      detail = await tryBackend(candidate, wasmDir);
    } catch (err) {
      const why = oneLine(err);
      skipped.push(`${candidate} unavailable: ${why}`);
      logger.warn(`ml: backend ${candidate} unavailable: ${why}`);
      continue;
    }
    const backend = tf.getBackend();
    const reason = [detail, ...skipped].join('; ');
    logger.info(`ml: using backend ${backend}: ${reason}`);
    return { backend, reason };
  }
  throw new Error(`ml: no tfjs backend could be initialised (${skipped.join('; ')})`);
}

async function tryBackend(candidate: Candidate, wasmDir: string | undefined): Promise<string> {
  switch (candidate) {
    case 'tfjs-node':
      return tryTfjsNode();
    case 'wasm':
      return tryWasm(wasmDir);
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") returned false');
      await tf.ready();
      return 'cpu: pure-JS kernels, always available';
  }
}

async function tryTfjsNode(): Promise<string> {
  let pkgDir: string;
  try {
    pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    throw new Error('@tensorflow/tfjs-node is not installed (it is an optional dependency)');
  }
  // Look for the native addon before importing: importing without it loads all of
  // @tensorflow/tfjs (webgl, converter, data) only to fail.
  const libDir = path.join(pkgDir, 'lib');
  const hasAddon =
    existsSync(libDir) &&
    readdirSync(libDir).some((d) => d.startsWith('napi-v') && existsSync(path.join(libDir, d, 'tfjs_binding.node')));
  if (!hasAddon) {
    throw new Error(
      'the native addon (lib/napi-v*/tfjs_binding.node) is missing: its install script could not download libtensorflow',
    );
  }
  // A variable specifier: the optional package need not be there for the type-check.
  const specifier = '@tensorflow/tfjs-node';
  await import(specifier);
  if (!(await tf.setBackend('tensorflow'))) throw new Error('tf.setBackend("tensorflow") returned false');
  await tf.ready();
  return 'tensorflow: native libtensorflow via @tensorflow/tfjs-node';
}

/** Emscripten listeners that rethrow; the wasm glue installs them when it starts in Node. */
type ProcessEvent = 'uncaughtException' | 'unhandledRejection';
const PROCESS_EVENTS: readonly ProcessEvent[] = ['uncaughtException', 'unhandledRejection'];

async function tryWasm(wasmDir: string | undefined): Promise<string> {
  const dir = wasmDir ?? path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  const binaries = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];
  const missing = binaries.filter((b) => !existsSync(path.join(dir, b)));
  if (missing.length === binaries.length) {
    throw new Error(`no wasm binaries in ${dir} (expected ${binaries.join(' or ')})`);
  }
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // A file-path prefix (not a URL): the Emscripten glue reads it with fs.readFile in Node.
  wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(PROCESS_EVENTS.map((e) => [e, new Set(emitter.listeners(e))] as const));
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
    if (ok) await tf.ready();
  } finally {
    // The Emscripten glue adds process listeners that rethrow every uncaught exception and
    // unhandled rejection, which would take error handling away from the host (vitest,
    // the CLI). Node's own defaults already do that, so removing them changes nothing else.
    for (const event of PROCESS_EVENTS) {
      const old = before.get(event);
      for (const l of emitter.listeners(event)) {
        if (!old?.has(l) && isEmscriptenRethrow(l)) emitter.removeListener(event, l as (...args: unknown[]) => void);
      }
    }
  }
  if (!ok) throw new Error(`the wasm module did not initialise from ${dir} (tfjs logged why above)`);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return `wasm: binaries from ${dir} (${simd === true ? 'SIMD' : 'no SIMD'}, ${wasm.getThreadsCount()} thread(s))`;
}

/** Emscripten's listeners are `function(ex){if(!(ex instanceof ExitStatus)){throw ex}}` and `function(reason){throw reason}`. */
function isEmscriptenRethrow(listener: unknown): boolean {
  const src = String(listener);
  return src.includes('ExitStatus') || /^function\s*\(reason\)\s*\{\s*throw reason\s*\}$/.test(src);
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n')[0] ?? msg;
  return first.length > 300 ? `${first.slice(0, 300)}…` : first;
}
