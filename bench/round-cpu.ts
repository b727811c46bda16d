/**
 * CPU time of the calling thread, for `bench/round.ts`: how much of a round each
 * thread actually computed, as opposed to waited. Read from Linux's
 * /proc/thread-self/schedstat (first field: nanoseconds on a CPU). Node 20 has no
 * per-thread CPU clock (process.threadCpuUsage came in 23.9), and event-loop
 * utilisation is no substitute here: on a machine with fewer cores than busy
 * threads it also counts the time a thread waited for a core.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

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

/** Garbage collections on the calling thread since `gcCounter()`: count by kind and pause time. */
export interface GcCount {
  /** Mark-compact (full) collections. */
  major: number;
  /** Scavenges and other minor collections. */
  minor: number;
  /** Main-thread pause, all kinds (the background threads' share is not in it). */
  ms: number;
}

/** Starts counting this thread's GCs (node:perf_hooks 'gc' entries); `read()` stops and returns the counts. */
export function gcCounter(): { read(): GcCount } {
  const c: GcCount = { major: 0, minor: 0, ms: 0 };
  const count = (e: PerformanceEntry): void => {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) c.major++;
    else c.minor++;
    c.ms += e.duration;
  };
  const obs = new PerformanceObserver((list) => list.getEntries().forEach(count));
  obs.observe({ entryTypes: ['gc'] });
  return {
    read: () => {
      obs.takeRecords().forEach(count);
      obs.disconnect();
      return { ...c };
    },
  };
}
