import { describe, expect, it } from 'vitest';
import { createCliLogger, parseLogFormat } from './log.ts';

describe('CLI logger', () => {
  it('text: one readable line per event, fields as key=value', () => {
    const lines: string[] = [];
    const log = createCliLogger((l) => lines.push(l), 'coordinator');
    log.info('round 3 committed', { survivors: 3, note: 'two words' });
    log.debug('hidden');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z INFO  coordinator round 3 committed survivors=3 note="two words"$/);
  });

  it('json (pino): one JSON object per line with level, ISO time, component, msg and the fields', () => {
    const lines: string[] = [];
    const log = createCliLogger((l) => lines.push(l), 'client', 'debug', 'json');
    log.debug('a\nb');
    log.warn('round 2 aborted', { round: 2 });
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).not.toContain('\n');
    const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({ level: 'debug', component: 'client', msg: 'a\nb' });
    expect(b).toMatchObject({ level: 'warn', component: 'client', msg: 'round 2 aborted', round: 2 });
    expect(Number.isNaN(Date.parse(b!['time'] as string))).toBe(false);
  });

  it('json drops lines below the level', () => {
    const lines: string[] = [];
    createCliLogger((l) => lines.push(l), 'client', 'info', 'json').debug('hidden');
    expect(lines).toEqual([]);
  });

  it('--log-format accepts text and json only', () => {
    expect(parseLogFormat(undefined)).toBe('text');
    expect(parseLogFormat('json')).toBe('json');
    expect(() => parseLogFormat('xml')).toThrow(/--log-format: expected text or json, got "xml"/);
  });
});
