/**
 * A source bound for one pipeline run: a relation the pipeline's SQL reads
 * under the source's name. Binding pins the data (a Delta table's version,
 * a CSV/Parquet glob's file list, a PostgreSQL repeatable-read transaction),
 * so every read of one run sees the same rows.
 *
 * Every kind (`delta`, `csv`/`parquet`, `postgres`) implements this same
 * interface; `bindSource` picks one.
 */

/** A column of a source, with its DuckDB type. */
export interface SourceColumn {
  readonly name: string;
  readonly duckType: string;
}

/** Rows to read: those changed past a watermark, and/or those of some entity keys. */
export interface SourceReadOptions {
  /**
   * Only rows whose change column is past `value` (text, cast to the
   * column's type); `value` null means every row with a change value.
   */
  readonly changedAfter?: { readonly column: string; readonly value: string | null };
  /** Only rows whose key columns match a row of `table` (a DuckDB table of the run). */
  readonly keys?: KeyFilter;
}

/** The affected entity keys of an incremental run. */
export interface KeyFilter {
  /** A DuckDB table (qualified, quoted) holding the distinct keys. */
  readonly table: string;
  /** Its columns: the entity key columns, named as in the sources. */
  readonly columns: readonly string[];
  /** How many keys it holds. */
  readonly count: number;
  /** The keys as text (one array per key, in `columns` order), read once when a source asks. */
  values(): Promise<readonly (readonly string[])[]>;
}

/** What a read gives: a DuckDB SELECT, and what is known of its cost. */
export interface SourceRead {
  /** A self-contained DuckDB query (absolute paths, tables of the run's schema). */
  readonly sql: string;
  /** Data files it reads, after pruning (file sources and Delta tables). */
  readonly files?: number;
  /** Data files of the source. */
  readonly filesTotal?: number;
  /** Rows it returns, when known without a scan (copied or materialised rows, Delta stats). */
  readonly rows?: number;
}

/**
 * @example
 * const source = await bindSource({ engine, scope, projectDir, name: 'raw_transactions', config });
 * try {
 *   const { sql } = await source.read({ changedAfter: { column: '_change_timestamp', value: '2024-07-01 00:00:00+00' } });
 * } finally {
 *   await source.close();
 * }
 */
export interface BoundSource {
  readonly name: string;
  /** What it is, for messages and lineage: `delta table ml.raw.tx version 12`, a path, … */
  readonly description: string;
  /** Its columns and DuckDB types (known without reading rows). */
  readonly columns: readonly SourceColumn[];
  /** Rows of the pinned data, when known without a scan (Delta statistics). */
  readonly knownRows?: number;
  /** A relation of the pinned data. */
  read(options?: SourceReadOptions): Promise<SourceRead>;
  /** Release what binding holds (a PostgreSQL connection); idempotent. */
  close(): Promise<void>;
}
