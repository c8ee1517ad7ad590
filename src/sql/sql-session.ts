/**
 * A Larder SQL session: one DuckDB connection, in a project folder, that runs
 * scripts of Larder SQL statement by statement. Each statement is rewritten
 * first (`read_delta(…)` becomes a scan of the Delta snapshot) and then run as
 * DuckDB SQL; session state (SET, temporary tables, views) lives as long as
 * the session.
 *
 * Invariants: the project folder `.larder/` (with `warehouse/`) exists once a
 * session is open; statements run in order and the first failure stops the
 * script (earlier statements keep their effects, as in any SQL shell);
 * every DuckDB error is a `SQL_ERROR` carrying DuckDB's message.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type DuckDBConnection,
  type DuckDBResultReader,
  ResultReturnType,
  StatementType,
} from '@duckdb/node-api';
import { connect, sqlString } from '../duckdb/duckdb.js';
import { LarderError } from '../errors.js';
import { rewriteReadDelta } from './read-delta.js';
import type { SqlResult } from './sql-result.js';
import { splitStatements } from './sql-tokenizer.js';

/** The project data folder, relative to the project root. */
export const PROJECT_DIR = '.larder';

export interface SqlSessionOptions {
  /** The project root: relative table paths resolve against it and `.larder/` is created in it. */
  readonly cwd: string;
}

/**
 * @example
 * const session = await SqlSession.open({ cwd: process.cwd() });
 * try {
 *   const result = await session.execute("SELECT count(*) AS n FROM read_delta('data/events')");
 *   console.log(result.rows[0]?.[0]);
 * } finally {
 *   session.close();
 * }
 */
export class SqlSession {
  /** Absolute path of the project root. */
  readonly cwd: string;
  /** Absolute path of the project data folder (`<cwd>/.larder`). */
  readonly projectDir: string;
  readonly #connection: DuckDBConnection;
  #closed = false;

  private constructor(cwd: string, connection: DuckDBConnection) {
    this.cwd = cwd;
    this.projectDir = join(cwd, PROJECT_DIR);
    this.#connection = connection;
  }

  /** Open a session in `cwd`, creating `.larder/warehouse/` there on first use. */
  static async open(options: SqlSessionOptions): Promise<SqlSession> {
    const cwd = resolve(options.cwd);
    try {
      await mkdir(join(cwd, PROJECT_DIR, 'warehouse'), { recursive: true });
    } catch (error) {
      throw new LarderError(
        'IO_ERROR',
        `cannot create the project folder ${join(cwd, PROJECT_DIR)}: ${(error as Error).message}`,
        {
          file: join(cwd, PROJECT_DIR),
          cause: error,
        },
      );
    }
    const connection = await connect();
    // Relative paths in DuckDB's own readers (read_parquet('x.parquet')) resolve against the project too.
    await connection.run(`SET file_search_path = ${sqlString(cwd)}`);
    return new SqlSession(cwd, connection);
  }

  /** Run a script and return the result of its last statement. */
  async execute(sql: string): Promise<SqlResult> {
    const results = await this.executeAll(sql);
    const last = results.at(-1);
    if (!last)
      throw new LarderError('INVALID_ARGUMENT', 'no SQL statement to run', { hint: 'pass a statement' });
    return last;
  }

  /** Run a script and return one result per statement, in order. */
  async executeAll(sql: string): Promise<SqlResult[]> {
    if (this.#closed) throw new LarderError('INVALID_ARGUMENT', 'the SQL session is closed');
    const results: SqlResult[] = [];
    for (const statement of splitStatements(sql)) {
      const rewritten = await rewriteReadDelta(statement.text, {
        cwd: this.cwd,
        connection: this.#connection,
      });
      let reader: DuckDBResultReader;
      try {
        reader = await this.#connection.runAndReadAll(rewritten.sql);
      } catch (error) {
        throw new LarderError('SQL_ERROR', (error as Error).message, {
          statement: statement.text.trim(),
          cause: error,
        });
      }
      results.push(toResult(reader, rewritten.scans));
    }
    return results;
  }

  /** Close the session's connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection.closeSync();
  }
}

function toResult(reader: DuckDBResultReader, scans: SqlResult['scans']): SqlResult {
  const kind = StatementType[reader.statementType] ?? 'UNKNOWN';
  if (reader.returnType === ResultReturnType.NOTHING) return { kind, columns: [], rows: [], scans };
  const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() }));
  return { kind, columns, rows: reader.getRowsJson(), scans };
}
