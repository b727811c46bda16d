import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, toHex } from '@tally/secagg';
import { ConfigError } from './_assert.ts';
import { loadEnrolment, parseEnrolment } from './enrolment.ts';
import { cleanup, tempDir } from './_test-setup.ts';

afterEach(cleanup);

const keyA = toHex(generateIdentity().publicKey);
const keyB = toHex(generateIdentity().publicKey);

describe('enrolment', () => {
  it('loads clients and finds them by id and by key (either hex case)', async () => {
    const path = join(await tempDir(), 'clients.json');
    await writeFile(path, JSON.stringify({ clients: [{ id: 1, name: 'shop-a', publicKey: keyA.toUpperCase() }, { id: 7, name: 'shop b', publicKey: keyB }] }));
    const e = await loadEnrolment(path);
    expect(e.clients.map((c) => c.id)).toEqual([1, 7]);
    expect(e.byId(7)?.name).toBe('shop b');
    expect(e.byKey(Buffer.from(keyA, 'hex'))?.id).toBe(1);
    expect(e.byKey(new Uint8Array(32))).toBeUndefined();
  });

  const ok = { id: 1, name: 'shop-a', publicKey: keyA };
  const cases: [string, unknown, string, RegExp][] = [
    ['not an object', [], '', /expected an object, got an array/],
    ['no clients', { clients: [] }, 'clients', /expected 1 to 100000 entries, got 0/],
    ['unknown key', { clients: [{ ...ok, role: 'x' }] }, 'clients[0].role', /unknown key/],
    ['id zero', { clients: [{ ...ok, id: 0 }] }, 'clients[0].id', /expected an integer in \[1, 2147483648\], got 0/],
    ['id not integer', { clients: [{ ...ok, id: '1' }] }, 'clients[0].id', /got string "1"/],
    ['empty name', { clients: [{ ...ok, name: '' }] }, 'clients[0].name', /printable ASCII/],
    ['short key', { clients: [{ ...ok, publicKey: 'abcd' }] }, 'clients[0].publicKey', /expected 64 hex characters .*got string "abcd"/],
    ['duplicate id', { clients: [ok, { ...ok, publicKey: keyB }] }, 'clients[1].id', /unique id, got 1 again/],
    ['duplicate key', { clients: [ok, { ...ok, id: 2, publicKey: keyA.toUpperCase() }] }, 'clients[1].publicKey', /the key of id 1/],
  ];

  it.each(cases)('refuses %s, naming the field', (_name, json, field, message) => {
    let err: unknown;
    try {
      parseEnrolment(json, 'clients.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
    expect((err as ConfigError).message).toMatch(/^clients.json: /);
    expect((err as ConfigError).message).toMatch(message);
  });

  it('names the file when it is missing or not JSON', async () => {
    const dir = await tempDir();
    await expect(loadEnrolment(join(dir, 'none.json'))).rejects.toThrow(/cannot read the enrolment file .*none.json/);
    await writeFile(join(dir, 'bad.json'), '{ clients: ');
    await expect(loadEnrolment(join(dir, 'bad.json'))).rejects.toThrow(/bad.json: not valid JSON/);
  });
});
