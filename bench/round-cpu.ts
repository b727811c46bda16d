/**
 * CPU time of the calling thread, for `bench/round.ts`: how much of a round each
 * thread actually computed, as opposed to waited. Read from Linux's
 * /proc/thread-self/schedstat (first field: nanoseconds on a CPU). Node 20 has no
 * per-thread CPU clock (process.threadCpuUsage came in 23.9), and event-loop
 * utilisation is no substitute here: on a machine with fewer cores than busy
 * threads it also counts the time a thread waited for a core.
 */
import { readFileSync } from 'node:fs';

/** Milliseconds this thread has run on a CPU, or null where /proc is not available. */
export function threadCpuMs(): number | null {
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : null;
  } catch {
    return null;
  }
}

/** Milliseconds the whole process (every thread) has run on a CPU. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
