import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, queryJson, sqlString } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import type { Add, DeletionVectorDescriptor, Protocol } from '../log/actions.js';
import { loadSnapshot } from '../log/replay.js';
import { type StructField, type StructType, toDuckDBType } from '../log/schema.js';
import { Snapshot } from '../log/snapshot.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { serializeRoaring, writeDeletionVectorFile, z85Encode } from './deletion-vector.js';
import type { Predicate } from './predicate.js';
import { planScan, readTableRows } from './scan.js';

const GENERATED = resolve(
  import.meta.dirname,
  '../../..',
  'test/fixtures/delta-acceptance/reader_tests/generated',
);

let connection: DuckDBConnection;
let dir: string;
beforeAll(async () => {
  connection = await connect();
  dir = await mkdtemp(join(tmpdir(), 'larder-scan-'));
});
afterAll(async () => {
  connection.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const field = (
  name: string,
  type: StructField['type'],
  metadata: Record<string, unknown> = {},
): StructField => ({
  name,
  type,
  nullable: true,
  metadata,
});

interface FileSpec {
  /** Path relative to the table root, as written on disk. */
  readonly file: string;
  /** A SELECT producing the file's rows. */
  readonly sql: string;
  /** `add.path` when it differs from `file` (URI-encoded, or absolute given the root). */
  readonly addPath?: string | ((root: string) => string);
  readonly partitionValues?: Record<string, string | null>;
  readonly stats?: object;
  readonly copyOptions?: string;
  readonly deletionVector?: DeletionVectorDescriptor;
}

interface TableSpec {
  readonly schema: readonly StructField[];
  readonly partitionColumns?: readonly string[];
  readonly configuration?: Record<string, string>;
  readonly protocol?: Protocol;
  readonly files: readonly FileSpec[];
}

let tableCount = 0;

/** Write Parquet files with DuckDB and a hand-written version 0 of the log. */
async function writeTable(
  spec: TableSpec,
  write?: (root: string) => Promise<Partial<FileSpec>[]>,
): Promise<Snapshot> {
  tableCount += 1;
  const root = join(dir, `t${tableCount}`);
  await mkdir(join(root, '_delta_log'), { recursive: true });
  const extra = write ? await write(root) : [];
  const adds: Add[] = [];
  for (const [i, f] of spec.files.entries()) {
    const target = join(root, f.file);
    await mkdir(dirname(target), { recursive: true });
    await connection.run(`COPY (${f.sql}) TO ${sqlString(target)} (FORMAT parquet${f.copyOptions ?? ''})`);
    const deletionVector = extra[i]?.deletionVector ?? f.deletionVector;
    adds.push({
      path: typeof f.addPath === 'function' ? f.addPath(root) : (f.addPath ?? f.file),
      partitionValues: f.partitionValues ?? {},
      size: 1,
      modificationTime: 0,
      dataChange: true,
      ...(f.stats ? { stats: JSON.stringify(f.stats) } : {}),
      ...(deletionVector ? { deletionVector } : {}),
    });
  }
  const schema: StructType = { type: 'struct', fields: [...spec.schema] };
  const lines = [
    { protocol: spec.protocol ?? { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: `table-${tableCount}`,
        format: { provider: 'parquet', options: {} },
        schemaString: JSON.stringify(schema),
        partitionColumns: spec.partitionColumns ?? [],
        configuration: spec.configuration ?? {},
      },
    },
    ...adds.map((add) => ({ add })),
  ];
  await writeFile(
    join(root, '_delta_log', '00000000000000000000.json'),
    `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
  );
  return loadSnapshot(new LocalLogStore(root));
}

const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id)).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** DuckDB's own name of a type, as DESCRIBE prints it. */
async function duckTypeName(type: string): Promise<string> {
  const [row] = await queryJson(connection, `DESCRIBE SELECT CAST(NULL AS ${type}) AS x`);
  return String(row?.column_type);
}

async function schemaTypes(fields: readonly StructField[]): Promise<Record<string, string>> {
  const entries = await Promise.all(
    fields.map(async (f) => [f.name, await duckTypeName(toDuckDBType(f.type))]),
  );
  return Object.fromEntries(entries);
}

async function describeSql(sql: string): Promise<Record<string, string>> {
  const rows = await queryJson(connection, `DESCRIBE ${sql}`);
  return Object.fromEntries(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

describe('data skipping', () => {
  it('reads only the basic_partitioned files of the filtered partition, with the right rows', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(join(GENERATED, 'basic_partitioned', 'delta')));
    const predicate: Predicate = { kind: 'compare', op: '=', column: 'letter', value: 'a' };
    const plan = await planScan(snapshot, { predicate });
    expect(plan.totalFiles).toBe(6);
    expect(plan.files).toHaveLength(2);
    expect(plan.files.every((f) => f.partitionValues.letter === 'a')).toBe(true);
    const rows = await readTableRows(snapshot, { predicate });
    expect(rows.map((r) => [r.letter, r.number]).sort()).toEqual([
      ['a', '1'],
      ['a', '4'],
    ]);
  });

  it('prunes multi_partitioned by escaped and null partition values and returns their rows', async () => {
    const store = new LocalLogStore(join(GENERATED, 'multi_partitioned', 'delta'));
    const latest = await loadSnapshot(store);
    const escaped: Predicate = { kind: 'compare', op: '=', column: 'letter', value: '/%20%f' };
    const plan = await planScan(latest, { predicate: escaped });
    expect(plan.totalFiles).toBe(2);
    expect(plan.files).toHaveLength(1);
    expect(await readTableRows(latest, { predicate: escaped })).toEqual([
      { letter: '/%20%f', date: '1970-01-01', data: 'hello', number: '6' },
    ]);

    const snapshot = await loadSnapshot(store, { version: 1 });
    expect(snapshot.files).toHaveLength(5);
    const nullDate: Predicate = { kind: 'isNull', column: 'date', negated: false };
    const nullPlan = await planScan(snapshot, { predicate: nullDate });
    expect(nullPlan.files).toHaveLength(2);
    const rows = await readTableRows(snapshot, { predicate: nullDate, columns: ['letter', 'number'] });
    expect(rows.map((r) => [r.letter, r.number]).sort((x, y) => Number(x[1]) - Number(y[1]))).toEqual([
      ['a', '4'],
      [null, '5'],
    ]);
    const day: Predicate = { kind: 'compare', op: '>', column: 'date', value: '1970-01-01' };
    const dayPlan = await planScan(snapshot, { predicate: day });
    expect(dayPlan.files).toHaveLength(1);
    expect((await readTableRows(snapshot, { predicate: day })).map((r) => r.number)).toEqual(['3']);
  });

  it('skips files by their stats in a table written by hand, and still filters rows', async () => {
    const snapshot = await writeTable({
      schema: [field('id', 'long'), field('name', 'string')],
      files: [0, 10, 20].map((start) => ({
        file: `part-${start}.parquet`,
        sql: `SELECT i::BIGINT AS id, 'n' || i AS name FROM range(${start}, ${start + 10}) t(i)`,
        stats: {
          numRecords: 10,
          minValues: { id: start, name: `n${start}` },
          maxValues: { id: start + 9, name: `n${start + 9}` },
          nullCount: { id: 0, name: 0 },
        },
      })),
    });
    const predicate: Predicate = { kind: 'compare', op: '>=', column: 'id', value: 25 };
    const plan = await planScan(snapshot, { predicate });
    expect(plan.files.map((f) => f.path)).toEqual(['part-20.parquet']);
    expect(ids(await readTableRows(snapshot, { predicate }))).toEqual(range(25, 30));

    const either: Predicate = {
      kind: 'or',
      children: [
        { kind: 'compare', op: '<', column: 'id', value: 2 },
        { kind: 'in', column: 'id', values: [21, 29] },
      ],
    };
    const eitherPlan = await planScan(snapshot, { predicate: either });
    expect(eitherPlan.files.map((f) => f.path)).toEqual(['part-0.parquet', 'part-20.parquet']);
    expect(ids(await readTableRows(snapshot, { predicate: either }))).toEqual([0, 1, 21, 29]);

    const none = await planScan(snapshot, {
      predicate: { kind: 'compare', op: '>', column: 'id', value: 100 },
    });
    expect(none.files).toHaveLength(0);
    expect(none.totalFiles).toBe(3);
    expect(await queryJson(connection, none.sql)).toEqual([]);
  });
});

describe('planScan', () => {
  let plain: Snapshot;
  beforeAll(async () => {
    plain = await writeTable({
      schema: [field('id', 'long'), field('name', 'string'), field('day', 'date')],
      files: [0, 100].map((start) => ({
        file: `part-${start}.parquet`,
        sql: `SELECT i::BIGINT AS id, 'n' || i AS name, DATE '2024-01-01' + i::INTEGER AS day FROM range(${start}, ${start + 100}) t(i)`,
        stats: {
          numRecords: 100,
          minValues: { id: start },
          maxValues: { id: start + 99 },
          nullCount: { id: 0, name: 0, day: 0 },
        },
      })),
    });
  });

  it('reads an unpartitioned table without deletion vectors with exactly one read_parquet', async () => {
    const plan = await planScan(plain);
    expect(plan.sql.match(/read_parquet\(/g)).toHaveLength(1);
    expect(plan.sql).not.toMatch(/UNION|union_by_name/);
    expect(plan.files).toHaveLength(2);
    const [count] = await queryJson(connection, `SELECT count(*) AS n, sum(id) AS s FROM (${plan.sql})`);
    expect(count).toEqual({ n: '200', s: String((199 * 200) / 2) });
  });

  it('returns the requested columns in the requested order with the schema types', async () => {
    const plan = await planScan(plain, { columns: ['day', 'id'] });
    expect(await describeSql(plan.sql)).toEqual({ day: 'DATE', id: 'BIGINT' });
    const rows = await readTableRows(plain, {
      columns: ['NAME'],
      predicate: { kind: 'compare', op: '=', column: 'id', value: 150 },
    });
    expect(rows).toEqual([{ name: 'n150' }]);
  });

  it('fails with INVALID_ARGUMENT naming a column the table does not have', async () => {
    const error = await planScan(plain, { columns: ['nope'] }).catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain('"nope"');
    const byFilter = await planScan(plain, {
      predicate: { kind: 'compare', op: '=', column: 'ghost', value: 1 },
    }).catch((e: unknown) => e);
    expect(isLarderError(byFilter, 'INVALID_ARGUMENT')).toBe(true);
    const empty = await planScan(plain, { columns: [] }).catch((e: unknown) => e);
    expect(isLarderError(empty, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('returns a typed empty relation when no file is left', async () => {
    const plan = await planScan(plain, { predicate: { kind: 'compare', op: '<', column: 'id', value: 0 } });
    expect(plan.files).toHaveLength(0);
    expect(await describeSql(plan.sql)).toEqual({ id: 'BIGINT', name: 'VARCHAR', day: 'DATE' });
    expect(await queryJson(connection, plan.sql)).toEqual([]);
  });

  it('adds typed partition constants: dates, timestamps, decimals, booleans, integers and nulls', async () => {
    const schema = [
      field('id', 'integer'),
      field('d', 'date'),
      field('ts', 'timestamp'),
      field('ntz', 'timestamp_ntz'),
      field('amount', 'decimal(12,3)'),
      field('flag', 'boolean'),
      field('n', 'long'),
      field('s', 'string'),
    ];
    const snapshot = await writeTable({
      schema,
      partitionColumns: ['d', 'ts', 'ntz', 'amount', 'flag', 'n', 's'],
      files: [
        {
          file: 'p1/a.parquet',
          sql: 'SELECT 1::INTEGER AS id',
          partitionValues: {
            d: '2024-02-29',
            ts: '2024-01-02 03:04:05.123456',
            ntz: '2024-01-02 03:04:05',
            amount: '12.500',
            flag: 'true',
            n: '-7',
            s: "it's",
          },
        },
        {
          file: 'p2/b.parquet',
          sql: 'SELECT 2::INTEGER AS id',
          partitionValues: { d: null, ts: '', ntz: null, amount: null, flag: null, n: null, s: '' },
        },
      ],
    });
    const plan = await planScan(snapshot);
    expect(await describeSql(plan.sql)).toEqual(await schemaTypes(schema));
    const rows = await queryJson(connection, `SELECT * FROM (${plan.sql}) ORDER BY id`);
    expect(rows).toEqual([
      {
        id: 1,
        d: '2024-02-29',
        ts: '2024-01-02 03:04:05.123456+00',
        ntz: '2024-01-02 03:04:05',
        amount: '12.500',
        flag: true,
        n: '-7',
        s: "it's",
      },
      { id: 2, d: null, ts: null, ntz: null, amount: null, flag: null, n: null, s: null },
    ]);
    const onlyData = await planScan(snapshot, { columns: ['id'] });
    expect(onlyData.sql.match(/read_parquet\(/g)).toHaveLength(1);
  });

  it('reads columns missing from older files as NULL, even when no file read has them', async () => {
    const snapshot = await writeTable({
      schema: [field('id', 'long'), field('extra', 'string')],
      files: [
        {
          file: 'old.parquet',
          sql: 'SELECT i::BIGINT AS id FROM range(0, 3) t(i)',
          stats: { numRecords: 3, minValues: { id: 0 }, maxValues: { id: 2 }, nullCount: { id: 0 } },
        },
        {
          file: 'new.parquet',
          sql: "SELECT i::BIGINT AS id, 'x' || i AS extra FROM range(10, 12) t(i)",
          stats: {
            numRecords: 2,
            minValues: { id: 10 },
            maxValues: { id: 11 },
            nullCount: { id: 0, extra: 0 },
          },
        },
      ],
    });
    const all = await readTableRows(snapshot);
    expect(all.sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      { id: '0', extra: null },
      { id: '1', extra: null },
      { id: '2', extra: null },
      { id: '10', extra: 'x10' },
      { id: '11', extra: 'x11' },
    ]);
    const predicate: Predicate = { kind: 'compare', op: '<', column: 'id', value: 5 };
    const oldOnly = await planScan(snapshot, { predicate });
    expect(oldOnly.files.map((f) => f.path)).toEqual(['old.parquet']);
    expect(await readTableRows(snapshot, { predicate, columns: ['extra'] })).toEqual([
      { extra: null },
      { extra: null },
      { extra: null },
    ]);
  });

  it('reads a void column as NULL and ignores a _change_type column in data files', async () => {
    const snapshot = await writeTable({
      schema: [field('id', 'long'), field('nothing', 'void')],
      files: [{ file: 'a.parquet', sql: "SELECT 1::BIGINT AS id, 'insert' AS _change_type" }],
    });
    expect(await readTableRows(snapshot)).toEqual([{ id: '1', nothing: null }]);
  });

  it('reads files named by absolute file: URIs and URI-encoded relative paths', async () => {
    const snapshot = await writeTable({
      schema: [field('id', 'long')],
      files: [
        { file: "a b/x%y'.parquet", addPath: "a%20b/x%25y'.parquet", sql: 'SELECT 1::BIGINT AS id' },
        {
          file: 'c.parquet',
          addPath: (r) => pathToFileURL(join(r, 'c.parquet')).href,
          sql: 'SELECT 2::BIGINT AS id',
        },
      ],
    });
    expect(ids(await readTableRows(snapshot))).toEqual([1, 2]);
  });
});

describe('column mapping', () => {
  const mapped = (name: string, type: StructField['type'], id: number, physical: string): StructField =>
    field(name, type, { 'delta.columnMapping.id': id, 'delta.columnMapping.physicalName': physical });

  const nested: StructField[] = [
    mapped('id', 'long', 1, 'col-id'),
    mapped(
      'person',
      {
        type: 'struct',
        fields: [mapped('first', 'string', 3, 'col-first'), mapped('age', 'integer', 4, 'col-age')],
      },
      2,
      'col-person',
    ),
    mapped(
      'tags',
      {
        type: 'array',
        elementType: { type: 'struct', fields: [mapped('label', 'string', 6, 'col-label')] },
        containsNull: true,
      },
      5,
      'col-tags',
    ),
    mapped(
      'scores',
      {
        type: 'map',
        keyType: 'string',
        valueType: { type: 'struct', fields: [mapped('value', 'double', 8, 'col-value')] },
        valueContainsNull: true,
      },
      7,
      'col-scores',
    ),
    mapped('part', 'string', 9, 'col-part'),
  ];
  const rowsSql = `SELECT 1::BIGINT AS "col-id", {'col-first': 'Ann', 'col-age': 31} AS "col-person",
      [{'col-label': 'x'}, {'col-label': 'y'}] AS "col-tags", MAP {'k': {'col-value': 0.5}} AS "col-scores"
    UNION ALL SELECT 2, NULL, NULL, NULL`;
  const expected = [
    {
      id: '1',
      person: { first: 'Ann', age: 31 },
      tags: [{ label: 'x' }, { label: 'y' }],
      scores: [{ key: 'k', value: { value: 0.5 } }],
      part: 'p',
    },
    { id: '2', person: null, tags: null, scores: null, part: 'p' },
  ];

  it('reads physical names in name mode, nested fields included, under logical names', async () => {
    const snapshot = await writeTable({
      schema: nested,
      partitionColumns: ['part'],
      configuration: { 'delta.columnMapping.mode': 'name', 'delta.columnMapping.maxColumnId': '9' },
      protocol: { minReaderVersion: 2, minWriterVersion: 5 },
      files: [{ file: 'a.parquet', sql: rowsSql, partitionValues: { 'col-part': 'p' } }],
    });
    const rows = await readTableRows(snapshot);
    expect(rows.sort((a, b) => Number(a.id) - Number(b.id))).toEqual(expected);
    expect(await describeSql((await planScan(snapshot)).sql)).toEqual(await schemaTypes(nested));
  });

  it('reads by Parquet field id in id mode, whatever the names in the file', async () => {
    const snapshot = await writeTable({
      schema: nested,
      partitionColumns: ['part'],
      configuration: { 'delta.columnMapping.mode': 'id', 'delta.columnMapping.maxColumnId': '9' },
      protocol: { minReaderVersion: 2, minWriterVersion: 5 },
      files: [
        {
          file: 'a.parquet',
          sql: `SELECT "col-id" AS renamed_id, "col-person", "col-tags" AS other_tags, "col-scores" FROM (${rowsSql})`,
          copyOptions: ', FIELD_IDS {renamed_id: 1, "col-person": 2, other_tags: 5, "col-scores": 7}',
          partitionValues: { 'col-part': 'p' },
        },
      ],
    });
    const rows = await readTableRows(snapshot);
    expect(rows.sort((a, b) => Number(a.id) - Number(b.id))).toEqual(expected);
  });
});

describe('deletion vectors', () => {
  const DV_PROTOCOL: Protocol = {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: ['deletionVectors'],
    writerFeatures: ['deletionVectors'],
  };

  it('drops deleted rows: bitmaps shared by several files, a sparse list, an inline vector, partitions', async () => {
    const seed = Date.now() % 1_000_000;
    let state = seed;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state / 2_147_483_648;
    };
    const deleted = {
      a: range(0, 1000).filter(() => random() < 0.3),
      b: range(0, 1000).filter(() => random() < 0.5),
      c: [19_998],
      d: [0, 3, 4],
      f: range(10, 20),
    };
    const inline = serializeRoaring(deleted.d);
    const spec: TableSpec = {
      schema: [field('id', 'long'), field('p', 'integer')],
      partitionColumns: ['p'],
      protocol: DV_PROTOCOL,
      configuration: { 'delta.enableDeletionVectors': 'true' },
      files: [
        // With stats naming every column, a and b are read without union_by_name; c, d, e with it.
        {
          file: 'p=1/a.parquet',
          sql: 'SELECT i::BIGINT AS id FROM range(0, 1000) t(i)',
          partitionValues: { p: '1' },
          stats: { numRecords: 1000, minValues: { id: 0 }, maxValues: { id: 999 }, nullCount: { id: 0 } },
        },
        {
          file: 'p=1/b.parquet',
          sql: 'SELECT i::BIGINT AS id FROM range(1000, 2000) t(i)',
          partitionValues: { p: '1' },
          stats: { numRecords: 1000, minValues: { id: 1000 }, maxValues: { id: 1999 }, nullCount: { id: 0 } },
        },
        {
          file: 'p=2/c.parquet',
          sql: 'SELECT i::BIGINT AS id FROM range(10000, 30000) t(i)',
          partitionValues: { p: '2' },
        },
        {
          file: 'p=2/d.parquet',
          sql: 'SELECT i::BIGINT AS id FROM range(50000, 50010) t(i)',
          partitionValues: { p: '2' },
          deletionVector: {
            storageType: 'i',
            pathOrInlineDv: z85Encode(inline),
            sizeInBytes: inline.length,
            cardinality: deleted.d.length,
          },
        },
        { file: 'p=2/e.parquet', sql: 'SELECT 90000::BIGINT AS id', partitionValues: { p: '2' } },
        {
          file: 'p=2/f.parquet',
          sql: 'SELECT i::BIGINT AS id FROM range(60000, 60100) t(i)',
          partitionValues: { p: '2' },
        },
      ],
    };
    const snapshot = await writeTable(spec, async (root) => [
      { deletionVector: await writeDeletionVectorFile(root, deleted.a) },
      { deletionVector: await writeDeletionVectorFile(root, deleted.b) },
      { deletionVector: await writeDeletionVectorFile(root, deleted.c) },
      {},
      {},
      { deletionVector: await writeDeletionVectorFile(root, deleted.f) },
    ]);
    const plan = await planScan(snapshot);
    expect(plan.sql).toContain('NOT IN (19998)');
    // Both groups share one read for their bitmap files: p=1 with stats, p=2 without (union_by_name).
    expect(plan.sql.match(/__larder_dv\(/g)).toHaveLength(2);
    expect(plan.sql).toContain('union_by_name');
    const expectedIds = [
      ...range(0, 1000).filter((i) => !deleted.a.includes(i)),
      ...range(1000, 2000).filter((i) => !deleted.b.includes(i - 1000)),
      ...range(10000, 30000).filter((i) => i !== 10000 + 19_998),
      ...range(50000, 50010).filter((i) => !deleted.d.includes(i - 50000)),
      90000,
      ...range(60000, 60100).filter((i) => !deleted.f.includes(i - 60000)),
    ];
    const rows = await readTableRows(snapshot);
    expect(ids(rows), `seed ${seed}`).toEqual(expectedIds.sort((a, b) => a - b));
    expect(rows.every((r) => r.p === (Number(r.id) < 10000 ? 1 : 2))).toBe(true);

    const onlyB = await readTableRows(snapshot, {
      predicate: {
        kind: 'and',
        children: [
          { kind: 'compare', op: '=', column: 'p', value: 1 },
          { kind: 'compare', op: '>=', column: 'id', value: 1000 },
        ],
      },
    });
    expect(ids(onlyB), `seed ${seed}`).toEqual(
      range(1000, 2000).filter((i) => !deleted.b.includes(i - 1000)),
    );
  });

  it('keeps every row of a file whose deletion vector is empty', async () => {
    const snapshot = await writeTable(
      {
        schema: [field('id', 'long')],
        protocol: DV_PROTOCOL,
        files: [{ file: 'a.parquet', sql: 'SELECT i::BIGINT AS id FROM range(0, 5) t(i)' }],
      },
      async (root) => [{ deletionVector: await writeDeletionVectorFile(root, []) }],
    );
    expect(snapshot.files[0]?.deletionVector?.cardinality).toBe(0);
    expect(ids(await readTableRows(snapshot))).toEqual(range(0, 5));
  });

  it('reads the DAT deletion_vectors table without its deleted rows', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(join(GENERATED, 'deletion_vectors', 'delta')));
    expect(await readTableRows(snapshot)).toEqual([{ letter: 'b', int: '228', date: '1978-12-01' }]);
  });
});

describe('scans for row-level operations and change data', () => {
  it("reads only the given files, with each row's file and position, deleted rows excluded", async () => {
    const snapshot = await writeTable(
      {
        schema: [field('id', 'long'), field('p', 'string')],
        partitionColumns: ['p'],
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors'],
          writerFeatures: ['deletionVectors'],
        },
        files: [
          {
            file: 'p=x/a.parquet',
            sql: 'SELECT i::BIGINT AS id FROM range(0, 5) t(i)',
            partitionValues: { p: 'x' },
          },
          {
            file: 'p=x/b c.parquet',
            addPath: 'p=x/b%20c.parquet',
            sql: 'SELECT i::BIGINT AS id FROM range(10, 15) t(i)',
            partitionValues: { p: 'x' },
          },
          {
            file: 'p=y/d.parquet',
            sql: 'SELECT i::BIGINT AS id FROM range(20, 25) t(i)',
            partitionValues: { p: 'y' },
          },
          {
            file: 'p=y/e.parquet',
            sql: 'SELECT i::BIGINT AS id FROM range(30, 35) t(i)',
            partitionValues: { p: 'y' },
          },
        ],
      },
      async (root) => [
        { deletionVector: await writeDeletionVectorFile(root, [1]) },
        {},
        { deletionVector: await writeDeletionVectorFile(root, [0, 4]) },
        { deletionVector: await writeDeletionVectorFile(root, [2]) },
      ],
    );
    const plan = await planScan(snapshot, { withRowIds: true, columns: ['id'] });
    expect(await describeSql(plan.sql)).toEqual({
      id: 'BIGINT',
      __larder_file: 'VARCHAR',
      __larder_row: 'BIGINT',
    });
    const rows = await queryJson(connection, `SELECT * FROM (${plan.sql}) ORDER BY id`);
    const pathOf = (id: number) => snapshot.files[Math.floor(id / 10)]!.path;
    const live = [0, 2, 3, 4, 10, 11, 12, 13, 14, 21, 22, 23, 30, 31, 33, 34];
    expect(rows).toEqual(
      live.map((id) => ({ id: String(id), __larder_file: pathOf(id), __larder_row: String(id % 10) })),
    );
    expect(rows.find((r) => r.id === '12')?.__larder_file).toBe('p=x/b%20c.parquet');

    const some = await planScan(snapshot, {
      files: [snapshot.files[1]!, snapshot.files[3]!],
      withRowIds: true,
      predicate: { kind: 'compare', op: '>', column: 'id', value: 12 },
    });
    expect(some.totalFiles).toBe(2);
    expect(
      await queryJson(connection, `SELECT id, __larder_file, __larder_row FROM (${some.sql}) ORDER BY id`),
    ).toEqual(
      [13, 14, 30, 31, 33, 34].map((id) => ({
        id: String(id),
        __larder_file: pathOf(id),
        __larder_row: String(id % 10),
      })),
    );

    const none = await planScan(snapshot, { files: [], withRowIds: true, withChangeType: true });
    expect(await describeSql(none.sql)).toEqual({
      id: 'BIGINT',
      p: 'VARCHAR',
      __larder_file: 'VARCHAR',
      __larder_row: 'BIGINT',
      _change_type: 'VARCHAR',
    });
  });

  it('returns the _change_type of change-data files when asked', async () => {
    const snapshot = await writeTable({
      schema: [field('id', 'long')],
      files: [{ file: 'a.parquet', sql: 'SELECT 1::BIGINT AS id' }],
    });
    const cdcFile = join(snapshot.root, '_change_data', 'cdc-1.parquet');
    await mkdir(dirname(cdcFile), { recursive: true });
    await connection.run(
      `COPY (SELECT 7::BIGINT AS id, 'update_preimage' AS _change_type UNION ALL SELECT 8, 'update_postimage') TO ${sqlString(cdcFile)} (FORMAT parquet)`,
    );
    const cdc: Add = {
      path: '_change_data/cdc-1.parquet',
      partitionValues: {},
      size: 1,
      modificationTime: 0,
      dataChange: false,
    };
    const plan = await planScan(snapshot, { files: [cdc], withChangeType: true });
    expect(await queryJson(connection, `SELECT * FROM (${plan.sql}) ORDER BY id`)).toEqual([
      { id: '7', _change_type: 'update_preimage' },
      { id: '8', _change_type: 'update_postimage' },
    ]);
    const plain = await planScan(snapshot, { withChangeType: true });
    expect(await queryJson(connection, plain.sql)).toEqual([{ id: '1', _change_type: null }]);
  });
});

describe('planning cost', () => {
  function syntheticSnapshot(files: number, partitioned: boolean): Snapshot {
    const fields = [field('id', 'long'), field('name', 'string'), field('day', 'date')];
    const adds: Add[] = JSON.parse(
      JSON.stringify(
        Array.from({ length: files }, (_, i) => {
          const day = `2024-01-${String(1 + (i % 28)).padStart(2, '0')}`;
          return {
            path: `${partitioned ? `day=${day}/` : ''}part-${i}-0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0.c000.snappy.parquet`,
            partitionValues: partitioned ? { day } : {},
            size: 1,
            modificationTime: 0,
            dataChange: true,
            stats: JSON.stringify({
              numRecords: 1000,
              minValues: { id: i * 1000, name: 'a', day },
              maxValues: { id: i * 1000 + 999, name: 'z', day },
              nullCount: { id: 0, name: 0, day: 0 },
            }),
          };
        }),
      ),
    );
    return new Snapshot({
      root: '/nonexistent/table',
      version: 0,
      timestamp: 0,
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      metadata: {
        id: 'synthetic',
        format: { provider: 'parquet', options: {} },
        schemaString: JSON.stringify({ type: 'struct', fields }),
        partitionColumns: partitioned ? ['day'] : [],
        configuration: {},
      },
      files: adds,
      tombstones: [],
      txns: new Map(),
      domainMetadata: new Map(),
      checkpointVersion: undefined,
    });
  }

  it('plans 10,000 files from the log alone (no data file exists) and prunes them by stats', async () => {
    // How fast planning is belongs to `npm run bench:delta`, not to a test on a shared machine.
    for (const partitioned of [false, true]) {
      const snapshot = syntheticSnapshot(10_000, partitioned);
      const first = await planScan(snapshot);
      const again = await planScan(snapshot);
      const pruned = await planScan(snapshot, {
        predicate: { kind: 'compare', op: '>=', column: 'id', value: 9_000_000 },
      });
      expect(first.files).toHaveLength(10_000);
      expect(again.files).toEqual(first.files);
      expect(pruned.files).toHaveLength(1000);
    }
  });
});
