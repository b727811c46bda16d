import { describe, expect, it } from 'vitest';
import { ConfigError } from '@tally/client';
import { parseTrainerConfig } from './trainer-config.ts';

describe('parseTrainerConfig', () => {
  it('resolves the data path and fills defaults', () => {
    expect(parseTrainerConfig({ kind: 'linear-csv', data: 'd/shop.csv', target: 'demand' }, '/srv/tally')).toEqual({
      kind: 'linear-csv',
      data: '/srv/tally/d/shop.csv',
      target: 'demand',
      epochs: 5,
      lr: 0.05,
      batchSize: 32,
      seed: 1,
    });
  });

  it('reads the demand kind: the export path, the column mapping, the defaults', () => {
    const cols = { date: 'Datum', product: 'Artikel', units: 'Menge', price: 'Preis' };
    expect(parseTrainerConfig({ kind: 'demand', sales: 'data/b.csv', columns: cols, delimiter: ';' }, '/srv/tally')).toEqual({
      kind: 'demand',
      sales: '/srv/tally/data/b.csv',
      columns: cols,
      delimiter: ';',
      dateFormat: 'auto',
      epochs: 2,
      batchSize: 64,
      learningRate: 0.002,
      seed: 11,
    });
  });

  it.each([
    [undefined, 'trainer', /missing: the tally client needs a trainer/],
    [{ kind: 'tfjs' }, 'trainer.kind', /expected one of linear-csv/],
    [{ kind: 'linear-csv', target: 'y' }, 'trainer.data', /non-empty string/],
    [{ kind: 'linear-csv', data: 'a.csv', target: 'y', epochs: 0 }, 'trainer.epochs', /integer ≥ 1/],
    [{ kind: 'linear-csv', data: 'a.csv', target: 'y', lr: 0 }, 'trainer.lr', /number > 0/],
    [{ kind: 'linear-csv', data: 'a.csv', target: 'y', batchSize: 2.5 }, 'trainer.batchSize', /integer/],
    [{ kind: 'linear-csv', data: 'a.csv', target: 'y', epoch: 3 }, 'trainer.epoch', /unknown field/],
    [{ kind: 'demand', columns: { date: 'd', product: 'p', units: 'u' } }, 'trainer.sales', /non-empty string/],
    [{ kind: 'demand', sales: 's.csv' }, 'trainer.columns', /header names of your export/],
    [{ kind: 'demand', sales: 's.csv', columns: { date: 'd', product: 'p' } }, 'trainer.columns.units', /header name of the units column/],
    [{ kind: 'demand', sales: 's.csv', columns: { date: 'd', product: 'p', units: 'u', qty: 'q' } }, 'trainer.columns.qty', /unknown column role/],
    [{ kind: 'demand', sales: 's.csv', columns: { date: 'd', product: 'p', units: 'u' }, delimiter: ':' }, 'trainer.delimiter', /expected one of "auto", ","/],
    [{ kind: 'demand', sales: 's.csv', columns: { date: 'd', product: 'p', units: 'u' }, dateFormat: 'YY' }, 'trainer.dateFormat', /DD\.MM\.YYYY/],
    [{ kind: 'demand', sales: 's.csv', columns: { date: 'd', product: 'p', units: 'u' }, lr: 1 }, 'trainer.lr', /unknown field for kind "demand"/],
  ])('names the field for %j', (json, field, message) => {
    let err: unknown;
    try {
      parseTrainerConfig(json, '/x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
    expect((err as ConfigError).message).toMatch(message);
  });
});
