/**
 * A "DataFrame" as the feature store accepts it: row objects, an Apache
 * Arrow table, or a Larder SQL query (which may name catalog tables by their
 * three-level names, read Delta folders, travel in time). Whatever its form,
 * it is staged once into a table of DuckDB's process-wide in-memory database,
 * so that checks (keys, nulls, duplicates) and the Delta write read exactly
 * the same rows, from any connection.
 *
 * Invariant: `release()` drops everything staged; a failure while staging
 * leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import type { Table as ArrowTable } from 'apache-arrow';
import type { StructType } from '../delta/log/schema.js';
import type { InputColumn } from '../delta/operations/schema-reconcile.js';
import { prepareSource } from '../delta/operations/write-source.js';
import { queryJson } from '../duckdb/duckdb.js';
import type { Engine } from '../engine/engine.js';
import { splitStatements } from '../engine/sql-tokenizer.js';
import { LarderError } from '../errors.js';
import { isArrowTable, stageArrowTable } from './arrow/arrow-to-duckdb.js';

/** Row objects, an Apache Arrow `Table`, or a Larder SQL query. */
export type DataFrame = readonly Readonly<Record<string, unknown>>[] | ArrowTable | string;

/** A staged DataFrame. */
export interface StagedFrame {
  /** `SELECT * FROM <staging table>`: runnable on any connection of the process. */
  readonly sql: string;
  /** Its columns and DuckDB types, in order. */
  readonly columns: readonly InputColumn[];
  /** Drop the staging table. */
  release(): Promise<void>;
}

export interface StageOptions {
  /** The primary keys: a row whose value does not fit its column is named by them. */
  readonly keys?: readonly string[];
}

/**
 * Stage `df` for a write to `table` (a full name, for messages). `schema` types
 * row objects' fields (others are inferred from their values).
 *
 * @example
 * const staged = await stageDataFrame(engine, [{ customer_id: 1n, n_tx: 3 }], snapshot.schema, 'ml.f.customers');
 * try { await delta.merge({ source: staged.sql, on: ['customer_id'] }); } finally { await staged.release(); }
 */
export async function stageDataFrame(
  engine: Engine,
  df: DataFrame,
  schema: StructType,
  table: string,
  options: StageOptions = {},
): Promise<StagedFrame> {
  const connection = engine.connection;
  const target = `memory.main.__larder_df_${randomUUID().replaceAll('-', '')}`;
  const drop = async () => {
    await connection.run(`DROP TABLE IF EXISTS ${target}`).catch(() => undefined);
  };
  let query: string;
  let cleanup: () => Promise<void> = async () => undefined;
  let explainFailure: ((error: unknown, keys: readonly string[]) => Promise<LarderError>) | undefined;
  if (typeof df === 'string') {
    const statements = splitStatements(df);
    if (statements.length !== 1) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `the df of a write to ${table} must be one SQL query, got ${statements.length} statements`,
        { table },
      );
    }
    query = (await engine.rewrite(statements[0]!.text)).sql;
  } else if (isArrowTable(df)) {
    const staged = await stageArrowTable(connection, df, table);
    query = staged.sql;
    cleanup = () => staged.release();
  } else if (Array.isArray(df)) {
    const prepared = await prepareSource(connection, df, schema, { table, mergeSchema: true });
    query = prepared.sql;
    cleanup = () => prepared.cleanup();
    explainFailure = prepared.explainFailure;
  } else {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `the df of a write to ${table} must be an array of row objects, an Apache Arrow Table or a SQL query`,
      { table },
    );
  }
  try {
    await connection.run(`CREATE TABLE ${target} AS SELECT * FROM (\n${query}\n) AS __larder_df`);
  } catch (error) {
    await drop();
    // Row objects that do not fit the table: named by row and column, not by DuckDB's temporary file.
    if (explainFailure) throw await explainFailure(error, options.keys ?? []);
    const message = await engine.explainError((error as Error).message);
    throw new LarderError('SQL_ERROR', `the df of a write to ${table} failed: ${message}`, {
      table,
      cause: error,
    });
  } finally {
    await cleanup();
  }
  try {
    const described = await queryJson(connection, `DESCRIBE ${target}`, `describing the df of ${table}`);
    const columns = described.map((r) => ({ name: String(r.column_name), duckType: String(r.column_type) }));
    return { sql: `SELECT * FROM ${target}`, columns, release: drop };
  } catch (error) {
    await drop();
    throw error;
  }
}
