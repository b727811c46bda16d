/**
 * `tally ledger`: what this shop's node agreed to and sent, in plain language, read
 * from its privacy ledger (`<stateDir>/ledger.jsonl`); `--json` for the summary as
 * JSON; `--serve` for the same as a page on a loopback port, until Ctrl-C.
 */
import { ConfigError, LEDGER_FILE, ledgerLines, parseClientConfig, readLedger, serveLedger, summariseLedger } from '@tally/client';
import { join } from 'node:path';
import { readJsonFile } from '../config-file.ts';
import { EXIT, UsageError, type ExitCode } from '../exit-codes.ts';
import type { Io } from '../io.ts';
import { clientStateDir } from '../state-dir.ts';

export interface LedgerArgs {
  readonly config: string;
  readonly json: boolean;
  readonly serve: boolean;
  readonly port?: string;
}

export async function ledger(args: LedgerArgs, io: Io): Promise<ExitCode> {
  const { json, baseDir } = await readJsonFile(args.config, 'client config');
  let stateDir: string | undefined;
  try {
    stateDir = parseClientConfig(json, baseDir).stateDir;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`client config ${args.config}: ${err.message}`);
    throw err;
  }
  const file = join(clientStateDir(args.config, stateDir), LEDGER_FILE);
  let port = 0;
  if (args.port !== undefined) {
    if (!/^\d{1,5}$/.test(args.port) || Number(args.port) > 65535) throw new UsageError(`--port: expected 0-65535, got ${JSON.stringify(args.port)}`);
    port = Number(args.port);
  }
  if (args.serve) {
    const page = await serveLedger({ path: file, port });
    io.out(`your ledger: ${page.url} (this machine only; Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      const off = io.onInterrupt(() => {
        off();
        resolve();
      });
    });
    await page.close();
    return EXIT.interrupted;
  }
  const { entries, torn } = await readLedger(file);
  const summary = summariseLedger(entries);
  if (args.json) {
    io.out(JSON.stringify({ file, torn, ...summary }));
    return EXIT.ok;
  }
  io.out(`Ledger ${file}${entries.length === 0 ? ' (no entries yet)' : ''}:`);
  for (const line of ledgerLines(summary)) io.out(`  ${line}`);
  if (torn) io.out('  (the last line was cut off by an interrupted write and is not counted)');
  return EXIT.ok;
}
