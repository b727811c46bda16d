/**
 * Takes docs/console.png: runs `tally simulate` (the demo), opens the console it
 * prints in Debian's chromium, waits for a few committed rounds and screenshots the
 * page mid-run. A tool, not a test: `pnpm exec tsx test/console-screenshot.ts [OUT]`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { NO_BROWSER, findChromium } from './_browser.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const out = process.argv[2] ?? join(ROOT, 'docs', 'console.png');
const executablePath = findChromium();
if (executablePath === null) throw new Error(NO_BROWSER);

const work = await mkdtemp(join(tmpdir(), 'tally-screenshot-'));
const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(ROOT, 'packages/cli/src/bin.ts'), 'simulate', '--shops', '10', '--rounds', '10', '--dropout', '0.1', '--dropout-stage', 'MaskedInput', '--out', join(work, 'out')],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } },
);
let stdout = '';
const link = await new Promise<string>((resolve, reject) => {
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    process.stdout.write(d);
    stdout += d;
    const m = /open (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(stdout);
    if (m) resolve(m[1]!);
  });
  child.once('exit', (code) => reject(new Error(`simulate exited (${code}) before printing the console address`)));
});

const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(link);
  // A function, not a string: the console's CSP forbids eval. Typed without the DOM library.
  await page.waitForFunction(
    () => Number((globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string | null } | null } }).document.querySelector('#round')?.getAttribute('data-last-committed')) >= 4,
    undefined,
    { timeout: 600_000 },
  );
  await page.waitForTimeout(1500); // let the charts settle after the last push
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  child.kill('SIGINT');
  await rm(work, { recursive: true, force: true });
}
