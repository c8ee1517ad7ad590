/**
 * The SQLite metastore's schema, as versioned migrations, and the runner
 * that brings a database up to date.
 *
 * Invariants: migrations are applied in version order, each once, inside one
 * `BEGIN IMMEDIATE` transaction with its `schema_migrations` row, so two
 * processes opening a new catalog at once apply them exactly once and a
 * crash leaves the database at the last complete version. A database newer
 * than this code (a version we do not know) is refused, never downgraded.
 * Published migrations are never edited: a change is a new migration.
 */
import type { Database } from 'better-sqlite3';
import { LarderError } from '../../errors.js';

/** One step of the schema. */
export interface Migration {
  /** 1, 2, 3, …: consecutive. */
  readonly version: number;
  /** What it does, for `schema_migrations`. */
  readonly name: string;
  /** SQLite statements. */
  readonly sql: string;
}

/** Every migration of the SQLite metastore, oldest first. */
export const SQLITE_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'catalogs, schemas, tables and views',
    sql: `
      CREATE TABLE catalogs (
        name TEXT PRIMARY KEY,
        comment TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE schemas (
        catalog TEXT NOT NULL REFERENCES catalogs (name),
        name TEXT NOT NULL,
        comment TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (catalog, name)
      );
      CREATE TABLE tables (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        name TEXT NOT NULL,
        location TEXT NOT NULL,
        managed INTEGER NOT NULL CHECK (managed IN (0, 1)),
        description TEXT,
        properties TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        PRIMARY KEY (catalog, schema, name),
        FOREIGN KEY (catalog, schema) REFERENCES schemas (catalog, name)
      );
      CREATE TABLE views (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        name TEXT NOT NULL,
        sql TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (catalog, schema, name),
        FOREIGN KEY (catalog, schema) REFERENCES schemas (catalog, name)
      );
    `,
  },
  {
    version: 2,
    name: 'feature tables, table features, table tags and updated_at',
    sql: `
      ALTER TABLE tables ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
      UPDATE tables SET updated_at = created_at;
      -- One row per feature table; the lists are JSON arrays of column or source names.
      CREATE TABLE feature_tables (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        name TEXT NOT NULL,
        primary_keys TEXT NOT NULL,
        timeseries_column TEXT,
        partition_columns TEXT NOT NULL DEFAULT '[]',
        cluster_columns TEXT NOT NULL DEFAULT '[]',
        owner TEXT,
        lineage_pipeline TEXT,
        lineage_sources TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (catalog, schema, name),
        FOREIGN KEY (catalog, schema, name) REFERENCES tables (catalog, schema, name) ON DELETE CASCADE
      );
      -- The feature (non-key) columns of a feature table, in table order.
      CREATE TABLE table_features (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        table_name TEXT NOT NULL,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        description TEXT,
        PRIMARY KEY (catalog, schema, table_name, position),
        FOREIGN KEY (catalog, schema, table_name)
          REFERENCES feature_tables (catalog, schema, name) ON DELETE CASCADE
      );
      -- Tags of any table; position keeps insertion order (a replaced tag keeps its place).
      CREATE TABLE table_tags (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        table_name TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (catalog, schema, table_name, key),
        FOREIGN KEY (catalog, schema, table_name) REFERENCES tables (catalog, schema, name) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 3,
    name: 'leases',
    sql: `
      -- Who holds a piece of work (a pipeline's runs) and until when (ms since the epoch).
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        owner TEXT NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
]);

/** What `migrate` did: the version found and the version left. */
export interface MigrationResult {
  readonly from: number;
  readonly to: number;
}

/**
 * Apply the pending migrations of `migrations` to `db`.
 *
 * @example
 * const db = new Database('/project/.larder/catalog.db');
 * const { from, to } = migrate(db);
 */
export function migrate(db: Database, migrations: readonly Migration[] = SQLITE_MIGRATIONS): MigrationResult {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      // A programming error, not a user's: the list is part of the code.
      throw new Error(`migration "${m.name}" has version ${m.version}, expected ${i + 1}`);
    }
  });
  const newest = migrations.length;
  const apply = db.transaction((): MigrationResult => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const row = db.prepare('SELECT max(version) AS version FROM schema_migrations').get() as {
      version: number | null;
    };
    const current = row.version ?? 0;
    if (current > newest) {
      throw new LarderError(
        'UNSUPPORTED_FEATURE',
        `the catalog ${db.name} is at schema version ${current}; this Larder knows versions up to ${newest}`,
        { file: db.name, feature: 'catalog schema', hint: 'upgrade Larder' },
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of migrations.slice(current)) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    }
    return { from: current, to: Math.max(current, newest) };
  });
  return apply.immediate();
}
