/**
 * The source query of a write, made runnable by the Delta operations. They
 * run on connections of their own, while the user's query was written for
 * the session's connection: it may read the session's temporary tables,
 * macros or variables, or files by paths relative to the project folder
 * (the session's `file_search_path`). Such a query is materialized once, on
 * the session's connection, into a table of the process-wide in-memory
 * database that every connection sees; other queries are only rewritten
 * (Larder names become scans of Delta snapshots) and run as they are.
 *
 * Invariant: `release()` drops what was materialized; the operations read
 * exactly the rows the query gives in the session.
 */
import { randomUUID } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { connect } from '../../duckdb/duckdb.js';
import { missingDataFileError } from '../../engine/missing-data-file.js';
import { tokenize } from '../../engine/sql-tokenizer.js';
import type { StatementRewriter } from '../../engine/statement-rewriter.js';
import { LarderError } from '../../errors.js';
import type { StatementContext } from './statement-context.js';

/** A query any connection of the process can run, and how to release it. */
export interface PortableSource {
  readonly sql: string;
  release(): Promise<void>;
}

const FILE_LIKE = /\.(csv|tsv|txt|parquet|json|jsonl|ndjson|xlsx|arrow)(\.(gz|zst))?$|\*/i;

/** Whether the query names a file by a path that resolves differently outside the session. */
function readsRelativeFiles(context: StatementContext, query: string): boolean {
  if (resolve(context.cwd) === process.cwd()) return false;
  return tokenize(query).some((token) => {
    if (token.kind !== 'string' || !token.text.startsWith("'")) return false;
    const value = token.text.slice(1, -1);
    return FILE_LIKE.test(value) && !isAbsolute(value) && !value.includes('://') && !value.startsWith('~');
  });
}

/** Whether `sql` binds on a fresh connection (it needs nothing of the session). */
async function bindsElsewhere(sql: string): Promise<boolean> {
  const connection = await connect();
  try {
    await connection.run(`DESCRIBE SELECT * FROM (\n${sql}\n) AS __larder_portable`);
    return true;
  } catch {
    return false;
  } finally {
    connection.closeSync();
  }
}

/**
 * The query made portable. With `rewriter`, its Larder names read the
 * snapshots of the other parts of its statement that rewriter rewrote.
 *
 * @example
 * const source = await portableSource(context, 'SELECT * FROM my_temp_table');
 * try { await table.append(source.sql); } finally { await source.release(); }
 */
export async function portableSource(
  context: StatementContext,
  query: string,
  rewriter?: StatementRewriter,
): Promise<PortableSource> {
  const { sql, scans } = rewriter ? await rewriter.rewrite(query) : await context.engine.rewrite(query);
  if (!readsRelativeFiles(context, query) && (await bindsElsewhere(sql))) {
    return { sql, release: async () => undefined };
  }
  const table = `memory.main.__larder_source_${randomUUID().replaceAll('-', '')}`;
  const connection = context.engine.connection;
  try {
    await connection.run(`CREATE TABLE ${table} AS SELECT * FROM (\n${sql}\n) AS __larder_source`);
  } catch (error) {
    throw (
      missingDataFileError(error, scans, context.engine.projectDir) ??
      new LarderError('SQL_ERROR', (error as Error).message, { statement: query.trim(), cause: error })
    );
  }
  return {
    sql: `SELECT * FROM ${table}`,
    release: async () => {
      await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    },
  };
}
