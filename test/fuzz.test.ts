/**
 * The coordinator under a fuzzing client, while honest clients run their rounds
 * (fuzz-harness.ts). CI-sized: a fixed seed and a few hundred frames; `pnpm fuzz`
 * runs the same harness for longer.
 */
import { describe, expect, it } from 'vitest';
import { FRAME_KINDS, FUZZED_STAGES, formatReport, runFuzz } from './fuzz-harness.ts';

describe('fuzzing the coordinator during rounds', () => {
  it('answers every hostile frame with a notice or a mapped close, and the rounds commit for the honest clients', async () => {
    const report = await runFuzz({ seed: 20_240_601, frames: 360 });
    const summary = formatReport(report).join('\n');
    expect(report.violations, summary).toEqual([]);
    expect(report.crashes, summary).toBe(0);
    expect(report.framesTried).toBe(360);
    expect(report.committed).toBe(report.rounds);
    expect(report.aborted).toBe(0);
    // Every stage got frames, and the mix exercised every kind and both outcomes.
    for (const stage of FUZZED_STAGES) expect(report.byStage[stage], stage).toBeGreaterThan(0);
    for (const kind of FRAME_KINDS) expect(report.byKind[kind]?.frames ?? 0, kind).toBeGreaterThan(0);
    expect(report.reconnects).toBeGreaterThan(0);
    expect(Object.keys(report.noticesByCode).length).toBeGreaterThan(0);
  });
});
