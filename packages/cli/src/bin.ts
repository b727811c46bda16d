#!/usr/bin/env node
/** Entry point of the `tally` command (see main.ts). */
import { EXIT } from './exit-codes.ts';
import { exitCodeFor, processIo } from './io.ts';
import { main } from './main.ts';

const io = processIo();
const result = await main(process.argv.slice(2), io);
// Commands report "interrupted"; the exit code says which signal (SIGTERM → 143).
const signal = io.signal();
const code = result === EXIT.interrupted && signal !== null ? exitCodeFor(signal) : result;
process.exitCode = code;
// Everything is closed by now; should a stray handle keep the event loop alive, do not hang.
setTimeout(() => process.exit(code), 5_000).unref();
