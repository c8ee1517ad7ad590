/**
 * Databricks system relations that Larder SQL answers itself, because the
 * seed's queries read them: `system.information_schema.online_tables` (the
 * online tables and their sync state, read by the seed's "Online Store Sync
 * Status" dashboard query).
 *
 * This is the one place they are defined. Each is a DuckDB query with the
 * columns Databricks gives it; `online_tables` is empty until the online
 * store (and its sync state in the catalog) exists, so the seed's query runs
 * and returns no rows.
 */
import type { TableName } from '../catalog/metastore.js';

/** The DuckDB query of each system relation, by full name. */
const SYSTEM_RELATIONS: ReadonlyMap<string, string> = new Map([
  [
    'system.information_schema.online_tables',
    'SELECT CAST(NULL AS VARCHAR) AS catalog_name, CAST(NULL AS VARCHAR) AS schema_name, ' +
      'CAST(NULL AS VARCHAR) AS table_name, CAST(NULL AS VARCHAR) AS sync_status, ' +
      'CAST(NULL AS TIMESTAMPTZ) AS last_sync_time WHERE false',
  ],
]);

/**
 * The DuckDB query that stands for a system relation, or undefined when
 * `name` is not one.
 *
 * @example
 * systemRelationSql({ catalog: 'system', schema: 'information_schema', table: 'online_tables' });
 */
export function systemRelationSql(name: TableName): string | undefined {
  return SYSTEM_RELATIONS.get(`${name.catalog}.${name.schema}.${name.table}`.toLowerCase());
}
