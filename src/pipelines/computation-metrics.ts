/**
 * The computation-metrics table of the seed's "Monitoring and
 * Observability": one row per pipeline run, success or failure, in the
 * Delta table `<catalog>.<schema>.feature_computation_metrics` next to the
 * feature table the run wrote. The table is created and registered in the
 * catalog on first use (a plain table, not a feature table).
 *
 * Invariants: a row is appended by one blind-append commit, so concurrent
 * runs never conflict on it; two processes creating the table at once end
 * with one table (the loser of the race opens the winner's).
 */
import type { TableName } from '../catalog/metastore.js';
import { DeltaTable } from '../delta/delta-table.js';
import type { ColumnSpec } from '../delta/operations/create.js';
import type { Engine } from '../engine/engine.js';
import { isLarderError } from '../errors.js';

/** The table name of every metrics table. */
export const METRICS_TABLE = 'feature_computation_metrics';

/** The columns of a metrics table. */
export const METRICS_COLUMNS: readonly ColumnSpec[] = Object.freeze([
  { name: 'run_id', type: 'string', nullable: false },
  { name: 'run_timestamp', type: 'timestamp', nullable: false },
  { name: 'pipeline', type: 'string' },
  { name: 'feature_table', type: 'string' },
  { name: 'mode', type: 'string' },
  { name: 'num_entities_processed', type: 'long' },
  { name: 'num_features_computed', type: 'integer' },
  { name: 'source_rows_read', type: 'long' },
  { name: 'duration_seconds', type: 'double' },
  { name: 'rows_per_second', type: 'double' },
  { name: 'status', type: 'string' },
  { name: 'error_message', type: 'string' },
  { name: 'table_version', type: 'long' },
]);

/** One run, as a metrics row (snake_case, as the table's columns). */
export interface ComputationMetricsRow {
  readonly run_id: string;
  /** When the run started (UTC). */
  readonly run_timestamp: Date;
  readonly pipeline: string;
  readonly feature_table: string;
  readonly mode: 'full' | 'incremental';
  readonly num_entities_processed: number;
  readonly num_features_computed: number;
  readonly source_rows_read: number;
  readonly duration_seconds: number;
  /** Entities processed per second, as the seed computes it. */
  readonly rows_per_second: number;
  readonly status: 'success' | 'failed' | 'cancelled';
  readonly error_message: string | null;
  /** The feature table's version after the run (unchanged by a failure; null if the table does not exist). */
  readonly table_version: number | null;
}

/**
 * The metrics table of the schema `table` lives in.
 *
 * @example
 * metricsTableName({ catalog: 'ml', schema: 'churn_features', table: 'customer_features' });
 * // { catalog: 'ml', schema: 'churn_features', table: 'feature_computation_metrics' }
 */
export function metricsTableName(table: TableName): TableName {
  return { catalog: table.catalog, schema: table.schema, table: METRICS_TABLE };
}

/**
 * Append one run's row to the metrics table next to `featureTable`
 * (creating and registering the table first if needed). Returns the
 * metrics table's full name.
 *
 * @example
 * await recordComputationMetrics(engine, engine.parseName('ml.churn_features.customer_features'), row);
 */
export async function recordComputationMetrics(
  engine: Engine,
  featureTable: TableName,
  row: ComputationMetricsRow,
): Promise<string> {
  const name = metricsTableName(featureTable);
  const table = await openOrCreate(engine, name);
  await table.append([row as unknown as Record<string, unknown>]);
  return `${name.catalog}.${name.schema}.${name.table}`;
}

async function openOrCreate(engine: Engine, name: TableName): Promise<DeltaTable> {
  const registered = await engine.metastore.getTable(name);
  if (registered) return (await engine.resolveTable(name)).table;
  const location = engine.defaultLocation(name);
  let table: DeltaTable;
  try {
    table = await DeltaTable.create(location, {
      schema: METRICS_COLUMNS,
      name: `${name.catalog}.${name.schema}.${name.table}`,
      description: 'one row per feature pipeline run (larder run)',
      // Rows are only appended; a change feed of them would serve nobody.
      properties: { 'delta.enableChangeDataFeed': 'false' },
    });
  } catch (error) {
    if (!isLarderError(error, 'TABLE_ALREADY_EXISTS')) throw error;
    table = await DeltaTable.open(location);
  }
  try {
    await engine.metastore.createTable({
      name,
      location,
      managed: true,
      description: 'Feature computation metrics: one row per pipeline run',
    });
  } catch (error) {
    if (!isLarderError(error, 'TABLE_ALREADY_EXISTS')) throw error;
    return (await engine.resolveTable(name)).table;
  }
  return table;
}
