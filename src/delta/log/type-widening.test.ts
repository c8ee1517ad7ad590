import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, queryJson, run, sqlString } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import { planScan, readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import type { Action, Add } from './actions.js';
import { loadSnapshot } from './replay.js';
import { isSupportedTypeChange } from './type-widening.js';

describe('isSupportedTypeChange', () => {
  // PROTOCOL.md "Type Widening", written out pair by pair.
  const allowed: readonly [string, string][] = [
    ['byte', 'short'],
    ['byte', 'integer'],
    ['byte', 'long'],
    ['short', 'integer'],
    ['short', 'long'],
    ['integer', 'long'],
    ['float', 'double'],
    ['byte', 'double'],
    ['short', 'double'],
    ['integer', 'double'],
    ['date', 'timestamp_ntz'],
    ['decimal(5,2)', 'decimal(6,2)'],
    ['decimal(5,2)', 'decimal(7,4)'],
    ['decimal(5,2)', 'decimal(10,2)'],
    ['byte', 'decimal(10,0)'],
    ['integer', 'decimal(10,0)'],
    ['integer', 'decimal(12,2)'],
    ['long', 'decimal(20,0)'],
    ['long', 'decimal(25,5)'],
  ];
  const refused: readonly [string, string][] = [
    ['long', 'integer'],
    ['integer', 'integer'],
    ['double', 'float'],
    ['long', 'double'],
    ['timestamp_ntz', 'date'],
    ['date', 'timestamp'],
    ['string', 'integer'],
    ['integer', 'string'],
    ['decimal(5,2)', 'decimal(5,2)'],
    ['decimal(5,2)', 'decimal(6,4)'],
    ['decimal(5,2)', 'decimal(5,3)'],
    ['decimal(7,4)', 'decimal(7,2)'],
    ['integer', 'decimal(9,0)'],
    ['integer', 'decimal(11,2)'],
    ['long', 'decimal(19,0)'],
    ['decimal(10,0)', 'long'],
    ['float', 'decimal(20,5)'],
  ];
  it.each(allowed)('allows %s → %s', (from, to) => expect(isSupportedTypeChange(from, to)).toBe(true));
  it.each(refused)('refuses %s → %s', (from, to) => expect(isSupportedTypeChange(from, to)).toBe(false));
});

describe('reading a table whose column types were widened', () => {
  let dir: string;
  let root: string;
  let store: LocalLogStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-widening-'));
    root = join(dir, 't');
    store = new LocalLogStore(root);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const field = (name: string, type: string, changes?: object[]) => ({
    name,
    type,
    nullable: true,
    metadata: changes ? { 'delta.typeChanges': changes } : {},
  });
  const metaData = (fields: object[], configuration: Record<string, string> = {}) => ({
    id: '5c1e0a77-0000-4000-8000-000000000001',
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify({ type: 'struct', fields }),
    partitionColumns: [],
    configuration,
    createdTime: 1_700_000_000_000,
  });
  const OLD_FIELDS = [
    field('id', 'integer'),
    field('v', 'integer'),
    field('d', 'date'),
    field('m', 'decimal(5,2)'),
    field('f', 'float'),
    field('s', 'short'),
  ];
  /** The schema after the changes, as Spark records them (tableVersion is Spark's addition). */
  const wideFields = (feature = 'typeWidening') => [
    field('id', 'integer'),
    field('v', 'long', [{ tableVersion: 2, fromType: 'integer', toType: 'long' }]),
    field('d', 'timestamp_ntz', [{ tableVersion: 2, fromType: 'date', toType: 'timestamp_ntz' }]),
    field('m', 'decimal(10,4)', [{ tableVersion: 2, fromType: 'decimal(5,2)', toType: 'decimal(10,4)' }]),
    field('f', 'double', [{ tableVersion: 2, fromType: 'float', toType: 'double' }]),
    field(
      's',
      feature === 'typeWidening' ? 'decimal(12,2)' : 'long',
      feature === 'typeWidening'
        ? [
            { fromType: 'short', toType: 'integer' },
            { fromType: 'integer', toType: 'decimal(12,2)' },
          ]
        : [{ fromType: 'short', toType: 'long' }],
    ),
  ];

  /** Write `select` to a Parquet file with DuckDB and return its add action with Spark-style stats. */
  async function dataFile(name: string, select: string, stats: object): Promise<Add> {
    const connection = await connect();
    try {
      await run(connection, `COPY (${select}) TO ${sqlString(join(root, name))} (FORMAT parquet)`);
    } finally {
      connection.closeSync();
    }
    return {
      path: name,
      partitionValues: {},
      size: 1,
      modificationTime: 1,
      dataChange: true,
      stats: JSON.stringify(stats),
    };
  }

  async function commit(version: number, actions: readonly Action[]): Promise<void> {
    await store.put(commitFileName(version), `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`);
  }

  /** Versions 0-1 with the narrow types and one old file; 2 widens (no file rewritten); 3 adds a wide file. */
  async function widenedTable(feature = 'typeWidening'): Promise<void> {
    await mkdir(root, { recursive: true });
    const old = await dataFile(
      'old.parquet',
      `SELECT * FROM (VALUES
        (1::INTEGER, 100::INTEGER, DATE '2024-01-02', 123.45::DECIMAL(5,2), 0.1::FLOAT, 7::SMALLINT),
        (2::INTEGER, -5::INTEGER, DATE '2024-01-20', -1.50::DECIMAL(5,2), 2.5::FLOAT, -3::SMALLINT))
       AS t(id, v, d, m, f, s)`,
      {
        numRecords: 2,
        minValues: { id: 1, v: -5, d: '2024-01-02', m: -1.5, f: 0.1, s: -3 },
        maxValues: { id: 2, v: 100, d: '2024-01-20', m: 123.45, f: 2.5, s: 7 },
        nullCount: { id: 0, v: 0, d: 0, m: 0, f: 0, s: 0 },
      },
    );
    await commit(0, [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      { metaData: metaData(OLD_FIELDS) },
    ]);
    await commit(1, [{ add: old }]);
    await commit(2, [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: [feature],
          writerFeatures: ['appendOnly', 'invariants', feature],
        },
      },
      { metaData: metaData(wideFields(feature), { 'delta.enableTypeWidening': 'true' }) },
    ]);
    const wideS = feature === 'typeWidening' ? 'DECIMAL(12,2)' : 'BIGINT';
    const fresh = await dataFile(
      'new.parquet',
      `SELECT 3::INTEGER AS id, 5000000000::BIGINT AS v, TIMESTAMP '2024-03-04 05:06:07' AS d,
        123456.7891::DECIMAL(10,4) AS m, 1e300::DOUBLE AS f, 4000000000::${wideS} AS s`,
      {
        numRecords: 1,
        minValues: { id: 3, v: 5000000000, d: '2024-03-04T05:06:07.000', m: 123456.7891, f: 1e300, s: 4e9 },
        maxValues: { id: 3, v: 5000000000, d: '2024-03-04T05:06:07.000', m: 123456.7891, f: 1e300, s: 4e9 },
        nullCount: { id: 0, v: 0, d: 0, m: 0, f: 0, s: 0 },
      },
    );
    await commit(3, [{ add: fresh }]);
  }

  it('reads files of the old types as the new types, whichever file comes first', async () => {
    await widenedTable();
    const snapshot = await loadSnapshot(store);
    expect(snapshot.files.map((f) => f.path)).toEqual(['old.parquet', 'new.parquet']);
    const connection = await connect();
    try {
      const plan = await planScan(snapshot);
      const types = await queryJson(connection, `DESCRIBE ${plan.sql}`);
      expect(types.map((t) => `${t.column_name} ${t.column_type}`)).toEqual([
        'id INTEGER',
        'v BIGINT',
        'd TIMESTAMP',
        'm DECIMAL(10,4)',
        'f DOUBLE',
        's DECIMAL(12,2)',
      ]);
    } finally {
      connection.closeSync();
    }
    const rows = (await readTableRows(snapshot)).sort((a, b) => Number(a.id) - Number(b.id));
    expect(rows).toEqual([
      { id: 1, v: '100', d: '2024-01-02 00:00:00', m: '123.4500', f: Math.fround(0.1), s: '7.00' },
      { id: 2, v: '-5', d: '2024-01-20 00:00:00', m: '-1.5000', f: 2.5, s: '-3.00' },
      { id: 3, v: '5000000000', d: '2024-03-04 05:06:07', m: '123456.7891', f: 1e300, s: '4000000000.00' },
    ]);
    // Before the change the table reads with the old types.
    const before = await readTableRows(await loadSnapshot(store, { version: 1 }));
    expect(before.map((r) => r.v)).toEqual([100, -5]);
  });

  it('prunes by the stats of old files, which hold the old types', async () => {
    await widenedTable();
    const snapshot = await loadSnapshot(store);
    const filesFor = async (column: string, op: '<' | '>' | '=', value: number | string) => {
      const plan = await planScan(snapshot, { predicate: { kind: 'compare', op, column, value } });
      return plan.files.map((f) => f.path);
    };
    expect(await filesFor('v', '>', 3_000_000_000)).toEqual(['new.parquet']);
    expect(await filesFor('v', '<', 0)).toEqual(['old.parquet']);
    expect(await filesFor('d', '<', '2024-02-01 00:00:00')).toEqual(['old.parquet']);
    expect(await filesFor('d', '>', '2024-01-21 00:00:00')).toEqual(['new.parquet']);
    expect(await filesFor('m', '>', 1000)).toEqual(['new.parquet']);
    // The float 0.1 widened to double is 0.10000000149011612; its file's stats say 0.1.
    expect(await filesFor('f', '=', Math.fround(0.1))).toEqual(['old.parquet']);
    const rows = await readTableRows(snapshot, {
      predicate: { kind: 'compare', op: '=', column: 'f', value: Math.fround(0.1) },
    });
    expect(rows.map((r) => r.id)).toEqual([1]);
  });

  it('reads tables that enabled the preview feature', async () => {
    await widenedTable('typeWidening-preview');
    const rows = await readTableRows(await loadSnapshot(store), { columns: ['id', 's'] });
    expect(rows.map((r) => `${r.id}:${r.s}`).sort()).toEqual(['1:7', '2:-3', '3:4000000000']);
  });

  it('refuses a table recording a type change Delta does not allow, naming the column', async () => {
    await widenedTable();
    await commit(4, [
      {
        metaData: metaData([
          ...wideFields().filter((f) => f.name !== 'id'),
          field('id', 'integer', [{ fromType: 'string', toType: 'integer' }]),
        ]),
      },
    ]);
    try {
      await loadSnapshot(store);
      expect.unreachable('a string → integer change must be refused');
    } catch (error) {
      if (!isLarderError(error)) throw error;
      expect(error.code).toBe('UNSUPPORTED_FEATURE');
      expect(error.message).toContain('"id"');
      expect(error.message).toContain('string to integer');
    }
  });
});
