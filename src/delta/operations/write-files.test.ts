import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryJson, sharedConnection, sqlString } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import { parseSchema, type StructType } from '../log/schema.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { writeDataFiles } from './write-files.js';

function schemaOf(fields: readonly [string, unknown, boolean?][]): StructType {
  return parseSchema(
    JSON.stringify({
      type: 'struct',
      fields: fields.map(([name, type, nullable]) => ({
        name,
        type,
        nullable: nullable ?? true,
        metadata: {},
      })),
    }),
  );
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('writeDataFiles', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'larder-write-files-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes one file with exact size, row count and Spark-typed stats', async () => {
    const schema = schemaOf([
      ['id', 'long', false],
      ['name', 'string'],
      ['ts', 'timestamp'],
      ['ntz', 'timestamp_ntz'],
      ['day', 'date'],
      ['amount', 'decimal(10,2)'],
      ['flag', 'boolean'],
      ['nested', { type: 'struct', fields: [{ name: 'x', type: 'integer', nullable: true, metadata: {} }] }],
    ]);
    const { adds, rows, bytes } = await writeDataFiles({
      root,
      schema,
      partitionColumns: [],
      sourceSql: `SELECT i AS id, CASE WHEN i = 2 THEN NULL ELSE 'n' || i END AS name,
        TIMESTAMPTZ '2024-01-01 00:00:00.123456+00' + i * INTERVAL 1 SECOND AS ts,
        TIMESTAMP '2024-03-04 05:06:07.891' AS ntz, DATE '2024-02-02' + i::INTEGER AS day,
        (i * 1.25)::DECIMAL(10,2) AS amount, i % 2 = 0 AS flag, {'x': i::INTEGER} AS nested
        FROM range(4) t(i)`,
    });
    expect(rows).toBe(4);
    expect(adds).toHaveLength(1);
    const add = adds[0]!;
    expect(add.path).toMatch(/^part-[0-9a-f-]{36}\.parquet$/);
    expect(add.partitionValues).toEqual({});
    expect(add.dataChange).toBe(true);
    const file = dataFileLocalPath(root, add.path)!;
    expect((await stat(file)).size).toBe(add.size);
    expect(bytes).toBe(add.size);
    expect(JSON.parse(add.stats!)).toEqual({
      numRecords: 4,
      minValues: {
        id: 0,
        name: 'n0',
        ts: '2024-01-01T00:00:00.123Z',
        ntz: '2024-03-04T05:06:07.891',
        day: '2024-02-02',
        amount: 0,
        nested: { x: 0 },
      },
      maxValues: {
        id: 3,
        name: 'n3',
        ts: '2024-01-01T00:00:03.123Z',
        ntz: '2024-03-04T05:06:07.891',
        day: '2024-02-05',
        amount: 3.75,
        nested: { x: 3 },
      },
      nullCount: { id: 0, name: 1, ts: 0, ntz: 0, day: 0, amount: 0, flag: 0, nested: { x: 0 } },
    });
    const [described] = await queryJson(
      await sharedConnection(),
      `SELECT count(*) AS n, typeof(any_value(ts)) AS t, typeof(any_value(id)) AS i FROM read_parquet(${sqlString(file)})`,
    );
    expect(described).toEqual({ n: '4', t: 'TIMESTAMP WITH TIME ZONE', i: 'BIGINT' });
  });

  it('keeps longs beyond 2^53 exact in stats and truncates long strings like Spark', async () => {
    const schema = schemaOf([
      ['big', 'long'],
      ['text', 'string'],
    ]);
    const { adds } = await writeDataFiles({
      root,
      schema,
      partitionColumns: [],
      sourceSql: `SELECT 9223372036854775807 - i AS big, repeat('é', 40) || i AS text FROM range(2) t(i)`,
    });
    const stats = adds[0]!.stats!;
    expect(stats).toContain('"big":9223372036854775806');
    expect(stats).toContain('"big":9223372036854775807');
    const parsed = JSON.parse(stats) as {
      minValues: Record<string, unknown>;
      maxValues: Record<string, unknown>;
    };
    expect(parsed.minValues.text).toBe('é'.repeat(32));
    expect(parsed.maxValues).not.toHaveProperty('text');
  });

  it('omits min and max of float columns holding NaN', async () => {
    const { adds } = await writeDataFiles({
      root,
      schema: schemaOf([['f', 'double']]),
      partitionColumns: [],
      sourceSql: `SELECT * FROM (VALUES (1.0::DOUBLE), ('nan'::DOUBLE)) t(f)`,
    });
    expect(JSON.parse(adds[0]!.stats!)).toEqual({
      numRecords: 2,
      minValues: {},
      maxValues: {},
      nullCount: { f: 0 },
    });
  });

  it('partitions by values with slashes, percent signs, spaces, equals and nulls, and they round-trip', async () => {
    const schema = schemaOf([
      ['id', 'integer'],
      ['p', 'string'],
    ]);
    const values = ['a/b', '50%', 'x y=z', null, ''];
    const sourceSql = `SELECT * FROM (VALUES ${values.map((v, i) => `(${i}, ${v === null ? 'NULL' : sqlString(v)})`).join(', ')}) t(id, p)`;
    const { adds, rows } = await writeDataFiles({ root, schema, partitionColumns: ['p'], sourceSql });
    expect(rows).toBe(5);
    const byValue = new Map(adds.map((a) => [a.partitionValues.p, a]));
    expect([...byValue.keys()].sort()).toEqual(['50%', 'a/b', 'x y=z', null].sort());
    expect(adds.reduce((n, a) => n + (JSON.parse(a.stats!) as { numRecords: number }).numRecords, 0)).toBe(5);
    expect(byValue.get(null)!.path).toMatch(/^p=__HIVE_DEFAULT_PARTITION__\//);
    expect(JSON.parse(byValue.get(null)!.stats!).numRecords).toBe(2);
    for (const add of adds) {
      expect(add.path).not.toContain(' ');
      const file = dataFileLocalPath(root, add.path)!;
      expect((await stat(file)).size).toBe(add.size);
      const columns = await queryJson(
        await sharedConnection(),
        `SELECT name FROM parquet_schema(${sqlString(file)}) WHERE name <> 'duckdb_schema'`,
      );
      expect(columns.map((c) => c.name)).toEqual(['id']);
    }
  });

  it('writes date, timestamp and number partition values in the log string form', async () => {
    const schema = schemaOf([
      ['id', 'integer'],
      ['d', 'date'],
      ['ts', 'timestamp'],
      ['n', 'long'],
      ['b', 'boolean'],
    ]);
    const { adds } = await writeDataFiles({
      root,
      schema,
      partitionColumns: ['d', 'ts', 'n', 'b'],
      sourceSql: `SELECT 1 AS id, DATE '2024-05-01' AS d, TIMESTAMPTZ '2024-05-01 10:11:12.5+00' AS ts, -7 AS n, true AS b`,
    });
    expect(adds[0]!.partitionValues).toEqual({
      d: '2024-05-01',
      ts: '2024-05-01T10:11:12.500000Z',
      n: '-7',
      b: 'true',
    });
  });

  it('writes no file for an empty source', async () => {
    const { adds, rows } = await writeDataFiles({
      root,
      schema: schemaOf([['id', 'long']]),
      partitionColumns: [],
      sourceSql: 'SELECT 1 AS id WHERE false',
    });
    expect(adds).toEqual([]);
    expect(rows).toBe(0);
    expect(await listFiles(root)).toEqual([]);
  });

  it('rejects nulls in a NOT NULL column with CONSTRAINT_VIOLATION and leaves no file', async () => {
    const error = await writeDataFiles({
      root,
      schema: schemaOf([
        ['id', 'long', false],
        ['p', 'string'],
      ]),
      partitionColumns: ['p'],
      sourceSql: `SELECT * FROM (VALUES (1, 'a'), (NULL, 'b')) t(id, p)`,
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CONSTRAINT_VIOLATION')).toBe(true);
    expect((error as Error).message).toContain('"id"');
    expect(await listFiles(root)).toEqual([]);
  });

  it('rejects nulls in a NOT NULL partition column', async () => {
    const error = await writeDataFiles({
      root,
      schema: schemaOf([
        ['id', 'long'],
        ['p', 'string', false],
      ]),
      partitionColumns: ['p'],
      sourceSql: `SELECT * FROM (VALUES (1, 'a'), (2, NULL)) t(id, p)`,
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CONSTRAINT_VIOLATION')).toBe(true);
    expect(await listFiles(root)).toEqual([]);
  });

  it('enforces CHECK constraints (null counts as a violation) and invariants, deleting the files', async () => {
    const schema = schemaOf([
      ['id', 'long'],
      ['p', 'string'],
    ]);
    const properties = { 'delta.constraints.positive': "id > 0 AND p <> 'bad'" };
    await expect(
      writeDataFiles({
        root,
        schema,
        partitionColumns: ['p'],
        properties,
        sourceSql: `SELECT 1 AS id, 'ok' AS p`,
      }),
    ).resolves.toMatchObject({ rows: 1 });
    const before = await listFiles(root);
    for (const sourceSql of [
      `SELECT 5 AS id, 'bad' AS p`,
      `SELECT NULL::BIGINT AS id, 'ok' AS p`,
      `SELECT -1 AS id, 'x' AS p`,
    ]) {
      const error = await writeDataFiles({
        root,
        schema,
        partitionColumns: ['p'],
        properties,
        sourceSql,
      }).catch((e: unknown) => e);
      expect(isLarderError(error, 'CONSTRAINT_VIOLATION'), sourceSql).toBe(true);
      expect((error as Error).message).toContain('positive');
    }
    expect(await listFiles(root)).toEqual(before);

    const withInvariant = parseSchema(
      JSON.stringify({
        type: 'struct',
        fields: [
          {
            name: 'v',
            type: 'integer',
            nullable: true,
            metadata: { 'delta.invariants': JSON.stringify({ expression: { expression: 'v < 10' } }) },
          },
        ],
      }),
    );
    const error = await writeDataFiles({
      root,
      schema: withInvariant,
      partitionColumns: [],
      sourceSql: 'SELECT 11 AS v',
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CONSTRAINT_VIOLATION')).toBe(true);
  });

  it('writes physical names and field ids under column mapping, with stats and partition values keyed by them', async () => {
    const schema = parseSchema(
      JSON.stringify({
        type: 'struct',
        fields: [
          {
            name: 'id',
            type: 'long',
            nullable: true,
            metadata: { 'delta.columnMapping.id': 1, 'delta.columnMapping.physicalName': 'col-a' },
          },
          {
            name: 's',
            type: {
              type: 'struct',
              fields: [
                {
                  name: 'x',
                  type: 'integer',
                  nullable: true,
                  metadata: { 'delta.columnMapping.id': 3, 'delta.columnMapping.physicalName': 'col-x' },
                },
              ],
            },
            nullable: true,
            metadata: { 'delta.columnMapping.id': 2, 'delta.columnMapping.physicalName': 'col-s' },
          },
          {
            name: 'p',
            type: 'string',
            nullable: true,
            metadata: { 'delta.columnMapping.id': 4, 'delta.columnMapping.physicalName': 'col-p' },
          },
        ],
      }),
    );
    const { adds } = await writeDataFiles({
      root,
      schema,
      partitionColumns: ['p'],
      columnMappingMode: 'name',
      sourceSql: `SELECT 7 AS id, {'x': 3} AS s, 'v' AS p UNION ALL SELECT 8, NULL, 'v'`,
    });
    const add = adds[0]!;
    expect(add.partitionValues).toEqual({ 'col-p': 'v' });
    expect(JSON.parse(add.stats!)).toMatchObject({
      numRecords: 2,
      minValues: { 'col-a': 7, 'col-s': { 'col-x': 3 } },
      maxValues: { 'col-a': 8 },
    });
    const file = dataFileLocalPath(root, add.path)!;
    const columns = await queryJson(
      await sharedConnection(),
      `SELECT name, field_id FROM parquet_schema(${sqlString(file)}) WHERE name <> 'duckdb_schema' ORDER BY column_id`,
    );
    expect(columns).toEqual([
      { name: 'col-a', field_id: '1' },
      { name: 'col-s', field_id: '2' },
      { name: 'col-x', field_id: '3' },
    ]);
    const [row] = await queryJson(
      await sharedConnection(),
      `SELECT count(*) FILTER (WHERE "col-s" IS NULL) AS nulls FROM read_parquet(${sqlString(file)})`,
    );
    expect(row).toEqual({ nulls: '1' });
  });
});
