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
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FeatureTableInfo, Metastore, TableName } from '../src/catalog/metastore.js';
import { PostgresMetastore } from '../src/catalog/postgres/postgres-metastore.js';
import { SqliteMetastore } from '../src/catalog/sqlite/sqlite-metastore.js';
import { sqlIdent } from '../src/duckdb/duckdb.js';
import { isLarderError, type LarderErrorCode } from '../src/errors.js';
import { dropTestSchema, TEST_POSTGRES_URL } from './support/postgres.js';

const postgresUrl = TEST_POSTGRES_URL;

/** One empty catalog for one test: open as many handles on it as needed, then clean up. */
interface CatalogPlace {
  readonly open: () => Promise<Metastore>;
  readonly cleanup: () => Promise<void>;
  /**
   * Install triggers in the catalog's database that make inserting a tag with
   * key `boom`, or a feature column named `boom`, fail: a real failure in the
   * middle of a change, to check that nothing of it is left.
   */
  readonly breakInsertsOfBoom: () => Promise<void>;
}

const backends: { readonly name: string; readonly fresh: () => Promise<CatalogPlace> }[] = [
  {
    name: 'sqlite',
    fresh: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'larder-metastore-'));
      return {
        open: () => SqliteMetastore.open(join(dir, 'catalog.db')),
        cleanup: () => rm(dir, { recursive: true, force: true }),
        breakInsertsOfBoom: async () => {
          const db = new BetterSqlite3(join(dir, 'catalog.db'));
          try {
            db.exec(`
              CREATE TRIGGER boom_tag BEFORE INSERT ON table_tags WHEN NEW.key = 'boom'
              BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
              CREATE TRIGGER boom_feature BEFORE INSERT ON table_features WHEN NEW.name = 'boom'
              BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
            `);
          } finally {
            db.close();
          }
        },
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
          await dropTestSchema(schema, postgresUrl);
        },
        breakInsertsOfBoom: async () => {
          const q = sqlIdent(schema);
          const client = new pg.Client({ connectionString: postgresUrl });
          await client.connect();
          try {
            await client.query(`
              CREATE FUNCTION ${q}.boom() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN RAISE EXCEPTION 'injected failure'; END $$;
              CREATE TRIGGER boom_tag BEFORE INSERT ON ${q}.table_tags
                FOR EACH ROW WHEN (NEW.key = 'boom') EXECUTE FUNCTION ${q}.boom();
              CREATE TRIGGER boom_feature BEFORE INSERT ON ${q}.table_features
                FOR EACH ROW WHEN (NEW.name = 'boom') EXECUTE FUNCTION ${q}.boom();
            `);
          } finally {
            await client.end();
          }
        },
      };
    },
  },
];

const features: TableName = { catalog: 'ml', schema: 'churn_features', table: 'customer_features' };

const churnInfo: FeatureTableInfo = {
  primaryKeys: ['customer_id', 'feature_date'],
  timeseriesColumn: 'feature_date',
  partitionColumns: ['feature_date'],
  clusterBy: ['customer_id'],
  owner: 'ml-team',
  features: [
    { name: 'n_tx_30d', type: 'long', description: 'transactions in the last 30 days' },
    { name: 'avg_amount', type: 'decimal(10,2)' },
    { name: 'segment', type: 'string', description: '' },
  ],
  lineage: { pipeline: 'customer_features', sources: ['raw_transactions', 'ml.raw.customers'] },
};

async function errorCode(promise: Promise<unknown>): Promise<LarderErrorCode | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isLarderError(error) ? error.code : undefined;
}

/** The LarderError `promise` rejects with; fails the test when it resolves or rejects with something else. */
async function larderError(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLarderError(error)) throw new Error(`expected a LarderError, got ${String(error)}`);
  return error;
}

/** Wait until `Date.now()` has moved past `ms`, so a later timestamp can be told apart. */
async function after(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((r) => setTimeout(r, 1));
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

    it('stores feature-table info and tags with a table and returns them unchanged', async () => {
      const created = await metastore.createTable({
        name: features,
        location: '/data/f',
        managed: true,
        tags: { team: 'growth', pii: 'false', tier: 'gold' },
        feature: churnInfo,
      });
      expect(created.feature).toEqual(churnInfo);
      expect(created.tags).toEqual({ team: 'growth', pii: 'false', tier: 'gold' });
      expect(Object.keys(created.tags)).toEqual(['team', 'pii', 'tier']);
      expect(created.updatedAt).toBe(created.createdAt);
      const found = await metastore.getTable(features);
      expect(found).toEqual(created);
      expect(found?.feature?.features.map((f) => f.name)).toEqual(['n_tx_30d', 'avg_amount', 'segment']);
      // An absent description stays absent; an empty one is kept.
      expect(found?.feature?.features[1]).toEqual({ name: 'avg_amount', type: 'decimal(10,2)' });
      expect(found?.feature?.features[2]?.description).toBe('');
      expect(Object.isFrozen(found?.feature?.primaryKeys)).toBe(true);
      expect(await metastore.listTables()).toEqual([created]);
    });

    it('leaves a plain table without feature info and with no tags', async () => {
      const created = await metastore.createTable({ name: features, location: '/data/f', managed: true });
      expect(created.tags).toEqual({});
      expect('feature' in created).toBe(false);
      const minimal = { ...features, table: 'minimal' };
      await metastore.createTable({
        name: minimal,
        location: '/data/m',
        managed: true,
        feature: {
          primaryKeys: ['id'],
          partitionColumns: [],
          clusterBy: [],
          features: [],
          lineage: { sources: [] },
        },
      });
      const listed = await metastore.listTables();
      expect(listed.map((t) => [t.fullName, t.feature?.primaryKeys ?? null])).toEqual([
        ['ml.churn_features.customer_features', null],
        ['ml.churn_features.minimal', ['id']],
      ]);
      const info = listed[1]?.feature;
      expect(info).toEqual({
        primaryKeys: ['id'],
        partitionColumns: [],
        clusterBy: [],
        features: [],
        lineage: { sources: [] },
      });
      expect(info && 'timeseriesColumn' in info).toBe(false);
      expect(info && 'owner' in info).toBe(false);
      expect(info && 'pipeline' in info.lineage).toBe(false);
    });

    it('keeps tags in insertion order, replaces a value in place and deletes a tag', async () => {
      const created = await metastore.createTable({
        name: features,
        location: '/data/f',
        managed: true,
        tags: { b: '1', a: '2' },
      });
      await metastore.setTableTag(features, 'c', '3');
      await metastore.setTableTag({ ...features, table: 'CUSTOMER_FEATURES' }, 'b', 'replaced');
      let entry = await metastore.getTable(features);
      expect(Object.entries(entry?.tags ?? {})).toEqual([
        ['b', 'replaced'],
        ['a', '2'],
        ['c', '3'],
      ]);
      expect(entry?.updatedAt).toBeGreaterThan(created.updatedAt);

      expect(await metastore.deleteTableTag(features, 'a')).toBe(true);
      const afterDelete = await metastore.getTable(features);
      expect(afterDelete?.tags).toEqual({ b: 'replaced', c: '3' });
      expect(afterDelete?.updatedAt).toBeGreaterThan(entry?.updatedAt ?? Number.POSITIVE_INFINITY);
      // Deleting a tag that is not there changes nothing, updatedAt included.
      expect(await metastore.deleteTableTag(features, 'a')).toBe(false);
      expect(await metastore.getTable(features)).toEqual(afterDelete);
      // Keys are case-sensitive; a re-added key goes last.
      await metastore.setTableTag(features, 'B', 'upper');
      await metastore.setTableTag(features, 'a', 'again');
      entry = await metastore.getTable(features);
      expect(Object.keys(entry?.tags ?? {})).toEqual(['b', 'c', 'B', 'a']);
    });

    it('patches a table: absent fields are kept, null clears, updatedAt moves and createdAt stays', async () => {
      const created = await metastore.createTable({
        name: features,
        location: '/data/f',
        managed: false,
        description: 'first',
        properties: { a: '1' },
        tags: { team: 'growth' },
        feature: churnInfo,
      });
      await after(created.updatedAt);
      const same = await metastore.updateTable(features, {});
      expect({ ...same, updatedAt: 0 }).toEqual({ ...created, updatedAt: 0 });
      expect(same.updatedAt).toBeGreaterThan(created.updatedAt);

      const described = await metastore.updateTable(features, {
        description: 'second',
        properties: { b: '2' },
      });
      expect(described.description).toBe('second');
      expect(described.properties).toEqual({ b: '2' });
      expect(described.feature).toEqual(churnInfo);
      expect(described.tags).toEqual({ team: 'growth' });
      expect(described.createdAt).toBe(created.createdAt);
      expect(described.updatedAt).toBeGreaterThan(same.updatedAt);

      const widened: FeatureTableInfo = {
        ...churnInfo,
        owner: 'data-eng',
        features: [...churnInfo.features, { name: 'churned', type: 'boolean', description: 'label' }],
        lineage: { sources: ['raw_transactions'] },
      };
      const evolved = await metastore.updateTable(features, { feature: widened });
      expect(evolved.feature).toEqual(widened);
      expect(evolved.description).toBe('second');
      expect(await metastore.getTable(features)).toEqual(evolved);

      const cleared = await metastore.updateTable(features, { description: null, feature: null });
      expect('description' in cleared).toBe(false);
      expect('feature' in cleared).toBe(false);
      expect(cleared.properties).toEqual({ b: '2' });
      expect(cleared.tags).toEqual({ team: 'growth' });
      expect(await metastore.getTable(features)).toEqual(cleared);

      // A plain table becomes a feature table.
      const promoted = await metastore.updateTable(features, { feature: churnInfo });
      expect(promoted.feature).toEqual(churnInfo);
    });

    it('drops a table with its feature info and tags', async () => {
      await metastore.createTable({
        name: features,
        location: '/data/f',
        managed: true,
        tags: { team: 'growth' },
        feature: churnInfo,
      });
      expect(await metastore.dropTable(features)).toBe(true);
      const again = await metastore.createTable({ name: features, location: '/data/g', managed: true });
      expect(again.tags).toEqual({});
      expect(again.feature).toBeUndefined();
      expect(await metastore.getTable(features)).toEqual(again);
    });

    it('fails with TABLE_NOT_FOUND naming the table for changes to an unknown table', async () => {
      const missing = { catalog: 'ML', schema: 'Churn_Features', table: 'Nothing' };
      for (const call of [
        () => metastore.updateTable(missing, { description: 'x' }),
        () => metastore.setTableTag(missing, 'team', 'growth'),
        () => metastore.deleteTableTag(missing, 'team'),
      ]) {
        const error = await larderError(call());
        expect(error.code).toBe('TABLE_NOT_FOUND');
        expect(error.message).toContain('ml.churn_features.nothing');
      }
      expect(await metastore.listTables()).toEqual([]);
    });

    it('refuses tag keys and values beyond Unity Catalog limits, naming the key', async () => {
      await metastore.createTable({ name: features, location: '/data/f', managed: true });
      const longKey = 'k'.repeat(256);
      const cases: [() => Promise<unknown>, string][] = [
        [() => metastore.setTableTag(features, '', 'x'), 'empty'],
        [() => metastore.setTableTag(features, longKey, 'x'), 'k'.repeat(40)],
        [() => metastore.setTableTag(features, 'note', 'v'.repeat(1001)), '"note"'],
        [() => metastore.deleteTableTag(features, ''), 'empty'],
        [
          () =>
            metastore.createTable({
              name: { ...features, table: 'other' },
              location: '/data/o',
              managed: true,
              tags: { ok: 'x', big: 'v'.repeat(1001) },
            }),
          '"big"',
        ],
      ];
      for (const [call, named] of cases) {
        const error = await larderError(call());
        expect(error.code).toBe('INVALID_ARGUMENT');
        expect(error.message).toContain(named);
      }
      // The limits themselves are allowed, counted in characters (not UTF-16 units).
      await metastore.setTableTag(features, 'k'.repeat(255), 'v'.repeat(1000));
      await metastore.setTableTag(features, '🥕'.repeat(255), 'é'.repeat(1000));
      expect(Object.keys((await metastore.getTable(features))?.tags ?? {})).toEqual([
        'k'.repeat(255),
        '🥕'.repeat(255),
      ]);
      expect((await metastore.listTables()).map((t) => t.fullName)).toEqual([
        'ml.churn_features.customer_features',
      ]);
    });

    it('refuses inconsistent feature-table info, naming the table and the field', async () => {
      await metastore.createTable({
        name: features,
        location: '/data/f',
        managed: true,
        description: 'kept',
      });
      const bad: [Partial<FeatureTableInfo>, string][] = [
        [{ primaryKeys: [] }, 'primaryKeys'],
        [{ primaryKeys: ['customer_id', 'Customer_ID'] }, 'primaryKeys'],
        [{ timeseriesColumn: 'event_time' }, 'timeseriesColumn'],
        [{ features: [{ name: 'customer_id', type: 'long' }] }, 'features'],
        [
          {
            features: [
              { name: 'n', type: 'long' },
              { name: 'N', type: 'long' },
            ],
          },
          'features',
        ],
        [{ features: [{ name: 'n', type: '' }] }, 'features'],
        [{ partitionColumns: ['region'] }, 'partitionColumns'],
        [{ clusterBy: ['customer_id', 'customer_id'] }, 'clusterBy'],
      ];
      for (const [change, field] of bad) {
        const feature = { ...churnInfo, ...change } as FeatureTableInfo;
        for (const call of [
          () =>
            metastore.createTable({
              name: { ...features, table: 'other' },
              location: '/d/o',
              managed: true,
              feature,
            }),
          () => metastore.updateTable(features, { description: 'changed', feature }),
        ]) {
          const error = await larderError(call());
          expect(error.code, field).toBe('INVALID_ARGUMENT');
          expect(error.message, field).toContain(field);
          expect(error.message, field).toMatch(/ml\.churn_features\.(other|customer_features)/);
        }
      }
      expect((await metastore.listTables()).map((t) => t.fullName)).toEqual([
        'ml.churn_features.customer_features',
      ]);
      const entry = await metastore.getTable(features);
      expect(entry?.description).toBe('kept');
      expect(entry?.feature).toBeUndefined();
    });

    it('leaves nothing of a create or an update that fails midway', async () => {
      await metastore.createTable({
        name: features,
        location: '/data/f',
        managed: true,
        description: 'kept',
        tags: { team: 'growth' },
        feature: churnInfo,
      });
      const before = await metastore.getTable(features);
      await place.breakInsertsOfBoom();
      const other = { catalog: 'fresh', schema: 'new', table: 't' };
      expect(
        await errorCode(
          metastore.createTable({
            name: other,
            location: '/data/t',
            managed: true,
            tags: { ok: '1', boom: '2' },
            feature: churnInfo,
          }),
        ),
      ).toBe('IO_ERROR');
      expect(await metastore.getTable(other)).toBeUndefined();
      expect(await metastore.listSchemas('fresh')).toEqual([]);
      const boomFeature = { ...churnInfo, features: [...churnInfo.features, { name: 'boom', type: 'long' }] };
      expect(
        await errorCode(metastore.updateTable(features, { description: 'changed', feature: boomFeature })),
      ).toBe('IO_ERROR');
      expect(await errorCode(metastore.setTableTag(features, 'boom', 'x'))).toBe('IO_ERROR');
      expect(await metastore.getTable(features)).toEqual(before);
    });

    it('applies concurrent tag changes from two handles one after the other', async () => {
      const other = await place.open();
      try {
        await metastore.createTable({ name: features, location: '/data/f', managed: true });
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 === 0 ? metastore : other).setTableTag(features, `t${i}`, String(i)),
          ),
        );
        const entry = await other.getTable(features);
        expect(Object.keys(entry?.tags ?? {}).sort()).toEqual(
          Array.from({ length: 12 }, (_, i) => `t${i}`).sort(),
        );
        await Promise.all([
          metastore.deleteTableTag(features, 't0'),
          other.deleteTableTag(features, 't1'),
          metastore.updateTable(features, { feature: churnInfo }),
        ]);
        const last = await metastore.getTable(features);
        expect(Object.keys(last?.tags ?? {})).toHaveLength(10);
        expect(last?.feature).toEqual(churnInfo);
      } finally {
        await other.close();
      }
    });

    it('shows changes made through another handle on the same catalog at once', async () => {
      const other = await place.open();
      try {
        await other.createTable({ name: features, location: '/data/f', managed: true });
        expect((await metastore.getTable(features))?.location).toBe('/data/f');
        await metastore.createView({ name: { ...features, table: 'v' }, sql: 'SELECT 1' });
        expect((await other.listViews()).map((v) => v.fullName)).toEqual(['ml.churn_features.v']);
        await other.setTableTag(features, 'team', 'growth');
        await other.updateTable(features, { feature: churnInfo });
        const seen = await metastore.getTable(features);
        expect(seen?.tags).toEqual({ team: 'growth' });
        expect(seen?.feature).toEqual(churnInfo);
        expect(await other.dropTable(features)).toBe(true);
        expect(await metastore.getTable(features)).toBeUndefined();
      } finally {
        await other.close();
      }
    });

    it('grants a lease to one holder at a time, renews it for its holder only, and frees it on release', async () => {
      const other = await place.open();
      try {
        const first = await metastore.acquireLease('pipeline:p', 'run-a', 'host-a pid 1', 60_000);
        expect(first.acquired).toBe(true);
        expect(first.lease).toMatchObject({ name: 'pipeline:p', holder: 'run-a', owner: 'host-a pid 1' });
        expect(first.lease!.expiresAt.getTime() - first.lease!.acquiredAt.getTime()).toBe(60_000);

        const busy = await other.acquireLease('pipeline:p', 'run-b', 'host-b pid 2', 60_000);
        expect(busy).toMatchObject({ acquired: false, lease: { holder: 'run-a', owner: 'host-a pid 1' } });
        expect(await other.renewLease('pipeline:p', 'run-b', 60_000)).toBe(false);
        expect(await other.releaseLease('pipeline:p', 'run-b')).toBe(false);
        // Another name is another lease.
        expect((await other.acquireLease('pipeline:q', 'run-b', 'host-b pid 2', 60_000)).acquired).toBe(true);

        expect(await metastore.renewLease('pipeline:p', 'run-a', 120_000)).toBe(true);
        const again = await metastore.acquireLease('pipeline:p', 'run-a', 'host-a pid 1', 60_000);
        expect(again.acquired).toBe(true);
        expect(again.lease!.acquiredAt).toEqual(first.lease!.acquiredAt);

        expect(await metastore.releaseLease('pipeline:p', 'run-a')).toBe(true);
        expect(await metastore.releaseLease('pipeline:p', 'run-a')).toBe(false);
        const next = await other.acquireLease('pipeline:p', 'run-b', 'host-b pid 2', 60_000);
        expect(next).toMatchObject({ acquired: true, lease: { holder: 'run-b' } });
      } finally {
        await other.close();
      }
    });

    it('lets a lapsed lease be taken over, after which its old holder can neither renew nor release it', async () => {
      const first = await metastore.acquireLease('pipeline:p', 'run-a', 'killed holder', 1);
      expect(first.acquired).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      const taken = await metastore.acquireLease('pipeline:p', 'run-b', 'next holder', 60_000);
      expect(taken).toMatchObject({ acquired: true, lease: { holder: 'run-b', owner: 'next holder' } });
      expect(await metastore.renewLease('pipeline:p', 'run-a', 60_000)).toBe(false);
      expect(await metastore.releaseLease('pipeline:p', 'run-a')).toBe(false);
      expect((await metastore.acquireLease('pipeline:p', 'run-c', 'third', 60_000)).lease?.holder).toBe(
        'run-b',
      );
    });

    it('grants a free lease to exactly one of several handles asking at once', async () => {
      const handles = await Promise.all([1, 2, 3, 4].map(() => place.open()));
      try {
        const attempts = await Promise.all(
          handles.map((h, i) => h.acquireLease('pipeline:p', `run-${i}`, `pid ${i}`, 60_000)),
        );
        const winners = attempts.filter((a) => a.acquired);
        expect(winners).toHaveLength(1);
        for (const attempt of attempts) expect(attempt.lease?.holder).toBe(winners[0]!.lease!.holder);
      } finally {
        await Promise.all(handles.map((h) => h.close()));
      }
    });
  });
}
