import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../delta/delta-table.js';
import { queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import { Engine } from '../../engine/engine.js';
import { isLarderError } from '../../errors.js';
import { RunScope } from '../run-scope.js';
import { bindSource } from './bind-source.js';
import type { KeyFilter } from './bound-source.js';

describe('delta sources', () => {
  let dir: string;
  let engine: Engine;
  let scope: RunScope;
  let table: DeltaTable;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-delta-source-'));
    engine = await Engine.open({ projectDir: dir });
    scope = await RunScope.create(engine.connection);
    table = await DeltaTable.create(join(dir, 'data', 'tx'), {
      schema: [
        { name: 'id', type: 'long', nullable: false },
        { name: 'customer_id', type: 'long' },
        { name: 'changed', type: 'timestamp' },
      ],
    });
    // Three commits, so three files with disjoint change ranges.
    for (const day of [1, 2, 3]) {
      await table.append(
        [0, 1].map((i) => ({
          id: day * 10 + i,
          customer_id: i + day,
          changed: `2024-01-0${day} 12:00:00.00000${i + 1}+00`,
        })),
      );
    }
  });
  afterEach(async () => {
    await scope.drop();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ids = async (sql: string) =>
    (await queryJson(engine.connection, `SELECT id FROM (${sql}) ORDER BY id`)).map((r) => Number(r.id));

  async function keys(values: number[]): Promise<KeyFilter> {
    const name = scope.table(`keys_${values.join('_')}`);
    await engine.connection.run(
      `CREATE TABLE ${name} AS SELECT unnest([${values.join(', ')}])::BIGINT AS ${sqlIdent('customer_id')}`,
    );
    return {
      table: name,
      columns: ['customer_id'],
      count: values.length,
      values: async () => values.map((v) => [String(v)]),
    };
  }

  it('reads a folder relative to the project, with its columns, every row and the row count from statistics', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'delta', path: 'data/tx' },
    });
    expect(source.columns).toEqual([
      { name: 'id', duckType: 'BIGINT' },
      { name: 'customer_id', duckType: 'BIGINT' },
      { name: 'changed', duckType: 'TIMESTAMPTZ' },
    ]);
    expect(source.description).toMatch(/delta table at .*data\/tx version 3/);
    const read = await source.read();
    expect(read).toMatchObject({ rows: 6, files: 3, filesTotal: 3 });
    expect(await ids(read.sql)).toEqual([10, 11, 20, 21, 30, 31]);
  });

  it('reads the rows changed after a watermark to the microsecond, pruning older files', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'delta', path: 'data/tx' },
    });
    const read = await source.read({
      changedAfter: { column: 'changed', value: '2024-01-02 12:00:00.000001+00' },
    });
    expect(await ids(read.sql)).toEqual([21, 30, 31]);
    expect(read.files).toBe(2);
    const all = await source.read({ changedAfter: { column: 'changed', value: null } });
    expect(await ids(all.sql)).toEqual([10, 11, 20, 21, 30, 31]);
  });

  it('reads the rows of the affected keys only', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'delta', path: 'data/tx' },
    });
    const read = await source.read({ keys: await keys([1, 4]) });
    expect(await ids(read.sql)).toEqual([10, 31]);
    expect(read.files).toBe(2);
  });

  it('keeps reading the version it was bound to when the table moves on', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'delta', path: 'data/tx' },
    });
    await table.append([{ id: 99, customer_id: 1, changed: '2024-02-01 00:00:00+00' }]);
    await table.delete('id = 10');
    expect(await ids((await source.read()).sql)).toEqual([10, 11, 20, 21, 30, 31]);
    expect(await ids((await source.read({ keys: await keys([1]) })).sql)).toEqual([10]);
  });

  it('resolves a catalog name through the metastore', async () => {
    await engine.metastore.createTable({
      name: { catalog: 'ml', schema: 'raw', table: 'tx' },
      location: join(dir, 'data', 'tx'),
      managed: false,
    });
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'delta', table: 'ML.raw.tx' },
    });
    expect(source.description).toBe('delta table ml.raw.tx version 3');
    expect((await source.read()).rows).toBe(6);
  });

  it('fails with SOURCE_NOT_FOUND naming the source for a missing folder or table, in one clean sentence', async () => {
    const messages: string[] = [];
    for (const config of [
      { type: 'delta', path: 'data/nothing' },
      { type: 'delta', table: 'ml.raw.nothing' },
    ] as const) {
      const error = await bindSource({ engine, scope, projectDir: dir, name: 'gone', config }).catch(
        (e: unknown) => e,
      );
      expect(isLarderError(error, 'SOURCE_NOT_FOUND')).toBe(true);
      messages.push((error as Error).message);
    }
    // One hint, in parentheses that hold none of their own.
    expect(messages).toEqual([
      `source "gone": no Delta table at ${join(dir, 'data/nothing')} (check the path; it is relative to the project folder)`,
      'source "gone": table ml.raw.nothing is not in the catalog (create or register the table, or fix the source in larder.config.ts)',
    ]);
  });

  it('names the source and column when a change or key column does not exist', async () => {
    const source = await bindSource({
      engine,
      scope,
      projectDir: dir,
      name: 'tx',
      config: { type: 'delta', path: 'data/tx' },
    });
    const error = await source
      .read({ changedAfter: { column: 'nope', value: null } })
      .catch((e: unknown) => e);
    expect(isLarderError(error, 'SCHEMA_MISMATCH')).toBe(true);
    expect((error as Error).message).toMatch(/source "tx" has no column "nope"/);
  });
});
