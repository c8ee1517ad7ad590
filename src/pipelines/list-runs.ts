/**
 * The run history of feature pipelines: the rows of every computation-metrics
 * table registered in the catalog (one per catalog schema that has pipeline
 * outputs), newest first. What `larder runs` prints and monitoring reads.
 */
import { planScan } from '../delta/scan/scan.js';
import { queryJson, sqlString } from '../duckdb/duckdb.js';
import type { Engine } from '../engine/engine.js';
import { isLarderError } from '../errors.js';
import { METRICS_TABLE } from './computation-metrics.js';

export interface ListRunsOptions {
  readonly engine: Engine;
  /** Only runs of this pipeline. */
  readonly pipeline?: string;
  /** Only runs that started at or after this instant. */
  readonly since?: Date;
  /** At most this many runs (the newest). */
  readonly limit?: number;
}

/** A pipeline run, as its metrics row recorded it. */
export interface PipelineRun {
  readonly runId: string;
  readonly runTimestamp: Date;
  readonly pipeline: string;
  readonly featureTable: string;
  readonly mode: 'full' | 'incremental';
  readonly numEntitiesProcessed: number;
  readonly numFeaturesComputed: number;
  readonly sourceRowsRead: number;
  readonly durationSeconds: number;
  readonly rowsPerSecond: number;
  readonly status: 'success' | 'failed' | 'cancelled';
  readonly errorMessage: string | null;
  readonly tableVersion: number | null;
  /** The metrics table the row is in. */
  readonly metricsTable: string;
}

/**
 * Runs recorded in the catalog's metrics tables, newest first.
 *
 * @example
 * for (const run of await listRuns({ engine, pipeline: 'customer_features', limit: 10 })) {
 *   console.log(run.runTimestamp.toISOString(), run.mode, run.status, run.durationSeconds);
 * }
 */
export async function listRuns(options: ListRunsOptions): Promise<PipelineRun[]> {
  const { engine } = options;
  const entries = (await engine.metastore.listTables()).filter((t) => t.name.table === METRICS_TABLE);
  const parts: string[] = [];
  for (const entry of entries) {
    let snapshot: Awaited<ReturnType<Engine['resolveTable']>>['table']['snapshot'];
    try {
      snapshot = (await engine.resolveTable(entry.name)).table.snapshot;
    } catch (error) {
      // A registered metrics table whose folder is gone has no runs to show.
      if (isLarderError(error, 'TABLE_NOT_FOUND')) continue;
      throw error;
    }
    const { sql } = await planScan(snapshot);
    parts.push(`SELECT *, ${sqlString(entry.fullName)} AS __metrics_table FROM (${sql})`);
  }
  if (parts.length === 0) return [];
  const where: string[] = [];
  if (options.pipeline !== undefined) where.push(`pipeline = ${sqlString(options.pipeline)}`);
  if (options.since !== undefined) {
    where.push(`run_timestamp >= CAST(${sqlString(options.since.toISOString())} AS TIMESTAMPTZ)`);
  }
  const limit =
    options.limit !== undefined && Number.isFinite(options.limit)
      ? ` LIMIT ${Math.max(0, Math.floor(options.limit))}`
      : '';
  const rows = await queryJson(
    engine.connection,
    `SELECT run_id, epoch_ms(run_timestamp) AS ts, pipeline, feature_table, mode, num_entities_processed,
            num_features_computed, source_rows_read, duration_seconds, rows_per_second, status, error_message,
            table_version, __metrics_table
       FROM (${parts.join(' UNION ALL BY NAME ')})
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY run_timestamp DESC, run_id${limit}`,
    'reading the pipeline runs',
  );
  return rows.map((r) => ({
    runId: String(r.run_id),
    runTimestamp: new Date(Number(r.ts)),
    pipeline: String(r.pipeline),
    featureTable: String(r.feature_table),
    mode: r.mode === 'incremental' ? 'incremental' : 'full',
    numEntitiesProcessed: Number(r.num_entities_processed ?? 0),
    numFeaturesComputed: Number(r.num_features_computed ?? 0),
    sourceRowsRead: Number(r.source_rows_read ?? 0),
    durationSeconds: Number(r.duration_seconds ?? 0),
    rowsPerSecond: Number(r.rows_per_second ?? 0),
    status: r.status === 'failed' || r.status === 'cancelled' ? r.status : 'success',
    errorMessage: r.error_message === null || r.error_message === undefined ? null : String(r.error_message),
    tableVersion: r.table_version === null || r.table_version === undefined ? null : Number(r.table_version),
    metricsTable: String(r.__metrics_table),
  }));
}
