/**
 * A cursor over the significant tokens of one statement, for the recursive
 * descent parser of Larder's statements (`parse-statement.ts`) and of Spark
 * types (`spark-types.ts`).
 *
 * Invariants: keywords compare case-insensitively; every syntax error is a
 * `SQL_ERROR` naming the token at fault (or the end of the statement) with
 * its line and column in the script; spans are slices of the statement's
 * own text, so comments and spacing inside an expression are kept.
 */

import { isSignificant, type SqlToken, type TokenizedSql, tokenizeSql } from '../../engine/sql-tokenizer.js';
import { LarderError } from '../../errors.js';

/** Where a statement sits in its script, so errors can give a line and column. */
export interface StatementPosition {
  /** The whole script the statement comes from. */
  readonly script: string;
  /** Index of the statement's first character in the script. */
  readonly start: number;
}

/**
 * @example
 * const cursor = new TokenCursor('DROP TABLE IF EXISTS ml.s.t');
 * cursor.expectKeyword('DROP', 'TABLE');
 * const ifExists = cursor.acceptKeyword('IF', 'EXISTS'); // true
 * cursor.qualifiedName('table name'); // ['ml', 's', 't']
 */
export class TokenCursor {
  /** The statement text and all its tokens. */
  readonly source: TokenizedSql;
  /** The statement text. */
  readonly text: string;
  /** The significant tokens of the statement (no whitespace or comments). */
  readonly tokens: readonly SqlToken[];
  readonly #position: StatementPosition;
  #at = 0;

  /** A cursor over `statement`: a text, tokenized here, or a statement already tokenized. */
  constructor(statement: string | TokenizedSql, position?: StatementPosition) {
    this.source = typeof statement === 'string' ? tokenizeSql(statement) : statement;
    this.text = this.source.text;
    this.tokens = this.source.tokens.filter(isSignificant);
    this.#position = position ?? { script: this.text, start: 0 };
  }

  /** Index of the current token. */
  get index(): number {
    return this.#at;
  }

  set index(value: number) {
    this.#at = value;
  }

  get atEnd(): boolean {
    return this.#at >= this.tokens.length;
  }

  /** The token `ahead` places after the current one. */
  peek(ahead = 0): SqlToken | undefined {
    return this.tokens[this.#at + ahead];
  }

  next(): SqlToken | undefined {
    const token = this.tokens[this.#at];
    if (token) this.#at++;
    return token;
  }

  /** Whether the token `ahead` places on is the (unquoted) word `word`. */
  isKeyword(word: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token?.kind === 'word' && token.text.toUpperCase() === word.toUpperCase();
  }

  /** Whether the next tokens are the words `words`, in order. */
  isKeywords(...words: readonly string[]): boolean {
    return words.every((w, i) => this.isKeyword(w, i));
  }

  /** Whether the token `ahead` places on is the punctuation `text`. */
  isPunct(text: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token?.kind === 'punct' && token.text === text;
  }

  /** Consume the words `words` if they come next (all of them); report whether they did. */
  acceptKeyword(...words: readonly string[]): boolean {
    if (!this.isKeywords(...words)) return false;
    this.#at += words.length;
    return true;
  }

  /** Consume one of `words` if it comes next and return it (upper case). */
  acceptOneOf(...words: readonly string[]): string | undefined {
    for (const word of words) if (this.acceptKeyword(word)) return word.toUpperCase();
    return undefined;
  }

  expectKeyword(...words: readonly string[]): void {
    for (const word of words) {
      if (!this.acceptKeyword(word)) throw this.error(`expected ${word.toUpperCase()}`);
    }
  }

  acceptPunct(text: string): boolean {
    if (!this.isPunct(text)) return false;
    this.#at++;
    return true;
  }

  expectPunct(text: string, context?: string): void {
    if (!this.acceptPunct(text)) throw this.error(`expected "${text}"${context ? ` ${context}` : ''}`);
  }

  /** An identifier: a word, or a `"quoted"` name (backticks were turned into double quotes before, `spark-dialect.ts`). */
  identifier(what: string): string {
    const token = this.peek();
    if (token?.kind === 'word') {
      this.#at++;
      return token.text;
    }
    if (token?.kind === 'quoted') {
      this.#at++;
      return token.text.slice(1, -1).replaceAll('""', '"');
    }
    throw this.error(`expected ${what}`);
  }

  /** Whether an identifier comes next. */
  isIdentifier(ahead = 0): boolean {
    const kind = this.peek(ahead)?.kind;
    return kind === 'word' || kind === 'quoted';
  }

  /** A dotted name (`catalog.schema.table`), as its unquoted parts. */
  qualifiedName(what: string): string[] {
    const parts = [this.identifier(what)];
    while (this.isPunct('.') && this.isIdentifier(1)) {
      this.#at++;
      parts.push(this.identifier(what));
    }
    return parts;
  }

  /** A string literal: `'…'` (doubled quote escapes it) or, as Spark allows, `"…"`. */
  stringLiteral(what: string): string {
    const token = this.peek();
    if (token?.kind === 'string' && token.text.startsWith("'")) {
      this.#at++;
      return token.text.slice(1, -1).replaceAll("''", "'");
    }
    if (token?.kind === 'quoted') {
      this.#at++;
      return token.text.slice(1, -1).replaceAll('""', '"');
    }
    throw this.error(`expected ${what} as a quoted string`);
  }

  /** A non-negative integer literal. */
  integer(what: string): number {
    const token = this.peek();
    if (token?.kind === 'number' && /^\d+$/.test(token.text)) {
      this.#at++;
      return Number(token.text);
    }
    throw this.error(`expected ${what} (a whole number)`);
  }

  /** A number literal (integer or decimal). */
  number(what: string): number {
    const token = this.peek();
    if (token?.kind === 'number' && /^\d*\.?\d+$/.test(token.text)) {
      this.#at++;
      return Number(token.text);
    }
    throw this.error(`expected ${what} (a number)`);
  }

  /** A parenthesized, comma-separated list; a trailing comma before `)` is accepted. */
  parenthesizedList<T>(item: () => T, what: string): T[] {
    this.expectPunct('(', `to open the ${what}`);
    const items: T[] = [];
    while (!this.acceptPunct(')')) {
      items.push(item());
      if (this.acceptPunct(')')) break;
      this.expectPunct(',', `or ")" in the ${what}`);
    }
    return items;
  }

  /**
   * Index of the first token at or after the current one, at parenthesis
   * depth 0, for which `stop` holds (the token count when none does).
   * Parentheses, brackets and braces all nest.
   */
  findTopLevel(stop: (token: SqlToken, index: number) => boolean): number {
    let depth = 0;
    for (let i = this.#at; i < this.tokens.length; i++) {
      const token = this.tokens[i]!;
      if (depth === 0 && stop(token, i)) return i;
      if (token.kind === 'punct') {
        if (token.text === '(' || token.text === '[' || token.text === '{') depth++;
        else if (token.text === ')' || token.text === ']' || token.text === '}') {
          if (depth === 0) return i;
          depth--;
        }
      }
    }
    return this.tokens.length;
  }

  /** Index of the first top-level word among `words` from the current token. */
  findTopLevelKeyword(...words: readonly string[]): number {
    const upper = new Set(words.map((w) => w.toUpperCase()));
    return this.findTopLevel((t) => t.kind === 'word' && upper.has(t.text.toUpperCase()));
  }

  /** The statement text from token `from` up to (not including) token `to`. */
  span(from: number, to: number): string {
    if (to <= from) return '';
    return this.text.slice(this.tokens[from]!.start, this.tokens[to - 1]!.end);
  }

  /**
   * Take the tokens from the current one up to (not including) token `to` as
   * text, and move to `to`. Fails naming `what` when there are none.
   */
  takeSpan(to: number, what: string): string {
    if (to <= this.#at) throw this.error(`expected ${what}`);
    const text = this.span(this.#at, to);
    this.#at = to;
    return text;
  }

  /** The rest of the statement as text (fails naming `what` when nothing is left). */
  rest(what: string): string {
    return this.takeSpan(this.tokens.length, what);
  }

  /** Fail unless the statement is over. */
  expectEnd(): void {
    if (!this.atEnd) throw this.error('expected the end of the statement');
  }

  /** A syntax error at the current token (or at `token`). */
  error(message: string, token: SqlToken | undefined = this.peek()): LarderError {
    const where = token
      ? `at "${token.text}" (${this.#lineColumn(token.start)})`
      : 'at the end of the statement';
    return new LarderError('SQL_ERROR', `syntax error ${where}: ${message}`, {
      statement: this.text.trim(),
      ...(token ? { token: token.text, position: this.#position.start + token.start } : {}),
    });
  }

  /** An UNSUPPORTED_FEATURE error naming the construct at the current token. */
  unsupported(construct: string, hint?: string): LarderError {
    const token = this.peek();
    return new LarderError(
      'UNSUPPORTED_FEATURE',
      `${construct} is not supported by Larder SQL${token ? ` (${this.#lineColumn(token.start)})` : ''}`,
      { feature: construct, statement: this.text.trim(), ...(hint ? { hint } : {}) },
    );
  }

  #lineColumn(offset: number): string {
    const absolute = this.#position.start + offset;
    const before = this.#position.script.slice(0, absolute);
    const line = before.split('\n').length;
    const column = absolute - before.lastIndexOf('\n');
    return `line ${line}, column ${column}`;
  }
}
