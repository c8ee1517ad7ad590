/**
 * The parser of Larder SQL statements: a recursive descent over the
 * significant tokens of `engine/sql-tokenizer.ts`. It recognises the Delta and
 * Spark statements of Larder SQL (`CREATE TABLE … USING DELTA`, `MERGE INTO`,
 * `OPTIMIZE`, `VACUUM`, `DESCRIBE HISTORY`, `SET key = value`, …) and hands
 * everything else over as DuckDB SQL (`{ kind: 'query' }`). Expressions and
 * queries inside statements are not parsed: they are kept as text spans
 * (DuckDB parses them when they run).
 *
 * This file reads the first words and dispatches; each statement family is
 * parsed in the file matching its executor (`parse-definition.ts`,
 * `parse-writes.ts`, `parse-maintenance.ts`, `parse-describe.ts`); USE, SET,
 * RESET and EXPLAIN are parsed here, as `execute-statement.ts` runs them.
 *
 * Invariants:
 * - keywords are case-insensitive; comments may appear anywhere; a trailing
 *   comma before `)` is accepted in lists, as Databricks accepts it;
 *   backtick-quoted identifiers are accepted (they become `"…"`);
 * - a syntax error is a `SQL_ERROR` naming the token and its line and
 *   column; Spark/Databricks syntax Larder does not implement is an
 *   `UNSUPPORTED_FEATURE` naming the construct. Both are raised while
 *   parsing, before any statement of the script runs;
 * - a statement about a one-part table name that Larder cannot parse is
 *   kept for DuckDB with the error deferred (`QueryStatement.deferredError`),
 *   since the name may be a DuckDB temporary table.
 */
import { sparkToDuckDb } from '../../engine/spark-dialect.js';
import { splitTokenized, type TokenizedSql, tokenizeSql } from '../../engine/sql-tokenizer.js';
import { LarderError } from '../../errors.js';
import { ParseContext } from './parse-context.js';
import { parseAlter, parseCreate, parseCreateTable, parseDrop } from './parse-definition.js';
import { parseDescribe, parseShow } from './parse-describe.js';
import { parseOptimize, parseRestore, parseVacuum } from './parse-maintenance.js';
import { parseDelete, parseInsert, parseMerge, parseTruncate, parseUpdate } from './parse-writes.js';
import type { Statement } from './statement.js';
import { type StatementPosition, TokenCursor } from './token-cursor.js';

/**
 * Parse a script: it is tokenized once and split at its top-level `;`;
 * in each statement's tokens backticks become double quotes and the
 * Spark-only expression forms of `engine/spark-dialect.ts` become DuckDB's;
 * then every statement is parsed from its tokens (so a syntax error or an
 * unsupported construct anywhere fails the script before any of it runs).
 * Statements keep their tokens for the engine: the text is never scanned again.
 *
 * @example
 * const [create, optimize] = parseScript(`
 *   CREATE TABLE ml.s.t (id INT, day DATE) USING DELTA PARTITIONED BY (day);
 *   OPTIMIZE ml.s.t ZORDER BY (id)`);
 */
export function parseScript(script: string): Statement[] {
  return splitTokenized(tokenizeSql(script)).map((statement) =>
    parseTokenized(sparkToDuckDb(statement), { script, start: statement.start }),
  );
}

/**
 * Parse one statement (without its `;`).
 *
 * @example
 * parseStatement('VACUUM ml.s.t RETAIN 168 HOURS');
 * // { kind: 'vacuum', name: ['ml', 's', 't'], retainHours: 168, dryRun: false, text: … }
 */
export function parseStatement(text: string, position?: StatementPosition): Statement {
  return parseTokenized(sparkToDuckDb(tokenizeSql(text)), position);
}

/** Parse one statement from its tokens (Spark spellings already rewritten). */
function parseTokenized(statement: TokenizedSql, position?: StatementPosition): Statement {
  const cursor = new TokenCursor(statement, position);
  if (cursor.atEnd)
    throw new LarderError('SQL_ERROR', 'there is no statement to run (only comments or spaces)');
  return parseStatementTokens(new ParseContext(cursor));
}

/** First words of Spark/Databricks statements Larder does not run, and the construct to name. */
const UNSUPPORTED_FIRST_WORDS: Readonly<Record<string, string>> = {
  GRANT: 'GRANT',
  REVOKE: 'REVOKE',
  DENY: 'DENY',
  FSCK: 'FSCK REPAIR TABLE',
  CONVERT: 'CONVERT TO DELTA',
  MSCK: 'MSCK REPAIR TABLE',
  REPAIR: 'REPAIR TABLE',
  REFRESH: 'REFRESH',
  CACHE: 'CACHE TABLE',
  UNCACHE: 'UNCACHE TABLE',
  CLEAR: 'CLEAR CACHE',
  REORG: 'REORG TABLE',
  UNDROP: 'UNDROP',
  SYNC: 'SYNC',
  APPLY: 'APPLY CHANGES',
  GENERATE: 'GENERATE symlink_format_manifest',
  ADD: 'ADD JAR/FILE',
  LIST: 'LIST',
};

/** The statement the cursor is on, by its first words. */
function parseStatementTokens(p: ParseContext): Statement {
  const c = p.c;
  const first = c.peek()!;
  const word = first.kind === 'word' ? first.text.toUpperCase() : '';
  const unsupported = UNSUPPORTED_FIRST_WORDS[word];
  if (unsupported !== undefined) throw c.unsupported(unsupported);
  switch (word) {
    case 'CREATE':
      return parseCreate(p);
    case 'REPLACE':
      c.next();
      if (!c.isKeyword('TABLE')) return p.query();
      c.next();
      return parseCreateTable(p, { orReplace: true, external: false, requireOrReplace: true });
    case 'INSERT':
      return parseInsert(p);
    case 'MERGE':
      return parseMerge(p);
    case 'UPDATE':
      return parseUpdate(p);
    case 'DELETE':
      return parseDelete(p);
    case 'DROP':
      return parseDrop(p);
    case 'TRUNCATE':
      return parseTruncate(p);
    case 'DESCRIBE':
    case 'DESC':
      return parseDescribe(p);
    case 'SHOW':
      return parseShow(p);
    case 'USE':
      return parseUse(p);
    case 'ALTER':
      return parseAlter(p);
    case 'RESTORE':
      return parseRestore(p);
    case 'OPTIMIZE':
      return parseOptimize(p);
    case 'VACUUM':
      return parseVacuum(p);
    case 'SET':
      return parseSet(p);
    case 'RESET':
      return parseReset(p);
    case 'EXPLAIN':
      return parseExplain(p);
    case 'COPY':
      if (c.isKeyword('INTO', 1))
        throw c.unsupported('COPY INTO', 'load files with INSERT INTO … SELECT * FROM read_parquet(…)');
      return p.query();
    case 'ANALYZE':
      if (c.isKeyword('TABLE', 1)) {
        throw c.unsupported(
          'ANALYZE TABLE … COMPUTE STATISTICS',
          'Larder collects file statistics on every write',
        );
      }
      return p.query();
    default:
      return p.query();
  }
}

function parseUse(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('USE');
  let target: 'catalog' | 'schema' | 'either' = 'either';
  if (c.acceptKeyword('CATALOG')) target = 'catalog';
  else if (c.acceptKeyword('SCHEMA') || c.acceptKeyword('DATABASE')) target = 'schema';
  const name = c.qualifiedName(target === 'catalog' ? 'a catalog name' : 'a schema name');
  c.expectEnd();
  if (target === 'catalog' && name.length !== 1) throw c.error('USE CATALOG takes a one-part catalog name');
  if (name.length > 2) throw c.error('USE takes a catalog or a catalog.schema name');
  return { kind: 'use', ...p.source, target, name };
}

function parseSet(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('SET');
  if (c.atEnd || (c.isPunct('-') && c.isKeyword('v', 1) && c.tokens.length === 3)) {
    return { kind: 'set', ...p.source };
  }
  if (c.isKeyword('GLOBAL') || c.isKeyword('SESSION') || c.isKeyword('LOCAL') || c.isKeyword('VARIABLE')) {
    return p.query();
  }
  if (c.acceptKeyword('TIME', 'ZONE')) {
    const value = c.rest('a time zone');
    return { kind: 'set', ...p.source, key: 'spark.sql.session.timeZone', value: unquote(value) };
  }
  const equals = c.findTopLevel((t) => t.kind === 'punct' && t.text === '=');
  const keyEnd = equals < c.tokens.length ? equals : c.findTopLevelKeyword('TO');
  const key = unquote(c.takeSpan(keyEnd, 'a setting name'));
  if (c.atEnd) return { kind: 'set', ...p.source, key };
  c.next();
  const value = c.atEnd ? '' : unquote(c.rest('a value'));
  return { kind: 'set', ...p.source, key, value };
}

function parseReset(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('RESET');
  if (c.atEnd) return { kind: 'reset', ...p.source };
  if (c.isKeyword('GLOBAL') || c.isKeyword('SESSION') || c.isKeyword('LOCAL') || c.isKeyword('VARIABLE')) {
    return p.query();
  }
  return { kind: 'reset', ...p.source, key: unquote(c.rest('a setting name')) };
}

function parseExplain(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('EXPLAIN');
  const mode = c.acceptOneOf('EXTENDED', 'COST', 'FORMATTED', 'CODEGEN', 'ANALYZE');
  const query = c.rest('a query to explain');
  return {
    kind: 'explain',
    ...p.source,
    query,
    ...(mode !== undefined ? { mode: mode.toLowerCase() } : {}),
  };
}

/** A setting name or value as written: quotes removed, spaces around dots dropped. */
function unquote(text: string): string {
  const trimmed = text.trim();
  if (/^'.*'$/s.test(trimmed)) return trimmed.slice(1, -1).replaceAll("''", "'");
  if (/^".*"$/s.test(trimmed)) return trimmed.slice(1, -1).replaceAll('""', '"');
  return trimmed.replace(/\s*\.\s*/g, '.');
}
