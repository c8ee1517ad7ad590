/**
 * The SQL tokenizer: every piece of Larder that must find its way through
 * statement text without parsing it reads these tokens, and a script is
 * tokenized once: split into statements from its tokens, each statement's
 * tokens then handed to the later stages (Spark dialect, time travel, table
 * rewriting, Larder's statement parser) instead of scanning the text again.
 * DuckDB's own parser does the rest.
 *
 * It knows what can hide a `;`, a parenthesis or a keyword: string literals
 * (`'…'` with `''`, `E'…'` with backslash escapes, `$tag$…$tag$`), quoted
 * identifiers (`"…"` with `""`, and Spark's `` `…` `` with ``` `` ```) and
 * comments (`--…` and nested `/* … *\/`). Everything else is a word, a
 * number, a parameter or a punctuation token. One pass, linear in the text.
 *
 * An unterminated string or comment runs to the end of the text (DuckDB
 * reports the error when the statement runs); an unclosed backtick is a
 * `SQL_ERROR` here, since DuckDB does not know backticks at all.
 */
import { LarderError } from '../errors.js';

export type SqlTokenKind =
  | 'word'
  | 'quoted'
  | 'backtick'
  | 'string'
  | 'number'
  | 'parameter'
  | 'punct'
  | 'comment'
  | 'space';

/** One token: `start` and `end` are UTF-16 indices into the text (end exclusive). */
export interface SqlToken {
  readonly kind: SqlTokenKind;
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** A text and all its tokens (whitespace and comments included), offsets into that text. */
export interface TokenizedSql {
  readonly text: string;
  readonly tokens: readonly SqlToken[];
}

/** A statement of a script: its text (without the `;`) and where it starts in the script. */
export interface SqlStatementText {
  readonly text: string;
  readonly start: number;
}

/** A statement of a script with its tokens (offsets into the statement's own text). */
export interface TokenizedStatement extends SqlStatementText, TokenizedSql {}

const MULTI_CHAR_PUNCT = ['->>', '=>', ':=', '::', '<=', '>=', '<>', '!=', '||', '->'];

// Sticky patterns match at `lastIndex` without slicing the text: every character is read once.
const SPACE = /\s+/y;
const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/y;
const PARAMETER_NAME = /[A-Za-z0-9_]*/y;
const DIGITS = /[0-9]*/y;
const NUMBER = /0[xX][0-9A-Fa-f_]+|0[bB][01_]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?\.?/y;

/** The end of the match of sticky `pattern` at `at` (`at` itself when it does not match). */
function matchEnd(pattern: RegExp, sql: string, at: number): number {
  pattern.lastIndex = at;
  return pattern.test(sql) ? pattern.lastIndex : at;
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

/**
 * Split `sql` into tokens, whitespace and comments included, so that the
 * tokens' texts concatenated give back `sql`. Throws `SQL_ERROR` at an
 * unclosed backtick.
 *
 * @example
 * tokenize("select 'a;b'").map((t) => t.kind); // ['word', 'space', 'string']
 */
export function tokenize(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  const push = (kind: SqlTokenKind, end: number) => {
    tokens.push({ kind, start: i, end, text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    const space = matchEnd(SPACE, sql, i);
    if (space > i) {
      push('space', space);
    } else if (ch === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      push('comment', nl < 0 ? sql.length : nl);
    } else if (ch === '/' && next === '*') {
      push('comment', blockCommentEnd(sql, i));
    } else if (ch === "'") {
      push('string', quotedEnd(sql, i, "'") ?? sql.length);
    } else if ((ch === 'e' || ch === 'E') && next === "'" && !(i > 0 && WORD_PART.test(sql[i - 1]!))) {
      push('string', escapeStringEnd(sql, i + 1));
    } else if (ch === '"') {
      push('quoted', quotedEnd(sql, i, '"') ?? sql.length);
    } else if (ch === '`') {
      const end = quotedEnd(sql, i, '`');
      if (end === undefined) throw unclosedBacktick(sql, i);
      push('backtick', end);
    } else if (ch === '$') {
      const tag = matchEnd(DOLLAR_TAG, sql, i);
      if (tag > i) {
        const close = sql.indexOf(sql.slice(i, tag), tag);
        push('string', close < 0 ? sql.length : close + (tag - i));
      } else {
        push('parameter', matchEnd(PARAMETER_NAME, sql, i + 1));
      }
    } else if (ch === '?') {
      push('parameter', matchEnd(DIGITS, sql, i + 1));
    } else if (isDigit(ch) || (ch === '.' && isDigit(next))) {
      push('number', Math.max(i + 1, matchEnd(NUMBER, sql, i)));
    } else {
      const word = matchEnd(WORD, sql, i);
      if (word > i) push('word', word);
      else push('punct', i + (MULTI_CHAR_PUNCT.find((p) => sql.startsWith(p, i))?.length ?? 1));
    }
  }
  return tokens;
}

/** Tokenize `sql`, keeping the text with its tokens. */
export function tokenizeSql(sql: string): TokenizedSql {
  return { text: sql, tokens: tokenize(sql) };
}

/**
 * End (exclusive) of a literal opened by `quote` at `start`, where a doubled
 * quote escapes it; undefined when it is never closed.
 */
function quotedEnd(sql: string, start: number, quote: string): number | undefined {
  let j = start + 1;
  for (;;) {
    const at = sql.indexOf(quote, j);
    if (at < 0) return undefined;
    if (sql[at + 1] === quote) j = at + 2;
    else return at + 1;
  }
}

/** The error for a backtick that opens an identifier and is never closed. */
function unclosedBacktick(sql: string, start: number): LarderError {
  const before = sql.slice(0, start);
  const line = before.split('\n').length;
  const column = start - before.lastIndexOf('\n');
  const rest = sql.slice(start + 1);
  const name = rest.length > 40 ? `${rest.slice(0, 40)}…` : rest;
  return new LarderError(
    'SQL_ERROR',
    `syntax error at line ${line}, column ${column}: the backtick-quoted identifier \`${name} is never closed`,
    {
      token: `\`${name}`,
      position: start,
      hint: 'close it with a backtick; inside a backticked name write a backtick as two (``)',
    },
  );
}

/** End of an `E'…'` string opened at `quoteAt`: backslash escapes as well as doubled quotes. */
function escapeStringEnd(sql: string, quoteAt: number): number {
  let j = quoteAt + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (c === '\\') j += 2;
    else if (c === "'") {
      if (sql[j + 1] === "'") j += 2;
      else return j + 1;
    } else j++;
  }
  return sql.length;
}

/** End of a block comment opened at `start`; block comments nest as in PostgreSQL. */
function blockCommentEnd(sql: string, start: number): number {
  let depth = 0;
  let j = start;
  while (j < sql.length) {
    if (sql.startsWith('/*', j)) {
      depth++;
      j += 2;
    } else if (sql.startsWith('*/', j)) {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else j++;
  }
  return sql.length;
}

/** Whether a token carries meaning (is neither whitespace nor a comment). */
export function isSignificant(token: SqlToken): boolean {
  return token.kind !== 'space' && token.kind !== 'comment';
}

/**
 * Split a script into statements at the `;` that are not inside strings,
 * quoted identifiers or comments, from its tokens (the text is not read
 * again). Statements with nothing but whitespace and comments are dropped.
 * Each statement gets its own tokens, with offsets into its own text.
 *
 * @example
 * splitTokenized(tokenizeSql("select ';'; select 2")).map((s) => s.text); // ["select ';'", ' select 2']
 */
export function splitTokenized(script: TokenizedSql): TokenizedStatement[] {
  const { text, tokens } = script;
  const statements: TokenizedStatement[] = [];
  let first = 0;
  let significant = false;
  const flush = (endToken: number) => {
    if (significant) {
      const start = tokens[first]!.start;
      const end = tokens[endToken - 1]!.end;
      const own = tokens.slice(first, endToken);
      const rebased =
        start === 0 ? own : own.map((t) => ({ ...t, start: t.start - start, end: t.end - start }));
      statements.push({ text: text.slice(start, end), start, tokens: rebased });
    }
    significant = false;
  };
  for (const [index, token] of tokens.entries()) {
    if (token.kind === 'punct' && token.text === ';') {
      flush(index);
      first = index + 1;
    } else if (isSignificant(token)) significant = true;
  }
  flush(tokens.length);
  return statements;
}

/**
 * Split a script into statements (see `splitTokenized`): their texts and
 * where each starts in the script.
 *
 * @example
 * splitStatements("select ';'; select 2").map((s) => s.text); // ["select ';'", ' select 2']
 */
export function splitStatements(sql: string): SqlStatementText[] {
  return splitTokenized(tokenizeSql(sql)).map(({ text, start }) => ({ text, start }));
}

/**
 * The end (exclusive) of the parenthesized group that opens at or after
 * `from`: the index just past the `)` matching the first `(` found. Returns
 * undefined if no `(` follows `from` or it is never closed.
 */
export function parenthesizedEnd(tokens: readonly SqlToken[], from: number): number | undefined {
  let depth = 0;
  for (const token of tokens) {
    if (token.start < from || token.kind !== 'punct') continue;
    if (token.text === '(') depth++;
    else if (token.text === ')') {
      depth--;
      if (depth === 0) return token.end;
      if (depth < 0) return undefined;
    }
  }
  return undefined;
}
