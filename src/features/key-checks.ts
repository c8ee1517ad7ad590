/**
 * Primary key checks on a staged DataFrame before it is written to a feature
 * table: every key column is present, holds no null, and no two rows share a
 * key (a merge would otherwise insert both, or fail deep in Delta's merge
 * with a message about target rows).
 *
 * Each check is one DuckDB query over the staged rows; a failure is a
 * `LarderError` naming the table, the column, and for duplicates a sample key.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { InputColumn } from '../delta/operations/schema-reconcile.js';
import { queryJson, sqlIdent } from '../duckdb/duckdb.js';
import { LarderError } from '../errors.js';

/**
 * The staged columns holding the keys (matched case-insensitively), or
 * `SCHEMA_MISMATCH` naming the first missing key.
 *
 * @example
 * const columns = keyColumns(staged.columns, ['customer_id'], 'ml.f.customers');
 */
export function keyColumns(
  columns: readonly InputColumn[],
  keys: readonly string[],
  table: string,
): string[] {
  return keys.map((key) => {
    const column = columns.find((c) => c.name.toLowerCase() === key.toLowerCase());
    if (!column) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `the df written to ${table} lacks primary key column "${key}"`,
        {
          table,
          column: key,
          hint: 'every row must carry the primary key columns',
        },
      );
    }
    return column.name;
  });
}

/**
 * Fail with `CONSTRAINT_VIOLATION` when a key column holds a null, and with
 * `DUPLICATE_KEY` when two rows of `sql` share a key.
 *
 * @example
 * await assertKeys(engine.connection, staged.sql, ['customer_id', 'day'], 'ml.f.daily');
 */
export async function assertKeys(
  connection: DuckDBConnection,
  sql: string,
  keys: readonly string[],
  table: string,
): Promise<void> {
  const nulls = await queryJson(
    connection,
    `SELECT ${keys.map((k, i) => `count(*) FILTER (WHERE ${sqlIdent(k)} IS NULL) AS n${i}`).join(', ')} FROM (${sql}) AS __larder_keys`,
    `checking the primary keys of the df for ${table}`,
  );
  keys.forEach((key, i) => {
    const count = Number(nulls[0]?.[`n${i}`] ?? 0);
    if (count > 0) {
      throw new LarderError(
        'CONSTRAINT_VIOLATION',
        `primary key column "${key}" of ${table} is null in ${count} row(s) of the df`,
        { table, column: key, hint: 'filter out or fill the rows without a key' },
      );
    }
  });
  const duplicate = await queryJson(
    connection,
    `SELECT ${keys.map((k) => `CAST(${sqlIdent(k)} AS VARCHAR) AS ${sqlIdent(k)}`).join(', ')}, count(*) AS __n
     FROM (${sql}) AS __larder_keys GROUP BY ALL HAVING count(*) > 1 LIMIT 1`,
    `checking the primary keys of the df for ${table}`,
  );
  const row = duplicate[0];
  if (row) {
    const sample = keys.map((k) => `${k}=${String(row[k])}`).join(', ');
    throw new LarderError(
      'DUPLICATE_KEY',
      `the df written to ${table} has ${Number(row.__n)} rows with the key (${sample})`,
      {
        table,
        column: keys.join(','),
        key: sample,
        hint: 'deduplicate the df so that each primary key appears once',
      },
    );
  }
}
