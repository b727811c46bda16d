import { describe, expect, it } from 'vitest';
import { createLinearTrainer, datasetFromTable, meanSquaredError, type Dataset } from './linear-trainer.ts';
import { CsvError, parseNumericCsv } from './csv.ts';

/** y = 2·a − 3·b + 0.5 + small noise, deterministic. */
function synthetic(rows: number): Dataset {
  const lines = ['a,b,y'];
  for (let i = 0; i < rows; i++) {
    const a = Math.sin(i * 1.3);
    const b = Math.cos(i * 0.7) * 0.8;
    const noise = 0.01 * Math.sin(i * 12.9898);
    lines.push(`${a},${b},${2 * a - 3 * b + 0.5 + noise}`);
  }
  return datasetFromTable(parseNumericCsv(lines.join('\n'), 'synthetic.csv'), 'y', 'synthetic.csv');
}

describe('linear trainer', () => {
  it('reduces the loss on synthetic data, round after round, towards the true weights', async () => {
    const data = synthetic(200);
    const trainer = createLinearTrainer(data, { epochs: 3, lr: 0.05, batchSize: 16 });
    let w = new Float32Array(3);
    const losses = [meanSquaredError(w, data)];
    for (let round = 1; round <= 4; round++) {
      const out = await trainer.train({ taskId: 't', round, weights: w });
      expect(out.weight).toBe(200);
      expect(out.delta).toBeInstanceOf(Float32Array);
      expect(out.delta.length).toBe(3);
      expect(out.metrics).toEqual([losses[round - 1]]); // the loss of the model it was given
      w = Float32Array.from(w, (v, i) => v + out.delta[i]!);
      losses.push(meanSquaredError(w, data));
    }
    for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThan(losses[i - 1]!);
    expect(losses.at(-1)!).toBeLessThan(1e-3);
    expect(Array.from(w, (v) => Number(v.toFixed(1)))).toEqual([2, -3, 0.5]);
  });

  it('is reproducible for a given seed and round', async () => {
    const data = synthetic(50);
    const a = await createLinearTrainer(data, { seed: 7 }).train({ taskId: 't', round: 3, weights: new Float32Array(3) });
    const b = await createLinearTrainer(data, { seed: 7 }).train({ taskId: 't', round: 3, weights: new Float32Array(3) });
    expect(a.delta).toEqual(b.delta);
  });

  it('says how to fix a model of the wrong length', async () => {
    const trainer = createLinearTrainer(synthetic(10));
    await expect(trainer.train({ taskId: 't', round: 1, weights: new Float32Array(5) })).rejects.toThrow(
      /model has 5 weights, but synthetic\.csv has 2 feature columns \(a, b\) plus a bias, 3: set task\.modelLength to 3/,
    );
  });

  it('refuses to report a diverged update', async () => {
    const trainer = createLinearTrainer(synthetic(50), { lr: 1e6, epochs: 20 });
    await expect(trainer.train({ taskId: 't', round: 1, weights: new Float32Array(3) })).rejects.toThrow(/diverged .*lower trainer\.lr/);
  });

  it('refuses bad options', () => {
    expect(() => createLinearTrainer(synthetic(5), { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => createLinearTrainer(synthetic(5), { lr: -1 })).toThrow(/lr/);
  });
});

describe('numeric CSV', () => {
  it('reads a header and rows, skipping blank lines and CRLF', () => {
    const t = parseNumericCsv('"price",demand\r\n1.5,2\r\n\r\n-3e-2, 4 \r\n', 'f.csv');
    expect(t.columns).toEqual(['price', 'demand']);
    expect(t.rows).toBe(2);
    expect(Array.from(t.values)).toEqual([1.5, 2, -0.03, 4]);
  });

  it.each([
    ['', /f\.csv: empty/],
    ['a,a\n1,2', /f\.csv:1: column "a" appears twice/],
    ['a,\n1,2', /f\.csv:1: column 2 has no name/],
    ['a,b\n1,2\n3', /f\.csv:3: expected 2 values .* got 1/],
    ['a,b\n1,x', /f\.csv:2: column "b": expected a finite number, got "x"/],
    ['a,b\n1,', /f\.csv:2: column "b": expected a finite number, got an empty value/],
    ['a,b\n1,Infinity', /expected a finite number/],
  ])('names the line and column of %j', (text, message) => {
    expect(() => parseNumericCsv(text, 'f.csv')).toThrow(CsvError);
    expect(() => parseNumericCsv(text, 'f.csv')).toThrow(message);
  });

  it('splits features and target', () => {
    const d = datasetFromTable(parseNumericCsv('x1,y,x2\n1,2,3\n4,5,6', 'f.csv'), 'y', 'f.csv');
    expect(d.features).toEqual(['x1', 'x2']);
    expect(Array.from(d.x)).toEqual([1, 3, 4, 6]);
    expect(Array.from(d.y)).toEqual([2, 5]);
    expect(() => datasetFromTable(parseNumericCsv('y\n1', 'f.csv'), 'y', 'f.csv')).toThrow(/at least one feature/);
    expect(() => datasetFromTable(parseNumericCsv('x,y', 'f.csv'), 'y', 'f.csv')).toThrow(/no data rows/);
  });
});
