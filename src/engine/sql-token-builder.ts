/**
 * Building a new SQL text and its tokens together, so that a stage which
 * rewrites a statement (Spark dialect, `read_delta`'s `timestamp =>`, time
 * travel) hands the next stage tokens instead of text to scan again.
 *
 * Invariant: the tokens of the built text are what `tokenize` gives for it,
 * as long as what is appended joins as tokens do (copied tokens keep their
 * kind and text and only their offsets move; a generated fragment is
 * tokenized on its own, so it must not run into its neighbours).
 */
import { type SqlToken, type SqlTokenKind, type TokenizedSql, tokenize } from './sql-tokenizer.js';

/**
 * @example
 * const out = new SqlTokenBuilder();
 * for (const token of tokens) out.push(token.kind === 'backtick' ? { kind: 'quoted', text: '"a"' } : token);
 * out.write(' LIMIT 1');
 * const { text, tokens: rewritten } = out.build();
 */
export class SqlTokenBuilder {
  readonly #parts: string[] = [];
  readonly #tokens: SqlToken[] = [];
  #length = 0;

  /** Append one token (its kind and text; the offsets are the builder's). */
  push(token: { readonly kind: SqlTokenKind; readonly text: string }): this {
    const start = this.#length;
    this.#length += token.text.length;
    this.#tokens.push({ kind: token.kind, start, end: this.#length, text: token.text });
    this.#parts.push(token.text);
    return this;
  }

  /** Append tokens. */
  pushAll(tokens: Iterable<SqlToken>): this {
    for (const token of tokens) this.push(token);
    return this;
  }

  /** Append a fragment of SQL Larder writes itself (short; tokenized here). */
  write(fragment: string): this {
    return this.pushAll(tokenize(fragment));
  }

  build(): TokenizedSql {
    return { text: this.#parts.join(''), tokens: this.#tokens };
  }
}
