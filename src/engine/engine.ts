/**
 * The engine: DuckDB with Larder's catalog in front of it. It owns one
 * DuckDB connection and a metastore, and turns Larder SQL (DuckDB SQL plus
 * three-level table names, views, time travel, `read_delta`, `table_changes`
 * and the Spark spellings of the seed) into DuckDB SQL over the Delta
 * tables' current files (`statement-rewriter.ts`), pruned by each query's
 * WHERE clause.
 *
 * Invariants:
 * - a statement reads one snapshot per table, taken when it starts, so it
 *   never sees a half-written version and every reference agrees;
 * - reading a table costs a listing of its log, not a replay: tables stay
 *   open between statements and move forward by the new commits only
 *   (`table-cache.ts`);
 * - names are case-insensitive; one- and two-part names complete with the
 *   current catalog and schema (`main.default` until changed);
 * - `<project>/.larder/` (with `warehouse/`) exists once an engine is open,
 *   and relative file paths in DuckDB's own readers resolve against the
 *   project folder.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type DuckDBConnection,
  type DuckDBResultReader,
  ResultReturnType,
  StatementType,
} from '@duckdb/node-api';
import type { Metastore, TableEntry, TableName } from '../catalog/metastore.js';
import { openMetastore } from '../catalog/open-metastore.js';
import type { DeltaTable } from '../delta/delta-table.js';
import { connect, sqlString } from '../duckdb/duckdb.js';
import { isLarderError, LarderError } from '../errors.js';
import { resolveCopyPaths } from './copy-paths.js';
import { missingDataFileError } from './missing-data-file.js';
import { suggestTableName, withLarderSuggestion } from './missing-table.js';
import { folderResolver } from './read-delta.js';
import { describeScan, type ScanInfo } from './scan-info.js';
import type { SqlResult } from './sql-result.js';
import { SqlTokenBuilder } from './sql-token-builder.js';
import { isSignificant, splitTokenized, type TokenizedSql, tokenizeSql } from './sql-tokenizer.js';
import {
  type DeltaSource,
  type RelationResolver,
  type RelationSource,
  type RewriteResult,
  rewriteScript,
  StatementRewriter,
} from './statement-rewriter.js';
import { systemRelationSql } from './system-tables.js';
import { type CachedTableSpec, TableCache } from './table-cache.js';
import {
  completeName,
  DEFAULT_CATALOG,
  DEFAULT_SCHEMA,
  type NameDefaults,
  parseTableName,
} from './table-name.js';

/** The project data folder, inside the project folder. */
export const LARDER_DIR = '.larder';

/** Where managed tables live, inside the project data folder. */
export const WAREHOUSE_DIR = 'warehouse';

export interface EngineOptions {
  /** The project folder: the one that holds (or will hold) `.larder/`. */
  readonly projectDir: string;
  /** The catalog of names; default `openMetastore`: PostgreSQL for a `LARDER_CATALOG_URL` postgres:// URL, else the project's SQLite catalog (`.larder/catalog.db`). */
  readonly metastore?: Metastore;
  /** Where managed tables go: a folder, absolute or relative to the project folder (default `.larder/warehouse`). */
  readonly warehouse?: string;
  /** Create `.larder/` and the warehouse folder (default true; false for dry runs such as `larder plan`). */
  readonly createFolders?: boolean;
}

/** EXPLAIN modes: Databricks' (`EXTENDED`, `FORMATTED`, `COST`, `CODEGEN`) and DuckDB's `ANALYZE`. */
const EXPLAIN_MODES = new Set(['simple', 'extended', 'formatted', 'cost', 'codegen', 'analyze']);

/**
 * @example
 * const engine = await Engine.open({ projectDir: process.cwd() });
 * try {
 *   const result = await engine.query('SELECT count(*) FROM ml.churn_features.customer_features VERSION AS OF 3');
 *   console.log(result.rows[0]?.[0], result.scans);
 *   console.log((await engine.explain('SELECT * FROM ml.churn_features.customer_features WHERE customer_id = 7')).rows);
 * } finally {
 *   await engine.close();
 * }
 */
export class Engine {
  /** Absolute path of the project folder. */
  readonly projectDir: string;
  /** Absolute path of the folder managed tables go to (`<project>/.larder/warehouse` unless configured). */
  readonly warehouseDir: string;
  readonly metastore: Metastore;
  /** The engine's DuckDB connection; session state (SET, temporary tables) lives on it. */
  readonly connection: DuckDBConnection;
  /** The catalog of one- and two-part names. */
  currentCatalog: string = DEFAULT_CATALOG;
  /** The schema of one-part names. */
  currentSchema: string = DEFAULT_SCHEMA;
  readonly #ownsMetastore: boolean;
  readonly #cache = new TableCache();
  readonly #resolver: RelationResolver;
  #closed = false;

  private constructor(
    projectDir: string,
    warehouseDir: string,
    metastore: Metastore,
    ownsMetastore: boolean,
    connection: DuckDBConnection,
  ) {
    this.projectDir = projectDir;
    this.warehouseDir = warehouseDir;
    this.metastore = metastore;
    this.#ownsMetastore = ownsMetastore;
    this.connection = connection;
    const folders = folderResolver(projectDir, this.#cache);
    this.#resolver = {
      relation: (parts, defaults) => this.#relation(parts, defaults),
      folder: (path) => folders.folder(path),
      changesTable: async (name, defaults) => {
        const entry = await this.#entry(parseTableName(name, defaults));
        return this.#cache.source(this.#spec(entry));
      },
    };
  }

  /**
   * Open an engine on a project folder, creating `.larder/warehouse/` and
   * (unless a metastore is given) opening the catalog `openMetastore` picks:
   * PostgreSQL when `LARDER_CATALOG_URL` is a postgres:// URL, else the
   * project's SQLite catalog, created on first use.
   */
  static async open(options: EngineOptions): Promise<Engine> {
    const projectDir = resolve(options.projectDir);
    const dataDir = join(projectDir, LARDER_DIR);
    const warehouseDir = resolve(projectDir, options.warehouse ?? join(LARDER_DIR, WAREHOUSE_DIR));
    try {
      if (options.createFolders !== false) {
        await mkdir(dataDir, { recursive: true });
        await mkdir(warehouseDir, { recursive: true });
      }
    } catch (error) {
      throw new LarderError(
        'IO_ERROR',
        `cannot create the project folder ${dataDir}: ${(error as Error).message}`,
        {
          file: dataDir,
          cause: error,
        },
      );
    }
    const metastore = options.metastore ?? (await openMetastore({ projectDir }));
    const connection = await connect();
    try {
      await connection.run(`SET file_search_path = ${sqlString(projectDir)}`);
    } catch (error) {
      connection.closeSync();
      if (!options.metastore) await metastore.close();
      throw error;
    }
    return new Engine(projectDir, warehouseDir, metastore, !options.metastore, connection);
  }

  /** Make `catalog` current, with its `default` schema (as `USE CATALOG` does). */
  useCatalog(catalog: string): void {
    this.currentCatalog = catalog.toLowerCase();
    this.currentSchema = DEFAULT_SCHEMA;
  }

  /** Make `catalog.schema` current (as `USE SCHEMA` does). */
  useSchema(catalog: string, schema: string): void {
    this.currentCatalog = catalog.toLowerCase();
    this.currentSchema = schema.toLowerCase();
  }

  /**
   * A table name as written (`t`, `s.t`, `c.s.t`; parts bare or quoted with
   * backticks or double quotes), completed with the current catalog and
   * schema, lower-case.
   */
  parseName(text: string): TableName {
    return lowerCase(parseTableName(text, this.#defaults()));
  }

  /** Where a managed table of this name lives: `<warehouse>/<catalog>/<schema>/<table>` (warehouse default `<project>/.larder/warehouse`). */
  defaultLocation(name: TableName): string {
    const n = lowerCase(name);
    return join(this.warehouseDir, n.catalog, n.schema, n.table);
  }

  /**
   * A registered table and its Delta table at the latest version. Throws
   * `TABLE_NOT_FOUND` naming the full name when no table has that name (or
   * its folder holds no Delta table).
   */
  async resolveTable(name: TableName | string): Promise<{ entry: TableEntry; table: DeltaTable }> {
    this.#assertOpen();
    const entry = await this.#entry(typeof name === 'string' ? this.parseName(name) : lowerCase(name));
    const table = await this.#cache.table(this.#spec(entry));
    return { entry, table };
  }

  /** Larder SQL (one or more statements, as text or already tokenized) → DuckDB SQL, and what each Delta reference reads. */
  rewrite(sql: string | TokenizedSql): Promise<RewriteResult> {
    this.#assertOpen();
    return rewriteScript(sql, {
      connection: this.connection,
      resolver: this.#resolver,
      defaults: this.#defaults(),
    });
  }

  /**
   * A rewriter for the parts of one statement that Larder runs itself (a
   * MERGE's source query, conditions and values; an UPDATE's assignments and
   * WHERE; …): every part it rewrites reads the same snapshot of a table.
   *
   * @example
   * const rewriter = engine.statementRewriter();
   * const source = await rewriter.rewrite('SELECT * FROM ml.s.changes');
   * const where = await rewriter.rewriteExpression('id IN (SELECT id FROM ml.s.deleted)');
   */
  statementRewriter(): StatementRewriter {
    this.#assertOpen();
    return new StatementRewriter({
      connection: this.connection,
      resolver: this.#resolver,
      defaults: this.#defaults(),
    });
  }

  /**
   * Rewrite and run one statement. `EXPLAIN [mode] statement` is `explain`.
   * DuckDB's errors become `SQL_ERROR` carrying its message, except a data
   * file of a table it read that is gone (vacuumed): `IO_ERROR` naming the
   * table, the version and the file (`missing-data-file.ts`). A statement
   * that comes tokenized (from a SQL session's parser) is not scanned again.
   */
  async query(sql: string | TokenizedSql): Promise<SqlResult> {
    const statement = singleStatement(sql);
    const words = statement.tokens.filter(isSignificant);
    // EXPLAIN (FORMAT …) is DuckDB's own syntax: it goes through as it is, with the query inside rewritten.
    if (words[0]?.kind === 'word' && words[0].text.toLowerCase() === 'explain' && words[1]?.kind === 'word') {
      const second = words[1]?.kind === 'word' ? words[1].text.toLowerCase() : '';
      const mode = EXPLAIN_MODES.has(second) ? second : undefined;
      const from = (mode ? words[1] : words[0])!.end;
      const rest = new SqlTokenBuilder().pushAll(statement.tokens.filter((t) => t.start >= from)).build();
      return this.explain(rest, mode);
    }
    const { sql: rewritten, scans } = await this.rewrite(await resolveCopyPaths(statement, this.projectDir));
    return this.#run(rewritten, statement.text, scans);
  }

  /**
   * DuckDB's plan of the rewritten statement, then one row per Delta table
   * read: `delta_scan | <table> version N: read F of T files (pruned by …)`.
   * Modes: `simple` (default), `formatted`, `cost`, `codegen` (DuckDB's plan),
   * `extended` (every optimizer stage), `analyze` (runs it and times each step).
   */
  async explain(sql: string | TokenizedSql, mode?: string): Promise<SqlResult> {
    const statement = singleStatement(sql);
    const m = (mode ?? 'simple').toLowerCase();
    if (!EXPLAIN_MODES.has(m)) {
      throw new LarderError('INVALID_ARGUMENT', `EXPLAIN has no mode ${mode}`, {
        hint: `modes: ${[...EXPLAIN_MODES].join(', ')}`,
      });
    }
    const { sql: rewritten, scans } = await this.rewrite(statement);
    const explained = `EXPLAIN ${m === 'analyze' ? 'ANALYZE ' : ''}${rewritten}`;
    let result: SqlResult;
    if (m === 'extended') {
      const previous = await this.connection.runAndReadAll("SELECT current_setting('explain_output')");
      await this.connection.run("SET explain_output = 'all'");
      try {
        result = await this.#run(explained, statement.text, scans);
      } finally {
        await this.connection.run(
          `SET explain_output = ${sqlString(String(previous.getRowsJson()[0]?.[0]))}`,
        );
      }
    } else {
      result = await this.#run(explained, statement.text, scans);
    }
    return { ...result, rows: [...result.rows, ...scans.map((scan) => ['delta_scan', describeScan(scan)])] };
  }

  /**
   * A DuckDB error message as Larder shows it: when it is about a missing
   * table, DuckDB's suggestion (one of its own system tables) is replaced by
   * the closest registered table, or dropped.
   *
   * @example
   * catch (error) { throw new LarderError('SQL_ERROR', await engine.explainError((error as Error).message)); }
   */
  explainError(message: string): Promise<string> {
    return withLarderSuggestion(message, this.metastore, this.#defaults());
  }

  /** Close the connection, and the metastore if the engine opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.connection.closeSync();
    if (this.#ownsMetastore) await this.metastore.close();
  }

  async #run(sql: string, statement: string, scans: readonly ScanInfo[]): Promise<SqlResult> {
    this.#assertOpen();
    let reader: DuckDBResultReader;
    try {
      reader = await this.connection.runAndReadAll(sql);
    } catch (error) {
      throw (
        missingDataFileError(error, scans, this.projectDir) ??
        new LarderError('SQL_ERROR', await this.explainError((error as Error).message), {
          statement: statement.trim(),
          cause: error,
        })
      );
    }
    const kind = StatementType[reader.statementType] ?? 'UNKNOWN';
    if (reader.returnType === ResultReturnType.NOTHING) return { kind, columns: [], rows: [], scans };
    const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() }));
    return { kind, columns, rows: reader.getRowsJson(), scans };
  }

  #defaults(): NameDefaults {
    return { catalog: this.currentCatalog, schema: this.currentSchema };
  }

  async #entry(name: TableName): Promise<TableEntry> {
    const entry = await this.metastore.getTable(name);
    if (entry) return entry;
    const full = `${name.catalog}.${name.schema}.${name.table}`;
    const view = await this.metastore.getView(name);
    throw new LarderError(
      'TABLE_NOT_FOUND',
      view ? `${full} is a view, not a table` : `table ${full} not found${await this.#suggestion(full)}`,
      {
        table: full,
        hint: view ? 'this needs a Delta table' : 'check the name; SHOW TABLES lists the registered tables',
      },
    );
  }

  #spec(entry: TableEntry): CachedTableSpec {
    return {
      key: `${entry.location}\u0000${entry.createdAt}`,
      root: entry.location,
      path: entry.location,
      fullName: entry.fullName,
      notFound: (cause?: unknown) =>
        new LarderError(
          'TABLE_NOT_FOUND',
          `table ${entry.fullName} is registered at ${entry.location}, but there is no Delta table there`,
          { table: entry.fullName, file: entry.location, cause, hint: 'drop the table and create it again' },
        ),
    };
  }

  /** What a name of a statement denotes: a registered table or view, a system relation, or nothing of ours. */
  async #relation(parts: readonly string[], defaults: NameDefaults): Promise<RelationSource | undefined> {
    const name = lowerCase(completeName(parts, defaults));
    const full = `${name.catalog}.${name.schema}.${name.table}`;
    const system = systemRelationSql(name);
    if (system !== undefined) return { kind: 'query', fullName: full, sql: system };
    let found: DeltaSource | RelationSource | undefined;
    try {
      const entry = await this.metastore.getTable(name);
      if (entry) {
        found = this.#cache.source(this.#spec(entry));
      } else {
        const view = await this.metastore.getView(name);
        if (view) {
          found = {
            kind: 'view',
            fullName: view.fullName,
            sql: view.sql,
            defaults: { catalog: view.name.catalog, schema: view.name.schema },
          };
        }
      }
    } catch (error) {
      // A name the catalog cannot hold (a dot inside quotes, …) is DuckDB's.
      if (!isLarderError(error, 'INVALID_ARGUMENT')) throw error;
      return undefined;
    }
    if (found) return found;
    if (parts.length === 3 && !(await this.#duckdbHasCatalog(parts[0]!))) {
      throw new LarderError('TABLE_NOT_FOUND', `table ${full} not found${await this.#suggestion(full)}`, {
        table: full,
        hint: 'check the name; SHOW TABLES lists the registered tables',
      });
    }
    return undefined;
  }

  /** `' (did you mean "…"?)'` naming the registered table closest to `full`, or `''`. */
  async #suggestion(full: string): Promise<string> {
    const suggestion = await suggestTableName(this.metastore, full, this.#defaults()).catch(() => undefined);
    return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  }

  async #duckdbHasCatalog(catalog: string): Promise<boolean> {
    const reader = await this.connection.runAndReadAll(
      `SELECT count(*)::INTEGER FROM duckdb_databases() WHERE lower(database_name) = lower(${sqlString(catalog)})`,
    );
    return Number(reader.getRowsJson()[0]?.[0]) > 0;
  }

  #assertOpen(): void {
    if (this.#closed) throw new LarderError('INVALID_ARGUMENT', 'the engine is closed');
  }
}

function lowerCase(name: TableName): TableName {
  return {
    catalog: name.catalog.toLowerCase(),
    schema: name.schema.toLowerCase(),
    table: name.table.toLowerCase(),
  };
}

function singleStatement(sql: string | TokenizedSql): TokenizedSql {
  const statements = splitTokenized(typeof sql === 'string' ? tokenizeSql(sql) : sql);
  if (statements.length !== 1) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      statements.length === 0
        ? 'no SQL statement to run'
        : `one statement expected, got ${statements.length}`,
      { hint: 'run scripts through a SQL session' },
    );
  }
  return statements[0]!;
}
