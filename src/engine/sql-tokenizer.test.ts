import { describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import { isSignificant, parenthesizedEnd, splitStatements, tokenize } from './sql-tokenizer.js';

const kinds = (sql: string) =>
  tokenize(sql)
    .filter(isSignificant)
    .map((t) => [t.kind, t.text]);

describe('tokenize', () => {
  it('gives back the text when its tokens are joined', () => {
    const sql = `select 'a''b', "x""y", E'it\\'s', $$a;b$$, $t$x$t$ -- c\n/* a /* b */ c */ 1.5e3 ?1 $2 :: =>`;
    expect(
      tokenize(sql)
        .map((t) => t.text)
        .join(''),
    ).toBe(sql);
  });

  it('keeps strings, quoted identifiers and comments whole', () => {
    expect(kinds(`select 'read_delta(' , "a""b" /* x ; ( */ -- ) ;\n)`)).toEqual([
      ['word', 'select'],
      ['string', "'read_delta('"],
      ['punct', ','],
      ['quoted', '"a""b"'],
      ['punct', ')'],
    ]);
  });

  it('reads backslash escapes only in E strings', () => {
    expect(kinds(`E'a\\'b' 'c\\' x`)).toEqual([
      ['string', `E'a\\'b'`],
      ['string', `'c\\'`],
      ['word', 'x'],
    ]);
  });

  it('tells dollar-quoted strings from parameters', () => {
    expect(kinds('$1 $$ ; $$ $tag$ ) $tag$ $name')).toEqual([
      ['parameter', '$1'],
      ['string', '$$ ; $$'],
      ['string', '$tag$ ) $tag$'],
      ['parameter', '$name'],
    ]);
  });

  it('reads named-argument arrows and casts as one token', () => {
    expect(kinds('f(version => 1, x := 2)::int')).toEqual([
      ['word', 'f'],
      ['punct', '('],
      ['word', 'version'],
      ['punct', '=>'],
      ['number', '1'],
      ['punct', ','],
      ['word', 'x'],
      ['punct', ':='],
      ['number', '2'],
      ['punct', ')'],
      ['punct', '::'],
      ['word', 'int'],
    ]);
  });

  it('reads backticked identifiers whole, a doubled backtick escaping one', () => {
    expect(kinds('select `a``b`.`;` from `x`')).toEqual([
      ['word', 'select'],
      ['backtick', '`a``b`'],
      ['punct', '.'],
      ['backtick', '`;`'],
      ['word', 'from'],
      ['backtick', '`x`'],
    ]);
    expect(kinds('\'`\' "`" -- `')).toEqual([
      ['string', "'`'"],
      ['quoted', '"`"'],
    ]);
  });

  it('fails at an unclosed backtick, naming its line, column and the identifier', () => {
    for (const [sql, where] of [
      ['select `a', 'line 1, column 8'],
      ['select 1,\n  `b`` c', 'line 2, column 3'],
    ] as const) {
      let error: unknown;
      try {
        tokenize(sql);
      } catch (e) {
        error = e;
      }
      expect(isLarderError(error, 'SQL_ERROR'), sql).toBe(true);
      expect((error as Error).message, sql).toContain(
        `syntax error at ${where}: the backtick-quoted identifier`,
      );
      expect((error as Error).message, sql).toContain(`${sql.slice(sql.indexOf('`'))} is never closed`);
    }
  });

  it('runs an unterminated string to the end of the text', () => {
    expect(kinds(`select 'abc; select 2`)).toEqual([
      ['word', 'select'],
      ['string', `'abc; select 2`],
    ]);
  });
});

describe('splitStatements', () => {
  it('splits at semicolons outside strings, identifiers and comments', () => {
    const sql = `select ';' as "a;b"; /* ; */ select 2 -- ;\n; ;  -- only a comment\n`;
    expect(splitStatements(sql).map((s) => s.text.trim())).toEqual([
      `select ';' as "a;b"`,
      '/* ; */ select 2 -- ;',
    ]);
  });

  it('reports where each statement starts in the script', () => {
    const sql = 'select 1; select 2';
    for (const statement of splitStatements(sql)) {
      expect(sql.slice(statement.start, statement.start + statement.text.length)).toBe(statement.text);
    }
    expect(splitStatements(sql).map((s) => s.start)).toEqual([0, 9]);
  });
});

describe('parenthesizedEnd', () => {
  it('finds the parenthesis that closes the first one, past nested groups and strings', () => {
    const sql = `read_delta('a)b', f((1)), ")") AS t`;
    const end = parenthesizedEnd(tokenize(sql), 0);
    expect(sql.slice(0, end)).toBe(`read_delta('a)b', f((1)), ")")`);
  });

  it('is undefined when the group is never closed', () => {
    expect(parenthesizedEnd(tokenize('f((1)'), 0)).toBeUndefined();
  });
});
