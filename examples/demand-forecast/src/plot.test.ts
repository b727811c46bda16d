import { describe, expect, it } from 'vitest';
import { esc, lineChartSvg, lossChartSvg } from './plot.ts';

describe('plots', () => {
  it('draws axes, ticks, a legend entry per series, and escapes text', () => {
    const svg = lineChartSvg({
      title: 'A & B <test>',
      xLabel: 'round',
      yLabel: 'loss',
      series: [
        { name: 'first', points: [[0, 1], [1, 0.5], [2, 0.25]], color: '#000' },
        { name: 'second', points: [[0, 2], [2, 1]], color: '#f00', dashed: true, right: true },
      ],
    });
    expect(svg).toContain('A &amp; B &lt;test&gt;');
    expect(svg).toContain('>first</text>');
    expect(svg).toContain('>second (right axis)</text>');
    expect(svg).toContain('stroke-dasharray');
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    expect(esc('"x"')).toBe('&quot;x&quot;');
  });

  it('refuses an empty chart', () => {
    expect(() => lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [] })).toThrow(/no points/);
  });

  it('plots losses and test WAPE per round', () => {
    const svg = lossChartSvg([
      { round: 1, lossBefore: 2, lossAfter: 0.5, totalWeight: 10, validationWape: 0.45, testWape: 0.4, seconds: 1 },
      { round: 2, lossBefore: 0.6, lossAfter: 0.4, totalWeight: 10, validationWape: 0.41, testWape: 0.35, seconds: 1 },
    ]);
    expect(svg).toContain('validation WAPE of the new global model (chooses the round) (right axis)');
    expect(svg).toContain('test WAPE of the new global model (diagnostic only) (right axis)');
    expect(svg).toContain('>round</text>');
  });
});
