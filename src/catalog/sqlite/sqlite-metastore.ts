/**
 * The embedded metastore: a SQLite database, by default
 * `<project>/.larder/catalog.db`, through `better-sqlite3`.
 *
 * Two processes (a pipeline run and a server, two `larder sql` shells) can
 * use one catalog at once: the database is in WAL mode (readers never block
 * the writer), a busy timeout makes a writer wait for another instead of
 * failing, and every change that reads before it writes runs in a
 * `BEGIN IMMEDIATE` transaction, so check-then-insert is atomic across
 * processes. Reads are not cached: each call sees every change committed
 * before it. A table's entry (its row, feature info, feature columns and
 * tags) is read by one statement, so it is never seen half-changed; its
 * feature info and tags go when the table does (foreign keys cascade).
 *
 * `better-sqlite3` is synchronous; the methods are async to honour the
 * `Metastore` interface (a PostgreSQL backend is networked). Calls are short
 * (microseconds), so blocking the event loop for them is cheaper than a
 * thread hop.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { isLarderError, LarderError } from '../../errors.js';
import {
  assertAbsoluteLocation,
  type FeatureTableInfo,
  type Lease,
  type LeaseAttempt,
  type ListFilter,
  type Metastore,
  type NewTable,
  type NewView,
  normalizeNamePart,
  normalizeTableName,
  type SchemaEntry,
  type TableEntry,
  type TableName,
  type TablePatch,
  tableFullName,
  type ViewEntry,
} from '../metastore.js';
import {
  checkFeatureTableInfo,
  checkTag,
  checkTags,
  storedFeatureInfo,
  tableNotFound,
} from '../table-metadata.js';
import { migrate } from './migrations.js';

/** The catalog file inside a project's `.larder/` folder. */
export const SQLITE_CATALOG_FILE = 'catalog.db';

/** How long a write waits for another process's write before failing (ms). */
const BUSY_TIMEOUT_MS = 10_000;

interface TableRow {
  readonly catalog: string;
  readonly schema: string;
  readonly name: string;
  readonly location: string;
  readonly managed: number;
  readonly description: string | null;
  readonly properties: string;
  readonly created_at: number;
  readonly updated_at: number;
  /** The `feature_tables` columns: null for a table that is not a feature table. */
  readonly primary_keys: string | null;
  readonly timeseries_column: string | null;
  readonly partition_columns: string | null;
  readonly cluster_columns: string | null;
  readonly owner: string | null;
  readonly lineage_pipeline: string | null;
  readonly lineage_sources: string | null;
  /** JSON `[[key, value], …]` in tag order. */
  readonly tags: string;
  /** JSON `[{name, type, description}, …]` in column order. */
  readonly features: string;
}

/** A table's whole entry, in one statement (one consistent read); callers append WHERE / ORDER BY. */
const TABLE_SELECT = `
  SELECT t.catalog, t.schema, t.name, t.location, t.managed, t.description, t.properties,
    t.created_at, t.updated_at,
    f.primary_keys, f.timeseries_column, f.partition_columns, f.cluster_columns, f.owner,
    f.lineage_pipeline, f.lineage_sources,
    (SELECT json_group_array(json_array(g.key, g.value) ORDER BY g.position) FROM table_tags g
      WHERE g.catalog = t.catalog AND g.schema = t.schema AND g.table_name = t.name) AS tags,
    (SELECT json_group_array(json_object('name', c.name, 'type', c.type, 'description', c.description)
        ORDER BY c.position) FROM table_features c
      WHERE c.catalog = t.catalog AND c.schema = t.schema AND c.table_name = t.name) AS features
  FROM tables t
  LEFT JOIN feature_tables f ON f.catalog = t.catalog AND f.schema = t.schema AND f.name = t.name`;

/** WHERE clause selecting one table of `TABLE_SELECT` (or of `tables` alone). */
const ONE_TABLE = 'WHERE catalog = ? AND schema = ? AND name = ?';

interface ViewRow {
  readonly catalog: string;
  readonly schema: string;
  readonly name: string;
  readonly sql: string;
  readonly created_at: number;
}

interface SchemaRow {
  readonly catalog: string;
  readonly name: string;
  readonly comment: string | null;
}

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

interface LeaseRow {
  readonly name: string;
  readonly holder: string;
  readonly owner: string;
  readonly acquired_at: number;
  readonly expires_at: number;
}

function leaseOf(row: LeaseRow): Lease {
  return Object.freeze({
    name: row.name,
    holder: row.holder,
    owner: row.owner,
    acquiredAt: new Date(row.acquired_at),
    expiresAt: new Date(row.expires_at),
  });
}

/**
 * @example
 * const metastore = await SqliteMetastore.open('/project/.larder/catalog.db');
 * await metastore.createSchema('ml', 'churn_features', { ifNotExists: true });
 * console.log(await metastore.listTables({ catalog: 'ml' }));
 * await metastore.close();
 */
export class SqliteMetastore implements Metastore {
  /** Absolute path of the database file. */
  readonly path: string;
  readonly #db: BetterSqlite3.Database;
  readonly #statements = new Map<string, Statement>();
  #closed = false;

  private constructor(path: string, db: BetterSqlite3.Database) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Open (creating it and its folder if needed) the catalog database at
   * `path` and bring its schema up to date.
   */
  static async open(file: string): Promise<SqliteMetastore> {
    // ':memory:' is an empty catalog that lives as long as the metastore (dry runs, tests).
    const memory = file === ':memory:';
    const path = memory ? file : resolve(file);
    let db: BetterSqlite3.Database | undefined;
    try {
      if (!memory) mkdirSync(dirname(path), { recursive: true });
      db = new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db);
      return new SqliteMetastore(path, db);
    } catch (error) {
      db?.close();
      if (isLarderError(error)) throw error;
      throw new LarderError('IO_ERROR', `cannot open the catalog ${path}: ${(error as Error).message}`, {
        file: path,
        cause: error,
      });
    }
  }

  async createSchema(
    catalog: string,
    schema: string,
    options: { readonly ifNotExists?: boolean; readonly comment?: string } = {},
  ): Promise<void> {
    const c = normalizeNamePart(catalog, 'catalog');
    const s = normalizeNamePart(schema, 'schema');
    this.#write(`create schema ${c}.${s}`, () => {
      const now = Date.now();
      this.#statement('INSERT OR IGNORE INTO catalogs (name, created_at) VALUES (?, ?)').run(c, now);
      const inserted = this.#statement(
        'INSERT OR IGNORE INTO schemas (catalog, name, comment, created_at) VALUES (?, ?, ?, ?)',
      ).run(c, s, options.comment ?? null, now);
      if (inserted.changes === 0 && !options.ifNotExists) {
        throw new LarderError('SCHEMA_ALREADY_EXISTS', `schema ${c}.${s} already exists`, {
          schema: `${c}.${s}`,
          hint: 'use CREATE SCHEMA IF NOT EXISTS',
        });
      }
    });
  }

  async listSchemas(catalog?: string): Promise<SchemaEntry[]> {
    const rows = this.#read('list schemas', () =>
      catalog === undefined
        ? this.#statement('SELECT catalog, name, comment FROM schemas ORDER BY catalog, name').all()
        : this.#statement('SELECT catalog, name, comment FROM schemas WHERE catalog = ? ORDER BY name').all(
            normalizeNamePart(catalog, 'catalog'),
          ),
    ) as SchemaRow[];
    return rows.map((r) => ({
      catalog: r.catalog,
      schema: r.name,
      ...(r.comment === null ? {} : { comment: r.comment }),
    }));
  }

  async createTable(entry: NewTable): Promise<TableEntry> {
    const name = normalizeTableName(entry.name);
    const fullName = tableFullName(name);
    assertAbsoluteLocation(entry.location, fullName);
    const feature = entry.feature === undefined ? undefined : checkFeatureTableInfo(fullName, entry.feature);
    const tags = checkTags(fullName, entry.tags);
    const createdAt = Date.now();
    return this.#write(`create table ${fullName}`, () => {
      this.#ensureSchema(name, createdAt);
      this.#assertNameFree(name, fullName, 'table');
      this.#statement(
        `INSERT INTO tables (catalog, schema, name, location, managed, description, properties, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        name.catalog,
        name.schema,
        name.table,
        entry.location,
        entry.managed ? 1 : 0,
        entry.description ?? null,
        JSON.stringify(entry.properties ?? {}),
        createdAt,
        createdAt,
      );
      if (feature) this.#insertFeature(name, feature);
      const insertTag = this.#statement(
        'INSERT INTO table_tags (catalog, schema, table_name, key, value, position) VALUES (?, ?, ?, ?, ?, ?)',
      );
      tags.forEach(([key, value], i) => {
        insertTag.run(name.catalog, name.schema, name.table, key, value, i + 1);
      });
      return this.#entry(name, fullName);
    });
  }

  async getTable(name: TableName): Promise<TableEntry | undefined> {
    const n = normalizeTableName(name);
    const row = this.#read(`read table ${tableFullName(n)}`, () =>
      this.#statement(`${TABLE_SELECT} WHERE t.catalog = ? AND t.schema = ? AND t.name = ?`).get(
        n.catalog,
        n.schema,
        n.table,
      ),
    ) as TableRow | undefined;
    return row && tableEntry(row);
  }

  async listTables(filter: ListFilter = {}): Promise<TableEntry[]> {
    const rows = this.#list('tables', filter) as TableRow[];
    return rows.map(tableEntry);
  }

  async dropTable(name: TableName): Promise<boolean> {
    const n = normalizeTableName(name);
    return this.#write(`drop table ${tableFullName(n)}`, () => {
      const result = this.#statement('DELETE FROM tables WHERE catalog = ? AND schema = ? AND name = ?').run(
        n.catalog,
        n.schema,
        n.table,
      );
      return result.changes > 0;
    });
  }

  async updateTable(name: TableName, patch: TablePatch): Promise<TableEntry> {
    const n = normalizeTableName(name);
    const fullName = tableFullName(n);
    const feature =
      patch.feature === undefined || patch.feature === null
        ? patch.feature
        : checkFeatureTableInfo(fullName, patch.feature);
    return this.#write(`update table ${fullName}`, () => {
      const sets = ['updated_at = max(?, updated_at + 1)'];
      const params: unknown[] = [Date.now()];
      if (patch.description !== undefined) {
        sets.push('description = ?');
        params.push(patch.description);
      }
      if (patch.properties !== undefined) {
        sets.push('properties = ?');
        params.push(JSON.stringify(patch.properties));
      }
      const updated = this.#statement(`UPDATE tables SET ${sets.join(', ')} ${ONE_TABLE}`).run(
        ...params,
        n.catalog,
        n.schema,
        n.table,
      );
      if (updated.changes === 0) throw tableNotFound(fullName);
      if (feature !== undefined) {
        // Cascades to the feature columns.
        this.#statement(`DELETE FROM feature_tables ${ONE_TABLE}`).run(n.catalog, n.schema, n.table);
        if (feature !== null) this.#insertFeature(n, feature);
      }
      return this.#entry(n, fullName);
    });
  }

  async setTableTag(name: TableName, key: string, value: string): Promise<void> {
    const n = normalizeTableName(name);
    const fullName = tableFullName(n);
    checkTag(fullName, key, value);
    this.#write(`set tag "${key}" of table ${fullName}`, () => {
      this.#touch(n, fullName);
      // A new key goes last; a replaced one keeps its place.
      this.#statement(
        `INSERT INTO table_tags (catalog, schema, table_name, key, value, position)
         VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(position), 0) + 1 FROM table_tags
           WHERE catalog = ? AND schema = ? AND table_name = ?))
         ON CONFLICT (catalog, schema, table_name, key) DO UPDATE SET value = excluded.value`,
      ).run(n.catalog, n.schema, n.table, key, value, n.catalog, n.schema, n.table);
    });
  }

  async deleteTableTag(name: TableName, key: string): Promise<boolean> {
    const n = normalizeTableName(name);
    const fullName = tableFullName(n);
    checkTag(fullName, key);
    return this.#write(`delete tag "${key}" of table ${fullName}`, () => {
      if (!this.#statement(`SELECT 1 FROM tables ${ONE_TABLE}`).get(n.catalog, n.schema, n.table)) {
        throw tableNotFound(fullName);
      }
      const deleted = this.#statement(
        'DELETE FROM table_tags WHERE catalog = ? AND schema = ? AND table_name = ? AND key = ?',
      ).run(n.catalog, n.schema, n.table, key);
      if (deleted.changes === 0) return false;
      this.#touch(n, fullName);
      return true;
    });
  }

  async createView(view: NewView): Promise<ViewEntry> {
    const name = normalizeTableName(view.name);
    const fullName = tableFullName(name);
    const createdAt = Date.now();
    this.#write(`create view ${fullName}`, () => {
      this.#ensureSchema(name, createdAt);
      if (view.orReplace) {
        this.#assertNoTable(name, fullName);
        this.#statement('DELETE FROM views WHERE catalog = ? AND schema = ? AND name = ?').run(
          name.catalog,
          name.schema,
          name.table,
        );
      } else {
        this.#assertNameFree(name, fullName, 'view');
      }
      this.#statement(
        'INSERT INTO views (catalog, schema, name, sql, created_at) VALUES (?, ?, ?, ?, ?)',
      ).run(name.catalog, name.schema, name.table, view.sql, createdAt);
    });
    return viewEntry({
      catalog: name.catalog,
      schema: name.schema,
      name: name.table,
      sql: view.sql,
      created_at: createdAt,
    });
  }

  async getView(name: TableName): Promise<ViewEntry | undefined> {
    const n = normalizeTableName(name);
    const row = this.#read(`read view ${tableFullName(n)}`, () =>
      this.#statement('SELECT * FROM views WHERE catalog = ? AND schema = ? AND name = ?').get(
        n.catalog,
        n.schema,
        n.table,
      ),
    ) as ViewRow | undefined;
    return row && viewEntry(row);
  }

  async listViews(filter: ListFilter = {}): Promise<ViewEntry[]> {
    const rows = this.#list('views', filter) as ViewRow[];
    return rows.map(viewEntry);
  }

  async dropView(name: TableName): Promise<boolean> {
    const n = normalizeTableName(name);
    return this.#write(`drop view ${tableFullName(n)}`, () => {
      const result = this.#statement('DELETE FROM views WHERE catalog = ? AND schema = ? AND name = ?').run(
        n.catalog,
        n.schema,
        n.table,
      );
      return result.changes > 0;
    });
  }

  async acquireLease(name: string, holder: string, owner: string, ttlMs: number): Promise<LeaseAttempt> {
    return this.#write(`acquire lease ${name}`, () => {
      const now = Date.now();
      const current = this.#statement('SELECT * FROM leases WHERE name = ?').get(name) as
        | LeaseRow
        | undefined;
      if (current && current.holder !== holder && current.expires_at > now) {
        return { acquired: false, lease: leaseOf(current) };
      }
      const acquiredAt = current?.holder === holder ? current.acquired_at : now;
      this.#statement(
        `INSERT INTO leases (name, holder, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, owner = excluded.owner,
           acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
      ).run(name, holder, owner, acquiredAt, now + ttlMs);
      return {
        acquired: true,
        lease: leaseOf({ name, holder, owner, acquired_at: acquiredAt, expires_at: now + ttlMs }),
      };
    });
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.#write(`renew lease ${name}`, () => {
      const result = this.#statement('UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?').run(
        Date.now() + ttlMs,
        name,
        holder,
      );
      return result.changes > 0;
    });
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    return this.#write(`release lease ${name}`, () => {
      const result = this.#statement('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
      return result.changes > 0;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }

  #list(relation: 'tables' | 'views', filter: ListFilter): unknown[] {
    const p = relation === 'tables' ? 't.' : '';
    const where: string[] = [];
    const params: string[] = [];
    if (filter.catalog !== undefined) {
      where.push(`${p}catalog = ?`);
      params.push(normalizeNamePart(filter.catalog, 'catalog'));
    }
    if (filter.schema !== undefined) {
      where.push(`${p}schema = ?`);
      params.push(normalizeNamePart(filter.schema, 'schema'));
    }
    const sql = `${relation === 'tables' ? TABLE_SELECT : 'SELECT * FROM views'}${
      where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''
    } ORDER BY ${p}catalog, ${p}schema, ${p}name`;
    return this.#read(`list ${relation}`, () => this.#statement(sql).all(...params));
  }

  /** The entry of `name`, inside a transaction that just changed it. */
  #entry(name: TableName, fullName: string): TableEntry {
    const row = this.#statement(`${TABLE_SELECT} WHERE t.catalog = ? AND t.schema = ? AND t.name = ?`).get(
      name.catalog,
      name.schema,
      name.table,
    ) as TableRow | undefined;
    if (!row) throw tableNotFound(fullName);
    return tableEntry(row);
  }

  /** Move a table's `updated_at` forward (strictly, even within one millisecond); `TABLE_NOT_FOUND` if absent. */
  #touch(name: TableName, fullName: string): void {
    const updated = this.#statement(`UPDATE tables SET updated_at = max(?, updated_at + 1) ${ONE_TABLE}`).run(
      Date.now(),
      name.catalog,
      name.schema,
      name.table,
    );
    if (updated.changes === 0) throw tableNotFound(fullName);
  }

  #insertFeature(name: TableName, feature: FeatureTableInfo): void {
    this.#statement(
      `INSERT INTO feature_tables (catalog, schema, name, primary_keys, timeseries_column, partition_columns,
         cluster_columns, owner, lineage_pipeline, lineage_sources)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      name.catalog,
      name.schema,
      name.table,
      JSON.stringify(feature.primaryKeys),
      feature.timeseriesColumn ?? null,
      JSON.stringify(feature.partitionColumns),
      JSON.stringify(feature.clusterBy),
      feature.owner ?? null,
      feature.lineage.pipeline ?? null,
      JSON.stringify(feature.lineage.sources),
    );
    const insertColumn = this.#statement(
      `INSERT INTO table_features (catalog, schema, table_name, position, name, type, description)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    feature.features.forEach((f, i) => {
      insertColumn.run(name.catalog, name.schema, name.table, i + 1, f.name, f.type, f.description ?? null);
    });
  }

  #ensureSchema(name: TableName, now: number): void {
    this.#statement('INSERT OR IGNORE INTO catalogs (name, created_at) VALUES (?, ?)').run(name.catalog, now);
    this.#statement('INSERT OR IGNORE INTO schemas (catalog, name, created_at) VALUES (?, ?, ?)').run(
      name.catalog,
      name.schema,
      now,
    );
  }

  #assertNoTable(name: TableName, fullName: string): void {
    const table = this.#statement('SELECT 1 FROM tables WHERE catalog = ? AND schema = ? AND name = ?').get(
      name.catalog,
      name.schema,
      name.table,
    );
    if (table) {
      throw new LarderError('TABLE_ALREADY_EXISTS', `a table named ${fullName} already exists`, {
        table: fullName,
        hint: 'a name is a table or a view, not both; drop the table or pick another name',
      });
    }
  }

  #assertNameFree(name: TableName, fullName: string, creating: 'table' | 'view'): void {
    this.#assertNoTable(name, fullName);
    const view = this.#statement('SELECT 1 FROM views WHERE catalog = ? AND schema = ? AND name = ?').get(
      name.catalog,
      name.schema,
      name.table,
    );
    if (view) {
      throw new LarderError(
        creating === 'view' ? 'VIEW_ALREADY_EXISTS' : 'TABLE_ALREADY_EXISTS',
        `a view named ${fullName} already exists`,
        {
          table: fullName,
          hint: creating === 'view' ? 'use CREATE OR REPLACE VIEW' : 'drop the view or pick another name',
        },
      );
    }
  }

  #statement(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Run a change in a `BEGIN IMMEDIATE` transaction; SQLite failures become `IO_ERROR`. */
  #write<T>(purpose: string, fn: () => T): T {
    return this.#read(purpose, () => this.#db.transaction(fn).immediate());
  }

  #read<T>(purpose: string, fn: () => T): T {
    if (this.#closed) {
      throw new LarderError('INVALID_ARGUMENT', `the catalog ${this.path} is closed (${purpose})`);
    }
    try {
      return fn();
    } catch (error) {
      if (isLarderError(error)) throw error;
      throw new LarderError(
        'IO_ERROR',
        `catalog ${this.path}: ${purpose} failed: ${(error as Error).message}`,
        {
          file: this.path,
          cause: error,
          ...(/busy|locked/i.test((error as Error).message)
            ? { hint: 'another process held the catalog for too long; retry' }
            : {}),
        },
      );
    }
  }
}

function tableEntry(row: TableRow): TableEntry {
  const name = { catalog: row.catalog, schema: row.schema, table: row.name };
  const feature = featureInfo(row);
  return Object.freeze({
    name: Object.freeze(name),
    fullName: tableFullName(name),
    location: row.location,
    managed: row.managed === 1,
    ...(row.description === null ? {} : { description: row.description }),
    createdAt: row.created_at,
    properties: Object.freeze(JSON.parse(row.properties) as Record<string, string>),
    tags: Object.freeze(Object.fromEntries(JSON.parse(row.tags) as [string, string][])),
    ...(feature === undefined ? {} : { feature }),
    updatedAt: row.updated_at,
  });
}

function featureInfo(row: TableRow): FeatureTableInfo | undefined {
  if (row.primary_keys === null) return undefined;
  const list = (json: string | null): string[] | null =>
    json === null ? null : (JSON.parse(json) as string[]);
  return storedFeatureInfo({
    primaryKeys: JSON.parse(row.primary_keys) as string[],
    timeseriesColumn: row.timeseries_column,
    partitionColumns: list(row.partition_columns),
    clusterColumns: list(row.cluster_columns),
    owner: row.owner,
    lineagePipeline: row.lineage_pipeline,
    lineageSources: list(row.lineage_sources),
    features: JSON.parse(row.features) as { name: string; type: string; description: string | null }[],
  });
}

function viewEntry(row: ViewRow): ViewEntry {
  const name = { catalog: row.catalog, schema: row.schema, table: row.name };
  return Object.freeze({
    name: Object.freeze(name),
    fullName: tableFullName(name),
    sql: row.sql,
    createdAt: row.created_at,
  });
}
