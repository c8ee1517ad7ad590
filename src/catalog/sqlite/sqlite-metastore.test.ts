import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError, type LarderErrorCode } from '../../errors.js';
import type { Metastore, TableName } from '../metastore.js';
import { migrate, SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteMetastore } from './sqlite-metastore.js';

/** Every backend runs the same contract; the PostgreSQL backend joins this list. */
const backends: { readonly name: string; readonly open: (dir: string) => Promise<Metastore> }[] = [
  { name: 'sqlite', open: (dir) => SqliteMetastore.open(join(dir, 'catalog.db')) },
];

const features: TableName = { catalog: 'ml', schema: 'churn_features', table: 'customer_features' };

async function errorCode(promise: Promise<unknown>): Promise<LarderErrorCode | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isLarderError(error) ? error.code : undefined;
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-metastore-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const backend of backends) {
  describe(`${backend.name} metastore`, () => {
    let metastore: Metastore;
    beforeEach(async () => {
      metastore = await backend.open(dir);
    });
    afterEach(async () => {
      await metastore.close();
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
      const other = await backend.open(dir);
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

describe('SQLite catalog file', () => {
  it('is in WAL mode with a busy timeout and records its applied migrations', async () => {
    const metastore = await SqliteMetastore.open(join(dir, 'nested', 'catalog.db'));
    await metastore.close();
    const db = new BetterSqlite3(join(dir, 'nested', 'catalog.db'), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      expect(rows).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      db.close();
    }
  });

  it('applies each migration once, however often the catalog is opened', async () => {
    const path = join(dir, 'catalog.db');
    const first = await SqliteMetastore.open(path);
    await first.createTable({ name: features, location: '/data/f', managed: true });
    await first.close();
    const db = new BetterSqlite3(path);
    try {
      expect(migrate(db)).toEqual({ from: SQLITE_MIGRATIONS.length, to: SQLITE_MIGRATIONS.length });
    } finally {
      db.close();
    }
    const second = await SqliteMetastore.open(path);
    expect((await second.getTable(features))?.location).toBe('/data/f');
    await second.close();
  });

  it('applies only the new migrations to an older catalog', async () => {
    const db = new BetterSqlite3(join(dir, 'catalog.db'));
    try {
      const extra = {
        version: SQLITE_MIGRATIONS.length + 1,
        name: 'table tags',
        sql: 'CREATE TABLE table_tags (k TEXT)',
      };
      expect(migrate(db)).toEqual({ from: 0, to: SQLITE_MIGRATIONS.length });
      expect(migrate(db, [...SQLITE_MIGRATIONS, extra])).toEqual({
        from: SQLITE_MIGRATIONS.length,
        to: extra.version,
      });
      expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'table_tags'").get()).toEqual({
        n: 1,
      });
    } finally {
      db.close();
    }
  });

  it('refuses a catalog written by a newer Larder', async () => {
    const path = join(dir, 'catalog.db');
    const db = new BetterSqlite3(path);
    migrate(db, [
      ...SQLITE_MIGRATIONS,
      { version: SQLITE_MIGRATIONS.length + 1, name: 'future', sql: 'SELECT 1' },
    ]);
    db.close();
    const error = await SqliteMetastore.open(path).catch((e: unknown) => e);
    expect(isLarderError(error, 'UNSUPPORTED_FEATURE')).toBe(true);
    expect((error as Error).message).toContain(path);
  });

  it('fails with IO_ERROR naming a catalog path it cannot create', async () => {
    await writeFile(join(dir, 'plain-file'), 'not a folder');
    const path = join(dir, 'plain-file', 'catalog.db');
    const error = await SqliteMetastore.open(path).catch((e: unknown) => e);
    expect(isLarderError(error, 'IO_ERROR')).toBe(true);
    expect((error as Error).message).toContain(path);
  });
});
