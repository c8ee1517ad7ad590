/**
 * The public API of Larder, kept by hand: what is exported here is what
 * users may rely on. Internals (log replay, scan planning, the statement
 * parser) stay importable by path for Larder's own modules and tests only.
 */

export type {
  FeatureColumn,
  FeatureLineage,
  FeatureTableInfo,
  Metastore,
  NewTable,
  TableEntry,
  TableName,
  TablePatch,
  ViewEntry,
} from './catalog/metastore.js';
export { CATALOG_URL_ENV, openMetastore } from './catalog/open-metastore.js';
export { PostgresMetastore } from './catalog/postgres/postgres-metastore.js';
export { SqliteMetastore } from './catalog/sqlite/sqlite-metastore.js';
export { type ApplyResult, applyPlan } from './config/apply.js';
export type * from './config/define-config.js';
export { defineConfig } from './config/define-config.js';
export { formatPlan } from './config/format-plan.js';
export { initProject } from './config/init-project.js';
export {
  CONFIG_FILE_NAMES,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
} from './config/load-config.js';
export {
  isManagedByConfig,
  isManagedByProject,
  MANAGED_BY_PROPERTY,
  PROJECT_PROPERTY,
  projectName,
} from './config/managed-by.js';
export { openProject } from './config/open-project.js';
export {
  type FieldChange,
  type Plan,
  type PlanAction,
  type PlannedTable,
  planConfig,
  planSummary,
} from './config/plan.js';
export { type ConfigProblem, findConfigProblems, validateConfig } from './config/validate-config.js';
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
export type { WriteOptions, WriteReadFootprint } from './delta/operations/write.js';
export type { WriteSource } from './delta/operations/write-source.js';
export type { Predicate } from './delta/scan/predicate.js';
export { Engine } from './engine/engine.js';
export type { SqlResult } from './engine/sql-result.js';
export { isLarderError, LarderError, type LarderErrorCode } from './errors.js';
export type { DataFrame } from './features/data-frame.js';
export {
  type CreateFeatureTableOptions,
  type FeatureArrowTable,
  type FeatureRowProxy,
  FeatureStore,
  type FeatureStoreOptions,
  type FeatureTableRef,
  type ListFeatureTablesOptions,
  type ReadFeatureTableOptions,
  type TypedCreateFeatureTableOptions,
  type WriteFeatureTableOptions,
  type WriteFeatureTableResult,
} from './features/feature-store.js';
export type { FeatureTable, FeatureTableColumn, RowOf } from './features/feature-table.js';
export type {
  FeatureColumnSpec,
  FeatureEvolvingRow,
  FeatureInputRow,
  FeatureRow,
  FeatureValue,
  SchemaSpec,
} from './features/schema-spec.js';
export { type ComputationMetricsRow, METRICS_TABLE } from './pipelines/computation-metrics.js';
export { describePipelineOutput, type OutputColumn } from './pipelines/describe-pipeline-output.js';
export { ensureOutputTable, pipelineLineage } from './pipelines/ensure-output-table.js';
export { type ListRunsOptions, listRuns, type PipelineRun } from './pipelines/list-runs.js';
export { type PipelineState, readPipelineState } from './pipelines/pipeline-state.js';
export {
  type RunPipelineOptions,
  type RunProgress,
  type RunResult,
  runPipeline,
} from './pipelines/run-pipeline.js';
export { formatResult } from './sql/format-result.js';
export { SqlSession } from './sql/sql-session.js';
