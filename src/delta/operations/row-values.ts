/**
 * Naming the row object whose value does not fit its column. Row objects
 * reach DuckDB as an NDJSON temporary file read with the table's column
 * types; a value that does not convert (`'abc'` for a `long`, `'2024-13-01'`
 * for a `date`, 3e9 for an `integer`) fails that read with a message about
 * the temporary file. Checking every value up front would slow every write,
 * so the check runs only once the read has failed: the same file is read
 * again with every column as JSON and the first row (in input order) whose
 * value `TRY_CAST` cannot convert is named, with its index and key values.
 *
 * Invariant: the fast path (a read that succeeds) pays nothing for this.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryJson, sqlIdent, sqlString } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import { type DataType, toDuckDBType } from '../log/schema.js';

/** A column of the rows file: its name and the table type it is read as. */
export interface RowsFileColumn {
  readonly name: string;
  readonly type: DataType;
}

/**
 * The `SCHEMA_MISMATCH` naming the first row of the NDJSON `file` with a
 * value its column's type cannot hold (the table, the column, the row's
 * index in the input and its `keys` values, when the rows carry them), or
 * undefined when no scalar column holds such a value (the read failed for
 * another reason).
 *
 * @example
 * try { await connection.run(`CREATE TABLE t AS ${sql}`); }
 * catch (error) { throw (await unfitRowValue(connection, file, columns, ['id'], table)) ?? error; }
 */
export async function unfitRowValue(
  connection: DuckDBConnection,
  file: string,
  columns: readonly RowsFileColumn[],
  keys: readonly string[],
  table: string,
): Promise<LarderError | undefined> {
  // Strings hold any scalar; binary values are encoded by Larder itself; nested ones: `nestedColumnAtFault`.
  const checked = columns.filter(
    (c) => typeof c.type === 'string' && c.type !== 'string' && c.type !== 'binary',
  );
  if (checked.length === 0) return undefined;
  const keyColumns = keys
    .map((key) => columns.find((c) => c.name.toLowerCase() === key.toLowerCase()))
    .filter((c) => c !== undefined);
  const spec = columns.map((c) => `${sqlString(c.name)}: 'JSON'`).join(', ');
  const fails = (c: RowsFileColumn) =>
    `(${sqlIdent(c.name)} IS NOT NULL AND TRY_CAST(${sqlIdent(c.name)} AS ${toDuckDBType(c.type)}) IS NULL)`;
  const [row] = await queryJson(
    connection,
    `SELECT ordinality - 1 AS __row,
            ${checked.map((c, i) => `${fails(c)} AS __bad${i}, CAST(${sqlIdent(c.name)} AS VARCHAR) AS __value${i}`).join(',\n            ')}
            ${keyColumns.map((c, i) => `, ${sqlIdent(c.name)}->>'$' AS __key${i}`).join('')}
       FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}}, maximum_object_size = 268435456) WITH ORDINALITY
      WHERE ${checked.map(fails).join(' OR ')}
      ORDER BY ordinality
      LIMIT 1`,
    `finding the row that does not fit table ${table}`,
  ).catch(() => []);
  if (!row) return undefined;
  const index = checked.findIndex((_, i) => row[`__bad${i}`] === true);
  const column = checked[index];
  if (!column) return undefined;
  const value = String(row[`__value${index}`]);
  const key = keyColumns.map((c, i) => `${c.name}=${String(row[`__key${i}`])}`).join(', ');
  const type = typeof column.type === 'string' ? column.type : toDuckDBType(column.type);
  return new LarderError(
    'SCHEMA_MISMATCH',
    `row ${Number(row.__row)}${key !== '' ? ` (${key})` : ''} of the rows written to ${table}: value ${value} of column "${column.name}" does not fit its type ${type}`,
    {
      table,
      column: column.name,
      row: Number(row.__row),
      ...(key !== '' ? { key } : {}),
      hint: `give column "${column.name}" ${type} values`,
    },
  );
}

/**
 * The nested (struct, array, map) column of the NDJSON `file` whose values
 * do not fit its type, or undefined: each is read alone with its type (the
 * others as JSON) until one fails. `TRY_CAST` cannot tell, as it nulls a
 * nested value's fields one by one.
 *
 * @example
 * const column = await nestedColumnAtFault(connection, file, columns);
 */
export async function nestedColumnAtFault(
  connection: DuckDBConnection,
  file: string,
  columns: readonly RowsFileColumn[],
): Promise<string | undefined> {
  for (const column of columns.filter((c) => typeof c.type !== 'string')) {
    const spec = columns
      .map((c) => `${sqlString(c.name)}: ${sqlString(c === column ? toDuckDBType(c.type) : 'JSON')}`)
      .join(', ');
    const failed = await connection
      .run(
        `SELECT count(${sqlIdent(column.name)}) FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}}, maximum_object_size = 268435456)`,
      )
      .then(
        () => false,
        () => true,
      );
    if (failed) return column.name;
  }
  return undefined;
}

/**
 * The error of a failed read of row objects that `unfitRowValue` could not
 * pin on a scalar value (a nested value, …): DuckDB's message without the
 * temporary file it read, which means nothing to the caller, naming the
 * table and, when known, the column.
 *
 * @example
 * throw (await unfitRowValue(connection, file, columns, keys, table)) ?? rowsReadError(error, table);
 */
export function rowsReadError(error: unknown, table: string, column?: string): LarderError {
  const message = (error instanceof Error ? error.message : String(error))
    .replace(/ in file "[^"]*",/, '')
    // One row a line, counted from 1 (DuckDB says the count may be approximate).
    .replace(/\bin line (\d+)/, (_, line: string) => `near row ${Number(line) - 1}`)
    .replace(/\n?\s*If this error occurred during read_json[^\n]*/, '')
    .replace(/\n?Try setting 'auto_detect'[^\n]*/, '')
    .trim();
  // A read of the rows file fails on its values (a transform or a cast); anything else stays a SQL error.
  const code = /transform error|conver|cast/i.test(message) ? 'SCHEMA_MISMATCH' : 'SQL_ERROR';
  const at = column !== undefined ? ` (column "${column}")` : '';
  return new LarderError(code, `the rows written to ${table} could not be read${at}: ${message}`, {
    table,
    ...(column !== undefined ? { column } : {}),
    cause: error,
    hint: 'give each column values of its type',
  });
}
