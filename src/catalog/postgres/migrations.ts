/**
 * The PostgreSQL metastore's schema, as versioned migrations, and the runner
 * that brings a database schema up to date.
 *
 * Invariants: every Larder object lives in one PostgreSQL schema (by default
 * `larder`), created if missing. Migrations are applied in version order,
 * each once, inside one transaction with their `schema_migrations` rows,
 * after taking a transaction-scoped advisory lock keyed by the schema name,
 * so two processes opening a new catalog at once apply them exactly once
 * and a crash leaves the schema at the last complete version. A schema newer
 * than this code (a version we do not know) is refused, never downgraded.
 * Published migrations are never edited: a change is a new migration.
 */
import type { PoolClient } from 'pg';
import { sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';

/** One step of the schema. */
export interface Migration {
  /** 1, 2, 3, …: consecutive. */
  readonly version: number;
  /** What it does, for `schema_migrations`. */
  readonly name: string;
  /** PostgreSQL statements, with names unqualified: they run with the Larder schema as `search_path`. */
  readonly sql: string;
}

/** Every migration of the PostgreSQL metastore, oldest first. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'catalogs, schemas, tables and views',
    sql: `
      CREATE TABLE catalogs (
        name TEXT NOT NULL,
        comment TEXT,
        created_at BIGINT NOT NULL,
        CONSTRAINT catalogs_pkey PRIMARY KEY (name)
      );
      CREATE TABLE schemas (
        catalog TEXT NOT NULL REFERENCES catalogs (name),
        name TEXT NOT NULL,
        comment TEXT,
        created_at BIGINT NOT NULL,
        CONSTRAINT schemas_pkey PRIMARY KEY (catalog, name)
      );
      CREATE TABLE tables (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        name TEXT NOT NULL,
        location TEXT NOT NULL,
        managed BOOLEAN NOT NULL,
        description TEXT,
        properties JSONB NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL,
        CONSTRAINT tables_pkey PRIMARY KEY (catalog, schema, name),
        FOREIGN KEY (catalog, schema) REFERENCES schemas (catalog, name)
      );
      CREATE TABLE views (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        name TEXT NOT NULL,
        sql TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        CONSTRAINT views_pkey PRIMARY KEY (catalog, schema, name),
        FOREIGN KEY (catalog, schema) REFERENCES schemas (catalog, name)
      );
    `,
  },
  {
    version: 2,
    name: 'feature tables, table features, table tags and updated_at',
    sql: `
      ALTER TABLE tables ADD COLUMN updated_at BIGINT;
      UPDATE tables SET updated_at = created_at;
      ALTER TABLE tables ALTER COLUMN updated_at SET NOT NULL;
      -- One row per feature table; the lists are JSON arrays of column or source names.
      CREATE TABLE feature_tables (
        catalog TEXT NOT NULL,
        schema TEXT NOT NULL,
        name TEXT NOT NULL,
        primary_keys JSONB NOT NULL,
        timeseries_column TEXT,
        partition_columns JSONB NOT NULL DEFAULT '[]',
        cluster_columns JSONB NOT NULL DEFAULT '[]',
        owner TEXT,
        lineage_pipeline TEXT,
        lineage_sources JSONB NOT NULL DEFAULT '[]',
        CONSTRAINT feature_tables_pkey PRIMARY KEY (catalog, schema, name),
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
        CONSTRAINT table_features_pkey PRIMARY KEY (catalog, schema, table_name, position),
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
        CONSTRAINT table_tags_pkey PRIMARY KEY (catalog, schema, table_name, key),
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
        name TEXT NOT NULL,
        holder TEXT NOT NULL,
        owner TEXT NOT NULL,
        acquired_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        CONSTRAINT leases_pkey PRIMARY KEY (name)
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
 * The advisory-lock key text of a Larder schema. Every lock a metastore takes
 * in `schema` is keyed by this prefix, so metastores in different schemas
 * never wait for each other.
 */
export function advisoryLockKey(schema: string, what: string): string {
  return `larder.metastore:${schema}:${what}`;
}

/**
 * Apply the pending migrations of `migrations` to the PostgreSQL schema
 * `schema` (created if missing) through `client`, which must not be inside a
 * transaction.
 *
 * @example
 * const client = await pool.connect();
 * try {
 *   const { from, to } = await migrate(client, 'larder');
 * } finally {
 *   client.release();
 * }
 */
export async function migrate(
  client: PoolClient,
  schema: string,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<MigrationResult> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      // A programming error, not a user's: the list is part of the code.
      throw new Error(`migration "${m.name}" has version ${m.version}, expected ${i + 1}`);
    }
  });
  const newest = migrations.length;
  const q = sqlIdent(schema);
  await client.query('BEGIN');
  try {
    // Serialises concurrent openers of this schema until COMMIT: the second
    // sees the first one's migrations and applies nothing.
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      advisoryLockKey(schema, 'migrate'),
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(`SET LOCAL search_path TO ${q}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${q}.schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${q}.schema_migrations`,
    );
    const current = rows[0]?.version ?? 0;
    if (current > newest) {
      throw new LarderError(
        'UNSUPPORTED_FEATURE',
        `the catalog schema "${schema}" is at version ${current}; this Larder knows versions up to ${newest}`,
        { schema, feature: 'catalog schema', hint: 'upgrade Larder' },
      );
    }
    for (const migration of migrations.slice(current)) {
      await client.query(migration.sql);
      await client.query(
        `INSERT INTO ${q}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
        [migration.version, migration.name, Date.now()],
      );
    }
    await client.query('COMMIT');
    return { from: current, to: Math.max(current, newest) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
