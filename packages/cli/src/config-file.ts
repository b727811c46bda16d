/**
 * Reading a config file: JSON with comments and trailing commas (JSONC, parsed by
 * jsonc-parser, the parser VS Code uses for its settings). Every failure is a
 * UsageError that names the file, and for a syntax error the line and column.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { UsageError } from './exit-codes.ts';

/** What each jsonc-parser error code means, in words. */
const SYNTAX: Readonly<Record<string, string>> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected a colon',
  CommaExpected: 'expected a comma',
  CloseBraceExpected: 'expected }',
  CloseBracketExpected: 'expected ]',
  EndOfFileExpected: 'expected the end of the file after the value',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in a string',
};

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/** Parses JSONC text; throws an Error whose message is `line L, column C: what`. */
export function parseJsonc(text: string): unknown {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  const first = errors[0];
  if (first !== undefined) {
    const { line, column } = lineColumn(text, first.offset);
    const code = printParseErrorCode(first.error);
    throw new SyntaxError(`line ${line}, column ${column}: ${SYNTAX[code] ?? code}`);
  }
  return value;
}

export async function readJsonFile(file: string, what: string): Promise<{ json: unknown; baseDir: string; path: string }> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ': no such file; check the path (relative paths are relative to the current directory)' : `: ${(err as Error).message}`;
    throw new UsageError(`cannot read the ${what} ${file}${hint}`);
  }
  try {
    return { json: parseJsonc(text), baseDir: dirname(path), path };
  } catch (err) {
    throw new UsageError(`the ${what} ${file} is not valid JSON (comments and trailing commas are allowed): ${(err as Error).message}`);
  }
}

/** Whether `err` is a config validation error (the client's and the coordinator's share the name). */
export function isConfigError(err: unknown): err is Error & { field: string } {
  return err instanceof Error && err.name === 'ConfigError';
}
