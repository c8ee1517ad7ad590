/**
 * The public API of Larder, kept by hand: what is exported here is what
 * users may rely on. Internals (log replay, scan planning, the statement
 * parser) stay importable by path for Larder's own modules and tests only.
 */

export type { Metastore, TableEntry, TableName, ViewEntry } from './catalog/metastore.js';
export { SqliteMetastore } from './catalog/sqlite/sqlite-metastore.js';
export { DeltaTable, type TableWriteOptions } from './delta/delta-table.js';
export type { SnapshotSelector } from './delta/log/replay.js';
export type { StructType } from './delta/log/schema.js';
export type { Snapshot } from './delta/log/snapshot.js';
export type { ChangesOptions } from './delta/operations/change-data-feed.js';
export type { ColumnSpec, CreateTableOptions } from './delta/operations/create.js';
export type { DeleteMetrics } from './delta/operations/delete.js';
export type { HistoryEntry } from './delta/operations/history.js';
export type {
  MergeDelete,
  MergeInsert,
  MergeMetrics,
  MergeOptions,
  MergeUpdate,
} from './delta/operations/merge.js';
export type { OperationResult } from './delta/operations/operation-result.js';
export type { WriteSource } from './delta/operations/write-source.js';
export type { Predicate } from './delta/scan/predicate.js';
export { Engine } from './engine/engine.js';
export { isLarderError, LarderError, type LarderErrorCode } from './errors.js';
export { formatResult } from './sql/format-result.js';
export type { SqlResult } from './sql/sql-result.js';
export { SqlSession } from './sql/sql-session.js';
