import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryJson, sqlString } from '../../duckdb/duckdb.js';
import { Engine } from '../../engine/engine.js';
import { isLarderError } from '../../errors.js';
import { RunScope } from '../run-scope.js';
import { bindSource } from './bind-source.js';

describe('csv and parquet sources', () => {
  let dir: string;
  let engine: Engine;
  let scope: RunScope;

  const write = async (sql: string, file: string, format: string) =>
    engine.connection.run(`COPY (${sql}) TO ${sqlString(join(dir, file))} (${format})`);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-file-source-'));
    engine = await Engine.open({ projectDir: dir });
    scope = await RunScope.create(engine.connection);
    await mkdir(join(dir, 'data'));
    for (const part of [0, 1]) {
      await write(
        `SELECT (${part} * 10 + i)::BIGINT AS id, i % 3 AS customer_id, (i * 1.5)::DOUBLE AS amount,
                TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(${part} * 10 + i) AS changed
           FROM range(10) t(i)`,
        `data/tx-${part}.parquet`,
        'FORMAT parquet',
      );
    }
    await write(
      `SELECT i AS id, 'c' || i AS name, DATE '2024-03-01' + i::INTEGER AS day FROM range(5) t(i)`,
      'data/customers.csv',
      "FORMAT csv, DELIMITER ';', HEADER true",
    );
  });
  afterEach(async () => {
    await scope.drop();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  const rows = async (sql: string) => queryJson(engine.connection, `SELECT * FROM (${sql}) ORDER BY id`);

  it('reads a Parquet glob relative to the project, filtering changed rows and keys', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'parquet', path: 'data/tx-*.parquet' },
    });
    expect(source.columns.map((c) => `${c.name} ${c.duckType}`)).toEqual([
      'id BIGINT',
      'customer_id BIGINT',
      'amount DOUBLE',
      'changed TIMESTAMP WITH TIME ZONE',
    ]);
    expect(source.description).toMatch(/parquet .*tx-\*\.parquet \(2 files\)/);
    expect((await rows((await source.read()).sql)).length).toBe(20);
    const changed = await source.read({
      changedAfter: { column: 'changed', value: '2024-01-01 00:00:17+00' },
    });
    expect((await rows(changed.sql)).map((r) => Number(r.id))).toEqual([18, 19]);
    const keyTable = scope.table('keys');
    await engine.connection.run(`CREATE TABLE ${keyTable} AS SELECT 2::BIGINT AS customer_id`);
    const keyed = await source.read({
      keys: { table: keyTable, columns: ['customer_id'], count: 1, values: async () => [['2']] },
    });
    expect((await rows(keyed.sql)).map((r) => Number(r.id))).toEqual([2, 5, 8, 12, 15, 18]);
  });

  it('reads CSV with the options given, typed by DuckDB', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'customers',
      config: { type: 'csv', path: 'data/customers.csv', options: { delim: ';', header: true } },
    });
    expect(source.columns.map((c) => `${c.name} ${c.duckType}`)).toEqual([
      'id BIGINT',
      'name VARCHAR',
      'day DATE',
    ]);
    expect(await rows((await source.read()).sql)).toEqual([
      { id: '0', name: 'c0', day: '2024-03-01' },
      { id: '1', name: 'c1', day: '2024-03-02' },
      { id: '2', name: 'c2', day: '2024-03-03' },
      { id: '3', name: 'c3', day: '2024-03-04' },
      { id: '4', name: 'c4', day: '2024-03-05' },
    ]);
  });

  it('reads the files listed when it was bound, not one that lands later', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'parquet', path: 'data/tx-*.parquet' },
    });
    await write(
      'SELECT 100::BIGINT AS id, 0::BIGINT AS customer_id, 1.0 AS amount, now() AS changed',
      'data/tx-2.parquet',
      'FORMAT parquet',
    );
    expect((await rows((await source.read()).sql)).length).toBe(20);
  });

  it('fails with SOURCE_NOT_FOUND naming the source when no file matches', async () => {
    for (const path of ['data/missing.csv', 'data/none-*.parquet']) {
      const error = await bindSource({
        engine,
        scope,
        projectDir: dir,
        name: 'gone',
        config: { type: path.endsWith('.csv') ? 'csv' : 'parquet', path },
      }).catch((e: unknown) => e);
      expect(isLarderError(error, 'SOURCE_NOT_FOUND')).toBe(true);
      expect((error as Error).message).toMatch(/source "gone": no (CSV|PARQUET) file matches/);
    }
  });
});
