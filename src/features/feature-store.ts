/**
 * The feature store client: Databricks Feature Engineering's
 * `FeatureEngineeringClient` (create_table, write_table, read_table,
 * get_table, drop_table, set/delete_feature_table_tag) for TypeScript.
 * Feature tables are Delta tables registered in the catalog with their
 * feature metadata (primary keys, timeseries column, partition and
 * clustering columns, owner, tags, lineage, feature descriptions).
 *
 * Invariants:
 * - a feature table's primary key columns are NOT NULL in its Delta schema,
 *   and writes never leave two rows with one key (merge upserts by key;
 *   an append whose df holds a key the table already has, and a df with
 *   duplicate or null keys, are refused before anything is written);
 * - `createTable` is all or nothing: on any failure the catalog entry and the
 *   folder it created are removed; a `_delta_log` without a commit (a create
 *   killed before its first commit) is no table; a committed table the
 *   catalog does not know is adopted only when it carries the create's
 *   `ownership` marks, else refused, never deleted;
 * - `dropTable` renames a managed folder away before deleting it, so a kill
 *   never leaves part of a table at its location;
 * - the catalog's `features` follow the Delta schema: a write that adds
 *   columns (nullable) does so in the one commit of its rows (append or
 *   merge with `mergeSchema`), and the catalog records them after that
 *   commit; a write that fails leaves the schema and the catalog as they were;
 * - a merge that loses a race with another commit is re-run on the new
 *   version (the same staged rows, so the same upsert), up to three times;
 * - an append declares the keys it checked (a non-blind Delta append with
 *   the keys' predicate): a concurrent commit adding files that may hold one
 *   of them makes it conflict, and it is re-run on the new version (keys
 *   checked again, so a key another writer just added is `DUPLICATE_KEY`),
 *   up to three times;
 * - reads and writes go through the engine, so SQL DataFrames may use Larder
 *   names and time travel, and every table is read at one snapshot.
 */
import { randomUUID } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Table as ArrowTable } from 'apache-arrow';
import {
  type FeatureTableInfo,
  type Metastore,
  normalizeTableName,
  type TableEntry,
  type TableName,
  tableFullName,
} from '../catalog/metastore.js';
import { DeltaTable } from '../delta/delta-table.js';
import type { DomainMetadata } from '../delta/log/actions.js';
import { fromDuckDBType, type StructType, toDuckDBType } from '../delta/log/schema.js';
import type { Snapshot } from '../delta/log/snapshot.js';
import { type ColumnSpec, normalizeSchema } from '../delta/operations/create.js';
import type { MergeMetrics } from '../delta/operations/merge.js';
import { reconcileSchema } from '../delta/operations/schema-reconcile.js';
import {
  type WriteMetrics,
  type WriteReadFootprint,
  writeTable as writeDelta,
} from '../delta/operations/write.js';
import { filesForKeys, keyPredicate, readKeyBounds } from '../delta/scan/key-pruning.js';
import { planScan } from '../delta/scan/scan.js';
import { queryJson, sqlIdent, sqlString } from '../duckdb/duckdb.js';
import { Engine } from '../engine/engine.js';
import { isLarderError, LarderError } from '../errors.js';
import { queryArrow } from './arrow/duckdb-to-arrow.js';
import { type DataFrame, type StagedFrame, stageDataFrame } from './data-frame.js';
import { type FeatureTable, featureColumns, toFeatureTable } from './feature-table.js';
import { assertKeys, keyColumns } from './key-checks.js';
import {
  type FeatureEvolvingRow,
  type FeatureInputRow,
  type FeatureRow,
  type SchemaSpec,
  schemaSpecColumns,
} from './schema-spec.js';
import { resolveDefinition } from './table-definition.js';
import { assertKnownColumns } from './unknown-columns.js';

export interface FeatureStoreOptions {
  /** The project folder (default: the current directory). */
  readonly projectDir?: string;
  /** Use this engine (not closed by `close()`); default: a new one on the project. */
  readonly engine?: Engine;
  /** The catalog, when the store opens its own engine (default: the project's). */
  readonly metastore?: Metastore;
  /** Where managed tables go, when the store opens its own engine (default `.larder/warehouse`). */
  readonly warehouse?: string;
  /** Create the project's folders when the store opens its own engine (default true; false for dry runs). */
  readonly createFolders?: boolean;
}

/** A table reference: a 1-, 2- or 3-part name (completed with `main.default`), or a `FeatureTable`. */
export type FeatureTableRef<R extends object = Record<string, unknown>> = string | FeatureTable<R>;

/** Any table reference, whatever its row type. */
type AnyTableRef = string | TableName | FeatureTable<object>;

export interface CreateFeatureTableOptions {
  /** `catalog.schema.table`, `schema.table` or `table` (completed with `main.default`). */
  readonly name: string;
  readonly primaryKeys: string | readonly string[];
  /** A date or timestamp column; part of the primary key (added when not listed). */
  readonly timeseriesColumn?: string;
  readonly partitionColumns?: readonly string[];
  /** Liquid clustering columns (Delta `clusterBy`). */
  readonly clusterBy?: readonly string[];
  /** The columns; when absent they are inferred from `df`. */
  readonly schema?: SchemaSpec;
  /** Rows written to the new table (appended). */
  readonly df?: DataFrame;
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly owner?: string;
  /** Delta table properties (TBLPROPERTIES). */
  readonly properties?: Readonly<Record<string, string>>;
  /** Catalog properties of the entry (not the Delta table's), set in the same step as the registration. */
  readonly catalogProperties?: Readonly<Record<string, string>>;
  /**
   * Who creates the table (a config's `larder.managedBy` and `larder.project`): set as catalog
   * properties and as Delta table properties. A Delta table already committed at the location
   * that the catalog does not know and whose properties carry the same marks is what an earlier
   * create with these marks left (its process killed before registering it, or a drop of it killed
   * half-way): it is adopted, registered as it is, rather than refused. A Delta table without
   * them is never touched.
   */
  readonly ownership?: Readonly<Record<string, string>>;
  readonly lineage?: { readonly pipeline?: string; readonly sources?: readonly string[] };
  /** Descriptions of feature columns (win over the schema's). */
  readonly featureDescriptions?: Readonly<Record<string, string>>;
  /** The Delta table folder (relative paths resolve against the project); default: managed under the warehouse. */
  readonly location?: string;
}

/** `createTable` options with a literal schema: the result is typed by it. */
export interface TypedCreateFeatureTableOptions<
  S extends SchemaSpec,
  K extends keyof S & string,
  T extends keyof S & string,
> extends CreateFeatureTableOptions {
  readonly schema: S;
  readonly primaryKeys: K | readonly K[];
  readonly timeseriesColumn?: T;
}

/**
 * The options of `writeTable`. `R` is the row type of the table (from a typed
 * handle); `M` is the type of `mergeSchema`: row literals may name columns
 * the table lacks only when it may be `true`.
 */
export interface WriteFeatureTableOptions<
  R extends object = Record<string, unknown>,
  M extends boolean = boolean,
> {
  readonly name: FeatureTableRef<R>;
  /** Rows, an Apache Arrow table or a Larder SQL query. The row type comes from `name` alone. */
  readonly df:
    | readonly (true extends M ? FeatureEvolvingRow<NoInfer<R>> : FeatureInputRow<NoInfer<R>>)[]
    | ArrowTable
    | string;
  /**
   * `merge` (default) upserts by primary key; `append` adds rows with new keys
   * (time series: new timestamps of any entity) and refuses, with
   * `DUPLICATE_KEY`, a key the table already has.
   */
  readonly mode?: 'merge' | 'append';
  /**
   * Add the df's columns the table lacks as new (nullable) features. Without
   * it such a column fails the write with `SCHEMA_MISMATCH` naming it (a
   * typo must not become a feature).
   */
  readonly mergeSchema?: M;
  /** Free text stored in the Delta commit's `userMetadata`. */
  readonly userMetadata?: string;
  /**
   * Delta domain metadata committed with the rows (a pipeline's watermark, …),
   * in the same commit as the data.
   */
  readonly domainMetadata?: readonly DomainMetadata[];
}

export interface WriteFeatureTableResult {
  /** The table version the write committed. */
  readonly version: number;
  readonly mode: 'merge' | 'append';
  readonly metrics: MergeMetrics | WriteMetrics;
  /** Columns the write added to the table (schema evolution). */
  readonly addedColumns: readonly string[];
}

export interface ReadFeatureTableOptions<R extends object = Record<string, unknown>> {
  readonly name: FeatureTableRef<R>;
  /** A version number, or a time (`Date` or a timestamp string): the table as it was then. */
  readonly asOf?: number | Date | string;
  /** Columns to read (default: all). */
  readonly columns?: readonly (keyof R & string)[];
  /** A SQL predicate over the table's columns (DuckDB SQL). */
  readonly where?: string;
}

/** A read value: Arrow's row proxy with the table's row type. */
export type FeatureRowProxy<R> = R & { toJSON(): R; toArray(): unknown[] };

/** The Arrow table `readTable` returns, its rows typed by `R`. */
export type FeatureArrowTable<R> = {
  toArray(): FeatureRowProxy<R>[];
  get(index: number): FeatureRowProxy<R> | null;
  at(index: number): FeatureRowProxy<R> | null;
  [Symbol.iterator](): IterableIterator<FeatureRowProxy<R>>;
} & ArrowTable;

export interface ListFeatureTablesOptions {
  readonly catalog?: string;
  readonly schema?: string;
}

/**
 * @example
 * const fs = await FeatureStore.open({ projectDir: process.cwd() });
 * try {
 *   const table = await fs.createTable({
 *     name: 'ml.churn_features.customer_features',
 *     primaryKeys: ['customer_id'],
 *     schema: { customer_id: 'long', n_tx: { type: 'integer', description: 'transactions, 30 days' } },
 *   });
 *   await fs.writeTable({ name: table, df: [{ customer_id: 1n, n_tx: 3 }] });
 *   const rows = (await fs.readTable(table)).toArray();
 *   console.log(rows[0]?.customer_id, rows[0]?.n_tx); // 1n 3
 * } finally {
 *   await fs.close();
 * }
 */
export class FeatureStore {
  /** The engine the store reads and writes through (other modules may run SQL on it). */
  readonly engine: Engine;
  readonly #ownsEngine: boolean;
  #closed = false;

  private constructor(engine: Engine, ownsEngine: boolean) {
    this.engine = engine;
    this.#ownsEngine = ownsEngine;
  }

  /** Open a feature store on a project (or on an engine already open). */
  static async open(options: FeatureStoreOptions = {}): Promise<FeatureStore> {
    if (options.engine) {
      if (options.metastore && options.metastore !== options.engine.metastore) {
        throw new LarderError('INVALID_ARGUMENT', 'give a feature store an engine or a metastore, not both', {
          hint: 'the engine brings its own metastore',
        });
      }
      return new FeatureStore(options.engine, false);
    }
    const engine = await Engine.open({
      projectDir: options.projectDir ?? process.cwd(),
      ...(options.metastore ? { metastore: options.metastore } : {}),
      ...(options.warehouse !== undefined ? { warehouse: options.warehouse } : {}),
      ...(options.createFolders !== undefined ? { createFolders: options.createFolders } : {}),
    });
    return new FeatureStore(engine, true);
  }

  /** The catalog. */
  get metastore(): Metastore {
    return this.engine.metastore;
  }

  /**
   * Create a feature table: a Delta table (key columns NOT NULL, partitioned
   * and clustered as asked) registered in the catalog, with `df` written to
   * it. All or nothing. The table's version 0 holds its schema, partitioning
   * and clustering (one commit); the rows of `df` are version 1.
   *
   * @example
   * await fs.createTable({
   *   name: 'ml.churn_features.daily_activity',
   *   primaryKeys: 'customer_id',
   *   timeseriesColumn: 'day',
   *   df: 'SELECT customer_id, day, count(*) AS n_tx FROM ml.churn_raw.raw_transactions GROUP BY ALL',
   *   clusterBy: ['customer_id'],
   * });
   */
  createTable<
    const S extends SchemaSpec,
    const K extends keyof S & string,
    const T extends keyof S & string = never,
  >(options: TypedCreateFeatureTableOptions<S, K, T>): Promise<FeatureTable<FeatureRow<S, K | T>>>;
  createTable(options: CreateFeatureTableOptions): Promise<FeatureTable>;
  async createTable(options: CreateFeatureTableOptions): Promise<FeatureTable> {
    this.#assertOpen();
    const name = this.#name(options.name);
    const full = tableFullName(name);
    if (options.schema === undefined && options.df === undefined) {
      throw new LarderError('INVALID_ARGUMENT', `feature table ${full} needs a schema or a df`, {
        table: full,
        hint: 'give schema: { column: type }, or a df to infer it from',
      });
    }
    if ((await this.metastore.getTable(name)) || (await this.metastore.getView(name))) {
      throw new LarderError('TABLE_ALREADY_EXISTS', `table ${full} already exists`, {
        table: full,
        hint: 'drop it first, or write to it with writeTable',
      });
    }
    if (options.schema === undefined && Array.isArray(options.df) && options.df.length === 0) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `cannot infer the columns of feature table ${full} from an empty df`,
        {
          table: full,
          hint: 'give a schema',
        },
      );
    }
    const descriptions = options.featureDescriptions ?? {};
    const declared: ColumnSpec[] | undefined =
      options.schema !== undefined ? schemaSpecColumns(options.schema, [], descriptions) : undefined;
    const declaredSchema = declared ? normalizeSchema(declared, full) : undefined;
    const staged =
      options.df !== undefined
        ? await stageDataFrame(
            this.engine,
            options.df,
            declaredSchema ?? { type: 'struct', fields: [] },
            full,
            { keys: [options.primaryKeys, options.timeseriesColumn ?? []].flat() },
          )
        : undefined;
    try {
      const schema = declaredSchema ?? inferredSchema(staged!, full, descriptions);
      for (const column of Object.keys(descriptions)) {
        if (!schema.fields.some((f) => f.name === column)) {
          throw new LarderError(
            'SCHEMA_MISMATCH',
            `featureDescriptions names "${column}", which is not a column of feature table ${full}`,
            { table: full, column, field: 'featureDescriptions' },
          );
        }
      }
      const definition = resolveDefinition({
        table: full,
        schema,
        primaryKeys: options.primaryKeys,
        timeseriesColumn: options.timeseriesColumn,
        partitionColumns: options.partitionColumns,
        clusterBy: options.clusterBy,
      });
      if (staged) {
        // A declared schema is the table's: a df column outside it is a typo, as in writeTable.
        if (declaredSchema)
          assertKnownColumns(
            staged.columns.map((c) => c.name),
            declaredSchema,
            full,
          );
        const keys = keyColumns(staged.columns, definition.primaryKeys, full);
        await assertKeys(this.engine.connection, staged.sql, keys, full);
      }
      const managed = options.location === undefined;
      const location = managed
        ? this.engine.defaultLocation(name)
        : isAbsolute(options.location!)
          ? options.location!
          : resolve(this.engine.projectDir, options.location!);
      // A `_delta_log` without a commit is what a create killed before its first commit left:
      // no table, and `DeltaTable.create` commits over it.
      const orphan = await committedTable(location, full);
      if (orphan) {
        if (staged === undefined && carriesMarks(orphan, options.ownership)) {
          return await this.#adopt(name, orphan, options, managed);
        }
        throw new LarderError('TABLE_ALREADY_EXISTS', `a Delta table already exists at ${location}`, {
          table: full,
          file: location,
          hint: managed
            ? 'the catalog does not know it and this create did not make it: move the folder away, or delete it if its data is not needed'
            : 'choose another location',
        });
      }
      const feature: FeatureTableInfo = {
        primaryKeys: definition.primaryKeys,
        ...(definition.timeseriesColumn !== undefined
          ? { timeseriesColumn: definition.timeseriesColumn }
          : {}),
        partitionColumns: definition.partitionColumns,
        clusterBy: definition.clusterBy,
        ...(options.owner !== undefined ? { owner: options.owner } : {}),
        features: featureColumns(definition.schema, definition.primaryKeys, []),
        lineage: {
          ...(options.lineage?.pipeline !== undefined ? { pipeline: options.lineage.pipeline } : {}),
          sources: [...(options.lineage?.sources ?? [])],
        },
      };
      const before = await folderEntries(location);
      await this.metastore.createTable({
        name,
        location,
        managed,
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.tags !== undefined ? { tags: options.tags } : {}),
        ...catalogProperties(options),
        feature,
      });
      try {
        const delta = await DeltaTable.create(location, {
          schema: definition.schema,
          partitionColumns: definition.partitionColumns,
          properties: { ...options.properties, ...options.ownership },
          name: full,
          ...(options.description !== undefined ? { description: options.description } : {}),
          managed,
          ...(definition.clusterBy.length > 0 ? { clusterBy: definition.clusterBy } : {}),
        });
        if (staged) await delta.append(staged.sql);
      } catch (error) {
        await this.metastore.dropTable(name).catch(() => undefined);
        await restoreFolder(location, before);
        throw error;
      }
    } finally {
      await staged?.release();
    }
    return this.getTable(name);
  }

  /** Register `orphan`, a table an earlier create with the same ownership marks left unregistered. */
  async #adopt(
    name: TableName,
    orphan: DeltaTable,
    options: CreateFeatureTableOptions,
    managed: boolean,
  ): Promise<FeatureTable> {
    const snapshot = orphan.snapshot;
    const definition = resolveDefinition({
      table: tableFullName(name),
      schema: snapshot.schema,
      primaryKeys: options.primaryKeys,
      timeseriesColumn: options.timeseriesColumn,
      partitionColumns: snapshot.partitionColumns,
      clusterBy: options.clusterBy,
    });
    await this.metastore.createTable({
      name,
      location: orphan.path,
      managed,
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(options.tags !== undefined ? { tags: options.tags } : {}),
      ...catalogProperties(options),
      feature: {
        primaryKeys: definition.primaryKeys,
        ...(definition.timeseriesColumn !== undefined
          ? { timeseriesColumn: definition.timeseriesColumn }
          : {}),
        partitionColumns: definition.partitionColumns,
        clusterBy: definition.clusterBy,
        ...(options.owner !== undefined ? { owner: options.owner } : {}),
        features: featureColumns(definition.schema, definition.primaryKeys, []),
        lineage: {
          ...(options.lineage?.pipeline !== undefined ? { pipeline: options.lineage.pipeline } : {}),
          sources: [...(options.lineage?.sources ?? [])],
        },
      },
    });
    return this.getTable(name);
  }

  /**
   * Write a DataFrame to a feature table: `merge` (default) upserts by the
   * primary key, `append` adds rows. A column the table lacks fails the
   * write (`SCHEMA_MISMATCH`, naming it) unless `mergeSchema: true`, which
   * adds it as a new feature in the write's commit.
   *
   * @example
   * await fs.writeTable({ name: 'ml.churn_features.customer_features', df: 'SELECT * FROM staging_features' });
   * await fs.writeTable({ name: 'ml.churn_features.daily_activity', df: arrowTable, mode: 'append' });
   * await fs.writeTable({ name: table, df: [{ customer_id: 1n, churn_score: 0.2 }], mergeSchema: true });
   */
  async writeTable<R extends object, const M extends boolean = false>(
    options: WriteFeatureTableOptions<R, M>,
  ): Promise<WriteFeatureTableResult> {
    this.#assertOpen();
    const mode = options.mode ?? 'merge';
    if (mode !== 'merge' && mode !== 'append') {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `write mode must be "merge" or "append", not "${String(mode)}"`,
        {
          field: 'mode',
        },
      );
    }
    const { entry, feature, table } = await this.#resolveFeature(options.name);
    const full = entry.fullName;
    const snapshot = (await table.refresh()).snapshot;
    const mergeSchema = options.mergeSchema === true;
    const staged = await stageDataFrame(this.engine, options.df as DataFrame, snapshot.schema, full, {
      keys: feature.primaryKeys,
    });
    try {
      if (!mergeSchema) {
        assertKnownColumns(
          staged.columns.map((c) => c.name),
          snapshot.schema,
          full,
        );
      }
      const keys = keyColumns(staged.columns, feature.primaryKeys, full);
      await assertKeys(this.engine.connection, staged.sql, keys, full);
      const userMetadata = options.userMetadata !== undefined ? { userMetadata: options.userMetadata } : {};
      const domainMetadata =
        options.domainMetadata !== undefined ? { domainMetadata: options.domainMetadata } : {};
      type Written = {
        table: { version: number; schema: StructType };
        metrics: MergeMetrics | WriteMetrics;
        addedColumns: readonly string[];
      };
      let result: Written;
      if (mode === 'append') {
        // An append must not bring a key the table has: the table would hold it
        // twice. The append declares the keys it checked, so a concurrent commit
        // that may add one of them fails it; the retry checks the keys again.
        let attempts = 0;
        const append = async (): Promise<Written> => {
          const read = attempts++ === 0 ? snapshot : (await table.refresh()).snapshot;
          const { addedColumns } = reconcileSchema(read.schema, staged.columns, { table: full, mergeSchema });
          const readFootprint = await assertNewKeys(this.engine, read, staged.sql, keys, full);
          const written = await writeDelta(read, staged.sql, {
            mode: 'append',
            mergeSchema: addedColumns.length > 0,
            readFootprint,
            store: table.store,
            ...userMetadata,
            ...domainMetadata,
          });
          return { ...written, addedColumns };
        };
        result = await retryConflicts(append);
      } else {
        const { addedColumns } = reconcileSchema(snapshot.schema, staged.columns, {
          table: full,
          mergeSchema,
        });
        // New columns go into the merge's own commit (a retry re-reads the schema).
        const merge = async (): Promise<Written> => ({
          ...(await table.merge({
            source: staged.sql,
            on: feature.primaryKeys,
            mergeSchema,
            ...userMetadata,
            ...domainMetadata,
          })),
          addedColumns,
        });
        result = await retryConflicts(merge);
      }
      const { addedColumns } = result;
      if (addedColumns.length > 0) await this.#recordFeatures(entry, feature, result.table.schema);
      return { version: result.table.version, mode, metrics: result.metrics, addedColumns };
    } finally {
      await staged.release();
    }
  }

  /**
   * Read a feature table (or a version of it) as an Apache Arrow table.
   *
   * @example
   * const now = await fs.readTable('ml.churn_features.customer_features');
   * const then = await fs.readTable({ name: 'ml.churn_features.customer_features', asOf: 3, columns: ['customer_id', 'n_tx'] });
   * const june = await fs.readTable({ name: table, asOf: new Date('2024-06-01'), where: 'n_tx > 10' });
   */
  readTable<R extends object>(table: FeatureTable<R>): Promise<FeatureArrowTable<R>>;
  readTable<R extends object = Record<string, unknown>>(
    options: ReadFeatureTableOptions<R> | string,
  ): Promise<FeatureArrowTable<R>>;
  async readTable<R extends object>(
    options: ReadFeatureTableOptions<R> | FeatureTable<R> | string,
  ): Promise<FeatureArrowTable<R>> {
    this.#assertOpen();
    const read = (
      typeof options === 'string' || isFeatureTable(options) ? { name: options } : options
    ) as ReadFeatureTableOptions<R>;
    const { entry, table } = await this.#resolveFeature(read.name);
    const full = entry.fullName;
    let columns = '*';
    if (read.columns !== undefined) {
      if (!Array.isArray(read.columns) || read.columns.length === 0) {
        throw new LarderError('INVALID_ARGUMENT', `columns of a read of ${full} must be a non-empty list`, {
          table: full,
          field: 'columns',
        });
      }
      const fields = table.snapshot.schema.fields;
      columns = read.columns
        .map((c) => {
          const field = fields.find((f) => f.name.toLowerCase() === String(c).toLowerCase());
          if (!field) {
            throw new LarderError('SCHEMA_MISMATCH', `column "${String(c)}" is not a column of ${full}`, {
              table: full,
              column: String(c),
              hint: `columns: ${fields.map((f) => f.name).join(', ')}`,
            });
          }
          return sqlIdent(field.name);
        })
        .join(', ');
    }
    const quoted = [entry.name.catalog, entry.name.schema, entry.name.table].map(sqlIdent).join('.');
    const where = read.where !== undefined && read.where.trim() !== '' ? `\nWHERE ${read.where}` : '';
    const sql = `SELECT ${columns} FROM ${quoted}${asOfClause(read.asOf, full)}${where}`;
    const { sql: rewritten } = await this.engine.rewrite(sql);
    return (await queryArrow(this.engine.connection, rewritten, full)) as FeatureArrowTable<R>;
  }

  /**
   * A feature table's metadata and current version.
   *
   * @example
   * const t = await fs.getTable('ml.churn_features.customer_features');
   * console.log(t.primaryKeys, t.version, t.tags);
   */
  async getTable<R extends object = Record<string, unknown>>(
    name: FeatureTableRef<R> | TableName,
  ): Promise<FeatureTable<R>> {
    this.#assertOpen();
    const { entry, table } = await this.#resolveFeature(name);
    return toFeatureTable<R>(entry, table.snapshot.schema, table.version);
  }

  /**
   * The feature tables of the catalog (optionally of one catalog or schema),
   * by full name. A table whose folder is gone shows version -1.
   *
   * @example
   * for (const t of await fs.listTables({ catalog: 'ml' })) console.log(t.fullName, t.version);
   */
  async listTables(options: ListFeatureTablesOptions = {}): Promise<FeatureTable[]> {
    this.#assertOpen();
    const filter = {
      ...(options.catalog !== undefined ? { catalog: options.catalog.toLowerCase() } : {}),
      ...(options.schema !== undefined ? { schema: options.schema.toLowerCase() } : {}),
    };
    const entries = (await this.metastore.listTables(filter)).filter((e) => e.feature !== undefined);
    const tables: FeatureTable[] = [];
    for (const entry of entries) {
      try {
        const { table } = await this.engine.resolveTable(entry.name);
        tables.push(toFeatureTable(entry, table.snapshot.schema, table.version));
      } catch (error) {
        if (!isLarderError(error, 'TABLE_NOT_FOUND')) throw error;
        tables.push(toFeatureTable(entry, { type: 'struct', fields: [] }, -1));
      }
    }
    return tables;
  }

  /**
   * Drop a feature table: unregister it, and delete its folder when managed.
   *
   * @example
   * await fs.dropTable('ml.churn_features.customer_features');
   */
  async dropTable(name: AnyTableRef): Promise<void> {
    this.#assertOpen();
    const entry = await this.#featureEntry(name);
    await this.metastore.dropTable(entry.name);
    if (entry.managed) {
      try {
        await removeFolder(entry.location);
      } catch (error) {
        throw new LarderError(
          'IO_ERROR',
          `table ${entry.fullName} is dropped, but its folder ${entry.location} could not be deleted: ${(error as Error).message}`,
          { table: entry.fullName, file: entry.location, cause: error, hint: 'delete the folder by hand' },
        );
      }
    }
  }

  /**
   * Set (add or replace) a tag of a feature table.
   *
   * @example
   * await fs.setTableTag({ name: 'ml.churn_features.customer_features', key: 'team', value: 'growth' });
   */
  async setTableTag(options: { readonly name: AnyTableRef; readonly key: string; readonly value: string }) {
    this.#assertOpen();
    const entry = await this.#featureEntry(options.name);
    assertTagKey(options.key, entry.fullName);
    if (typeof options.value !== 'string') {
      throw new LarderError('INVALID_ARGUMENT', `the value of tag "${options.key}" must be a string`, {
        table: entry.fullName,
        field: 'value',
      });
    }
    await this.metastore.setTableTag(entry.name, options.key, options.value);
  }

  /**
   * Remove a tag of a feature table; true when it existed.
   *
   * @example
   * await fs.deleteTableTag({ name: 'ml.churn_features.customer_features', key: 'team' });
   */
  async deleteTableTag(options: { readonly name: AnyTableRef; readonly key: string }): Promise<boolean> {
    this.#assertOpen();
    const entry = await this.#featureEntry(options.name);
    assertTagKey(options.key, entry.fullName);
    return this.metastore.deleteTableTag(entry.name, options.key);
  }

  /** Close the engine if the store opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsEngine) await this.engine.close();
  }

  #name(ref: AnyTableRef): TableName {
    if (typeof ref === 'string') return normalizeTableName(this.engine.parseName(ref));
    if (isFeatureTable(ref)) return ref.tableName;
    if (typeof ref === 'object' && ref !== null && 'table' in ref) return normalizeTableName(ref);
    throw new LarderError('INVALID_ARGUMENT', 'a feature table is named by a string or a FeatureTable', {
      field: 'name',
    });
  }

  async #featureEntry(ref: AnyTableRef): Promise<TableEntry & { feature: FeatureTableInfo }> {
    const name = this.#name(ref);
    const full = tableFullName(name);
    const entry = await this.metastore.getTable(name);
    if (!entry) {
      const view = await this.metastore.getView(name);
      throw new LarderError(
        view ? 'NOT_A_FEATURE_TABLE' : 'TABLE_NOT_FOUND',
        view ? `${full} is a view, not a feature table` : `feature table ${full} not found`,
        { table: full, hint: 'listTables() lists the feature tables' },
      );
    }
    if (!entry.feature) {
      throw new LarderError('NOT_A_FEATURE_TABLE', `table ${full} is not a feature table`, {
        table: full,
        hint: 'create feature tables with FeatureStore.createTable (it has no primary key here)',
      });
    }
    return entry as TableEntry & { feature: FeatureTableInfo };
  }

  async #resolveFeature(
    ref: AnyTableRef,
  ): Promise<{ entry: TableEntry; feature: FeatureTableInfo; table: DeltaTable }> {
    const entry = await this.#featureEntry(ref);
    const { table } = await this.engine.resolveTable(entry.name);
    return { entry, feature: entry.feature, table };
  }

  /** Record the feature columns of `schema` in the catalog. */
  async #recordFeatures(entry: TableEntry, feature: FeatureTableInfo, schema: StructType): Promise<void> {
    await this.metastore.updateTable(entry.name, {
      feature: { ...feature, features: featureColumns(schema, feature.primaryKeys, feature.features) },
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new LarderError('INVALID_ARGUMENT', 'the feature store is closed');
  }
}

/** Attempts of a write that loses a race with concurrent commits (it re-reads and writes the same rows). */
const WRITE_ATTEMPTS = 3;

/**
 * Run `operation` again when it fails with `CONCURRENT_MODIFICATION`: an
 * upsert of staged rows is the same request against the newer version, and
 * an append re-checks its keys against it.
 */
async function retryConflicts<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= WRITE_ATTEMPTS || !isLarderError(error, 'CONCURRENT_MODIFICATION')) throw error;
    }
  }
}

/**
 * Fail with `DUPLICATE_KEY` when a key of the staged rows (`keys`: their key
 * columns, in primary-key order) is already a key of the table at
 * `snapshot`. Cheap: only the table's key columns are read, from the files
 * whose statistics admit the staged keys' values (or range), semi-joined
 * with the staged keys. Returns what the check read (the keys' pruning
 * predicate and the files it kept), for the append to declare: a concurrent
 * commit adding files that may hold one of the keys then conflicts with it.
 */
async function assertNewKeys(
  engine: Engine,
  snapshot: Snapshot,
  stagedSql: string,
  keys: readonly string[],
  table: string,
): Promise<WriteReadFootprint> {
  const fields = keys.map((key) =>
    snapshot.schema.fields.find((f) => f.name.toLowerCase() === key.toLowerCase()),
  );
  // A key column the table lacks holds no value yet: no row of the table can
  // share the key (a commit adding the column changes the metadata: a conflict).
  if (fields.some((f) => f === undefined)) return { version: snapshot.version, predicate: 'all', files: [] };
  const columns = fields.map((f, i) => ({ name: keys[i]!, column: f!.name, cast: toDuckDBType(f!.type) }));
  const bounds = await readKeyBounds(engine.connection, stagedSql, columns);
  const predicate = keyPredicate(snapshot, bounds) ?? 'all';
  const files = filesForKeys(snapshot, bounds);
  const footprint: WriteReadFootprint = {
    version: snapshot.version,
    predicate,
    files: files.map((f) => f.path),
  };
  if (files.length === 0) return footprint;
  const scan = await planScan(snapshot, { files, columns: fields.map((f) => f!.name) });
  const on = columns
    .map((c) => `__t.${sqlIdent(c.column)} = TRY_CAST(__s.${sqlIdent(c.name)} AS ${c.cast})`)
    .join(' AND ');
  const [row] = await queryJson(
    engine.connection,
    `SELECT ${columns.map((c, i) => `CAST(__t.${sqlIdent(c.column)} AS VARCHAR) AS k${i}`).join(', ')}
       FROM (${scan.sql}) AS __t SEMI JOIN (${stagedSql}) AS __s ON ${on} LIMIT 1`,
    `checking the df's keys against ${table}`,
  );
  if (!row) return footprint;
  const sample = columns.map((c, i) => `${c.column}=${String(row[`k${i}`])}`).join(', ');
  throw new LarderError(
    'DUPLICATE_KEY',
    `feature table ${table} already has a row with the key (${sample}); an append adds only new keys`,
    {
      table,
      column: columns.map((c) => c.column).join(','),
      key: sample,
      hint: 'write with mode "merge" to update rows of existing keys, or drop those rows from the df',
    },
  );
}

function isFeatureTable(value: unknown): value is FeatureTable<object> {
  return (
    typeof value === 'object' &&
    value !== null &&
    'fullName' in value &&
    'tableName' in value &&
    'primaryKeys' in value
  );
}

/** The Delta schema of a staged df (types from DuckDB's), descriptions as column comments. */
function inferredSchema(
  staged: StagedFrame,
  table: string,
  descriptions: Readonly<Record<string, string>>,
): StructType {
  return {
    type: 'struct',
    fields: staged.columns.map((c) => {
      let type: ReturnType<typeof fromDuckDBType>;
      try {
        type = fromDuckDBType(c.duckType, c.name);
      } catch (error) {
        throw new LarderError(
          'SCHEMA_MISMATCH',
          `column "${c.name}" of the df for ${table} has DuckDB type ${c.duckType}, which a Delta table cannot hold`,
          { table, column: c.name, cause: error, hint: 'cast it in the query, or give a schema' },
        );
      }
      const comment = descriptions[c.name];
      return { name: c.name, type, nullable: true, metadata: comment !== undefined ? { comment } : {} };
    }),
  };
}

/** ` VERSION AS OF n` / ` TIMESTAMP AS OF '…'`, or nothing. */
function asOfClause(asOf: number | Date | string | undefined, table: string): string {
  if (asOf === undefined) return '';
  if (typeof asOf === 'number') {
    if (!Number.isInteger(asOf) || asOf < 0) {
      throw new LarderError('INVALID_ARGUMENT', `asOf version ${asOf} of ${table} is not a version number`, {
        table,
        field: 'asOf',
      });
    }
    return ` VERSION AS OF ${asOf}`;
  }
  if (asOf instanceof Date) {
    if (Number.isNaN(asOf.getTime())) {
      throw new LarderError('INVALID_ARGUMENT', `asOf of ${table} is an invalid Date`, {
        table,
        field: 'asOf',
      });
    }
    return ` TIMESTAMP AS OF ${sqlString(asOf.toISOString())}`;
  }
  if (typeof asOf === 'string' && asOf.trim() !== '') return ` TIMESTAMP AS OF ${sqlString(asOf)}`;
  throw new LarderError(
    'INVALID_ARGUMENT',
    `asOf of ${table} must be a version, a Date or a timestamp string`,
    {
      table,
      field: 'asOf',
    },
  );
}

function assertTagKey(key: unknown, table: string): void {
  if (typeof key !== 'string' || key.trim() === '') {
    throw new LarderError('INVALID_ARGUMENT', `a tag key of ${table} must be a non-empty string`, {
      table,
      field: 'key',
    });
  }
}

/** The Delta table committed at `path`, or undefined when its log has no commit (or there is none). */
async function committedTable(path: string, table: string): Promise<DeltaTable | undefined> {
  try {
    return await DeltaTable.open(path);
  } catch (error) {
    if (isLarderError(error, 'TABLE_NOT_FOUND')) return undefined;
    throw new LarderError(
      'TABLE_ALREADY_EXISTS',
      `a Delta table that cannot be read is in the way of ${table} at ${path}: ${(error as Error).message}`,
      {
        table,
        file: path,
        cause: error,
        hint: 'move the folder away, or delete it if its data is not needed',
      },
    );
  }
}

/** True when `marks` are given and the table's properties carry every one of them. */
function carriesMarks(table: DeltaTable, marks: Readonly<Record<string, string>> | undefined): boolean {
  if (marks === undefined || Object.keys(marks).length === 0) return false;
  const properties = table.snapshot.properties;
  return Object.entries(marks).every(([key, value]) => properties[key] === value);
}

function catalogProperties(options: CreateFeatureTableOptions): { properties?: Record<string, string> } {
  const properties = { ...options.catalogProperties, ...options.ownership };
  return Object.keys(properties).length > 0 ? { properties } : {};
}

/**
 * Delete a table folder so that a kill half-way never leaves part of a table at its location: the
 * folder is first renamed (atomic) to a hidden sibling, which is then deleted.
 */
async function removeFolder(path: string): Promise<void> {
  const trash = join(dirname(path), `.${basename(path)}.dropped-${randomUUID()}`);
  try {
    await rename(path, trash);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await rm(trash, { recursive: true, force: true });
}

/** The entries of a folder, or undefined when it does not exist. */
async function folderEntries(path: string): Promise<Set<string> | undefined> {
  try {
    return new Set(await readdir(path));
  } catch {
    return undefined;
  }
}

/** Undo a failed create: remove the folder it created, or what it added to a folder that was there. */
async function restoreFolder(path: string, before: Set<string> | undefined): Promise<void> {
  if (before === undefined) {
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
    return;
  }
  const now = await folderEntries(path);
  for (const name of now ?? []) {
    if (!before.has(name))
      await rm(join(path, name), { recursive: true, force: true }).catch(() => undefined);
  }
}
