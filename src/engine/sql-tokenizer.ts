/**
 * A small SQL tokenizer for the few places Larder must find its way through
 * statement text without parsing it: splitting a script into statements and
 * finding where a table-function call that DuckDB's parser located ends.
 *
 * It knows what can hide a `;`, a parenthesis or a keyword: string literals
 * (`'…'` with `''`, `E'…'` with backslash escapes, `$tag$…$tag$`), quoted
 * identifiers (`"…"` with `""`) and comments (`--…` and nested `/* … *\/`).
 * Everything else is a word, a number, a parameter or a punctuation token.
 * It never fails: an unterminated string or comment runs to the end of the
 * text (DuckDB reports the error when the statement runs).
 */

export type SqlTokenKind =
  | 'word'
  | 'quoted'
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

/** A statement of a script: its text (without the `;`) and where it starts in the script. */
export interface SqlStatementText {
  readonly text: string;
  readonly start: number;
}

const MULTI_CHAR_PUNCT = ['=>', ':=', '::', '<=', '>=', '<>', '!=', '||', '->', '->>'];

function isWordStart(ch: string): boolean {
  return /[A-Za-z_\u0080-\uffff]/.test(ch);
}

function isWordPart(ch: string): boolean {
  return /[A-Za-z0-9_$\u0080-\uffff]/.test(ch);
}

/**
 * Split `sql` into tokens, whitespace and comments included, so that the
 * tokens' texts concatenated give back `sql`.
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
    if (/\s/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j]!)) j++;
      push('space', j);
    } else if (ch === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      push('comment', nl < 0 ? sql.length : nl);
    } else if (ch === '/' && next === '*') {
      push('comment', blockCommentEnd(sql, i));
    } else if (ch === "'") {
      push('string', quotedEnd(sql, i, "'"));
    } else if ((ch === 'e' || ch === 'E') && next === "'" && !previousIsWordPart(sql, i)) {
      push('string', escapeStringEnd(sql, i + 1));
    } else if (ch === '"') {
      push('quoted', quotedEnd(sql, i, '"'));
    } else if (ch === '$') {
      const dollar = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (dollar) {
        const close = sql.indexOf(dollar[0], i + dollar[0].length);
        push('string', close < 0 ? sql.length : close + dollar[0].length);
      } else {
        let j = i + 1;
        while (j < sql.length && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
        push('parameter', j);
      }
    } else if (ch === '?') {
      let j = i + 1;
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++;
      push('parameter', j);
    } else if (/[0-9]/.test(ch) || (ch === '.' && next !== undefined && /[0-9]/.test(next))) {
      const m = /^(?:0[xX][0-9A-Fa-f_]+|0[bB][01_]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?\.?)/.exec(
        sql.slice(i),
      );
      push('number', i + Math.max(1, m?.[0].length ?? 1));
    } else if (isWordStart(ch)) {
      let j = i + 1;
      while (j < sql.length && isWordPart(sql[j]!)) j++;
      push('word', j);
    } else {
      const multi = MULTI_CHAR_PUNCT.filter((p) => sql.startsWith(p, i)).sort(
        (a, b) => b.length - a.length,
      )[0];
      push('punct', i + (multi?.length ?? 1));
    }
  }
  return tokens;
}

function previousIsWordPart(sql: string, i: number): boolean {
  return i > 0 && isWordPart(sql[i - 1]!);
}

/** End (exclusive) of a literal opened by `quote` at `start`, where a doubled quote escapes it. */
function quotedEnd(sql: string, start: number, quote: string): number {
  let j = start + 1;
  while (j < sql.length) {
    if (sql[j] === quote) {
      if (sql[j + 1] === quote) j += 2;
      else return j + 1;
    } else j++;
  }
  return sql.length;
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
 * quoted identifiers or comments. Statements with nothing but whitespace and
 * comments are dropped.
 *
 * @example
 * splitStatements("select ';'; select 2").map((s) => s.text); // ["select ';'", ' select 2']
 */
export function splitStatements(sql: string): SqlStatementText[] {
  const statements: SqlStatementText[] = [];
  let start = 0;
  let significant = false;
  const flush = (end: number) => {
    if (significant) statements.push({ text: sql.slice(start, end), start });
    significant = false;
  };
  for (const token of tokenize(sql)) {
    if (token.kind === 'punct' && token.text === ';') {
      flush(token.start);
      start = token.end;
    } else if (isSignificant(token)) significant = true;
  }
  flush(sql.length);
  return statements;
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
