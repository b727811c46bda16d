import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, signMessage, utf8, verifySignature } from '@tally/secagg';
import { parseEnrolment } from '@tally/coordinator';
import { readKeyFile } from './key-file.ts';
import { CapturedIo, runTally } from './_run.ts';
import { main } from './main.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-keygen-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tally keygen', () => {
  it('writes a valid key pair with mode 0600 and prints the public key and enrolment line', async () => {
    const out = join(dir, 'nested', 'shop-a.json');
    const r = await runTally(['keygen', '--out', out]);
    expect(r.code).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const json = JSON.parse(await readFile(out, 'utf8')) as { publicKey: string; secretKey: string };
    expect(Object.keys(json).sort()).toEqual(['publicKey', 'secretKey']);
    expect(json.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(json.secretKey).toMatch(/^[0-9a-f]{64}$/);
    const msg = utf8('hello');
    expect(verifySignature(signMessage(fromHex(json.secretKey), msg), msg, fromHex(json.publicKey))).toBe(true);
    expect(r.stdout).toContain(`public key: ${json.publicKey}`);
    expect(r.stdout).toContain(JSON.stringify({ id: 1, name: 'shop-a', publicKey: json.publicKey }));
    expect(r.stdout).not.toContain(json.secretKey);
    const loaded = await readKeyFile(out);
    expect(loaded.looseMode).toBeNull();
  });

  it('refuses to overwrite without --force (exit 1, file untouched), replaces with it', async () => {
    const out = join(dir, 'shop-b.json');
    expect((await runTally(['keygen', '--out', out])).code).toBe(0);
    const before = await readFile(out, 'utf8');
    const again = await runTally(['keygen', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite .*shop-b\.json.*Pass --force/);
    expect(await readFile(out, 'utf8')).toBe(before);
    const forced = await runTally(['keygen', '--out', out, '--force']);
    expect(forced.code).toBe(0);
    expect(await readFile(out, 'utf8')).not.toBe(before);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it('--enrol adds entries with fresh ids to an enrolment file the coordinator accepts', async () => {
    const enrolment = join(dir, 'enrolment.json');
    for (const name of ['shop-x', 'shop-y']) {
      const io = new CapturedIo();
      expect(await main(['keygen', '--out', join(dir, `${name}.json`), '--enrol', enrolment], io)).toBe(0);
      expect(io.stdout).toMatch(new RegExp(`enrolled "${name}" as client \\d in`));
    }
    const parsed = parseEnrolment(JSON.parse(await readFile(enrolment, 'utf8')));
    expect(parsed.clients.map((c) => [c.id, c.name])).toEqual([
      [1, 'shop-x'],
      [2, 'shop-y'],
    ]);
    const key = await readKeyFile(join(dir, 'shop-y.json'));
    expect(parsed.byKey(key.pair.publicKey)?.id).toBe(2);

    // A name already enrolled is a usage error, and no key file is written.
    const io = new CapturedIo();
    expect(await main(['keygen', '--out', join(dir, 'other.json'), '--name', 'shop-x', '--enrol', enrolment], io)).toBe(2);
    expect(io.stderr).toMatch(/already has a client named "shop-x"/);
    await expect(stat(join(dir, 'other.json'))).rejects.toThrow(/ENOENT/);
  });

  it('readKeyFile refuses a damaged file and flags a loose mode', async () => {
    const path = join(dir, 'damaged.json');
    const good = JSON.parse(await readFile(join(dir, 'shop-x.json'), 'utf8')) as { publicKey: string; secretKey: string };
    await writeFile(path, JSON.stringify({ publicKey: good.publicKey, secretKey: '00'.repeat(32) }), { mode: 0o644 });
    await expect(readKeyFile(path)).rejects.toThrow(/publicKey does not belong to secretKey/);
    await writeFile(path, JSON.stringify({ publicKey: 'abc', secretKey: good.secretKey }));
    await expect(readKeyFile(path)).rejects.toThrow(/publicKey: expected 64 hex characters, got 3 characters/);
    await writeFile(path, JSON.stringify(good));
    expect((await readKeyFile(path)).looseMode).toBe(0o644);
  });
});
