/**
 * The operator console in a real browser (Debian's chromium via playwright-core):
 * the page loads with the token and is refused without it, the round counter
 * advances during real rounds, a chart draws, an enrolled shop that is not
 * connected shows as absent, and every request the page makes goes to the
 * coordinator (the Content-Security-Policy would block others; none is attempted).
 *
 * Without chromium the test is skipped with a message, except under CI=true, where
 * it fails: .ci/run installs the browser.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IN_CI, NO_BROWSER, findChromium } from './_browser.ts';
import { cleanup, onCleanup, startNode, startTestCoordinator } from './_helpers.ts';

afterEach(cleanup);

/**
 * What the page-side predicates use of the DOM, typed here (the workspace type-checks
 * without the DOM library). They are passed as functions: the console's CSP forbids
 * eval, so string predicates would be refused, as they should be.
 */
interface PageCanvas {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { readonly data: Uint8ClampedArray } } | null;
}
interface PageDocument {
  querySelector(selector: string): (PageCanvas & { getAttribute(name: string): string | null }) | null;
}

const chromiumPath = findChromium();
if (chromiumPath === null && !IN_CI) console.warn(`test/console.browser.test.ts skipped: ${NO_BROWSER}`);

describe.skipIf(chromiumPath === null && !IN_CI)('operator console in chromium', () => {
  it('loads with the token, refuses without it, advances the round, draws a chart, shows the absent shop, talks only to the coordinator', async () => {
    if (chromiumPath === null) throw new Error(NO_BROWSER);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    onCleanup(() => browser.close());

    // Four enrolled shops, three will connect: shop-4 stays absent.
    const s = await startTestCoordinator({ n: 4, task: { rounds: 3, cohortSize: 3, minClients: 3, threshold: 2 } });
    const origin = `http://127.0.0.1:${s.coordinator.port}`;
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const requests: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });

    // Refused without the token: the page shows the token form and the API answers 401.
    await page.goto(`${origin}/`);
    await page.locator('#auth').waitFor({ state: 'visible' });
    expect(await page.locator('#app').isHidden()).toBe(true);
    const refused = await page.evaluate(async () => (await fetch('/api/state')).status);
    expect(refused).toBe(401);
    // A wrong token is refused too, and the page says so.
    await page.goto(`${origin}/#token=not-the-token-not-the-token-not-the-token`);
    await page.locator('#auth-why').filter({ hasText: 'refused' }).waitFor();

    // With the token (in the fragment, which the page then removes from the address bar).
    await page.goto(s.coordinator.console.link);
    await page.locator('#app').waitFor({ state: 'visible' });
    expect(page.url()).toBe(`${origin}/`);
    await page.locator('#live', { hasText: 'live' }).waitFor();
    expect(await page.locator('#round').textContent()).toBe('1 / 3');
    expect(await page.locator('[data-setting="graph"]').textContent()).toBe('complete, k = 2');
    expect(await page.locator('[data-setting="threshold t"]').textContent()).toBe('2');
    expect(await page.locator('#shops tbody tr').count()).toBe(4);

    // Real rounds: three shops connect; the counter advances while the page is open.
    for (const id of s.ids.slice(0, 3)) startNode(s.coordinator.url, id);
    await page.waitForFunction(() => Number((globalThis as unknown as { document: PageDocument }).document.querySelector('#round')?.getAttribute('data-round')) >= 2);
    await page.waitForFunction(() => (globalThis as unknown as { document: PageDocument }).document.querySelector('#round')?.getAttribute('data-last-committed') === '3');
    expect(await page.locator('#stage').textContent()).toBe('complete');

    // The absent shop shows as absent, the others as connected with their rounds.
    const absent = page.locator('#shops tr[data-shop-id="4"]');
    expect(await absent.getAttribute('class')).toBe('absent');
    expect(await absent.locator('td').nth(2).textContent()).toBe('absent');
    expect(await absent.locator('td').nth(4).textContent()).toBe('0');
    expect(await page.locator('#shops tr[data-shop-id="1"] td').nth(4).textContent()).toBe('3');

    // A chart draws: the loss chart's canvas has painted pixels.
    const painted = await page.waitForFunction(() => {
      const c = (globalThis as unknown as { document: PageDocument }).document.querySelector('#chart-metric-loss canvas');
      const ctx = c?.getContext('2d');
      if (!c || !ctx || c.width === 0) return 0;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n > 500 ? n : 0;
    });
    expect(await painted.jsonValue()).toBeGreaterThan(500);
    expect(await page.locator('#history tbody tr').count()).toBe(3);

    // Audit search, and the model download.
    await page.fill('#audit-q', 'committed');
    await page.click('#audit-form button');
    await page.locator('#audit-count', { hasText: '3 record(s)' }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-model')]);
    expect(download.suggestedFilename()).toBe('test-task-round-3.f32');

    // Every request went to the coordinator (blob: URLs carry its origin), and the CSP blocked nothing.
    expect(requests.length).toBeGreaterThan(5);
    for (const u of requests) expect(new URL(u).origin, u).toBe(origin);
    expect(violations).toEqual([]);
    await context.close();
  });
});
