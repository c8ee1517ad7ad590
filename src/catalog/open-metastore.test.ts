import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropTestSchema, TEST_POSTGRES_URL } from '../../test/support/postgres.js';
import { isLarderError } from '../errors.js';
import { CATALOG_URL_ENV, openMetastore, postgresCatalogUrl } from './open-metastore.js';
import { PostgresMetastore } from './postgres/postgres-metastore.js';
import { SqliteMetastore } from './sqlite/sqlite-metastore.js';

const url = TEST_POSTGRES_URL;

let dir: string;
let saved: string | undefined;
let schema: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-open-metastore-'));
  saved = process.env[CATALOG_URL_ENV];
  delete process.env[CATALOG_URL_ENV];
  schema = `larder_test_${randomUUID().replaceAll('-', '')}`;
});

afterEach(async () => {
  if (saved === undefined) delete process.env[CATALOG_URL_ENV];
  else process.env[CATALOG_URL_ENV] = saved;
  await rm(dir, { recursive: true, force: true });
  await dropTestSchema(schema, url);
});

describe('openMetastore', () => {
  it('opens the project’s SQLite catalog when no URL is given', async () => {
    const metastore = await openMetastore({ projectDir: dir });
    try {
      expect(metastore).toBeInstanceOf(SqliteMetastore);
      expect((metastore as SqliteMetastore).path).toBe(join(dir, '.larder', 'catalog.db'));
    } finally {
      await metastore.close();
    }
  });

  it('opens an empty in-memory catalog, writing nothing, when asked not to create a missing one', async () => {
    const dry = await openMetastore({ projectDir: dir, createIfMissing: false });
    try {
      expect(await dry.listTables()).toEqual([]);
      expect(existsSync(join(dir, '.larder'))).toBe(false);
    } finally {
      await dry.close();
    }
    const real = await openMetastore({ projectDir: dir });
    await real.createSchema('ml', 's');
    await real.close();
    const existing = await openMetastore({ projectDir: dir, createIfMissing: false });
    try {
      expect((await existing.listSchemas('ml')).map((e) => e.schema)).toContain('s');
    } finally {
      await existing.close();
    }
  });

  it('opens PostgreSQL for a postgres:// or postgresql:// URL argument', async () => {
    for (const u of [url, url.replace(/^postgres:/, 'postgresql:')]) {
      const metastore = await openMetastore({ projectDir: dir, url: u, schema });
      try {
        expect(metastore).toBeInstanceOf(PostgresMetastore);
        expect((metastore as PostgresMetastore).schema).toBe(schema);
      } finally {
        await metastore.close();
      }
    }
  });

  it('takes the URL from LARDER_CATALOG_URL when no argument is given', async () => {
    process.env[CATALOG_URL_ENV] = url;
    const metastore = await openMetastore({ projectDir: dir, schema });
    try {
      expect(metastore).toBeInstanceOf(PostgresMetastore);
      await metastore.createSchema('ml', 'x');
    } finally {
      await metastore.close();
    }
    const direct = await PostgresMetastore.open(url, { schema });
    expect(await direct.listSchemas()).toEqual([{ catalog: 'ml', schema: 'x' }]);
    await direct.close();
  });

  it("takes the catalog schema from the URL's ?schema= parameter, which the driver never sees", async () => {
    for (const u of [`${url}?schema=${schema}`, `${url}?application_name=larder_test&schema=${schema}`]) {
      process.env[CATALOG_URL_ENV] = u;
      const metastore = await openMetastore({ projectDir: dir });
      try {
        expect(metastore).toBeInstanceOf(PostgresMetastore);
        expect((metastore as PostgresMetastore).schema).toBe(schema);
        expect((metastore as PostgresMetastore).url).not.toContain('schema=');
        await metastore.createSchema('ml', 'x', { ifNotExists: true });
      } finally {
        await metastore.close();
      }
    }
    const direct = await PostgresMetastore.open(url, { schema });
    expect(await direct.listSchemas()).toEqual([{ catalog: 'ml', schema: 'x' }]);
    await direct.close();
  });

  it('splits the schema parameter off a PostgreSQL URL, keeping the others as written', () => {
    expect(postgresCatalogUrl('postgres://u:p%40ss@db:5432/f?schema=team_a&sslmode=require')).toEqual({
      url: 'postgres://u:p%40ss@db:5432/f?sslmode=require',
      schema: 'team_a',
    });
    expect(postgresCatalogUrl('postgres:///f?host=/var/run/postgresql&schema=My%20Team')).toEqual({
      url: 'postgres:///f?host=/var/run/postgresql',
      schema: 'My Team',
    });
    expect(postgresCatalogUrl('postgres://db/f?sslmode=require')).toEqual({
      url: 'postgres://db/f?sslmode=require',
    });
  });

  it("lets a schema argument win over the URL's, and refuses an empty one", async () => {
    const metastore = await openMetastore({ projectDir: dir, url: `${url}?schema=other_schema`, schema });
    try {
      expect((metastore as PostgresMetastore).schema).toBe(schema);
    } finally {
      await metastore.close();
    }
    const error = await openMetastore({ projectDir: dir, url: `${url}?schema=` }).catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('refuses a catalog URL of another kind instead of falling back to SQLite', async () => {
    const error = await openMetastore({ projectDir: dir, url: 'mysql://u:pw@host/db' }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain('mysql://***@host/db');
  });
});
