import { describe, expect, it } from 'vitest';
import { createLogger, formatLogLine, formatStageLine } from './logger.ts';

describe('logger', () => {
  it('formats one line per stage', () => {
    expect(formatStageLine({ round: 3, stage: 'ShareKeys', expected: 10, answered: 9, drops: [{ id: 4, reason: 'no answer before the deadline' }], ms: 812.4 })).toBe(
      'round 3 stage ShareKeys: 9/10 answered (1 dropped: id 4 no answer before the deadline) in 812 ms',
    );
    expect(formatStageLine({ round: 1, stage: 'TaskOffer', expected: 4, answered: 4, drops: [], ms: 5, verb: 'accepted' })).toBe(
      'round 1 stage TaskOffer: 4/4 accepted in 5 ms',
    );
  });

  it('formats time, level, message and fields on one line', () => {
    const at = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6));
    expect(formatLogLine('warn', 'two\nlines', { id: 3, reason: 'no pong', path: '/a/b' }, at)).toBe(
      '2025-01-02T03:04:05.006Z WARN  two\\nlines id=3 reason="no pong" path=/a/b',
    );
    const lines: string[] = [];
    createLogger((l) => lines.push(l)).error('boom');
    expect(lines[0]).toMatch(/ ERROR boom$/);
  });
});
