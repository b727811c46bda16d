/** `tally keygen`: a fresh identity key pair for one client, and its enrolment entry. */
import { basename, extname, resolve } from 'node:path';
import { generateIdentity, toHex } from '@tally/secagg';
import { EXIT, RuntimeError, UsageError, type ExitCode } from '../exit-codes.ts';
import { CLIENT_NAME, EnrolmentFileError, nextEntry, readEnrolmentEntries, writeEnrolmentEntries } from '../enrolment-file.ts';
import { KeyFileError, writeKeyFile } from '../key-file.ts';
import type { Io } from '../io.ts';

export interface KeygenArgs {
  readonly out: string;
  readonly force: boolean;
  readonly name?: string;
  readonly enrol?: string;
}

export async function keygen(args: KeygenArgs, io: Io): Promise<ExitCode> {
  const name = args.name ?? basename(args.out, extname(args.out));
  if (!CLIENT_NAME.test(name)) throw new UsageError(`--name: expected 1-128 printable ASCII characters, got ${JSON.stringify(name)}`);
  const pair = generateIdentity();
  const publicKey = toHex(pair.publicKey);
  const outPath = resolve(args.out);

  // Check the enrolment file before writing the key, so a bad one leaves nothing behind.
  let enrol: { path: string; entries: Awaited<ReturnType<typeof readEnrolmentEntries>> } | null = null;
  if (args.enrol !== undefined) {
    const path = resolve(args.enrol);
    try {
      enrol = { path, entries: await readEnrolmentEntries(path) };
      nextEntry(enrol.entries, name, publicKey, args.enrol);
    } catch (err) {
      if (err instanceof EnrolmentFileError) throw new UsageError(`--enrol: ${err.message}`);
      throw err;
    }
  }

  try {
    await writeKeyFile(outPath, pair, args.force);
  } catch (err) {
    if (err instanceof KeyFileError) throw new RuntimeError(err.message);
    throw new RuntimeError(`cannot write ${args.out}: ${(err as Error).message}`);
  }
  io.out(`wrote ${args.out} (mode 0600): keep it secret, it proves this client's identity`);
  io.out(`public key: ${publicKey}`);

  if (enrol !== null) {
    const entry = nextEntry(enrol.entries, name, publicKey, args.enrol!);
    await writeEnrolmentEntries(enrol.path, [...enrol.entries, entry]);
    io.out(`enrolled ${JSON.stringify(name)} as client ${entry.id} in ${args.enrol}`);
  } else {
    io.out(`enrolment entry for the coordinator's enrolment file (pick an id no other client has):`);
    io.out(`  ${JSON.stringify({ id: 1, name, publicKey })}`);
  }
  return EXIT.ok;
}
