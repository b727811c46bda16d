/**
 * The browser for the console tests: Debian's `chromium`, driven by playwright-core
 * with an explicit executablePath (playwright-core never downloads a browser; .ci/run
 * installs the Debian package when it is missing). TALLY_CHROMIUM overrides the path.
 * Returns null when there is none, and the caller skips, except under CI=true,
 * where a missing browser is a failure.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const NAMES = ['chromium', 'chromium-browser'];

export function findChromium(): string | null {
  const forced = process.env['TALLY_CHROMIUM'];
  if (forced !== undefined && forced !== '') return existsSync(forced) ? forced : null;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    for (const n of NAMES) {
      const p = join(dir, n);
      if (dir !== '' && existsSync(p)) return p;
    }
  }
  return null;
}

export const IN_CI = process.env['CI'] === 'true';

/** The message a skipped or failed run prints. */
export const NO_BROWSER =
  'no chromium found (PATH or TALLY_CHROMIUM): the real-browser console test needs Debian\'s chromium: apt-get update && apt-get install -y chromium';
