/**
 * The input of a write: a DuckDB query, or row objects. Row objects are
 * loaded through DuckDB (one NDJSON temporary file read with `read_json` and
 * the table's column types), so that `bigint`, `Date`, ISO date and
 * timestamp strings, `Uint8Array` and nested objects arrive typed exactly as
 * the table declares them, and the rest of the write path only ever sees a
 * query.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryJson, sqlIdent, sqlString } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import { type DataType, type StructType, toDuckDBType } from '../log/schema.js';
import { nestedColumnAtFault, rowsReadError, unfitRowValue } from './row-values.js';
import type { InputColumn } from './schema-reconcile.js';

/** A DuckDB query (SQL text) or an array of row objects keyed by column name. */
export type WriteSource = string | readonly Readonly<Record<string, unknown>>[];

export interface PreparedSource {
  /** A query producing the input rows. */
  readonly sql: string;
  /** Its columns and DuckDB types. */
  readonly columns: readonly InputColumn[];
  /** Remove temporary files (call when the write is over). */
  cleanup(): Promise<void>;
  /**
   * Row objects only, after a statement reading `sql` failed with `error`
   * (call before `cleanup`): a `SCHEMA_MISMATCH` naming the table and, when
   * a scalar value is at fault, the first such row (index, `keys` values),
   * the column and the value.
   */
  explainFailure?(error: unknown, keys: readonly string[]): Promise<LarderError>;
}

export interface PrepareSourceOptions {
  readonly table: string;
  /** Row objects may carry columns the table lacks (their types are inferred). */
  readonly mergeSchema?: boolean;
}

/**
 * Turn a write source into a query and its columns.
 *
 * @example
 * const source = await prepareSource(connection, [{ id: 1n, ts: new Date() }], snapshot.schema, { table });
 * try { ... source.sql ... } finally { await source.cleanup(); }
 */
export async function prepareSource(
  connection: DuckDBConnection,
  source: WriteSource,
  schema: StructType,
  options: PrepareSourceOptions,
): Promise<PreparedSource> {
  if (typeof source === 'string') {
    const sql = singleQuery(source, options.table);
    return { sql, columns: await describeColumns(connection, sql), cleanup: async () => undefined };
  }
  if (!Array.isArray(source)) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `a write source is a SQL string or an array of row objects (table ${options.table})`,
      {
        table: options.table,
      },
    );
  }
  return rowsSource(connection, source, schema, options);
}

/**
 * The query without a final `;`, so it can be nested in another query.
 * Quotes and comments are skipped; a second statement is refused.
 */
function singleQuery(sql: string, table: string): string {
  let end = sql.length;
  let terminator = -1;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const close = sql.indexOf(c, i + 1);
      i = close < 0 ? sql.length : close;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 1;
    } else if (c === ';') {
      if (terminator < 0) terminator = i;
    } else if (terminator >= 0 && !/\s/.test(c ?? '')) {
      throw new LarderError('INVALID_ARGUMENT', `the source of a write to ${table} must be a single query`, {
        table,
        hint: 'remove the statements after the first ";"',
      });
    }
  }
  if (terminator >= 0) end = terminator;
  return sql.slice(0, end);
}

/** The columns of a query, from DuckDB's `DESCRIBE` (binds the query; reads no data). */
export async function describeColumns(connection: DuckDBConnection, sql: string): Promise<InputColumn[]> {
  const rows = await queryJson(
    connection,
    `DESCRIBE SELECT * FROM (${sql}\n) AS __larder_input`,
    'describing the input query',
  );
  return rows.map((r) => ({ name: String(r.column_name), duckType: String(r.column_type) }));
}

async function rowsSource(
  connection: DuckDBConnection,
  rows: readonly Readonly<Record<string, unknown>>[],
  schema: StructType,
  options: PrepareSourceOptions,
): Promise<PreparedSource> {
  const keys = new Map<string, string>();
  for (const row of rows) {
    for (const key of Object.keys(row)) if (!keys.has(key)) keys.set(key, key);
  }
  const columns: { name: string; type: DataType; readType: string; select: string }[] = [];
  for (const key of keys.keys()) {
    const field =
      schema.fields.find((f) => f.name === key) ??
      schema.fields.find((f) => f.name.toLowerCase() === key.toLowerCase());
    let type: DataType | undefined = field?.type;
    if (!type) {
      if (!options.mergeSchema) {
        throw new LarderError(
          'SCHEMA_MISMATCH',
          `column "${key}" of the rows is not in table ${options.table}`,
          {
            table: options.table,
            column: key,
            hint: 'drop the field, or write with mergeSchema: true to add it',
          },
        );
      }
      type = inferType(rows, key, options.table);
    }
    const binary = type === 'binary';
    columns.push({
      name: key,
      type,
      readType: binary ? 'VARCHAR' : toDuckDBType(type),
      select: binary ? `from_base64(${sqlIdent(key)}) AS ${sqlIdent(key)}` : sqlIdent(key),
    });
  }
  if (rows.length === 0 || columns.length === 0) {
    const empty = schema.fields
      .filter((f) => f.type !== 'void')
      .map((f) => `CAST(NULL AS ${toDuckDBType(f.type)}) AS ${sqlIdent(f.name)}`);
    const sql = `SELECT ${empty.join(', ')} WHERE false`;
    return { sql, columns: await describeColumns(connection, sql), cleanup: async () => undefined };
  }
  const dir = await mkdtemp(join(tmpdir(), 'larder-rows-'));
  const file = join(dir, 'rows.json');
  const lines = rows.map((row) => JSON.stringify(row, jsonReplacer));
  await writeFile(file, `${lines.join('\n')}\n`);
  const spec = columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.readType)}`).join(', ');
  const sql = `SELECT ${columns.map((c) => c.select).join(', ')} FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}}, maximum_object_size = 268435456)`;
  const cleanup = async () => {
    await rm(dir, { recursive: true, force: true });
  };
  const explainFailure = async (error: unknown, keys: readonly string[]) =>
    (await unfitRowValue(connection, file, columns, keys, options.table)) ??
    rowsReadError(error, options.table, await nestedColumnAtFault(connection, file, columns));
  try {
    return { sql, columns: await describeColumns(connection, sql), cleanup, explainFailure };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** JSON for DuckDB: bigints as digit strings (DuckDB casts them exactly), bytes as base64. */
function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = key === '' ? value : (this as Record<string, unknown>)[key];
  if (typeof raw === 'bigint') return raw.toString();
  if (raw instanceof Uint8Array)
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

/** The Delta type of a field no table column declares, from its JavaScript values. */
function inferType(rows: readonly Readonly<Record<string, unknown>>[], key: string, table: string): DataType {
  let type: DataType | undefined;
  const merge = (t: DataType): void => {
    if (type === undefined || type === t) type = t;
    else if ((type === 'long' && t === 'double') || (type === 'double' && t === 'long')) type = 'double';
    else {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `field "${key}" of the rows mixes ${String(type)} and ${String(t)} values (table ${table})`,
        {
          table,
          column: key,
        },
      );
    }
  };
  for (const row of rows) {
    const v = row[key];
    if (v === null || v === undefined) continue;
    if (typeof v === 'bigint') merge('long');
    else if (typeof v === 'number') merge(Number.isInteger(v) ? 'long' : 'double');
    else if (typeof v === 'boolean') merge('boolean');
    else if (typeof v === 'string') merge('string');
    else if (v instanceof Date) merge('timestamp');
    else if (v instanceof Uint8Array) merge('binary');
    else {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `cannot infer a type for nested field "${key}" (table ${table})`,
        {
          table,
          column: key,
          hint: 'add the column to the table schema first, or pass the rows as a SQL query',
        },
      );
    }
  }
  return type ?? 'string';
}
