/** Where a client node keeps its state (the privacy ledger): `stateDir` from its config, else `.tally-state/<config name>` beside the config. */
import { basename, dirname, extname, join, resolve } from 'node:path';

export function clientStateDir(configPath: string, configured: string | undefined): string {
  if (configured !== undefined) return configured;
  const file = resolve(configPath);
  return join(dirname(file), '.tally-state', basename(file, extname(file)));
}
