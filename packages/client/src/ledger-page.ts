/**
 * The ledger as a local web page for the shop owner: `tally ledger --serve`. Listens
 * on a loopback address only (the ledger is the shop's business, not its network's);
 * `/` is the summary and the round table, `/ledger.json` the same as JSON. Re-reads
 * the file on every request, so it always shows what is on disk.
 */
import { createServer, type Server } from 'node:http';
import { readLedger } from './ledger.ts';
import { ledgerLines, summariseLedger } from './ledger-summary.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface LedgerPage {
  readonly url: string;
  close(): Promise<void>;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function serveLedger(opts: { readonly path: string; readonly host?: string; readonly port?: number }): Promise<LedgerPage> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new RangeError(`the ledger page listens on loopback only (127.0.0.1, ::1 or localhost), got ${host}`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (path !== '/' && path !== '/ledger.json')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
      return;
    }
    readLedger(opts.path).then(
      ({ entries }) => {
        const summary = summariseLedger(entries);
        if (path === '/ledger.json') {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(summary));
          return;
        }
        const rows = summary.rounds
          .map(
            (r) =>
              `<tr><td>${r.round}</td><td>${esc(r.decision ?? '')}${r.reason ? `: ${esc(r.reason)}` : ''}</td><td>${r.contributed ? 'yes' : 'no'}</td><td>${r.survivors?.length ?? ''}</td>` +
              `<td>${r.selfMaskSharesOf.length} / ${r.keySharesOf.length}</td><td>${esc(r.status ?? '')}</td><td><code>${esc((r.maskedInputSha256 ?? '').slice(0, 16))}</code></td></tr>`,
          )
          .join('');
        const html = `<!doctype html><meta charset="utf-8"><title>Your Tally ledger</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.2rem .6rem;text-align:left}</style>
<h1>What this shop's node did</h1><ul>${ledgerLines(summary).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
<h2>Rounds</h2><table><tr><th>round</th><th>offer</th><th>sent a masked update</th><th>shops in the sum</th><th>shares revealed (self-mask / mask-key)</th><th>result</th><th>masked update SHA-256</th></tr>${rows}</table>
<p>Ledger file: <code>${esc(opts.path)}</code></p>`;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" }).end(html);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`cannot read the ledger: ${(err as Error).message}`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
