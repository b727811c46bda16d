/**
 * `tally console-token`: prints the coordinator's console token (made in its dataDir,
 * mode 0600, if the coordinator has not made it yet) and the console's address.
 * Whoever can run this can read the coordinator's files; that is the access rule.
 */
import { ensureConsoleToken, parseCoordinatorConfig } from '@tally/coordinator';
import { isConfigError, readJsonFile } from '../config-file.ts';
import { EXIT, UsageError, type ExitCode } from '../exit-codes.ts';
import type { Io } from '../io.ts';

export async function consoleToken(args: { readonly config: string }, io: Io): Promise<ExitCode> {
  const { json, baseDir } = await readJsonFile(args.config, 'coordinator config');
  let config;
  try {
    config = parseCoordinatorConfig(json, baseDir);
  } catch (err) {
    if (isConfigError(err)) throw new UsageError(`coordinator config ${args.config}: ${err.message}`);
    throw err;
  }
  const { token, file } = await ensureConsoleToken(config.dataDir);
  const { host, port, tls } = config.listen;
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${h}:${port}/`;
  io.out(token);
  io.err(`(from ${file}) open the console at ${url}#token=${token}`);
  io.err(`or send "Authorization: Bearer <token>" to ${url}status, ${url}metrics`);
  return EXIT.ok;
}
