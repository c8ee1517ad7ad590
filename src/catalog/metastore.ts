/**
 * The metastore: the names Larder SQL knows. It maps three-level names
 * (`catalog.schema.table`, as in Databricks' Unity Catalog) to Delta table
 * locations, and holds views (stored Larder SQL) and the schemas they live in.
 * It stores metadata only; the tables' data and history are in their Delta
 * logs.
 *
 * One interface, several backends (SQLite embedded, PostgreSQL shared). The
 * interface is asynchronous so a networked backend fits it; every method is
 * one atomic change or one consistent read, and two processes using one
 * metastore see each other's committed changes.
 *
 * Invariants, for every backend:
 * - names are case-insensitive: they are stored and returned lower-case;
 * - a name is a table or a view, never both;
 * - `createTable` and `createView` create the catalog and schema they need
 *   (lenient, so Databricks scripts that never ran `CREATE SCHEMA` work);
 * - a table's `location` is an absolute path;
 * - a table's feature info and tags live and die with it (`dropTable`
 *   removes them); feature info obeys the rules of `checkFeatureTableInfo`
 *   and tags Unity Catalog's limits (`checkTag`), both in `table-metadata.ts`;
 * - `updatedAt` moves strictly forward with every change to an entry.
 */
import { isAbsolute } from 'node:path';
import { LarderError } from '../errors.js';

/** A three-level name. Every part is lower-case once it comes out of a metastore. */
export interface TableName {
  readonly catalog: string;
  readonly schema: string;
  readonly table: string;
}

/** A registered table: a name bound to a Delta table folder. */
export interface TableEntry {
  readonly name: TableName;
  /** `catalog.schema.table`. */
  readonly fullName: string;
  /** Absolute path of the Delta table's root folder. */
  readonly location: string;
  /** Whether Larder owns the folder (created it under the warehouse; DROP deletes it). */
  readonly managed: boolean;
  readonly description?: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Catalog-level properties (not the Delta table's own `TBLPROPERTIES`). */
  readonly properties: Readonly<Record<string, string>>;
  /**
   * Tags (Unity Catalog style key/value labels), keys in insertion order (a
   * replaced value keeps its key's place; as in any JS object, integer-like
   * keys come first).
   */
  readonly tags: Readonly<Record<string, string>>;
  /** Present when the table is a feature table. */
  readonly feature?: FeatureTableInfo;
  /** Milliseconds since the epoch of the last catalog change to this entry (creation, update, tag). */
  readonly updatedAt: number;
}

/** A feature column of a feature table: a column that is not a primary key. */
export interface FeatureColumn {
  readonly name: string;
  /** The Delta type name (`long`, `double`, `string`, `date`, `timestamp`, `decimal(10,2)`, …). */
  readonly type: string;
  readonly description?: string;
}

/** Which pipeline and source tables produce a feature table. */
export interface FeatureLineage {
  /** The pipeline that writes the table, when one does. */
  readonly pipeline?: string;
  /** Source names or full table names / paths the pipeline reads. */
  readonly sources: readonly string[];
}

/**
 * What makes a table a feature table. The timeseries column, when set, is
 * one of the primary keys; partition and clustering columns are columns of
 * the table.
 */
export interface FeatureTableInfo {
  readonly primaryKeys: readonly string[];
  readonly timeseriesColumn?: string;
  readonly partitionColumns: readonly string[];
  readonly clusterBy: readonly string[];
  readonly owner?: string;
  readonly features: readonly FeatureColumn[];
  readonly lineage: FeatureLineage;
}

/**
 * A change to a registered table's catalog entry; absent fields are kept, `null` clears.
 *
 * @example
 * // Keep the description, replace the feature info (e.g. after schema evolution), clear nothing else.
 * await metastore.updateTable(name, { feature: { ...entry.feature!, features: [...entry.feature!.features, added] } });
 * // Stop treating it as a feature table; drop its description.
 * await metastore.updateTable(name, { feature: null, description: null });
 */
export interface TablePatch {
  readonly description?: string | null;
  /** The whole feature info (not merged with the old one); `null` makes it a plain table. */
  readonly feature?: FeatureTableInfo | null;
  /** The whole property map (not merged with the old one). */
  readonly properties?: Readonly<Record<string, string>>;
}

/** A registered view: a name bound to a Larder SQL query, expanded where it is read. */
export interface ViewEntry {
  readonly name: TableName;
  readonly fullName: string;
  /** The view's query, as Larder SQL; names in it resolve against the view's own catalog and schema. */
  readonly sql: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

/** A schema (database) of a catalog. */
export interface SchemaEntry {
  readonly catalog: string;
  readonly schema: string;
  readonly comment?: string;
}

/** What `createTable` needs. */
export interface NewTable {
  readonly name: TableName;
  /** Absolute path of the Delta table's root folder. */
  readonly location: string;
  readonly managed: boolean;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, string>>;
  readonly tags?: Readonly<Record<string, string>>;
  /** Register it as a feature table. */
  readonly feature?: FeatureTableInfo;
}

/** What `createView` needs. */
export interface NewView {
  readonly name: TableName;
  readonly sql: string;
  /** Replace a view of the same name (never a table). */
  readonly orReplace?: boolean;
}

/** Narrow a listing to a catalog, or to a schema of a catalog. */
export interface ListFilter {
  readonly catalog?: string;
  readonly schema?: string;
}

/**
 * A lease on a named piece of work (a pipeline's runs): one holder at a time
 * until it releases it or its expiry passes. Holders renew it while they work
 * (a heartbeat), so a killed holder's lease lapses after one TTL. Expiry is
 * measured on the catalog's clock (the database server's, for PostgreSQL).
 */
export interface Lease {
  readonly name: string;
  /** A unique id of the holder (a run id). */
  readonly holder: string;
  /** Who the holder is, for people: `host pid 1234, run <id>`. */
  readonly owner: string;
  readonly acquiredAt: Date;
  readonly expiresAt: Date;
}

/** What `acquireLease` found: whether the caller now holds the lease, and the lease as it stands. */
export interface LeaseAttempt {
  readonly acquired: boolean;
  /** The lease (the caller's when acquired, else the holder's; undefined if it was just released). */
  readonly lease: Lease | undefined;
}

/**
 * The catalog of names.
 *
 * @example
 * const metastore = await SqliteMetastore.open('/project/.larder/catalog.db');
 * await metastore.createTable({
 *   name: { catalog: 'ml', schema: 'churn_features', table: 'customer_features' },
 *   location: '/project/.larder/warehouse/ml/churn_features/customer_features',
 *   managed: true,
 * });
 * const entry = await metastore.getTable({ catalog: 'ML', schema: 'churn_features', table: 'Customer_Features' });
 * console.log(entry?.fullName); // ml.churn_features.customer_features
 */
export interface Metastore {
  /** Create a schema (and its catalog). Fails with `SCHEMA_ALREADY_EXISTS` unless `ifNotExists`. */
  createSchema(
    catalog: string,
    schema: string,
    options?: { readonly ifNotExists?: boolean; readonly comment?: string },
  ): Promise<void>;
  /** Schemas, ordered by catalog and name. */
  listSchemas(catalog?: string): Promise<SchemaEntry[]>;
  /** Register a table. Fails with `TABLE_ALREADY_EXISTS` when a table or view has its name. */
  createTable(entry: NewTable): Promise<TableEntry>;
  getTable(name: TableName): Promise<TableEntry | undefined>;
  /** Tables, ordered by full name. */
  listTables(filter?: ListFilter): Promise<TableEntry[]>;
  /** Unregister a table (its files are not touched). True when it existed. */
  dropTable(name: TableName): Promise<boolean>;
  /** Change a table's entry in one atomic step; fails with `TABLE_NOT_FOUND`. Returns the new entry. */
  updateTable(name: TableName, patch: TablePatch): Promise<TableEntry>;
  /**
   * Set (add or replace) one tag; fails with `TABLE_NOT_FOUND`, or
   * `INVALID_ARGUMENT` for an empty key, a key over 255 or a value over 1000
   * characters.
   */
  setTableTag(name: TableName, key: string, value: string): Promise<void>;
  /** Remove one tag; true when it existed. Fails with `TABLE_NOT_FOUND` for an unknown table. */
  deleteTableTag(name: TableName, key: string): Promise<boolean>;
  /**
   * Register a view. Fails with `VIEW_ALREADY_EXISTS` when the view exists and
   * `orReplace` is not set, `TABLE_ALREADY_EXISTS` when a table has its name.
   */
  createView(view: NewView): Promise<ViewEntry>;
  getView(name: TableName): Promise<ViewEntry | undefined>;
  /** Views, ordered by full name. */
  listViews(filter?: ListFilter): Promise<ViewEntry[]>;
  /** Unregister a view. True when it existed. */
  dropView(name: TableName): Promise<boolean>;
  /**
   * Take lease `name` for `ttlMs` when nobody holds it, its holder's expiry
   * has passed, or `holder` already holds it (then it is renewed). Atomic
   * across processes: of two callers at once, one acquires.
   */
  acquireLease(name: string, holder: string, owner: string, ttlMs: number): Promise<LeaseAttempt>;
  /** Push the expiry of `holder`'s lease to `ttlMs` from now; false when `holder` no longer holds it. */
  renewLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Give the lease up; false when `holder` did not hold it. */
  releaseLease(name: string, holder: string): Promise<boolean>;
  close(): Promise<void>;
}

/** `catalog.schema.table`. */
export function tableFullName(name: TableName): string {
  return `${name.catalog}.${name.schema}.${name.table}`;
}

/**
 * A name part as a metastore stores it: lower-case. Throws `INVALID_ARGUMENT`
 * for an empty part or one holding a dot, a backtick or a control character,
 * which full names could not show unambiguously.
 */
export function normalizeNamePart(part: string, what: 'catalog' | 'schema' | 'table'): string {
  if (part === '' || /[.`\u0000-\u001f]/.test(part)) {
    throw new LarderError('INVALID_ARGUMENT', `invalid ${what} name ${JSON.stringify(part)}`, {
      hint: 'names are non-empty and hold no dot, backtick or control character',
    });
  }
  return part.toLowerCase();
}

/** `name` with every part normalized (see `normalizeNamePart`). */
export function normalizeTableName(name: TableName): TableName {
  return {
    catalog: normalizeNamePart(name.catalog, 'catalog'),
    schema: normalizeNamePart(name.schema, 'schema'),
    table: normalizeNamePart(name.table, 'table'),
  };
}

/** Throws `INVALID_ARGUMENT` unless `location` is an absolute path. */
export function assertAbsoluteLocation(location: string, table: string): void {
  if (!isAbsolute(location)) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `table ${table}: location "${location}" is not an absolute path`,
      {
        table,
      },
    );
  }
}
