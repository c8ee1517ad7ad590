/**
 * The DuckDB schema a pipeline run keeps its intermediate tables in
 * (copies of PostgreSQL rows, changed keys, the computed output).
 *
 * Why a schema of the in-memory database rather than temporary tables:
 * Delta writes and merges run on their own DuckDB connections, and
 * temporary tables are visible to one connection only; tables of the
 * process's in-memory database are visible to every connection.
 *
 * Invariants: the schema's name is unique per run (`__larder_run_<id>`), so
 * concurrent runs in one process never share a table; `drop()` removes it
 * with everything in it, and is safe to call twice.
 */
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { run, sqlIdent } from '../duckdb/duckdb.js';

/**
 * @example
 * const scope = await RunScope.create(engine.connection);
 * try {
 *   await engine.connection.run(`CREATE TABLE ${scope.table('keys')} AS SELECT 1 AS id`);
 * } finally {
 *   await scope.drop();
 * }
 */
export class RunScope {
  /** The schema's name (unquoted). */
  readonly schema: string;
  readonly connection: DuckDBConnection;
  #dropped = false;

  private constructor(schema: string, connection: DuckDBConnection) {
    this.schema = schema;
    this.connection = connection;
  }

  /** Create a fresh schema on `connection`'s database. */
  static async create(connection: DuckDBConnection): Promise<RunScope> {
    const schema = `__larder_run_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    await run(connection, `CREATE SCHEMA memory.${sqlIdent(schema)}`, 'creating the run schema');
    return new RunScope(schema, connection);
  }

  /** The qualified, quoted name of table `name` of the schema. */
  table(name: string): string {
    return `memory.${sqlIdent(this.schema)}.${sqlIdent(name)}`;
  }

  /** Drop the schema and its tables. */
  async drop(): Promise<void> {
    if (this.#dropped) return;
    this.#dropped = true;
    await this.connection
      .run(`DROP SCHEMA IF EXISTS memory.${sqlIdent(this.schema)} CASCADE`)
      .catch(() => undefined);
  }
}
