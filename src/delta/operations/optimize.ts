/**
 * OPTIMIZE: rewrite a table's files into fewer, well-sized and (optionally)
 * well-clustered ones, without changing its rows.
 *
 * - Bin-packing (the default): in each partition, the files smaller than the
 *   target size are compacted into files of about the target size; files
 *   with deletion vectors are always rewritten, which purges their deleted
 *   rows. A partition with a single small file is left alone.
 * - Z-order (`zorderBy`, or the clustering columns of a table that has
 *   them): every file of the selected partitions is rewritten, sorted by
 *   the Z-order key of the columns (`z-order.ts`), so that stats prune on
 *   each column. Files so written carry a `larder.zOrderBy` tag; a partition
 *   whose files all carry the same tag (and no deletion vector) is already
 *   done and is skipped, so repeating OPTIMIZE costs nothing.
 * - Liquid clustering (a table with the `clustering` feature and no
 *   `zorderBy`): incremental, as the protocol asks: only files not yet
 *   clustered (no `clusteringProvider`) and files with deletion vectors are
 *   rewritten, sorted by the clustering key, and marked
 *   `clusteringProvider: 'liquid'`.
 *
 * How it stays fast: the files to rewrite are read by one scan and sorted
 * by one DuckDB statement: no per-input-file query and no JavaScript per
 * row. Bin-packing writes with one `COPY` split by file size. Sorted rows
 * first go to a temporary table (DuckDB keeps insertion order) and each
 * output file is one `COPY` of a contiguous slice of it: a size-split COPY
 * writes from several threads at once and would mix the ends of
 * neighbouring files, widening their ranges. Partitioned tables write all
 * the partitions that fit in one target-sized file with one partitioned
 * COPY, and each larger partition into its own directory.
 *
 * Invariants:
 * - The commit removes and adds files with `dataChange: false` (readers of
 *   the change feed see nothing); time travel to earlier versions still
 *   reads the old files, which stay until VACUUM.
 * - Nothing to do commits nothing.
 * - Concurrent appends do not conflict; a concurrent commit that removed a
 *   file being compacted does (`CONCURRENT_MODIFICATION`), and the new files
 *   are deleted.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { connect, queryJson, sqlIdent, sqlString } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Action, Add } from '../log/actions.js';
import { physicalName, type StructField, toDuckDBType } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { fileStats } from '../log/stats.js';
import { planScan } from '../scan/scan.js';
import { dataFileLocalPath, encodeDataFilePath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { clusteringColumns, isClusteredTable } from './clustering.js';
import { discardUncommitted } from './discard-uncommitted.js';
import type { OperationResult } from './operation-result.js';
import { removeOf } from './write.js';
import { writeDataFiles } from './write-files.js';
import {
  boundsFromStats,
  keyHasQuantiles,
  resolveZOrderColumns,
  Z_KEY,
  type ZOrderColumn,
  zOrderedSql,
  zOrderKeyedSql,
} from './z-order.js';

/** Tag on files written sorted by a Z-order key: the JSON list of its columns. */
export const ZORDER_TAG = 'larder.zOrderBy';

/** `clusteringProvider` of the files OPTIMIZE clusters on tables with liquid clustering. */
export const CLUSTERING_PROVIDER = 'liquid';

const MIB = 1024 * 1024;
/** Bounds of the autotuned target file size. */
const MIN_AUTO_TARGET = MIB;
const MAX_AUTO_TARGET = 256 * MIB;
/** The autotuned target aims at this many files for the table. */
const AUTO_TARGET_FILES = 32;

export interface OptimizeOptions {
  /** SQL predicate on partition columns only: the partitions to optimize (default: all). */
  readonly where?: string;
  /** Z-order by these columns (default: the table's clustering columns, if any). */
  readonly zorderBy?: readonly string[];
  /** Target size of the files written (default: `delta.targetFileSize`, else autotuned from the table size). */
  readonly targetFileSize?: number;
  /** Only bin-pack, ignoring clustering columns (auto compaction). */
  readonly binPackOnly?: boolean;
  /** Only these partitions (partition values as in the log), e.g. those a write touched. */
  readonly partitions?: readonly Readonly<Record<string, string | null>>[];
  /** Recorded as `operationParameters.auto` (true for auto compaction). */
  readonly auto?: boolean;
  readonly userMetadata?: string;
  readonly store?: LogStore;
}

/** The metrics of an OPTIMIZE, named as Delta names them in `commitInfo.operationMetrics`. */
export interface OptimizeMetrics {
  readonly numAddedFiles: number;
  readonly numRemovedFiles: number;
  readonly numAddedBytes: number;
  readonly numRemovedBytes: number;
  /** Sizes of the added files. */
  readonly minFileSize: number;
  readonly p25FileSize: number;
  readonly p50FileSize: number;
  readonly p75FileSize: number;
  readonly maxFileSize: number;
  readonly numDeletionVectorsRemoved: number;
  readonly partitionsOptimized: number;
  /** Live files in the selected partitions. */
  readonly totalConsideredFiles: number;
  /** Of those, the files left as they were. */
  readonly totalFilesSkipped: number;
  /** DuckDB COPY statements run (one per file for sorted rewrites). */
  readonly numBatches: number;
  readonly targetFileSize: number;
  /** Columns the rewritten rows were sorted by (Z-order or clustering), empty for bin-packing. */
  readonly zOrderBy: readonly string[];
  readonly executionTimeMs: number;
}

/**
 * Compact (and optionally Z-order) the table whose latest snapshot is `snapshot`.
 *
 * @example
 * const { table, metrics } = await optimizeTable(snapshot, { zorderBy: ['customer_id'] });
 * console.log(metrics.numRemovedFiles, '→', metrics.numAddedFiles);
 * await optimizeTable(table, { where: "day >= DATE '2024-05-01'" });
 */
export async function optimizeTable(
  snapshot: Snapshot,
  options: OptimizeOptions = {},
): Promise<OperationResult<OptimizeMetrics>> {
  const started = performance.now();
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  const store = options.store ?? new LocalLogStore(table);
  const target = resolveTargetFileSize(snapshot, options.targetFileSize);
  const where = options.where?.trim() ? options.where.trim() : undefined;

  const keyOf = partitionKeyFn(snapshot);
  let allowed: Set<string> | undefined;
  if (where) allowed = await partitionsMatching(snapshot, where);
  if (options.partitions) {
    const only = new Set(options.partitions.map((values) => keyOf({ partitionValues: values })));
    allowed = allowed ? new Set([...allowed].filter((k) => only.has(k))) : only;
  }

  const tableShape = {
    schema: snapshot.schema,
    partitionColumns: snapshot.partitionColumns,
    columnMappingMode: snapshot.columnMappingMode,
    table,
  };
  const clustering = options.binPackOnly ? [] : clusteringColumns(snapshot);
  const explicit = options.zorderBy && options.zorderBy.length > 0 ? options.zorderBy : undefined;
  const liquid = !explicit && clustering.length > 0 && isClusteredTable(snapshot);
  const orderNames = explicit ?? (options.binPackOnly ? [] : clustering);
  const columns: ZOrderColumn[] =
    orderNames.length > 0
      ? resolveZOrderColumns(tableShape, orderNames, explicit ? 'ZORDER BY' : 'CLUSTER BY')
      : [];
  const mode: Mode = columns.length === 0 ? 'binpack' : liquid ? 'liquid' : 'zorder';
  const tag = JSON.stringify(columns.map((c) => c.name));

  // Partitions and the files of each to rewrite.
  const byPartition = new Map<string, Add[]>();
  for (const file of snapshot.files) {
    const key = keyOf(file);
    if (allowed && !allowed.has(key)) continue;
    let list = byPartition.get(key);
    if (!list) {
      list = [];
      byPartition.set(key, list);
    }
    list.push(file);
  }
  let considered = 0;
  const selected: Add[][] = [];
  for (const files of byPartition.values()) {
    considered += files.length;
    const chosen = chooseFiles(files, mode, target, tag);
    if (chosen.length > 0) selected.push(chosen);
  }
  const rewritten = selected.flat();
  const metricsOf = (adds: readonly Add[], batches: number): OptimizeMetrics => {
    const sizes = adds.map((a) => a.size).sort((a, b) => a - b);
    const pick = (q: number) =>
      sizes.length === 0 ? 0 : sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))]!;
    return {
      numAddedFiles: adds.length,
      numRemovedFiles: rewritten.length,
      numAddedBytes: sizes.reduce((s, x) => s + x, 0),
      numRemovedBytes: rewritten.reduce((s, f) => s + f.size, 0),
      minFileSize: sizes[0] ?? 0,
      p25FileSize: pick(0.25),
      p50FileSize: pick(0.5),
      p75FileSize: pick(0.75),
      maxFileSize: sizes[sizes.length - 1] ?? 0,
      numDeletionVectorsRemoved: rewritten.filter((f) => f.deletionVector).length,
      partitionsOptimized: selected.length,
      totalConsideredFiles: considered,
      totalFilesSkipped: considered - rewritten.length,
      numBatches: batches,
      targetFileSize: target,
      zOrderBy: columns.map((c) => c.name),
      executionTimeMs: Math.round(performance.now() - started),
    };
  };
  if (rewritten.length === 0) return { table: snapshot, metrics: metricsOf([], 0) };

  const connection = await connect();
  const written: string[] = [];
  try {
    const adds: Add[] = [];
    let copies = 0;
    const batches = planBatches(snapshot, selected, target);
    for (const batch of batches) {
      const out = await rewriteBatch(snapshot, batch, columns, target, connection);
      written.push(...out.files);
      copies += out.copies;
      for (const add of out.adds) {
        if (mode === 'binpack') adds.push(add);
        else {
          adds.push({
            ...add,
            tags: { [ZORDER_TAG]: tag },
            ...(mode === 'liquid' ? { clusteringProvider: CLUSTERING_PROVIDER } : {}),
          });
        }
      }
    }
    const now = Date.now();
    const actions: Action[] = [
      ...rewritten.map((f): Action => ({ remove: { ...removeOf(f, now), dataChange: false } })),
      ...adds.map((add): Action => ({ add })),
    ];
    const metrics = metricsOf(adds, copies);
    const { zOrderBy: _columns, ...numbers } = metrics;
    const result = await new Transaction(store, snapshot, {
      operation: 'OPTIMIZE',
      operationParameters: {
        predicate: JSON.stringify(where ? [where] : []),
        zOrderBy: JSON.stringify(mode === 'zorder' ? metrics.zOrderBy : []),
        ...(mode === 'liquid' ? { clusterBy: JSON.stringify(metrics.zOrderBy) } : {}),
        auto: options.auto === true,
      },
      operationMetrics: numbers,
      readPredicate: 'none',
      readFiles: rewritten.map((f) => f.path),
      isBlindAppend: false,
      isolationLevel: 'Serializable',
      userMetadata: options.userMetadata,
    })
      .addActions(...actions)
      .commit();
    return { table: result.snapshot, metrics };
  } catch (error) {
    await discardUncommitted(written, error);
    throw error;
  } finally {
    connection.closeSync();
  }
}

/**
 * The target size of the files OPTIMIZE and optimized writes produce: the
 * explicit value, else the table property `delta.targetFileSize` (bytes, or
 * with a unit: `128mb`), else autotuned from the table's size as
 * clamp(live bytes / 32, 1 MiB, 256 MiB).
 *
 * @example
 * resolveTargetFileSize(snapshot); // 4 MiB for a 128 MiB table
 */
export function resolveTargetFileSize(snapshot: Snapshot, explicit?: number): number {
  if (explicit !== undefined) {
    if (!(explicit > 0) || !Number.isFinite(explicit)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `target file size must be a positive number, not ${explicit}`,
        {
          table: snapshot.root,
        },
      );
    }
    return Math.floor(explicit);
  }
  const property = snapshot.properties['delta.targetFileSize'];
  if (property !== undefined) {
    const bytes = parseByteSize(property);
    if (bytes === undefined) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `table property delta.targetFileSize of ${snapshot.root} is "${property}", not a size`,
        { table: snapshot.root, hint: "use bytes or a size with a unit, e.g. '134217728' or '128mb'" },
      );
    }
    return bytes;
  }
  const live = snapshot.files.reduce((sum, f) => sum + f.size, 0);
  return Math.min(MAX_AUTO_TARGET, Math.max(MIN_AUTO_TARGET, Math.floor(live / AUTO_TARGET_FILES)));
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: MIB,
  mb: MIB,
  g: 1024 * MIB,
  gb: 1024 * MIB,
  t: 1024 * 1024 * MIB,
  tb: 1024 * 1024 * MIB,
};

/** `134217728`, `128mb`, `1g` → bytes (binary units), or undefined. */
function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return bytes > 0 ? bytes : undefined;
}

type Mode = 'binpack' | 'zorder' | 'liquid';

/** The files of one partition to rewrite (none when the partition is fine as it is). */
function chooseFiles(files: readonly Add[], mode: Mode, target: number, tag: string): Add[] {
  switch (mode) {
    case 'binpack': {
      const small = files.filter((f) => f.deletionVector || f.size < target);
      return small.length >= 2 || small.some((f) => f.deletionVector) ? small : [];
    }
    case 'zorder': {
      const done = files.every((f) => !f.deletionVector && f.tags?.[ZORDER_TAG] === tag);
      return done ? [] : [...files];
    }
    case 'liquid':
      return files.filter(
        (f) =>
          f.deletionVector ||
          f.clusteringProvider !== CLUSTERING_PROVIDER ||
          (f.tags?.[ZORDER_TAG] !== undefined && f.tags[ZORDER_TAG] !== tag),
      );
  }
}

/**
 * Sorted rewrites larger than this (input bytes) are written with one size-split COPY instead
 * of through a temporary table: neighbouring files may then overlap a little at their ends,
 * but the rows are not held twice (sorted, and in the table) while they are written.
 */
const MAX_SLICED_BYTES = 4 * 1024 * MIB;

/** Files rewritten together: several partitions written partitioned, or one partition (or the table) split by size. */
interface Batch {
  readonly files: readonly Add[];
  /** Set when the batch is one partition written into its own directory (split by size). */
  readonly partitionValues?: Readonly<Record<string, string | null>>;
}

/**
 * Unpartitioned tables: one batch. Partitioned: one batch for all partitions
 * that fit in one file (one partitioned COPY writes one file each), one per
 * larger partition (written into its directory, split by size).
 */
function planBatches(snapshot: Snapshot, selected: readonly (readonly Add[])[], target: number): Batch[] {
  if (snapshot.partitionColumns.length === 0) return [{ files: selected.flat() }];
  const small: Add[] = [];
  const batches: Batch[] = [];
  for (const files of selected) {
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    if (bytes <= target) small.push(...files);
    else batches.push({ files, partitionValues: files[0]!.partitionValues });
  }
  if (small.length > 0) batches.unshift({ files: small });
  return batches;
}

/** The new files of a batch, and their local paths (to delete if the commit fails). */
interface Rewritten {
  readonly adds: Add[];
  readonly files: string[];
  /** COPY statements run. */
  readonly copies: number;
}

/** Rewrite the rows of a batch's files (deleted rows dropped), sorted by `columns` when given. */
async function rewriteBatch(
  snapshot: Snapshot,
  batch: Batch,
  columns: readonly ZOrderColumn[],
  target: number,
  connection: DuckDBConnection,
): Promise<Rewritten> {
  const scan = await planScan(snapshot, { files: batch.files });
  const sourceSql =
    columns.length > 0
      ? await zOrderedSql(connection, scan.sql, columns, boundsFromStats(columns, batch.files))
      : scan.sql;
  const partitioned = snapshot.partitionColumns.length > 0;
  if (partitioned && batch.partitionValues === undefined) {
    // Partitions that each fit in one file: one partitioned COPY writes one file per partition.
    const written = await writeDataFiles({
      ...writeOptions(snapshot, connection),
      root: snapshot.root,
      schema: snapshot.schema,
      partitionColumns: snapshot.partitionColumns,
      sourceSql,
      rowGroupSize: rowGroupRows(batch.files, target),
    });
    return { adds: [...written.adds], files: localFiles(snapshot.root, written.adds), copies: 1 };
  }
  const dir = batch.partitionValues ? partitionDirectory(snapshot, batch.partitionValues) : '';
  const into = async (
    sql: string,
    fileSize: number,
    rowGroupSize: number,
    bucketColumn?: string,
  ): Promise<Add[]> => {
    const root = dir ? join(snapshot.root, dir) : snapshot.root;
    if (dir) await mkdir(root, { recursive: true });
    const partitions = new Set(snapshot.partitionColumns);
    const written = await writeDataFiles({
      ...writeOptions(snapshot, connection),
      root,
      schema: { type: 'struct', fields: snapshot.schema.fields.filter((f) => !partitions.has(f.name)) },
      partitionColumns: [],
      sourceSql: sql,
      targetFileSize: fileSize,
      rowGroupSize,
      bucketColumn,
    });
    if (!dir) return [...written.adds];
    const prefix = encodeDataFilePath(dir);
    return written.adds.map((add) => ({
      ...add,
      path: `${prefix}/${add.path}`,
      partitionValues: batch.partitionValues!,
    }));
  };
  const bytes = batch.files.reduce((sum, f) => sum + f.size, 0);
  if (columns.length === 0 || bytes > MAX_SLICED_BYTES) {
    // DuckDB starts a new file once the current one passes FILE_SIZE_BYTES, checked as row groups
    // are flushed, so files end up a row group or two past it: half the target, and row groups of a
    // quarter of it, give files of about the target size.
    const adds = await into(
      sourceSql,
      Math.max(1, Math.floor(target / 2)),
      rowGroupRows(batch.files, target / 4),
    );
    return { adds, files: localFiles(snapshot.root, adds), copies: 1 };
  }
  if (keyHasQuantiles(columns)) {
    return rewriteByKeyRanges(connection, snapshot, batch, columns, scan.sql, bytes, target, into);
  }
  // Sorted rows: DuckDB's size-split COPY writes from several threads at once, which mixes the
  // ends of neighbouring files and widens their ranges. So the sorted rows go to a temporary table
  // (insertion order kept), and each file is one COPY of a contiguous slice of it.
  const temp = `__larder_sorted_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const adds: Add[] = [];
  let copies = 0;
  try {
    await connection.run(`CREATE TEMP TABLE ${temp} AS ${sourceSql}`);
    const [row] = await queryJson(connection, `SELECT count(*) AS n FROM ${temp}`);
    const rows = Number(row?.n ?? 0);
    const slices = Math.max(1, Math.min(rows, Math.round(bytes / target)));
    const perSlice = Math.ceil(rows / slices);
    const rowGroupSize = clampRowGroup(perSlice / 4);
    for (let start = 0; start < rows; start += perSlice) {
      adds.push(
        ...(await into(
          `SELECT * FROM ${temp} WHERE rowid >= ${start} AND rowid < ${start + perSlice}`,
          Number.MAX_SAFE_INTEGER,
          rowGroupSize,
        )),
      );
      copies++;
    }
    return { adds, files: localFiles(snapshot.root, adds), copies };
  } catch (error) {
    await Promise.all(
      localFiles(snapshot.root, adds).map((f) => rm(f, { force: true }).catch(() => undefined)),
    );
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${temp}`).catch(() => undefined);
  }
}

/** Folder name of the key ranges `rewriteByKeyRanges` writes (not underscored: VACUUM must see it). */
const KEY_RANGE_COLUMN = 'zrange';

/**
 * Z-order without a sort: approximate quantiles of the key (one pass over the
 * key columns only) cut it into as many ranges as there should be files, and
 * one partitioned COPY writes each range into its own folder. Files then hold
 * disjoint key ranges, which is what file skipping needs; rows inside a file
 * keep their input order.
 */
async function rewriteByKeyRanges(
  connection: DuckDBConnection,
  snapshot: Snapshot,
  batch: Batch,
  columns: readonly ZOrderColumn[],
  scanSql: string,
  bytes: number,
  target: number,
  into: (sql: string, fileSize: number, rowGroupSize: number, bucketColumn?: string) => Promise<Add[]>,
): Promise<Rewritten> {
  const keyed = await zOrderKeyedSql(connection, scanSql, columns, boundsFromStats(columns, batch.files));
  const ranges = Math.max(1, Math.round(bytes / target));
  let range = '0';
  if (ranges > 1) {
    const fractions = Array.from({ length: ranges - 1 }, (_, i) => (i + 1) / ranges);
    const [row] = await queryJson(
      connection,
      `SELECT CAST(approx_quantile(${Z_KEY}, [${fractions.join(', ')}]) AS VARCHAR[]) AS cuts,
              typeof(any_value(${Z_KEY})) AS type
       FROM (${keyed}) AS __larder_k`,
    );
    const cuts = [...new Set(((row?.cuts as (string | null)[] | null) ?? []).filter((c) => c !== null))];
    const type = String(row?.type ?? 'VARCHAR');
    // The range is how many cuts are <= the key, found by a balanced tree of comparisons.
    const tree = (lo: number, hi: number): string => {
      if (lo === hi) return String(lo);
      const mid = (lo + hi + 1) >> 1;
      return `CASE WHEN ${Z_KEY} < CAST(${sqlString(cuts[mid - 1]!)} AS ${type}) THEN ${tree(lo, mid - 1)} ELSE ${tree(mid, hi)} END`;
    };
    if (cuts.length > 0) range = `CASE WHEN ${Z_KEY} IS NULL THEN 0 ELSE ${tree(0, cuts.length)} END`;
  }
  const sql = `SELECT * EXCLUDE (${Z_KEY}), ${range} AS ${KEY_RANGE_COLUMN} FROM (${keyed}) AS __larder_k`;
  const adds = await into(
    sql,
    Number.MAX_SAFE_INTEGER,
    rowGroupRows(batch.files, target / 4),
    KEY_RANGE_COLUMN,
  );
  return { adds, files: localFiles(snapshot.root, adds), copies: 1 };
}

/** What every rewrite writes with: rows are unchanged, so CHECK constraints held when they were written. */
function writeOptions(snapshot: Snapshot, connection: DuckDBConnection) {
  const properties = Object.fromEntries(
    Object.entries(snapshot.properties).filter(([k]) => !k.toLowerCase().startsWith('delta.constraints.')),
  );
  return {
    columnMappingMode: snapshot.columnMappingMode,
    properties,
    table: snapshot.root,
    connection,
    dataChange: false,
  } as const;
}

/** Rows of a row group holding about `bytes` bytes of the given files' rows. */
function rowGroupRows(files: readonly Add[], bytes: number): number {
  let rows = 0;
  let size = 0;
  for (const f of files) {
    const n = fileStats(f)?.numRecords;
    if (n === undefined) continue;
    rows += n - (f.deletionVector?.cardinality ?? 0);
    size += f.size;
  }
  const bytesPerRow = rows > 0 && size > 0 ? size / rows : 100;
  return clampRowGroup(bytes / bytesPerRow);
}

/** A row group size DuckDB writes efficiently: whole vectors (2048 rows), at most its default. */
function clampRowGroup(rows: number): number {
  return Math.min(122_880, Math.max(2048, Math.floor(rows / 2048) * 2048));
}

function localFiles(root: string, adds: readonly Add[]): string[] {
  return adds.map((a) => dataFileLocalPath(root, a.path)).filter((p): p is string => p !== undefined);
}

/** Characters Hive escapes in partition directory names (as Spark's `escapePathName`). */
const HIVE_ESCAPED = /["#%'*/:=?\\\x00-\x1f\x7f{[\]^]/g;

function hiveEscape(text: string): string {
  return text.replace(HIVE_ESCAPED, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** `col=value/…` (on-disk form) for a partition's values. */
function partitionDirectory(snapshot: Snapshot, values: Readonly<Record<string, string | null>>): string {
  const mode = snapshot.columnMappingMode;
  return snapshot.partitionColumns
    .map((name) => {
      const field = snapshot.schema.fields.find((f) => f.name === name)!;
      const physical = physicalName(field, mode);
      const value = values[physical] ?? values[name] ?? null;
      return `${hiveEscape(physical)}=${value === null || value === '' ? '__HIVE_DEFAULT_PARTITION__' : hiveEscape(value)}`;
    })
    .join('/');
}

/** A function giving the partition a file belongs to, as a string key. */
function partitionKeyFn(snapshot: Snapshot): (file: Pick<Add, 'partitionValues'>) => string {
  const mode = snapshot.columnMappingMode;
  const keys = snapshot.partitionColumns.map((name) => {
    const field = snapshot.schema.fields.find((f) => f.name === name);
    return { name, physical: field ? physicalName(field, mode) : name };
  });
  return (file) =>
    JSON.stringify(
      keys.map(({ name, physical }) => {
        const v = file.partitionValues[physical] ?? file.partitionValues[name] ?? null;
        return v === '' ? null : v;
      }),
    );
}

/**
 * The partitions (keys as `partitionKeyFn` gives them) whose values satisfy
 * `where`, evaluated exactly by DuckDB over the distinct partition tuples.
 * Throws `INVALID_ARGUMENT` naming any column that is not a partition column.
 */
async function partitionsMatching(snapshot: Snapshot, where: string): Promise<Set<string>> {
  const table = snapshot.root;
  const partitionFields = snapshot.partitionColumns.map(
    (name) => snapshot.schema.fields.find((f) => f.name === name)!,
  );
  for (const column of await columnReferences(where)) {
    const field = partitionFields.find((f) => f.name.toLowerCase() === column.toLowerCase());
    if (!field) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `OPTIMIZE ${table} WHERE may only use partition columns; "${column}" is not one`,
        {
          table,
          column,
          hint:
            partitionFields.length > 0
              ? `partition columns: ${partitionFields.map((f) => f.name).join(', ')}`
              : 'the table has no partition columns',
        },
      );
    }
  }
  const keyOf = partitionKeyFn(snapshot);
  const tuples = new Map<string, Readonly<Record<string, string | null>>>();
  for (const file of snapshot.files) {
    const key = keyOf(file);
    if (!tuples.has(key)) tuples.set(key, file.partitionValues);
  }
  const result = new Set<string>();
  if (tuples.size === 0) return result;
  const keys = [...tuples.keys()];
  const mode = snapshot.columnMappingMode;
  const rows = keys.map((key, i) => {
    const values = tuples.get(key)!;
    const cells = partitionFields.map((f) => {
      const raw = values[physicalName(f, mode)] ?? values[f.name] ?? null;
      return typedLiteral(raw === '' ? null : raw, f);
    });
    return `(${[String(i), ...cells].join(', ')})`;
  });
  const names = ['__larder_i', ...partitionFields.map((f) => sqlIdent(f.name))].join(', ');
  const connection = await connect();
  try {
    const matching = await queryJson(
      connection,
      `SELECT __larder_i AS i FROM (VALUES ${rows.join(', ')}) AS __larder_p(${names}) WHERE ${where}`,
      `evaluating OPTIMIZE ${table} WHERE ${where}`,
    ).catch((error: unknown) => {
      throw new LarderError('INVALID_ARGUMENT', (error as Error).message, { table, cause: error });
    });
    for (const row of matching) result.add(keys[Number(row.i)]!);
  } finally {
    connection.closeSync();
  }
  return result;
}

/** A partition value (log string form) as a typed SQL constant. */
function typedLiteral(raw: string | null, field: StructField): string {
  const type = toDuckDBType(field.type);
  if (raw === null) return `CAST(NULL AS ${type})`;
  if (field.type === 'timestamp' && !/(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(raw)) {
    return `CAST(${sqlString(`${raw}+00`)} AS ${type})`;
  }
  return `CAST(${sqlString(raw)} AS ${type})`;
}

/** The (last part of the) names of the columns a SQL expression references. */
async function columnReferences(expression: string): Promise<string[]> {
  const connection = await connect();
  try {
    const [row] = await queryJson(
      connection,
      `SELECT json_serialize_sql(${sqlString(`SELECT * FROM t WHERE ${expression}`)}) AS ast`,
      'parsing a filter',
    );
    const ast = JSON.parse(String(row?.ast)) as Record<string, unknown>;
    if (ast.error) {
      throw new LarderError('INVALID_ARGUMENT', `cannot parse "${expression}": ${String(ast.error_message)}`);
    }
    const names = new Set<string>();
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) for (const child of node) visit(child);
      else if (node && typeof node === 'object') {
        const object = node as Record<string, unknown>;
        if (object.class === 'COLUMN_REF' && Array.isArray(object.column_names)) {
          const parts = object.column_names as string[];
          if (parts.length > 0) names.add(parts[parts.length - 1]!);
        }
        for (const value of Object.values(object)) visit(value);
      }
    };
    visit((ast.statements as unknown[] | undefined)?.[0]);
    return [...names];
  } finally {
    connection.closeSync();
  }
}
