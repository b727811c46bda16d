/**
 * The console's static files: plain HTML, CSS and JS in the package's `console/`
 * folder (no build step), and uPlot's own dist files from its npm package. Found
 * relative to this module, so the same lookup works from `src/` (development) and
 * from a built `dist/` (installed): both sit two levels below the package root.
 * Only the files in ASSETS are served; nothing else in those folders is reachable.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** URL path -> where the file comes from. */
const ASSETS: Readonly<Record<string, { readonly from: 'console' | 'uplot'; readonly file: string; readonly type: string }>> = {
  '/': { from: 'console', file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { from: 'console', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/style.css': { from: 'console', file: 'style.css', type: 'text/css; charset=utf-8' },
  '/console/uplot.js': { from: 'uplot', file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/console/uplot.css': { from: 'uplot', file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};

/** The package's `console/` folder: `<package>/console`, two levels above this file in src/ or dist/. */
export function consoleDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = join(here, '..', '..', 'console');
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`the console's files are missing: expected ${dir}/index.html (is the package installed whole?)`);
  return dir;
}

/** uPlot's `dist/` folder, resolved from this package like an import would. */
export function uplotDir(): string {
  return dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
}

export function isAsset(path: string): boolean {
  return Object.hasOwn(ASSETS, path);
}

/** Reads the files once; call at start so a broken install fails at start, not on first view. */
export async function loadAssets(): Promise<ReadonlyMap<string, Asset>> {
  const dirs = { console: consoleDir(), uplot: uplotDir() };
  const out = new Map<string, Asset>();
  for (const [path, a] of Object.entries(ASSETS)) out.set(path, { type: a.type, body: await readFile(join(dirs[a.from], a.file)) });
  return out;
}
