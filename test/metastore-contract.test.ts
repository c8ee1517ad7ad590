/**
 * The metastore contract: every backend (SQLite embedded, PostgreSQL shared)
 * runs the same assertions. The PostgreSQL backend uses the machine's server
 * (`LARDER_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
 * in a fresh schema per test that is dropped afterwards.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Metastore, TableName } from '../src/catalog/metastore.js';
import { PostgresMetastore } from '../src/catalog/postgres/postgres-metastore.js';
import { SqliteMetastore } from '../src/catalog/sqlite/sqlite-metastore.js';
import { sqlIdent } from '../src/duckdb/duckdb.js';
import { isLarderError, type LarderErrorCode } from '../src/errors.js';

const postgresUrl = process.env.LARDER_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One empty catalog for one test: open as many handles on it as needed, then clean up. */
interface CatalogPlace {
  readonly open: () => Promise<Metastore>;
  readonly cleanup: () => Promise<void>;
}

const backends: { readonly name: string; readonly fresh: () => Promise<CatalogPlace> }[] = [
  {
    name: 'sqlite',
    fresh: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'larder-metastore-'));
      return {
        open: () => SqliteMetastore.open(join(dir, 'catalog.db')),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    fresh: async () => {
      const schema = `larder_test_${randomUUID().replaceAll('-', '')}`;
      return {
        open: () => PostgresMetastore.open(postgresUrl, { schema }),
        cleanup: async () => {
          const client = new pg.Client({ connectionString: postgresUrl });
          await client.connect();
          try {
            await client.query(`DROP SCHEMA IF EXISTS ${sqlIdent(schema)} CASCADE`);
          } finally {
            await client.end();
          }
        },
      };
    },
  },
];

const features: TableName = { catalog: 'ml', schema: 'churn_features', table: 'customer_features' };

async function errorCode(promise: Promise<unknown>): Promise<LarderErrorCode | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isLarderError(error) ? error.code : undefined;
}

for (const backend of backends) {
  describe(`${backend.name} metastore`, () => {
    let place: CatalogPlace;
    let metastore: Metastore;
    beforeEach(async () => {
      place = await backend.fresh();
      metastore = await place.open();
    });
    afterEach(async () => {
      await metastore.close();
      await place.cleanup();
    });

    it('registers a table and finds it by any capitalisation of its name', async () => {
      const created = await metastore.createTable({
        name: { catalog: 'ML', schema: 'Churn_Features', table: 'Customer_Features' },
        location: '/data/customer_features',
        managed: false,
        description: 'one row per customer',
        properties: { owner: 'ml-team' },
      });
      expect(created.fullName).toBe('ml.churn_features.customer_features');
      expect(created.name).toEqual(features);
      const found = await metastore.getTable({
        catalog: 'ml',
        schema: 'CHURN_FEATURES',
        table: 'customer_FEATURES',
      });
      expect(found).toEqual(created);
      expect(found?.description).toBe('one row per customer');
      expect(found?.properties).toEqual({ owner: 'ml-team' });
      expect(found?.managed).toBe(false);
      expect(Math.abs((found?.createdAt ?? 0) - Date.now())).toBeLessThan(60_000);
      expect(await metastore.getTable({ ...features, table: 'other' })).toBeUndefined();
    });

    it('creates the catalog and schema of a table on first use', async () => {
      await metastore.createTable({ name: features, location: '/data/f', managed: true });
      expect(await metastore.listSchemas()).toEqual([{ catalog: 'ml', schema: 'churn_features' }]);
      // The schema now exists, so creating it again without IF NOT EXISTS fails.
      expect(await errorCode(metastore.createSchema('ml', 'churn_features'))).toBe('SCHEMA_ALREADY_EXISTS');
    });

    it('creates schemas once, with IF NOT EXISTS semantics and comments, and lists them by catalog', async () => {
      await metastore.createSchema('ml', 'b', { comment: 'second' });
      await metastore.createSchema('ML', 'A');
      await metastore.createSchema('other', 'x');
      expect(await errorCode(metastore.createSchema('ml', 'a'))).toBe('SCHEMA_ALREADY_EXISTS');
      await metastore.createSchema('ml', 'a', { ifNotExists: true });
      expect(await metastore.listSchemas('Ml')).toEqual([
        { catalog: 'ml', schema: 'a' },
        { catalog: 'ml', schema: 'b', comment: 'second' },
      ]);
      expect((await metastore.listSchemas()).map((s) => `${s.catalog}.${s.schema}`)).toEqual([
        'ml.a',
        'ml.b',
        'other.x',
      ]);
    });

    it('refuses a second table of the same name and keeps the first', async () => {
      await metastore.createTable({ name: features, location: '/data/one', managed: false });
      const code = await errorCode(
        metastore.createTable({
          name: { ...features, table: 'CUSTOMER_features' },
          location: '/data/two',
          managed: false,
        }),
      );
      expect(code).toBe('TABLE_ALREADY_EXISTS');
      expect((await metastore.getTable(features))?.location).toBe('/data/one');
    });

    it('lists tables in name order, filtered by catalog and schema', async () => {
      for (const [c, s, t] of [
        ['ml', 'b', 't2'],
        ['ml', 'a', 't1'],
        ['ml', 'b', 't1'],
        ['dev', 'a', 't1'],
      ] as const) {
        await metastore.createTable({
          name: { catalog: c, schema: s, table: t },
          location: `/d/${c}/${s}/${t}`,
          managed: true,
        });
      }
      expect((await metastore.listTables()).map((t) => t.fullName)).toEqual([
        'dev.a.t1',
        'ml.a.t1',
        'ml.b.t1',
        'ml.b.t2',
      ]);
      expect((await metastore.listTables({ catalog: 'ML' })).map((t) => t.fullName)).toEqual([
        'ml.a.t1',
        'ml.b.t1',
        'ml.b.t2',
      ]);
      expect((await metastore.listTables({ catalog: 'ml', schema: 'b' })).map((t) => t.fullName)).toEqual([
        'ml.b.t1',
        'ml.b.t2',
      ]);
      expect((await metastore.listTables({ schema: 'a' })).map((t) => t.fullName)).toEqual([
        'dev.a.t1',
        'ml.a.t1',
      ]);
    });

    it('drops a table and says whether it existed', async () => {
      await metastore.createTable({ name: features, location: '/data/f', managed: true });
      expect(await metastore.dropTable({ ...features, table: 'Customer_Features' })).toBe(true);
      expect(await metastore.getTable(features)).toBeUndefined();
      expect(await metastore.dropTable(features)).toBe(false);
      await metastore.createTable({ name: features, location: '/data/g', managed: true });
      expect((await metastore.getTable(features))?.location).toBe('/data/g');
    });

    it('stores views, replaces them only when asked, and drops them', async () => {
      const name = { catalog: 'ml', schema: 'dash', table: 'Freshness' };
      const view = await metastore.createView({ name, sql: 'SELECT 1 AS x' });
      expect(view.fullName).toBe('ml.dash.freshness');
      expect(await errorCode(metastore.createView({ name, sql: 'SELECT 2 AS x' }))).toBe(
        'VIEW_ALREADY_EXISTS',
      );
      expect((await metastore.getView(name))?.sql).toBe('SELECT 1 AS x');
      await metastore.createView({ name, sql: 'SELECT 2 AS x', orReplace: true });
      expect((await metastore.getView({ ...name, table: 'FRESHNESS' }))?.sql).toBe('SELECT 2 AS x');
      await metastore.createView({ name: { ...name, table: 'other' }, sql: 'SELECT 3' });
      expect((await metastore.listViews({ schema: 'dash' })).map((v) => v.fullName)).toEqual([
        'ml.dash.freshness',
        'ml.dash.other',
      ]);
      expect(await metastore.dropView(name)).toBe(true);
      expect(await metastore.dropView(name)).toBe(false);
      expect(await metastore.getView(name)).toBeUndefined();
      expect(await metastore.listSchemas('ml')).toEqual([{ catalog: 'ml', schema: 'dash' }]);
    });

    it('keeps tables and views in one namespace', async () => {
      await metastore.createTable({ name: features, location: '/data/f', managed: true });
      expect(await errorCode(metastore.createView({ name: features, sql: 'SELECT 1' }))).toBe(
        'TABLE_ALREADY_EXISTS',
      );
      expect(
        await errorCode(metastore.createView({ name: features, sql: 'SELECT 1', orReplace: true })),
      ).toBe('TABLE_ALREADY_EXISTS');
      const view = { ...features, table: 'v' };
      await metastore.createView({ name: view, sql: 'SELECT 1' });
      expect(await errorCode(metastore.createTable({ name: view, location: '/data/v', managed: true }))).toBe(
        'TABLE_ALREADY_EXISTS',
      );
      expect(await metastore.getTable(view)).toBeUndefined();
    });

    it('refuses relative locations and names that full names could not show', async () => {
      expect(
        await errorCode(metastore.createTable({ name: features, location: 'data/f', managed: true })),
      ).toBe('INVALID_ARGUMENT');
      for (const table of ['', 'a.b', 'a`b']) {
        expect(
          await errorCode(
            metastore.createTable({ name: { ...features, table }, location: '/d', managed: true }),
          ),
          table,
        ).toBe('INVALID_ARGUMENT');
      }
      expect(await metastore.listTables()).toEqual([]);
    });

    it('shows changes made through another handle on the same catalog at once', async () => {
      const other = await place.open();
      try {
        await other.createTable({ name: features, location: '/data/f', managed: true });
        expect((await metastore.getTable(features))?.location).toBe('/data/f');
        await metastore.createView({ name: { ...features, table: 'v' }, sql: 'SELECT 1' });
        expect((await other.listViews()).map((v) => v.fullName)).toEqual(['ml.churn_features.v']);
        expect(await other.dropTable(features)).toBe(true);
        expect(await metastore.getTable(features)).toBeUndefined();
      } finally {
        await other.close();
      }
    });
  });
}
