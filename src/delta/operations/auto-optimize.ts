/**
 * Optimized writes and auto compaction: what the table properties
 * `delta.autoOptimize.optimizeWrite` and `delta.autoOptimize.autoCompact`
 * (and Databricks' `spark.databricks.delta.optimizeWrite.enabled` /
 * `autoCompact.enabled` settings, passed as write options) do to a write.
 *
 * - An optimized write uses the autotuned target file size (see
 *   `resolveTargetFileSize`) and, on a table with clustering columns, sorts
 *   the written rows by their Z-order key, so new files arrive clustered.
 * - Auto compaction runs after a successful write: it bin-packs the small
 *   files of the partitions the write touched when one of them holds more
 *   than 50 files smaller than the target (Databricks' `minNumFiles`).
 *
 * Invariant: auto compaction is a separate OPTIMIZE commit after the
 * write's own; it never undoes or fails the write (its error is reported in
 * the write's metrics instead).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isLarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import { physicalName } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import type { LogStore } from '../storage/log-store.js';
import { clusteringColumns } from './clustering.js';
import { type OptimizeMetrics, optimizeTable, resolveTargetFileSize } from './optimize.js';
import { resolveZOrderColumns, zOrderedSql } from './z-order.js';

/** Small files a touched partition must exceed for auto compaction to run. */
export const AUTO_COMPACT_MIN_NUM_FILES = 50;

/** Whether writes to the table are optimized by default (`delta.autoOptimize.optimizeWrite`). */
export function optimizeWriteEnabled(snapshot: Snapshot, explicit?: boolean): boolean {
  return explicit ?? snapshot.properties['delta.autoOptimize.optimizeWrite']?.toLowerCase() === 'true';
}

/** Whether writes to the table compact afterwards by default (`delta.autoOptimize.autoCompact`). */
export function autoCompactEnabled(snapshot: Snapshot, explicit?: boolean): boolean {
  if (explicit !== undefined) return explicit;
  const value = snapshot.properties['delta.autoOptimize.autoCompact']?.toLowerCase();
  return value === 'true' || value === 'auto' || value === 'legacy';
}

/**
 * The source query and file size of an optimized write: the rows sorted by
 * the clustering key (when the table has clustering columns), and the
 * autotuned target size unless one is given.
 *
 * @example
 * const { sourceSql, targetFileSize } = await optimizedWrite(snapshot, connection, sql, undefined);
 */
export async function optimizedWrite(
  snapshot: Snapshot,
  connection: DuckDBConnection,
  sourceSql: string,
  targetFileSize: number | undefined,
): Promise<{ sourceSql: string; targetFileSize: number }> {
  const target = targetFileSize ?? resolveTargetFileSize(snapshot);
  const clustering = clusteringColumns(snapshot);
  if (clustering.length === 0) return { sourceSql, targetFileSize: target };
  const columns = resolveZOrderColumns(
    {
      schema: snapshot.schema,
      partitionColumns: snapshot.partitionColumns,
      columnMappingMode: snapshot.columnMappingMode,
      table: snapshot.root,
    },
    clustering,
    'CLUSTER BY',
  );
  // The new rows have no stats yet: their ranges come from one aggregate over the input.
  return { sourceSql: await zOrderedSql(connection, sourceSql, columns), targetFileSize: target };
}

/** The outcome of auto compaction after a write. */
export interface AutoCompaction {
  readonly table: Snapshot;
  /** Set when a compaction was committed. */
  readonly metrics?: OptimizeMetrics;
  /** Set when the compaction failed (the write itself succeeded). */
  readonly error?: string;
}

/**
 * After a write committed `written` into `snapshot`: bin-pack the partitions
 * it touched that hold more than `AUTO_COMPACT_MIN_NUM_FILES` small files.
 *
 * @example
 * const { table, metrics } = await autoCompact(result.snapshot, written.adds, store);
 */
export async function autoCompact(
  snapshot: Snapshot,
  written: readonly Add[],
  store: LogStore,
): Promise<AutoCompaction> {
  if (written.length === 0) return { table: snapshot };
  try {
    const target = resolveTargetFileSize(snapshot);
    const mode = snapshot.columnMappingMode;
    const keys = snapshot.partitionColumns.map((name) => {
      const field = snapshot.schema.fields.find((f) => f.name === name);
      return field ? physicalName(field, mode) : name;
    });
    const keyOf = (values: Readonly<Record<string, string | null>>) =>
      JSON.stringify(keys.map((k) => (values[k] === '' ? null : (values[k] ?? null))));
    const touched = new Map(written.map((a) => [keyOf(a.partitionValues), a.partitionValues]));
    const small = new Map<string, number>();
    for (const file of snapshot.files) {
      if (file.size >= target) continue;
      const key = keyOf(file.partitionValues);
      if (touched.has(key)) small.set(key, (small.get(key) ?? 0) + 1);
    }
    const partitions = [...touched].filter(([key]) => (small.get(key) ?? 0) > AUTO_COMPACT_MIN_NUM_FILES);
    if (partitions.length === 0) return { table: snapshot };
    const result = await optimizeTable(snapshot, {
      binPackOnly: true,
      partitions: partitions.map(([, values]) => values),
      auto: true,
      store,
    });
    return { table: result.table, metrics: result.metrics };
  } catch (error) {
    return { table: snapshot, error: isLarderError(error) ? error.message : String(error) };
  }
}
