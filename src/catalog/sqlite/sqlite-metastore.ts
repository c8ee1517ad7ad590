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
 * before it.
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
  type ListFilter,
  type Metastore,
  type NewTable,
  type NewView,
  normalizeNamePart,
  normalizeTableName,
  type SchemaEntry,
  type TableEntry,
  type TableName,
  tableFullName,
  type ViewEntry,
} from '../metastore.js';
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
}

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
    const path = resolve(file);
    let db: BetterSqlite3.Database | undefined;
    try {
      mkdirSync(dirname(path), { recursive: true });
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
    const createdAt = Date.now();
    this.#write(`create table ${fullName}`, () => {
      this.#ensureSchema(name, createdAt);
      this.#assertNameFree(name, fullName, 'table');
      this.#statement(
        `INSERT INTO tables (catalog, schema, name, location, managed, description, properties, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        name.catalog,
        name.schema,
        name.table,
        entry.location,
        entry.managed ? 1 : 0,
        entry.description ?? null,
        JSON.stringify(entry.properties ?? {}),
        createdAt,
      );
    });
    return tableEntry({
      catalog: name.catalog,
      schema: name.schema,
      name: name.table,
      location: entry.location,
      managed: entry.managed ? 1 : 0,
      description: entry.description ?? null,
      properties: JSON.stringify(entry.properties ?? {}),
      created_at: createdAt,
    });
  }

  async getTable(name: TableName): Promise<TableEntry | undefined> {
    const n = normalizeTableName(name);
    const row = this.#read(`read table ${tableFullName(n)}`, () =>
      this.#statement('SELECT * FROM tables WHERE catalog = ? AND schema = ? AND name = ?').get(
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }

  #list(relation: 'tables' | 'views', filter: ListFilter): unknown[] {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.catalog !== undefined) {
      where.push('catalog = ?');
      params.push(normalizeNamePart(filter.catalog, 'catalog'));
    }
    if (filter.schema !== undefined) {
      where.push('schema = ?');
      params.push(normalizeNamePart(filter.schema, 'schema'));
    }
    const sql = `SELECT * FROM ${relation}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY catalog, schema, name`;
    return this.#read(`list ${relation}`, () => this.#statement(sql).all(...params));
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
  return Object.freeze({
    name: Object.freeze(name),
    fullName: tableFullName(name),
    location: row.location,
    managed: row.managed === 1,
    ...(row.description === null ? {} : { description: row.description }),
    createdAt: row.created_at,
    properties: Object.freeze(JSON.parse(row.properties) as Record<string, string>),
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
