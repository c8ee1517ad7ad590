import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import type { TableName } from '../metastore.js';
import { migrate, SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteMetastore } from './sqlite-metastore.js';

const features: TableName = { catalog: 'ml', schema: 'churn_features', table: 'customer_features' };

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-metastore-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

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
        name: 'an extra table',
        sql: 'CREATE TABLE extra_table (k TEXT)',
      };
      expect(migrate(db)).toEqual({ from: 0, to: SQLITE_MIGRATIONS.length });
      expect(migrate(db, [...SQLITE_MIGRATIONS, extra])).toEqual({
        from: SQLITE_MIGRATIONS.length,
        to: extra.version,
      });
      expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'extra_table'").get()).toEqual({
        n: 1,
      });
    } finally {
      db.close();
    }
  });

  it('migrates a version 1 catalog in place, keeping its tables, which start with no tags', async () => {
    const path = join(dir, 'catalog.db');
    const createdAt = Date.now() - 60_000;
    const db = new BetterSqlite3(path);
    try {
      expect(migrate(db, SQLITE_MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1 });
      db.prepare("INSERT INTO catalogs (name, created_at) VALUES ('ml', ?)").run(createdAt);
      db.prepare("INSERT INTO schemas (catalog, name, created_at) VALUES ('ml', 'churn_features', ?)").run(
        createdAt,
      );
      db.prepare(
        `INSERT INTO tables (catalog, schema, name, location, managed, description, properties, created_at)
         VALUES ('ml', 'churn_features', 'customer_features', '/data/f', 1, 'old', '{"a":"b"}', ?)`,
      ).run(createdAt);
    } finally {
      db.close();
    }
    const metastore = await SqliteMetastore.open(path);
    try {
      expect(await metastore.getTable(features)).toEqual({
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
    const check = new BetterSqlite3(path, { readonly: true });
    try {
      expect(check.prepare('SELECT max(version) AS v FROM schema_migrations').get()).toEqual({
        v: SQLITE_MIGRATIONS.length,
      });
    } finally {
      check.close();
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
