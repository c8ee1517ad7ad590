/**
 * The shape of `larder.config.ts` and the identity `defineConfig` that types
 * it. This file holds types and one function only (it is the `larderjs/config`
 * entry point, imported by every project's config file), so loading a config
 * never pulls in DuckDB, SQLite or PostgreSQL.
 *
 * Names: sources, entities and pipelines are keyed by a short name
 * (`[a-z_][a-z0-9_]*`); feature tables by their three-level name
 * (`catalog.schema.table`). Validation (`validate-config.ts`) checks every
 * cross-reference and reports the file, object and field at fault.
 */

/** Delta type names accepted for declared columns. */
export type FeatureType =
  | 'boolean'
  | 'byte'
  | 'short'
  | 'integer'
  | 'long'
  | 'float'
  | 'double'
  | 'string'
  | 'binary'
  | 'date'
  | 'timestamp'
  | 'timestamp_ntz'
  | `decimal(${number},${number})`;

interface SourceBase {
  /** Human description, shown by `larder describe`. */
  readonly description?: string;
  /**
   * The column that says when a row last changed (a timestamp or an
   * increasing number), such as `_change_timestamp`. Incremental runs read
   * only rows whose change column is past the pipeline's watermark.
   */
  readonly changeColumn?: string;
}

/** A Delta table: a catalog name (`ml.churn_raw.raw_transactions`) or a folder path (relative to the project). */
export interface DeltaSource extends SourceBase {
  readonly type: 'delta';
  readonly table?: string;
  readonly path?: string;
}

/** CSV or Parquet files: a path or glob relative to the project folder. */
export interface FileSource extends SourceBase {
  readonly type: 'csv' | 'parquet';
  readonly path: string;
  /** CSV only: options passed to DuckDB's `read_csv` (`{ delim: ';', header: true }`). */
  readonly options?: Readonly<Record<string, string | number | boolean>>;
}

/** A PostgreSQL table (or view). */
export interface PostgresSource extends SourceBase {
  readonly type: 'postgres';
  /** `postgres://user@host:port/db`; default: env `LARDER_SOURCE_POSTGRES_URL`. */
  readonly url?: string;
  /** `schema.table` or `table` (schema `public`). */
  readonly table: string;
}

export type SourceConfig = DeltaSource | FileSource | PostgresSource;

/** An entity: the thing features describe, and the key that identifies it. */
export interface EntityConfig {
  /** Join keys (the primary key of the entity's feature tables, timeseries column aside). */
  readonly keys: readonly string[];
  readonly description?: string;
}

/** A declared feature column. */
export interface FeatureConfig {
  readonly type?: FeatureType;
  readonly description?: string;
}

export interface FeatureTableConfig {
  /** The entity whose keys are the primary keys (or give `primaryKeys`). */
  readonly entity?: string;
  /** Primary key columns; with `timeseriesColumn`, that column is part of them. */
  readonly primaryKeys?: readonly string[];
  readonly timeseriesColumn?: string;
  readonly partitionColumns?: readonly string[];
  readonly clusterBy?: readonly string[];
  readonly description?: string;
  readonly owner?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Declared features (name → type/description). Optional: the pipeline's
   * output defines them; when given, types are checked against the output.
   */
  readonly features?: Readonly<Record<string, FeatureConfig>>;
  /** Delta table properties (`delta.enableChangeDataFeed`, …). */
  readonly properties?: Readonly<Record<string, string>>;
}

/** What a SQL-building function receives. */
export interface PipelineContext {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** `full` or `incremental`. The SQL must give the same rows per key in both. */
  readonly mode: 'full' | 'incremental';
  /** The pipeline's `params`. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

export interface IncrementalConfig {
  /** The entity key column(s) shared by the output and the change-tracked sources. */
  readonly key: string | readonly string[];
  /**
   * Change-tracked sources and their change column (default: the source's
   * own `changeColumn`). Sources not listed are read whole on every run.
   */
  readonly sources?: Readonly<Record<string, { readonly changeColumn?: string }>> | readonly string[];
}

export interface PipelineConfig {
  /** The feature table written (its three-level name, a key of `featureTables`). */
  readonly output: string;
  /** The sources the SQL reads, by name (each is a relation of that name in the SQL). */
  readonly sources: readonly string[];
  /** A DuckDB SQL query over the sources, or a function returning one. */
  readonly sql: string | ((context: PipelineContext) => string);
  /**
   * Incremental runs (without it every run is full).
   *
   * The contract that makes an incremental run equal a full one: an
   * entity's output rows depend only on the source rows with that entity's
   * key and on sources without the key columns. Tracked sources change by
   * rows whose change column moves forward and is not null; a deletion is
   * an update that marks the row deleted; a row's key never changes.
   * Changes to untracked sources need `larder run --full`.
   */
  readonly incremental?: IncrementalConfig;
  /** Values for `context.params`. */
  readonly params?: Readonly<Record<string, string | number | boolean>>;
  readonly description?: string;
}

export interface JobConfig {
  /** Quartz or cron schedule (`0 0 * * * ?`). */
  readonly schedule?: string;
  /** Pipelines run in order. */
  readonly pipelines: readonly string[];
  readonly paused?: boolean;
}

export interface LarderConfig {
  /**
   * The project's name (default: its folder's name). Tables the config
   * creates are marked with it, so `larder apply --prune` removes only this
   * project's tables from a catalog several projects share.
   */
  readonly project?: string;
  /** The catalog: a `postgres://` URL (env `LARDER_CATALOG_URL` wins), else the project's SQLite catalog. */
  readonly catalog?: { readonly url?: string };
  /** Where managed tables go (default `.larder/warehouse`). */
  readonly warehouse?: string;
  readonly sources?: Readonly<Record<string, SourceConfig>>;
  readonly entities?: Readonly<Record<string, EntityConfig>>;
  readonly featureTables?: Readonly<Record<string, FeatureTableConfig>>;
  readonly pipelines?: Readonly<Record<string, PipelineConfig>>;
  readonly jobs?: Readonly<Record<string, JobConfig>>;
}

/**
 * Type a Larder config; returns it unchanged.
 *
 * @example
 * // larder.config.ts
 * import { defineConfig } from 'larderjs/config';
 * export default defineConfig({
 *   sources: { raw_transactions: { type: 'delta', path: 'data/raw_transactions', changeColumn: '_change_timestamp' } },
 *   entities: { customer: { keys: ['customer_id'] } },
 *   featureTables: { 'ml.churn_features.customer_features': { entity: 'customer' } },
 *   pipelines: {
 *     customer_features: {
 *       output: 'ml.churn_features.customer_features',
 *       sources: ['raw_transactions'],
 *       sql: 'SELECT customer_id, count(*) AS num_transactions FROM raw_transactions GROUP BY customer_id',
 *       incremental: { key: 'customer_id' },
 *     },
 *   },
 * });
 */
export function defineConfig<const C extends LarderConfig>(config: C): C {
  return config;
}
