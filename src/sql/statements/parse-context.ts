/**
 * What the parsers of Larder's statement families (`parse-definition.ts`,
 * `parse-writes.ts`, `parse-maintenance.ts`, `parse-describe.ts`, and
 * `parse-statement.ts` for the rest) share while they read one statement:
 * the cursor over its tokens, the statement's text and tokens (which every
 * statement carries), and the two ways out to DuckDB.
 */
import type { TokenizedSql } from '../../engine/sql-tokenizer.js';
import { isLarderError } from '../../errors.js';
import type { QualifiedName, Statement } from './statement.js';
import type { TokenCursor } from './token-cursor.js';

/** First words of a query (also after `(` or `DESCRIBE`). */
export const QUERY_STARTS: ReadonlySet<string> = new Set(['SELECT', 'WITH', 'VALUES', 'FROM', 'TABLE']);

/**
 * @example
 * const p = new ParseContext(new TokenCursor('DROP TABLE t'));
 * p.c.expectKeyword('DROP', 'TABLE');
 */
export class ParseContext {
  /** The cursor over the statement's significant tokens. */
  readonly c: TokenCursor;
  /** The statement's text and tokens, as every statement carries them. */
  readonly source: TokenizedSql;

  constructor(cursor: TokenCursor) {
    this.c = cursor;
    this.source = { text: cursor.text, tokens: cursor.source.tokens };
  }

  /** The statement as DuckDB SQL, as it is. */
  query(): Statement {
    return { kind: 'query', ...this.source, query: this.source };
  }

  /**
   * Parse the rest of a statement about table `name`; when the name has one
   * part and the rest is not Larder syntax, keep the statement for DuckDB
   * (the name may be a DuckDB table) with the error deferred.
   */
  forTable(name: QualifiedName, parse: () => Statement): Statement {
    try {
      return parse();
    } catch (error) {
      if (name.length === 1 && isLarderError(error)) {
        return { kind: 'query', ...this.source, query: this.source, deferredError: { name, error } };
      }
      throw error;
    }
  }
}
