/**
 * The one way a source read is restricted to an incremental run's affected
 * entity keys: a semi-join with the run's key table (exact for composite
 * keys; rows with a null key never match, as no entity has a null key).
 */
import { sqlIdent } from '../../duckdb/duckdb.js';
import type { KeyFilter } from './bound-source.js';

/**
 * `sql`'s rows whose key columns match a row of `keys.table`.
 *
 * @example
 * keySemiJoin('SELECT * FROM read_parquet(…)', { table: 'memory."__larder_run_x"."keys"', columns: ['customer_id'], … });
 */
export function keySemiJoin(sql: string, keys: Pick<KeyFilter, 'table' | 'columns'>): string {
  const on = keys.columns.map((c) => `__larder_s.${sqlIdent(c)} = __larder_k.${sqlIdent(c)}`).join(' AND ');
  return `SELECT __larder_s.* FROM (\n${sql}\n) AS __larder_s SEMI JOIN ${keys.table} AS __larder_k ON ${on}`;
}
