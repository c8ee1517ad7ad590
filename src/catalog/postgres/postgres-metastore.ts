/**
 * The shared metastore: a PostgreSQL database, through the `pg` package
 * (loaded only when a PostgreSQL metastore is opened).
 *
 * Every Larder object lives in one PostgreSQL schema (by default `larder`),
 * so the catalog can share a database with anything else. Many processes can
 * use one catalog at once: every change runs in one transaction, and every
 * change that checks a name before writing it first takes a
 * transaction-scoped advisory lock keyed by that name, so check-then-insert
 * is atomic across processes (a table and a view of one name can never both
 * be created). Unique violations that still happen map to the same error
 * codes as the SQLite backend. Reads are not cached: each call sees every
 * change committed before it. A table's entry (its row, feature info,
 * feature columns and tags) is read by one statement, so it is never seen
 * half-changed; every change to an existing entry first locks the table's
 * row (`UPDATE … RETURNING` / `SELECT … FOR UPDATE`), so concurrent tag and
 * patch calls on one table apply one after the other. Feature info and tags
 * go when the table does (foreign keys cascade).
 */
import type { Pool, PoolClient } from 'pg';
import { sqlIdent } from '../../duckdb/duckdb.js';
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
import { advisoryLockKey, migrate } from './migrations.js';

/** The PostgreSQL schema holding the catalog unless `schema` is given. */
export const POSTGRES_DEFAULT_SCHEMA = 'larder';

/** Options of `PostgresMetastore.open`. */
export interface PostgresMetastoreOptions {
  /** The PostgreSQL schema holding every Larder object (created if missing). Default `larder`. */
  readonly schema?: string;
  /** Most connections the pool opens. Default 4. */
  readonly maxConnections?: number;
}

/** SQLSTATE of a unique violation. */
const UNIQUE_VIOLATION = '23505';

interface TableRow {
  readonly catalog: string;
  readonly schema: string;
  readonly name: string;
  readonly location: string;
  readonly managed: boolean;
  readonly description: string | null;
  readonly properties: Record<string, string>;
  /** BIGINT comes back as a string. */
  readonly created_at: string;
  readonly updated_at: string;
  /** The `feature_tables` columns: null for a table that is not a feature table. */
  readonly primary_keys: string[] | null;
  readonly timeseries_column: string | null;
  readonly partition_columns: string[] | null;
  readonly cluster_columns: string[] | null;
  readonly owner: string | null;
  readonly lineage_pipeline: string | null;
  readonly lineage_sources: string[] | null;
  /** `[[key, value], …]` in tag order. */
  readonly tags: [string, string][];
  /** In column order. */
  readonly features: { name: string; type: string; description: string | null }[];
}

interface ViewRow {
  readonly catalog: string;
  readonly schema: string;
  readonly name: string;
  readonly sql: string;
  readonly created_at: string;
}

interface LeaseRow {
  readonly name: string;
  readonly holder: string;
  readonly owner: string;
  /** BIGINT comes back as a string. */
  readonly acquired_at: string;
  readonly expires_at: string;
}

function leaseOf(row: LeaseRow): Lease {
  return Object.freeze({
    name: row.name,
    holder: row.holder,
    owner: row.owner,
    acquiredAt: new Date(Number(row.acquired_at)),
    expiresAt: new Date(Number(row.expires_at)),
  });
}

interface SchemaRow {
  readonly catalog: string;
  readonly name: string;
  readonly comment: string | null;
}

/** `url` with its password hidden, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * @example
 * const metastore = await PostgresMetastore.open('postgres://larder@db.internal/features');
 * await metastore.createSchema('ml', 'churn_features', { ifNotExists: true });
 * console.log(await metastore.listTables({ catalog: 'ml' }));
 * await metastore.close();
 */
export class PostgresMetastore implements Metastore {
  /** The connection URL, password hidden. */
  readonly url: string;
  /** The PostgreSQL schema holding the catalog. */
  readonly schema: string;
  readonly #pool: Pool;
  /** `schema`, quoted: the prefix of every relation name. */
  readonly #q: string;
  /** A table's whole entry, in one statement (one consistent read); callers append WHERE / ORDER BY. */
  readonly #tableSelect: string;
  #closed = false;

  private constructor(url: string, schema: string, pool: Pool) {
    this.url = url;
    this.schema = schema;
    this.#pool = pool;
    this.#q = sqlIdent(schema);
    const q = this.#q;
    this.#tableSelect = `
      SELECT t.catalog, t.schema, t.name, t.location, t.managed, t.description, t.properties,
        t.created_at, t.updated_at,
        f.primary_keys, f.timeseries_column, f.partition_columns, f.cluster_columns, f.owner,
        f.lineage_pipeline, f.lineage_sources,
        coalesce((SELECT jsonb_agg(jsonb_build_array(g.key, g.value) ORDER BY g.position)
          FROM ${q}.table_tags g
          WHERE g.catalog = t.catalog AND g.schema = t.schema AND g.table_name = t.name), '[]') AS tags,
        coalesce((SELECT jsonb_agg(jsonb_build_object('name', c.name, 'type', c.type, 'description', c.description)
            ORDER BY c.position)
          FROM ${q}.table_features c
          WHERE c.catalog = t.catalog AND c.schema = t.schema AND c.table_name = t.name), '[]') AS features
      FROM ${q}.tables t
      LEFT JOIN ${q}.feature_tables f ON f.catalog = t.catalog AND f.schema = t.schema AND f.name = t.name`;
  }

  /**
   * Connect to the database at `url` (`postgres://` or `postgresql://`),
   * create the catalog's schema if missing and bring it up to date.
   */
  static async open(url: string, options: PostgresMetastoreOptions = {}): Promise<PostgresMetastore> {
    const schema = options.schema ?? POSTGRES_DEFAULT_SCHEMA;
    const shown = redactUrl(url);
    if (schema === '' || /[\u0000-\u001f]/.test(schema)) {
      throw new LarderError('INVALID_ARGUMENT', `invalid catalog schema name ${JSON.stringify(schema)}`, {
        hint: 'pick a non-empty PostgreSQL schema name',
      });
    }
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 4 });
    // An idle connection the server dropped must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migrate(client, schema);
      } finally {
        client.release();
      }
      return new PostgresMetastore(shown, schema, pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      if (isLarderError(error)) throw error;
      throw new LarderError(
        'IO_ERROR',
        `cannot open the catalog in schema "${schema}" of ${shown}: ${(error as Error).message}`,
        { file: shown, schema, cause: error },
      );
    }
  }

  async createSchema(
    catalog: string,
    schema: string,
    options: { readonly ifNotExists?: boolean; readonly comment?: string } = {},
  ): Promise<void> {
    const c = normalizeNamePart(catalog, 'catalog');
    const s = normalizeNamePart(schema, 'schema');
    await this.#write(`create schema ${c}.${s}`, async (client) => {
      const now = Date.now();
      await client.query(
        `INSERT INTO ${this.#q}.catalogs (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [c, now],
      );
      await client.query(
        `INSERT INTO ${this.#q}.schemas (catalog, name, comment, created_at) VALUES ($1, $2, $3, $4)${
          options.ifNotExists ? ' ON CONFLICT DO NOTHING' : ''
        }`,
        [c, s, options.comment ?? null, now],
      );
    });
  }

  async listSchemas(catalog?: string): Promise<SchemaEntry[]> {
    const rows = await this.#query<SchemaRow>(
      'list schemas',
      catalog === undefined
        ? `SELECT catalog, name, comment FROM ${this.#q}.schemas ORDER BY catalog COLLATE "C", name COLLATE "C"`
        : `SELECT catalog, name, comment FROM ${this.#q}.schemas WHERE catalog = $1 ORDER BY name COLLATE "C"`,
      catalog === undefined ? [] : [normalizeNamePart(catalog, 'catalog')],
    );
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
    const properties = { ...(entry.properties ?? {}) };
    return this.#write(`create table ${fullName}`, async (client) => {
      await this.#lockName(client, fullName);
      await this.#ensureSchema(client, name, createdAt);
      await this.#assertNoView(client, name, fullName, 'table');
      await client.query(
        `INSERT INTO ${this.#q}.tables (catalog, schema, name, location, managed, description, properties, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
        [
          name.catalog,
          name.schema,
          name.table,
          entry.location,
          entry.managed,
          entry.description ?? null,
          JSON.stringify(properties),
          createdAt,
        ],
      );
      if (feature) await this.#insertFeature(client, name, feature);
      if (tags.length > 0) {
        await client.query(
          `INSERT INTO ${this.#q}.table_tags (catalog, schema, table_name, key, value, position)
           SELECT $1, $2, $3, k, v, o FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS x (k, v, o)`,
          [name.catalog, name.schema, name.table, tags.map(([k]) => k), tags.map(([, v]) => v)],
        );
      }
      return this.#entry(client, name, fullName);
    });
  }

  async getTable(name: TableName): Promise<TableEntry | undefined> {
    const n = normalizeTableName(name);
    const rows = await this.#query<TableRow>(
      `read table ${tableFullName(n)}`,
      `${this.#tableSelect} WHERE t.catalog = $1 AND t.schema = $2 AND t.name = $3`,
      [n.catalog, n.schema, n.table],
    );
    return rows[0] && tableEntry(rows[0]);
  }

  async listTables(filter: ListFilter = {}): Promise<TableEntry[]> {
    const rows = await this.#list<TableRow>('tables', filter);
    return rows.map(tableEntry);
  }

  async dropTable(name: TableName): Promise<boolean> {
    const n = normalizeTableName(name);
    const rows = await this.#query(
      `drop table ${tableFullName(n)}`,
      `DELETE FROM ${this.#q}.tables WHERE catalog = $1 AND schema = $2 AND name = $3 RETURNING 1`,
      [n.catalog, n.schema, n.table],
    );
    return rows.length > 0;
  }

  async updateTable(name: TableName, patch: TablePatch): Promise<TableEntry> {
    const n = normalizeTableName(name);
    const fullName = tableFullName(n);
    const feature =
      patch.feature === undefined || patch.feature === null
        ? patch.feature
        : checkFeatureTableInfo(fullName, patch.feature);
    return this.#write(`update table ${fullName}`, async (client) => {
      const params: unknown[] = [n.catalog, n.schema, n.table, Date.now()];
      const sets = ['updated_at = greatest($4, updated_at + 1)'];
      if (patch.description !== undefined) {
        params.push(patch.description);
        sets.push(`description = $${params.length}`);
      }
      if (patch.properties !== undefined) {
        params.push(JSON.stringify(patch.properties));
        sets.push(`properties = $${params.length}`);
      }
      const updated = await client.query(
        `UPDATE ${this.#q}.tables SET ${sets.join(', ')}
         WHERE catalog = $1 AND schema = $2 AND name = $3 RETURNING 1`,
        params,
      );
      if (updated.rows.length === 0) throw tableNotFound(fullName);
      if (feature !== undefined) {
        // Cascades to the feature columns.
        await client.query(
          `DELETE FROM ${this.#q}.feature_tables WHERE catalog = $1 AND schema = $2 AND name = $3`,
          [n.catalog, n.schema, n.table],
        );
        if (feature !== null) await this.#insertFeature(client, n, feature);
      }
      return this.#entry(client, n, fullName);
    });
  }

  async setTableTag(name: TableName, key: string, value: string): Promise<void> {
    const n = normalizeTableName(name);
    const fullName = tableFullName(n);
    checkTag(fullName, key, value);
    await this.#write(`set tag "${key}" of table ${fullName}`, async (client) => {
      await this.#touch(client, n, fullName);
      // A new key goes last; a replaced one keeps its place. The row lock #touch holds orders concurrent setters.
      await client.query(
        `INSERT INTO ${this.#q}.table_tags (catalog, schema, table_name, key, value, position)
         VALUES ($1, $2, $3, $4, $5, (SELECT coalesce(max(position), 0) + 1 FROM ${this.#q}.table_tags
           WHERE catalog = $1 AND schema = $2 AND table_name = $3))
         ON CONFLICT ON CONSTRAINT table_tags_pkey DO UPDATE SET value = EXCLUDED.value`,
        [n.catalog, n.schema, n.table, key, value],
      );
    });
  }

  async deleteTableTag(name: TableName, key: string): Promise<boolean> {
    const n = normalizeTableName(name);
    const fullName = tableFullName(n);
    checkTag(fullName, key);
    return this.#write(`delete tag "${key}" of table ${fullName}`, async (client) => {
      const table = await client.query(
        `SELECT 1 FROM ${this.#q}.tables WHERE catalog = $1 AND schema = $2 AND name = $3 FOR UPDATE`,
        [n.catalog, n.schema, n.table],
      );
      if (table.rows.length === 0) throw tableNotFound(fullName);
      const deleted = await client.query(
        `DELETE FROM ${this.#q}.table_tags WHERE catalog = $1 AND schema = $2 AND table_name = $3 AND key = $4
         RETURNING 1`,
        [n.catalog, n.schema, n.table, key],
      );
      if (deleted.rows.length === 0) return false;
      await this.#touch(client, n, fullName);
      return true;
    });
  }

  async createView(view: NewView): Promise<ViewEntry> {
    const name = normalizeTableName(view.name);
    const fullName = tableFullName(name);
    const createdAt = Date.now();
    await this.#write(`create view ${fullName}`, async (client) => {
      await this.#lockName(client, fullName);
      await this.#ensureSchema(client, name, createdAt);
      const table = await client.query(
        `SELECT 1 FROM ${this.#q}.tables WHERE catalog = $1 AND schema = $2 AND name = $3`,
        [name.catalog, name.schema, name.table],
      );
      if (table.rows.length > 0) throw tableExists(fullName);
      await client.query(
        `INSERT INTO ${this.#q}.views (catalog, schema, name, sql, created_at) VALUES ($1, $2, $3, $4, $5)${
          view.orReplace
            ? ' ON CONFLICT ON CONSTRAINT views_pkey DO UPDATE SET sql = EXCLUDED.sql, created_at = EXCLUDED.created_at'
            : ''
        }`,
        [name.catalog, name.schema, name.table, view.sql, createdAt],
      );
    });
    return viewEntry({
      catalog: name.catalog,
      schema: name.schema,
      name: name.table,
      sql: view.sql,
      created_at: String(createdAt),
    });
  }

  async getView(name: TableName): Promise<ViewEntry | undefined> {
    const n = normalizeTableName(name);
    const rows = await this.#query<ViewRow>(
      `read view ${tableFullName(n)}`,
      `SELECT * FROM ${this.#q}.views WHERE catalog = $1 AND schema = $2 AND name = $3`,
      [n.catalog, n.schema, n.table],
    );
    return rows[0] && viewEntry(rows[0]);
  }

  async listViews(filter: ListFilter = {}): Promise<ViewEntry[]> {
    const rows = await this.#list<ViewRow>('views', filter);
    return rows.map(viewEntry);
  }

  async dropView(name: TableName): Promise<boolean> {
    const n = normalizeTableName(name);
    const rows = await this.#query(
      `drop view ${tableFullName(n)}`,
      `DELETE FROM ${this.#q}.views WHERE catalog = $1 AND schema = $2 AND name = $3 RETURNING 1`,
      [n.catalog, n.schema, n.table],
    );
    return rows.length > 0;
  }

  async acquireLease(name: string, holder: string, owner: string, ttlMs: number): Promise<LeaseAttempt> {
    // One statement: the upsert takes the lease only when it is free, lapsed or already the
    // holder's; the row lock it takes makes two callers at once apply one after the other.
    const rows = await this.#query<LeaseRow>(
      `acquire lease ${name}`,
      `WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT AS now)
       INSERT INTO ${this.#q}.leases AS l (name, holder, owner, acquired_at, expires_at)
       SELECT $1, $2, $3, now, now + $4 FROM clock
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, owner = excluded.owner,
         acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE excluded.acquired_at END,
         expires_at = excluded.expires_at
       WHERE l.holder = excluded.holder OR l.expires_at <= excluded.acquired_at
       RETURNING l.*`,
      [name, holder, owner, ttlMs],
    );
    if (rows[0]) return { acquired: true, lease: leaseOf(rows[0]) };
    const held = await this.#query<LeaseRow>(
      `read lease ${name}`,
      `SELECT * FROM ${this.#q}.leases WHERE name = $1`,
      [name],
    );
    return { acquired: false, lease: held[0] ? leaseOf(held[0]) : undefined };
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows = await this.#query(
      `renew lease ${name}`,
      `UPDATE ${this.#q}.leases SET expires_at = (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT + $3
       WHERE name = $1 AND holder = $2 RETURNING 1`,
      [name, holder, ttlMs],
    );
    return rows.length > 0;
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    const rows = await this.#query(
      `release lease ${name}`,
      `DELETE FROM ${this.#q}.leases WHERE name = $1 AND holder = $2 RETURNING 1`,
      [name, holder],
    );
    return rows.length > 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  #list<R>(relation: 'tables' | 'views', filter: ListFilter): Promise<R[]> {
    const p = relation === 'tables' ? 't.' : '';
    const where: string[] = [];
    const params: string[] = [];
    if (filter.catalog !== undefined) {
      params.push(normalizeNamePart(filter.catalog, 'catalog'));
      where.push(`${p}catalog = $${params.length}`);
    }
    if (filter.schema !== undefined) {
      params.push(normalizeNamePart(filter.schema, 'schema'));
      where.push(`${p}schema = $${params.length}`);
    }
    // COLLATE "C" orders by code point, as SQLite does, whatever the database's locale.
    const sql = `${relation === 'tables' ? this.#tableSelect : `SELECT * FROM ${this.#q}.views`}${
      where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''
    } ORDER BY ${p}catalog COLLATE "C", ${p}schema COLLATE "C", ${p}name COLLATE "C"`;
    return this.#query<R>(`list ${relation}`, sql, params);
  }

  /** The entry of `name`, inside a transaction that just changed it. */
  async #entry(client: PoolClient, name: TableName, fullName: string): Promise<TableEntry> {
    const { rows } = await client.query<TableRow>(
      `${this.#tableSelect} WHERE t.catalog = $1 AND t.schema = $2 AND t.name = $3`,
      [name.catalog, name.schema, name.table],
    );
    if (!rows[0]) throw tableNotFound(fullName);
    return tableEntry(rows[0]);
  }

  /**
   * Lock a table's row until the transaction ends and move its `updated_at`
   * forward (strictly, even within one millisecond); `TABLE_NOT_FOUND` if absent.
   */
  async #touch(client: PoolClient, name: TableName, fullName: string): Promise<void> {
    const updated = await client.query(
      `UPDATE ${this.#q}.tables SET updated_at = greatest($4, updated_at + 1)
       WHERE catalog = $1 AND schema = $2 AND name = $3 RETURNING 1`,
      [name.catalog, name.schema, name.table, Date.now()],
    );
    if (updated.rows.length === 0) throw tableNotFound(fullName);
  }

  async #insertFeature(client: PoolClient, name: TableName, feature: FeatureTableInfo): Promise<void> {
    await client.query(
      `INSERT INTO ${this.#q}.feature_tables (catalog, schema, name, primary_keys, timeseries_column,
         partition_columns, cluster_columns, owner, lineage_pipeline, lineage_sources)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
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
      ],
    );
    if (feature.features.length === 0) return;
    await client.query(
      `INSERT INTO ${this.#q}.table_features (catalog, schema, table_name, position, name, type, description)
       SELECT $1, $2, $3, o, n, t, d FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x (n, t, d, o)`,
      [
        name.catalog,
        name.schema,
        name.table,
        feature.features.map((f) => f.name),
        feature.features.map((f) => f.type),
        feature.features.map((f) => f.description ?? null),
      ],
    );
  }

  /** Hold, until the transaction ends, the lock that serialises every creation of `fullName`. */
  async #lockName(client: PoolClient, fullName: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      advisoryLockKey(this.schema, `name:${fullName}`),
    ]);
  }

  async #ensureSchema(client: PoolClient, name: TableName, now: number): Promise<void> {
    await client.query(
      `INSERT INTO ${this.#q}.catalogs (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [name.catalog, now],
    );
    await client.query(
      `INSERT INTO ${this.#q}.schemas (catalog, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [name.catalog, name.schema, now],
    );
  }

  async #assertNoView(
    client: PoolClient,
    name: TableName,
    fullName: string,
    creating: 'table',
  ): Promise<void> {
    const view = await client.query(
      `SELECT 1 FROM ${this.#q}.views WHERE catalog = $1 AND schema = $2 AND name = $3`,
      [name.catalog, name.schema, name.table],
    );
    if (view.rows.length > 0) {
      throw new LarderError('TABLE_ALREADY_EXISTS', `a view named ${fullName} already exists`, {
        table: fullName,
        hint: `drop the view or pick another name for the ${creating}`,
      });
    }
  }

  /** Run one statement outside any transaction. */
  async #query<R>(purpose: string, sql: string, params: readonly unknown[]): Promise<R[]> {
    this.#assertOpen(purpose);
    try {
      const result = await this.#pool.query(sql, params as unknown[]);
      return result.rows as R[];
    } catch (error) {
      throw this.#failure(purpose, error);
    }
  }

  /** Run a change in one transaction; database failures become `LarderError`s. */
  async #write<T>(purpose: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    this.#assertOpen(purpose);
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#failure(purpose, error);
    }
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.#failure(purpose, error);
    } finally {
      client.release();
    }
  }

  #assertOpen(purpose: string): void {
    if (this.#closed) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `the catalog in schema "${this.schema}" of ${this.url} is closed (${purpose})`,
      );
    }
  }

  /** A unique violation becomes the matching `*_ALREADY_EXISTS`; any other failure `IO_ERROR`. */
  #failure(purpose: string, error: unknown): LarderError {
    if (isLarderError(error)) return error;
    const { code, constraint, detail } = error as { code?: string; constraint?: string; detail?: string };
    if (code === UNIQUE_VIOLATION) {
      const what = /\((.*)\)=\((.*)\)/.exec(detail ?? '')?.[2]?.replaceAll(', ', '.') ?? purpose;
      if (constraint === 'tables_pkey') return tableExists(what, error);
      if (constraint === 'views_pkey') {
        return new LarderError('VIEW_ALREADY_EXISTS', `a view named ${what} already exists`, {
          table: what,
          hint: 'use CREATE OR REPLACE VIEW',
          cause: error,
        });
      }
      if (constraint === 'schemas_pkey') {
        return new LarderError('SCHEMA_ALREADY_EXISTS', `schema ${what} already exists`, {
          schema: what,
          hint: 'use CREATE SCHEMA IF NOT EXISTS',
          cause: error,
        });
      }
    }
    return new LarderError(
      'IO_ERROR',
      `catalog in schema "${this.schema}" of ${this.url}: ${purpose} failed: ${(error as Error).message}`,
      { file: this.url, schema: this.schema, cause: error },
    );
  }
}

function tableExists(fullName: string, cause?: unknown): LarderError {
  return new LarderError('TABLE_ALREADY_EXISTS', `a table named ${fullName} already exists`, {
    table: fullName,
    hint: 'a name is a table or a view, not both; drop the table or pick another name',
    ...(cause === undefined ? {} : { cause }),
  });
}

function tableEntry(row: TableRow): TableEntry {
  const name = { catalog: row.catalog, schema: row.schema, table: row.name };
  const feature = featureInfo(row);
  return Object.freeze({
    name: Object.freeze(name),
    fullName: tableFullName(name),
    location: row.location,
    managed: row.managed,
    ...(row.description === null ? {} : { description: row.description }),
    createdAt: Number(row.created_at),
    properties: Object.freeze({ ...row.properties }),
    tags: Object.freeze(Object.fromEntries(row.tags)),
    ...(feature === undefined ? {} : { feature }),
    updatedAt: Number(row.updated_at),
  });
}

function featureInfo(row: TableRow): FeatureTableInfo | undefined {
  if (row.primary_keys === null) return undefined;
  return storedFeatureInfo({
    primaryKeys: row.primary_keys,
    timeseriesColumn: row.timeseries_column,
    partitionColumns: row.partition_columns,
    clusterColumns: row.cluster_columns,
    owner: row.owner,
    lineagePipeline: row.lineage_pipeline,
    lineageSources: row.lineage_sources,
    features: row.features,
  });
}

function viewEntry(row: ViewRow): ViewEntry {
  const name = { catalog: row.catalog, schema: row.schema, table: row.name };
  return Object.freeze({
    name: Object.freeze(name),
    fullName: tableFullName(name),
    sql: row.sql,
    createdAt: Number(row.created_at),
  });
}
