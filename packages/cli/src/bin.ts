#!/usr/bin/env node
/** Entry point of the `tally` command (see main.ts). */
import { processIo } from './io.ts';
import { main } from './main.ts';

const code = await main(process.argv.slice(2), processIo());
process.exitCode = code;
// Everything is closed by now; should a stray handle keep the event loop alive, do not hang.
setTimeout(() => process.exit(code), 5_000).unref();
