/**
 * Every example config a user can copy — in `tally coordinator --help`, `tally client
 * --help` and the READMEs' json/jsonc blocks — is loaded here through the same reader
 * (JSONC) and validators the commands use. An example that drifts from the code fails.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientConfig } from '@tally/client';
import { parseCoordinatorConfig } from '@tally/coordinator';
import { generateIdentity, toHex } from '@tally/secagg';
import { lineColumn, parseJsonc } from './config-file.ts';
import { CLIENT_HELP, COORDINATOR_HELP } from './help.ts';
import { parseTrainerConfig } from './trainer-config.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-examples-'));
  const clients = [1, 2, 3].map((id) => ({ id, name: `shop-${id}`, publicKey: toHex(generateIdentity().publicKey) }));
  await writeFile(join(dir, 'enrolment.json'), JSON.stringify({ clients }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The indented `{ … }` after "Example config" in a help text, dedented. */
function helpExample(help: string): string {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Example config'));
  const open = lines.findIndex((l, i) => i > start && l.trim() === '{');
  const indent = lines[open]!.indexOf('{');
  const close = lines.findIndex((l, i) => i > open && l === `${' '.repeat(indent)}}`);
  expect(start, 'an "Example config" section').toBeGreaterThan(-1);
  expect(close, 'the closing brace of the example').toBeGreaterThan(open);
  return lines.slice(open, close + 1).map((l) => l.slice(indent)).join('\n');
}

/** Loads a config example as the matching command would (coordinator or client). */
function load(text: string): 'coordinator' | 'client' {
  const json = parseJsonc(text) as Record<string, unknown>;
  if ('task' in json) {
    parseCoordinatorConfig(json, dir);
    return 'coordinator';
  }
  const config = parseClientConfig(json, dir);
  parseTrainerConfig(config.trainer, dir);
  return 'client';
}

describe('config examples', () => {
  it('tally coordinator --help: its example config loads', () => {
    expect(load(helpExample(COORDINATOR_HELP))).toBe('coordinator');
  });

  it('tally client --help: its example config loads', () => {
    expect(load(helpExample(CLIENT_HELP))).toBe('client');
  });

  it('every json/jsonc block in the READMEs loads', async () => {
    const readmes = [join(ROOT, 'README.md')];
    for (const parent of ['packages', 'examples']) {
      for (const d of await readdir(join(ROOT, parent))) readmes.push(join(ROOT, parent, d, 'README.md'));
    }
    let loaded = 0;
    for (const file of readmes) {
      const text = await readFile(file, 'utf8').catch(() => '');
      for (const m of text.matchAll(/```jsonc?\n([\s\S]*?)```/g)) {
        expect(() => load(m[1]!), `${file}: ${m[1]!.slice(0, 60)}`).not.toThrow();
        loaded++;
      }
    }
    expect(loaded).toBeGreaterThan(0); // README.md's client config, at least
  });
});

describe('JSONC syntax errors', () => {
  it('say line and column', () => {
    expect(() => parseJsonc('{\n  "a": 1,\n  "b" 2\n}')).toThrow(/^line 3, column 7: expected a colon$/);
    expect(() => parseJsonc('{ "a": [1, 2 }')).toThrow(/line 1, column 14: expected a comma/);
    expect(() => parseJsonc('{ "a": 1 /* open')).toThrow(/line 1, column 10: unterminated comment/);
    expect(parseJsonc('// a comment\n{ "a": [1, 2,], }\n')).toEqual({ a: [1, 2] });
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});
