import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TEST_POSTGRES_URL } from '../../../test/support/postgres.js';
import { queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import { Engine } from '../../engine/engine.js';
import { isLarderError } from '../../errors.js';
import { RunScope } from '../run-scope.js';
import { bindSource } from './bind-source.js';
import type { KeyFilter } from './bound-source.js';

const URL = TEST_POSTGRES_URL;

describe('postgres sources', () => {
  const schema = `larder_src_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const admin = new pg.Client({ connectionString: URL });
  let dir: string;
  let engine: Engine;
  let scope: RunScope;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.tx (
      id bigint PRIMARY KEY, customer_id integer, region text, amount numeric(10,2), ratio double precision,
      flag boolean, day date, changed timestamptz, local_ts timestamp, payload bytea, tags text[])`);
    await admin.query(`INSERT INTO ${schema}.tx
      SELECT i, i % 4, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i * 1.25, i / 3.0, i % 2 = 0,
             DATE '2024-01-01' + i, TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second' + INTERVAL '0.000001 second',
             TIMESTAMP '2024-01-01 08:00:00.123456', '\\x0102'::bytea, ARRAY['a', 'b']
        FROM generate_series(1, 25000) i`);
    await admin.query(`INSERT INTO ${schema}.tx (id) VALUES (0)`);
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-pg-source-'));
    engine = await Engine.open({ projectDir: dir });
    scope = await RunScope.create(engine.connection);
  });
  afterEach(async () => {
    await scope.drop();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  const bind = (table = `${schema}.tx`) =>
    bindSource({ engine, scope, projectDir: dir, name: 'tx', config: { type: 'postgres', url: URL, table } });

  it('copies every row in batches, typed from the PostgreSQL column types', async () => {
    const source = await bind();
    try {
      expect(source.columns.map((c) => `${c.name} ${c.duckType}`)).toEqual([
        'id BIGINT',
        'customer_id INTEGER',
        'region VARCHAR',
        'amount DECIMAL(10,2)',
        'ratio DOUBLE',
        'flag BOOLEAN',
        'day DATE',
        'changed TIMESTAMPTZ',
        'local_ts TIMESTAMP',
        'payload BLOB',
        'tags VARCHAR',
      ]);
      const read = await source.read();
      expect(read.rows).toBe(25001);
      const [row] = await queryJson(engine.connection, `SELECT * FROM (${read.sql}) WHERE id = 3`);
      expect(row).toEqual({
        id: '3',
        customer_id: 3,
        region: 'us',
        amount: '3.75',
        ratio: 1,
        flag: false,
        day: '2024-01-04',
        changed: '2024-01-01 00:00:03.000001+00',
        local_ts: '2024-01-01 08:00:00.123456',
        payload: '\\x01\\x02',
        tags: '{a,b}',
      });
      const [nulls] = await queryJson(engine.connection, `SELECT * FROM (${read.sql}) WHERE id = 0`);
      expect(Object.entries(nulls ?? {}).filter(([, v]) => v !== null)).toEqual([['id', '0']]);
    } finally {
      await source.close();
    }
  });

  it('pushes the change filter and the key filter to PostgreSQL', async () => {
    const source = await bind();
    try {
      const changed = await source.read({
        // Row 24998 changed at 06:56:38.000001 (24998 s after midnight).
        changedAfter: { column: 'changed', value: '2024-01-01 06:56:38.000001+00' },
      });
      expect(changed.rows).toBe(2);
      expect(
        (await queryJson(engine.connection, `SELECT id FROM (${changed.sql}) ORDER BY id`)).map((r) => r.id),
      ).toEqual(['24999', '25000']);
      const keys = scope.table('keys');
      await engine.connection.run(`CREATE TABLE ${keys} AS SELECT 1 AS ${sqlIdent('customer_id')}`);
      const filter: KeyFilter = {
        table: keys,
        columns: ['customer_id'],
        count: 1,
        values: async () => [['1']],
      };
      const keyed = await source.read({ keys: filter });
      expect(keyed.rows).toBe(6250);
      const [check] = await queryJson(
        engine.connection,
        `SELECT count(*) AS n, count(DISTINCT customer_id) AS d FROM (${keyed.sql})`,
      );
      expect(check).toEqual({ n: '6250', d: '1' });
    } finally {
      await source.close();
    }
  });

  it('reads one database snapshot for the whole run', async () => {
    const source = await bind();
    try {
      await admin.query(`INSERT INTO ${schema}.tx (id, changed) VALUES (99999, now())`);
      const read = await source.read({ changedAfter: { column: 'changed', value: null } });
      expect(read.rows).toBe(25000);
    } finally {
      await source.close();
      await admin.query(`DELETE FROM ${schema}.tx WHERE id = 99999`);
    }
  });

  it('fails with SOURCE_NOT_FOUND naming the source for a missing table or schema', async () => {
    for (const table of [`${schema}.nope`, 'no_such_schema_x.tx']) {
      const error = await bind(table).catch((e: unknown) => e);
      expect(isLarderError(error, 'SOURCE_NOT_FOUND')).toBe(true);
      expect((error as Error).message).toMatch(/source "tx": PostgreSQL table .* does not exist/);
    }
  });
});
