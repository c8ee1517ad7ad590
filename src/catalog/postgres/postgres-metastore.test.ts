import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sqlIdent } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import type { TableName } from '../metastore.js';
import { migrate, POSTGRES_MIGRATIONS } from './migrations.js';
import { PostgresMetastore, redactUrl } from './postgres-metastore.js';

const url = process.env.LARDER_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const features: TableName = { catalog: 'ml', schema: 'churn_features', table: 'customer_features' };

let admin: pg.Pool;
let schema: string;

beforeAll(() => {
  admin = new pg.Pool({ connectionString: url, max: 2 });
});

afterAll(async () => {
  await admin.end();
});

beforeEach(() => {
  schema = `larder_test_${randomUUID().replaceAll('-', '')}`;
});

afterEach(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${sqlIdent(schema)} CASCADE`);
});

async function appliedMigrations(): Promise<{ version: number; name: string }[]> {
  const { rows } = await admin.query<{ version: number; name: string }>(
    `SELECT version, name FROM ${sqlIdent(schema)}.schema_migrations ORDER BY version`,
  );
  return rows;
}

async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await admin.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

describe('PostgreSQL metastore', () => {
  it('creates its own schema holding every Larder object and records its migrations', async () => {
    const metastore = await PostgresMetastore.open(url, { schema });
    await metastore.close();
    const { rows } = await admin.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'catalogs',
      'feature_tables',
      'leases',
      'schema_migrations',
      'schemas',
      'table_features',
      'table_tags',
      'tables',
      'views',
    ]);
    expect(await appliedMigrations()).toEqual(
      POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
  });

  it('migrates once when four processes open a fresh schema at the same time', async () => {
    const metastores = await Promise.all([1, 2, 3, 4].map(() => PostgresMetastore.open(url, { schema })));
    try {
      expect(await appliedMigrations()).toEqual(
        POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      );
      await metastores[0]?.createTable({ name: features, location: '/data/f', managed: true });
      for (const m of metastores) expect((await m.getTable(features))?.location).toBe('/data/f');
    } finally {
      await Promise.all(metastores.map((m) => m.close()));
    }
  });

  it('lets two pools see each other’s changes and lets exactly one of racing creators win', async () => {
    const a = await PostgresMetastore.open(url, { schema });
    const b = await PostgresMetastore.open(url, { schema });
    try {
      await a.createSchema('ml', 'dash', { comment: 'dashboards' });
      expect(await b.listSchemas('ml')).toEqual([{ catalog: 'ml', schema: 'dash', comment: 'dashboards' }]);
      await b.createView({ name: { ...features, table: 'v' }, sql: 'SELECT 1' });
      expect((await a.getView({ ...features, table: 'V' }))?.sql).toBe('SELECT 1');

      const race = await Promise.allSettled([
        a.createTable({ name: features, location: '/data/a', managed: true }),
        b.createTable({ name: features, location: '/data/b', managed: true }),
        a.createView({ name: features, sql: 'SELECT 2' }),
        b.createView({ name: features, sql: 'SELECT 3' }),
      ]);
      const won = race.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of race) {
        if (r.status === 'rejected') {
          expect(
            isLarderError(r.reason, 'TABLE_ALREADY_EXISTS') || isLarderError(r.reason, 'VIEW_ALREADY_EXISTS'),
          ).toBe(true);
        }
      }
      const table = await b.getTable(features);
      const view = await b.getView(features);
      expect(table === undefined).not.toBe(view === undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('maps unique violations of concurrent schema creations to SCHEMA_ALREADY_EXISTS', async () => {
    const a = await PostgresMetastore.open(url, { schema });
    const b = await PostgresMetastore.open(url, { schema });
    try {
      const race = await Promise.allSettled([a.createSchema('ml', 's'), b.createSchema('ml', 's')]);
      expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const reason = race.find((r) => r.status === 'rejected')?.reason as unknown;
      expect(isLarderError(reason, 'SCHEMA_ALREADY_EXISTS')).toBe(true);
      expect(String(reason)).toContain('ml.s');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('applies only the new migrations to an older schema', async () => {
    await withClient(async (client) => {
      const extra = {
        version: POSTGRES_MIGRATIONS.length + 1,
        name: 'an extra table',
        sql: 'CREATE TABLE extra_table (k TEXT)',
      };
      expect(await migrate(client, schema)).toEqual({ from: 0, to: POSTGRES_MIGRATIONS.length });
      expect(await migrate(client, schema)).toEqual({
        from: POSTGRES_MIGRATIONS.length,
        to: POSTGRES_MIGRATIONS.length,
      });
      expect(await migrate(client, schema, [...POSTGRES_MIGRATIONS, extra])).toEqual({
        from: POSTGRES_MIGRATIONS.length,
        to: extra.version,
      });
    });
    const { rows } = await admin.query(
      'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
      [schema, 'extra_table'],
    );
    expect(rows).toHaveLength(1);
  });

  it('migrates a version 1 catalog in place, keeping its tables, which start with no tags', async () => {
    const createdAt = Date.now() - 60_000;
    await withClient(async (client) => {
      expect(await migrate(client, schema, POSTGRES_MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1 });
      const q = sqlIdent(schema);
      await client.query(`INSERT INTO ${q}.catalogs (name, created_at) VALUES ('ml', $1)`, [createdAt]);
      await client.query(
        `INSERT INTO ${q}.schemas (catalog, name, created_at) VALUES ('ml', 'churn_features', $1)`,
        [createdAt],
      );
      await client.query(
        `INSERT INTO ${q}.tables (catalog, schema, name, location, managed, description, properties, created_at)
         VALUES ('ml', 'churn_features', 'customer_features', '/data/f', true, 'old', '{"a":"b"}', $1)`,
        [createdAt],
      );
    });
    const metastore = await PostgresMetastore.open(url, { schema });
    try {
      expect(await appliedMigrations()).toEqual(
        POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      );
      const entry = await metastore.getTable(features);
      expect(entry).toEqual({
        name: features,
        fullName: 'ml.churn_features.customer_features',
        location: '/data/f',
        managed: true,
        description: 'old',
        createdAt,
        properties: { a: 'b' },
        tags: {},
        updatedAt: createdAt,
      });
      await metastore.setTableTag(features, 'team', 'growth');
      expect((await metastore.getTable(features))?.tags).toEqual({ team: 'growth' });
    } finally {
      await metastore.close();
    }
  });

  it('refuses a schema written by a newer Larder', async () => {
    await withClient((client) =>
      migrate(client, schema, [
        ...POSTGRES_MIGRATIONS,
        { version: POSTGRES_MIGRATIONS.length + 1, name: 'future', sql: 'SELECT 1' },
      ]),
    );
    const error = await PostgresMetastore.open(url, { schema }).catch((e: unknown) => e);
    expect(isLarderError(error, 'UNSUPPORTED_FEATURE')).toBe(true);
    expect((error as Error).message).toContain(schema);
  });

  it('fails with IO_ERROR naming the server it cannot reach, password hidden', async () => {
    const bad = 'postgres://larder:s3cret@127.0.0.1:1/none';
    const error = await PostgresMetastore.open(bad, { schema }).catch((e: unknown) => e);
    expect(isLarderError(error, 'IO_ERROR')).toBe(true);
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect((error as Error).message).not.toContain('s3cret');
    expect(redactUrl(bad)).toBe('postgres://larder:***@127.0.0.1:1/none');
  });

  it('refuses calls after close', async () => {
    const metastore = await PostgresMetastore.open(url, { schema });
    await metastore.close();
    await metastore.close();
    const error = await metastore.listTables().catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
  });
});
