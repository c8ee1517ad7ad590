/**
 * DuckDB, the engine that reads and writes every Parquet file Larder touches.
 * One instance per process (DuckDB parallelises inside a query; several
 * instances would fight over the cores and the memory). Connections are cheap.
 *
 * Invariants: the session time zone is UTC, so `timestamp` values (instants)
 * print and compare the same everywhere.
 */
import { type DuckDBConnection, DuckDBInstance, type DuckDBResultReader } from '@duckdb/node-api';
import { LarderError } from '../errors.js';

let instance: Promise<DuckDBInstance> | undefined;

/** The process-wide DuckDB instance (in memory; data lives in Parquet files). */
export function duckdbInstance(): Promise<DuckDBInstance> {
  instance ??= (async () => {
    const db = await DuckDBInstance.create(':memory:');
    const setup = await db.connect();
    await setup.run("SET GLOBAL TimeZone = 'UTC'");
    setup.closeSync();
    return db;
  })();
  return instance;
}

/** A new connection to the process-wide instance. */
export async function connect(): Promise<DuckDBConnection> {
  const db = await duckdbInstance();
  const connection = await db.connect();
  return connection;
}

let shared: Promise<DuckDBConnection> | undefined;

/** A connection shared by internal, short, non-transactional work (log checkpoints, stats). */
export function sharedConnection(): Promise<DuckDBConnection> {
  shared ??= connect();
  return shared;
}

/** Quote a string as a SQL literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Quote an identifier. */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL list literal of strings: `['a', 'b']`. */
export function sqlStringList(values: readonly string[]): string {
  return `[${values.map(sqlString).join(', ')}]`;
}

/**
 * Run SQL and read every row as JSON-friendly objects (BIGINT as string,
 * timestamps as ISO-like strings). Errors become `SQL_ERROR` naming the
 * statement's purpose.
 */
export async function queryJson(
  connection: DuckDBConnection,
  sql: string,
  purpose = 'query',
): Promise<Record<string, unknown>[]> {
  const result = await run(connection, sql, purpose);
  return (await result.getRowObjectsJson()) as Record<string, unknown>[];
}

/** Run SQL and materialize the result; DuckDB errors become `SQL_ERROR`. */
export async function run(
  connection: DuckDBConnection,
  sql: string,
  purpose = 'query',
): Promise<DuckDBResultReader> {
  try {
    return await connection.runAndReadAll(sql);
  } catch (error) {
    throw new LarderError('SQL_ERROR', `${purpose} failed: ${(error as Error).message}`, { cause: error });
  }
}
