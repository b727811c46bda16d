import { describe, expect, it } from 'vitest';
import { isoDay } from './calendar.ts';
import { SalesCsvError, parseSalesCsv } from './sales-csv.ts';

const columns = { date: 'date', product: 'product', units: 'units', price: 'price', promo: 'promo' };

describe('parseSalesCsv', () => {
  it('reads a comma export with ISO dates', () => {
    const t = parseSalesCsv('date,product,units,price,promo\n2025-01-06,bread,12,2.49,0\n2025-01-06,milk,3,1.10,1\n', { columns, source: 's.csv' });
    expect(t.delimiter).toBe(',');
    expect(t.dateFormat).toBe('YYYY-MM-DD');
    expect(t.issues).toEqual([]);
    expect(t.records).toEqual([
      { line: 2, day: isoDay('2025-01-06'), product: 'bread', units: 12, price: 2.49, promo: 0 },
      { line: 3, day: isoDay('2025-01-06'), product: 'milk', units: 3, price: 1.1, promo: 1 },
    ]);
  });

  it('detects ";" and reads DD.MM.YYYY dates, decimal commas, yes/no flags, other column names and a BOM', () => {
    const text = '\uFEFFArtikel;Datum;Menge;Preis;Aktion\r\nbread;31.12.2024;4;2,49;ja\r\n"milk; 1 l";01.01.2025;2;1,10;\r\n';
    const t = parseSalesCsv(text, { columns: { date: 'Datum', product: 'Artikel', units: 'Menge', price: 'Preis', promo: 'Aktion' }, source: 'b.csv' });
    expect(t.delimiter).toBe(';');
    expect(t.dateFormat).toBe('DD.MM.YYYY');
    expect(t.records.map((r) => [r.day, r.product, r.units, r.price, r.promo])).toEqual([
      [isoDay('2024-12-31'), 'bread', 4, 2.49, 1],
      [isoDay('2025-01-01'), 'milk; 1 l', 2, 1.1, 0],
    ]);
  });

  it('reports bad lines with their line numbers and keeps the good ones', () => {
    const text = ['date,product,units,price,promo', '2025-01-06,bread,12,2.49,0', '2025-02-30,bread,1,2.49,0', '2025-01-07,bread,-2,2.49,0', '2025-01-07,,2,2.49,0', '2025-01-07,milk,2,free,0', '2025-01-07,milk,2,1.1,maybe', '2025-01-07,milk', '2025-01-08,milk,2,1.1,0'].join('\n');
    const t = parseSalesCsv(text, { columns, source: 's.csv' });
    expect(t.records.map((r) => r.line)).toEqual([2, 9]);
    expect(t.issues.map((i) => [i.kind, i.line])).toEqual([
      ['bad-row', 3],
      ['bad-row', 4],
      ['bad-row', 5],
      ['bad-row', 6],
      ['bad-row', 7],
      ['bad-row', 8],
    ]);
    expect(t.issues[0]!.message).toMatch(/date "2025-02-30" is not YYYY-MM-DD/);
    expect(t.issues[1]!.message).toMatch(/units "-2" is not a number ≥ 0/);
  });

  it('a set date format wins over the guess (MM/DD/YYYY)', () => {
    const t = parseSalesCsv('date|product|units\n01/02/2025|bread|3\n', { columns: { date: 'date', product: 'product', units: 'units' }, dateFormat: 'MM/DD/YYYY', source: 's.csv' });
    expect(t.delimiter).toBe('|');
    expect(t.records[0]!.day).toBe(isoDay('2025-01-02'));
    expect(t.records[0]!.price).toBeNull();
    expect(t.records[0]!.promo).toBeNull();
  });

  it('refuses a missing column, naming the config field and the header it found', () => {
    expect(() => parseSalesCsv('Datum;Artikel;Menge\n01.01.2025;bread;2\n', { columns, source: 'b.csv' })).toThrow(
      /no column "date" \(trainer\.columns\.date\); the header \(delimiter ";"\) has "Datum", "Artikel", "Menge"/,
    );
  });

  it('refuses an export without a usable line, or without a delimiter', () => {
    expect(() => parseSalesCsv('date,product,units,price,promo\n', { columns, source: 's.csv' })).toThrow(SalesCsvError);
    expect(() => parseSalesCsv('date,product,units,price,promo\nx,bread,1,1,0\n', { columns, source: 's.csv' })).toThrow(/no usable sales line; line 2: date "x"/);
    expect(() => parseSalesCsv('sales\n1\n', { columns, source: 's.csv' })).toThrow(/none of the delimiters/);
  });
});
