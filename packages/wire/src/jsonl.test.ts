import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJsonLines } from './jsonl.ts';
import { readTextIfExists } from './text-file.ts';

const parse = (line: string, where: string): { n: number } => {
  const u = JSON.parse(line) as unknown;
  if (typeof u !== 'object' || u === null || typeof (u as { n?: unknown }).n !== 'number') throw new Error(`${where}: expected { n }`);
  return u as { n: number };
};

describe('readJsonLines', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-jsonl-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file has no records', async () => {
    expect(await readJsonLines(join(dir, 'none.jsonl'), parse)).toEqual({ items: [], torn: false });
  });

  it('reads every line, skips blank ones, and keeps a last record whose newline was lost', async () => {
    const f = join(dir, 'a.jsonl');
    await writeFile(f, '{"n":1}\n\n{"n":2}\n{"n":3}');
    expect(await readJsonLines(f, parse)).toEqual({ items: [{ n: 1 }, { n: 2 }, { n: 3 }], torn: false });
  });

  it('skips a torn last line and says so', async () => {
    const f = join(dir, 'b.jsonl');
    await writeFile(f, '{"n":1}\n{"n":2}\n{"n":');
    expect(await readJsonLines(f, parse)).toEqual({ items: [{ n: 1 }, { n: 2 }], torn: true });
  });

  it('a bad line before the last throws, naming the file and its line (blank lines counted)', async () => {
    const f = join(dir, 'c.jsonl');
    await writeFile(f, '{"n":1}\n\n{"m":2}\n{"n":3}\n');
    await expect(readJsonLines(f, parse)).rejects.toThrow(`${f}:3: expected { n }`);
  });

  it('readTextIfExists: the text, null for a missing file, and any other error as it is', async () => {
    const f = join(dir, 'd.txt');
    await writeFile(f, 'hello');
    expect(await readTextIfExists(f)).toBe('hello');
    expect(await readTextIfExists(join(dir, 'missing.txt'))).toBeNull();
    await expect(readTextIfExists(dir)).rejects.toThrow(/EISDIR/);
  });
});
