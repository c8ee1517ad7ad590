import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromArrays } from 'apache-arrow';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { validateTableLog } from '../../test/protocol-validator.js';
import { DeltaTable } from '../delta/delta-table.js';
import { isLarderError, type LarderError } from '../errors.js';
import { FeatureStore } from './feature-store.js';

let dir: string;
let fs: FeatureStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-features-'));
  fs = await FeatureStore.open({ projectDir: dir });
});

afterEach(async () => {
  await fs.close();
  await rm(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<LarderError> {
  try {
    await promise;
  } catch (error) {
    if (isLarderError(error)) return error;
    throw error;
  }
  throw new Error('expected a LarderError');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const customerSchema = {
  customer_id: 'long',
  n_tx: { type: 'integer', description: 'transactions in 30 days' },
  spend: 'double',
  segment: 'string',
} as const;

describe('createTable', () => {
  it('creates a Delta table with NOT NULL keys, registers it as a feature table and returns its metadata', async () => {
    const table = await fs.createTable({
      name: 'ml.churn_features.customer_features',
      primaryKeys: ['customer_id'],
      schema: customerSchema,
      description: 'customer features',
      tags: { team: 'growth' },
      owner: 'alice',
      lineage: { pipeline: 'customer_features', sources: ['raw_transactions'] },
      featureDescriptions: { spend: 'total spend' },
    });
    expect(table.fullName).toBe('ml.churn_features.customer_features');
    expect(table.primaryKeys).toEqual(['customer_id']);
    expect(table.features).toEqual([
      { name: 'n_tx', type: 'integer', description: 'transactions in 30 days' },
      { name: 'spend', type: 'double', description: 'total spend' },
      { name: 'segment', type: 'string' },
    ]);
    expect(table.tags).toEqual({ team: 'growth' });
    expect(table.owner).toBe('alice');
    expect(table.lineage).toEqual({ pipeline: 'customer_features', sources: ['raw_transactions'] });
    expect(table.version).toBe(0);
    expect(table.location).toBe(join(dir, '.larder/warehouse/ml/churn_features/customer_features'));
    expect(table.createdAt).toBeInstanceOf(Date);
    const delta = await DeltaTable.open(table.location);
    expect(delta.snapshot.schema.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ['customer_id', 'long', false],
      ['n_tx', 'integer', true],
      ['spend', 'double', true],
      ['segment', 'string', true],
    ]);
  });

  it('infers the schema from a df of rows and writes the rows', async () => {
    const table = await fs.createTable({
      name: 'customers',
      primaryKeys: 'id',
      df: [
        { id: 1n, score: 0.5, name: 'a' },
        { id: 2n, score: 1.5, name: 'b' },
      ],
    });
    expect(table.fullName).toBe('main.default.customers');
    expect(table.schema.map((c) => [c.name, c.type, c.nullable])).toEqual([
      ['id', 'long', false],
      ['score', 'double', true],
      ['name', 'string', true],
    ]);
    const rows = (await fs.readTable('customers')).toArray().map((r) => r.toJSON());
    expect(rows).toEqual([
      { id: 1n, score: 0.5, name: 'a' },
      { id: 2n, score: 1.5, name: 'b' },
    ]);
  });

  it('adds the timeseries column to the primary keys and requires a date or timestamp type', async () => {
    const table = await fs.createTable({
      name: 'ml.f.daily',
      primaryKeys: ['customer_id'],
      timeseriesColumn: 'day',
      schema: { customer_id: 'long', day: 'date', n: 'integer' },
    });
    expect(table.primaryKeys).toEqual(['customer_id', 'day']);
    expect(table.timeseriesColumn).toBe('day');
    const error = await failure(
      fs.createTable({
        name: 'ml.f.bad_ts',
        primaryKeys: ['customer_id'],
        timeseriesColumn: 'n',
        schema: { customer_id: 'long', n: 'integer' },
      }),
    );
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.context.column).toBe('n');
    expect(error.message).toContain('ml.f.bad_ts');
  });

  it('refuses a primary key that is not a column, naming it, and leaves nothing behind', async () => {
    const error = await failure(
      fs.createTable({ name: 'ml.f.t', primaryKeys: ['nope'], schema: { id: 'long' } }),
    );
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.context.column).toBe('nope');
    expect(await fs.metastore.getTable({ catalog: 'ml', schema: 'f', table: 't' })).toBeUndefined();
    expect(await exists(join(dir, '.larder/warehouse/ml/f/t'))).toBe(false);
  });

  it('refuses a name that exists', async () => {
    await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long' } });
    const error = await failure(
      fs.createTable({ name: 'ML.F.T', primaryKeys: 'id', schema: { id: 'long' } }),
    );
    expect(error.code).toBe('TABLE_ALREADY_EXISTS');
    expect(error.message).toContain('ml.f.t');
  });

  it('undoes everything when the df cannot be written', async () => {
    const error = await failure(
      fs.createTable({
        name: 'ml.f.t',
        primaryKeys: 'id',
        schema: { id: 'long', n: 'integer' },
        df: "SELECT 1::BIGINT AS id, 'not a number' AS n",
      }),
    );
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.context.column).toBe('n');
    expect(await fs.metastore.getTable({ catalog: 'ml', schema: 'f', table: 't' })).toBeUndefined();
    expect(await exists(join(dir, '.larder/warehouse/ml/f/t'))).toBe(false);
    // The name is free again.
    await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long' } });
  });

  it('refuses duplicate and null keys in the df', async () => {
    const duplicate = await failure(
      fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', df: 'SELECT 7::BIGINT AS id FROM range(2)' }),
    );
    expect(duplicate.code).toBe('DUPLICATE_KEY');
    expect(duplicate.message).toContain('id=7');
    expect(duplicate.message).toContain('ml.f.t');
    const nulls = await failure(
      fs.createTable({
        name: 'ml.f.t',
        primaryKeys: 'id',
        df: [
          { id: null, x: 1 },
          { id: 2, x: 2 },
        ],
      }),
    );
    expect(nulls.code).toBe('CONSTRAINT_VIOLATION');
    expect(nulls.context.column).toBe('id');
  });

  it.each([
    ['a float primary key', { primaryKeys: 'x', schema: { x: 'double' } }, 'SCHEMA_MISMATCH', 'x'],
    ['no primary key', { primaryKeys: [], schema: { x: 'long' } }, 'INVALID_ARGUMENT', undefined],
    ['a key listed twice', { primaryKeys: ['x', 'x'], schema: { x: 'long' } }, 'INVALID_ARGUMENT', 'x'],
    [
      'only partition columns',
      { primaryKeys: 'x', schema: { x: 'long' }, partitionColumns: ['x'] },
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'an unknown clustering column',
      { primaryKeys: 'x', schema: { x: 'long' }, clusterBy: ['y'] },
      'SCHEMA_MISMATCH',
      'y',
    ],
    [
      'a decimal of 40 digits',
      { primaryKeys: 'x', schema: { x: 'long', d: 'decimal(40,2)' } },
      'INVALID_ARGUMENT',
      'd',
    ],
    ['an empty df and no schema', { primaryKeys: 'x', df: [] }, 'INVALID_ARGUMENT', undefined],
    [
      'a description of a column it lacks',
      { primaryKeys: 'x', schema: { x: 'long' }, featureDescriptions: { y: 'why' } },
      'SCHEMA_MISMATCH',
      'y',
    ],
    [
      'a df column Delta cannot hold',
      { primaryKeys: 'x', df: 'SELECT 1::BIGINT AS x, 1::UBIGINT AS u' },
      'SCHEMA_MISMATCH',
      'u',
    ],
  ] as const)('refuses %s, naming the table', async (_, options, code, column) => {
    const error = await failure(fs.createTable({ name: 'ml.f.bad', ...(options as object) } as never));
    expect(error.code).toBe(code);
    expect(error.message).toContain('ml.f.bad');
    if (column !== undefined) expect(error.context.column).toBe(column);
    expect(await fs.metastore.getTable({ catalog: 'ml', schema: 'f', table: 'bad' })).toBeUndefined();
  });

  it('creates a table from a SQL df that reads another feature table at a version', async () => {
    await fs.createTable({
      name: 'ml.f.source',
      primaryKeys: 'id',
      df: 'SELECT i::BIGINT AS id, i * 2 AS v FROM range(5) r(i)',
    });
    await fs.writeTable({ name: 'ml.f.source', df: 'SELECT 0::BIGINT AS id, 100::BIGINT AS v' });
    const derived = await fs.createTable({
      name: 'ml.f.derived',
      primaryKeys: 'id',
      df: 'SELECT id, v + 1 AS w FROM ml.f.source VERSION AS OF 1 WHERE id < 2',
    });
    const rows = (await fs.readTable(derived)).toArray().map((r) => r.toJSON());
    expect(rows.sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      { id: 0n, w: 1n },
      { id: 1n, w: 3n },
    ]);
  });

  it('clusters by the clustering columns with Delta liquid clustering and partitions as asked', async () => {
    const table = await fs.createTable({
      name: 'ml.f.events',
      primaryKeys: ['id', 'day'],
      schema: { id: 'long', day: 'date', v: 'double' },
      partitionColumns: ['day'],
      clusterBy: ['id'],
    });
    expect(table.partitionColumns).toEqual(['day']);
    expect(table.clusterBy).toEqual(['id']);
    const delta = await DeltaTable.open(table.location);
    expect(delta.snapshot.partitionColumns).toEqual(['day']);
    const clustered = await fs.createTable({
      name: 'ml.f.clustered',
      primaryKeys: ['id'],
      schema: { id: 'long', v: 'double' },
      clusterBy: ['id'],
    });
    const snapshot = (await DeltaTable.open(clustered.location)).snapshot;
    expect(snapshot.domainMetadata.get('delta.clustering')?.configuration).toContain('id');
  });

  it('creates a clustered table in one commit, its rows in the next', async () => {
    const empty = await fs.createTable({
      name: 'ml.f.clustered',
      primaryKeys: ['id'],
      schema: { id: 'long', v: 'double' },
      clusterBy: ['id'],
    });
    expect(empty.version).toBe(0);
    const history = await (await DeltaTable.open(empty.location)).history();
    expect(history.map((h) => h.operation)).toEqual(['CREATE TABLE']);
    expect(history[0]?.operationParameters.clusterBy).toBe('["id"]');
    const v0 = (await DeltaTable.open(empty.location, { version: 0 })).snapshot;
    expect(v0.domainMetadata.get('delta.clustering')?.configuration).toContain('id');

    const filled = await fs.createTable({
      name: 'ml.f.filled',
      primaryKeys: ['id'],
      df: [{ id: 1n, v: 0.5 }],
      clusterBy: ['id'],
    });
    expect(filled.version).toBe(1);
    const operations = (await (await DeltaTable.open(filled.location)).history()).map((h) => h.operation);
    expect(operations).toEqual(['WRITE', 'CREATE TABLE']);
  });
});

describe('writeTable', () => {
  it('merges by primary key: updates matched rows, inserts new ones, keeps the others', async () => {
    const table = await fs.createTable({
      name: 'ml.f.customers',
      primaryKeys: ['customer_id'],
      schema: customerSchema,
      df: [
        { customer_id: 1n, n_tx: 1, spend: 10, segment: 'a' },
        { customer_id: 2n, n_tx: 2, spend: 20, segment: 'b' },
      ],
    });
    const result = await fs.writeTable({
      name: table,
      df: [
        { customer_id: 2n, n_tx: 5, spend: 50, segment: 'b' },
        { customer_id: 3n, n_tx: 3, spend: 30, segment: 'c' },
      ],
    });
    expect(result.mode).toBe('merge');
    expect(result.metrics).toMatchObject({ numTargetRowsUpdated: 1, numTargetRowsInserted: 1 });
    const rows = (await fs.readTable({ name: table, where: 'customer_id > 0' }))
      .toArray()
      .map((r) => [r.customer_id, r.n_tx, r.spend, r.segment])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(rows).toEqual([
      [1n, 1, 10, 'a'],
      [2n, 5, 50, 'b'],
      [3n, 3, 30, 'c'],
    ]);
  });

  it('adds new columns of the df to the table and to the catalog features', async () => {
    await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long', a: 'double' } });
    await fs.writeTable({ name: 'ml.f.t', df: [{ id: 1n, a: 1.5 }] });
    const result = await fs.writeTable({
      name: 'ml.f.t',
      df: 'SELECT 1::BIGINT AS id, 42 AS b',
      mergeSchema: true,
    });
    expect(result.addedColumns).toEqual(['b']);
    const table = await fs.getTable('ml.f.t');
    expect(table.features.map((f) => [f.name, f.type])).toEqual([
      ['a', 'double'],
      ['b', 'integer'],
    ]);
    const rows = (await fs.readTable('ml.f.t')).toArray().map((r) => r.toJSON());
    expect(rows).toEqual([{ id: 1n, a: 1.5, b: 42 }]);
  });

  it('refuses a df column the table lacks without mergeSchema, naming each one with the column it likely meant', async () => {
    const created = await fs.createTable({
      name: 'ml.f.products',
      primaryKeys: 'id',
      schema: { id: 'long', price: 'double', stock: 'integer' },
      df: [{ id: 1n, price: 9.5, stock: 3 }],
    });
    const rows = await failure(
      fs.writeTable({ name: 'ml.f.products', df: [{ id: 1n, prize: 10, stok: 4, colour: 'red' }] }),
    );
    expect(rows.code).toBe('SCHEMA_MISMATCH');
    expect(rows.message).toContain(
      'the df written to ml.f.products has columns the table lacks: "prize" (did you mean "price"?), "stok" (did you mean "stock"?), "colour"',
    );
    expect(rows.hint).toContain('mergeSchema: true');
    expect(rows.context).toMatchObject({ table: 'ml.f.products', columns: ['prize', 'stok', 'colour'] });
    // The same rule for an append, a SQL df and an Arrow df.
    const append = await failure(
      fs.writeTable({ name: 'ml.f.products', df: [{ id: 2n, prize: 1 }], mode: 'append' }),
    );
    expect(append.code).toBe('SCHEMA_MISMATCH');
    expect(append.message).toContain('"prize" (did you mean "price"?)');
    const sql = await failure(
      fs.writeTable({ name: 'ml.f.products', df: 'SELECT 2::BIGINT AS id, 1.0::DOUBLE AS prize' }),
    );
    expect(sql.message).toContain('a column the table lacks: "prize" (did you mean "price"?)');
    const arrow = tableFromArrays({ id: BigInt64Array.from([2n]), prize: Float64Array.from([1]) });
    const fromArrow = await failure(fs.writeTable({ name: 'ml.f.products', df: arrow }));
    expect(fromArrow.message).toContain('"prize" (did you mean "price"?)');
    // Nothing was written, and the schema is as it was.
    const delta = await DeltaTable.open(created.location);
    expect(delta.version).toBe(created.version);
    expect(delta.snapshot.schema.fields.map((f) => f.name)).toEqual(['id', 'price', 'stock']);
    // With mergeSchema the column is added, as a new feature.
    const added = await fs.writeTable({
      name: 'ml.f.products',
      df: [{ id: 2n, price: 1, colour: 'red' }],
      mode: 'append',
      mergeSchema: true,
    });
    expect(added.addedColumns).toEqual(['colour']);
    expect((await fs.getTable('ml.f.products')).features.map((f) => f.name)).toEqual([
      'price',
      'stock',
      'colour',
    ]);
  });

  it('makes a column the table lacks a compile error through a typed handle, unless mergeSchema: true', async () => {
    const table = await fs.createTable({
      name: 'ml.f.typed',
      primaryKeys: 'customer_id',
      schema: { customer_id: 'long', price: 'double' },
    });
    type Row = { customer_id: bigint; price: number | null };
    const fetched = await fs.getTable<Row>('ml.f.typed');
    // The type checker (tsc --noEmit) holds these lines to their @ts-expect-error; at run time each is refused too.
    const typos = [
      // @ts-expect-error prize is not a column of the table
      () => fs.writeTable({ name: table, df: [{ customer_id: 1n, prize: 3 }] }),
      // @ts-expect-error the same in append mode
      () => fs.writeTable({ name: table, df: [{ customer_id: 1n, prize: 3 }], mode: 'append' }),
      // @ts-expect-error mergeSchema: false is no licence either
      () => fs.writeTable({ name: table, df: [{ customer_id: 1n, prize: 3 }], mergeSchema: false }),
      // @ts-expect-error a handle from getTable<Row> is typed as well
      () => fs.writeTable({ name: fetched, df: [{ customer_id: 1n, prize: 3 }] }),
    ];
    for (const typo of typos) expect((await failure(typo())).code).toBe('SCHEMA_MISMATCH');
    // Allowed: the table's columns, any column with mergeSchema: true, and any column by a string name.
    await fs.writeTable({ name: table, df: [{ customer_id: 1n, price: 2 }] });
    await fs.writeTable({ name: table, df: [{ customer_id: 2n, discount: 0.1 }], mergeSchema: true });
    await fs.writeTable({ name: 'ml.f.typed', df: [{ customer_id: 3n, discount: 0.2 }] });
    // @ts-expect-error a typed column keeps its type with mergeSchema
    void (() => fs.writeTable({ name: table, df: [{ customer_id: 'x', other: 1 }], mergeSchema: true }));
    expectTypeOf(fs.writeTable<Row, false>)
      .parameter(0)
      .toHaveProperty('df')
      .extract<readonly object[]>()
      .items.toEqualTypeOf<{
        readonly customer_id?: bigint | number;
        readonly price?: number | bigint | Date | string | null | undefined;
      }>();
    const rows = (await fs.readTable('ml.f.typed')).toArray().map((r) => r.toJSON());
    expect(rows.sort((a, b) => Number(a.customer_id) - Number(b.customer_id))).toEqual([
      { customer_id: 1n, price: 2, discount: null },
      { customer_id: 2n, price: null, discount: 0.1 },
      { customer_id: 3n, price: null, discount: 0.2 },
    ]);
  });

  it('matches df columns to table columns case-insensitively, as Delta does', async () => {
    await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long', Price: 'double' } });
    const result = await fs.writeTable({
      name: 'ml.f.t',
      df: 'SELECT 1::BIGINT AS ID, 2.5::DOUBLE AS price',
    });
    expect(result.addedColumns).toEqual([]);
    expect((await fs.readTable('ml.f.t')).toArray().map((r) => r.toJSON())).toEqual([{ id: 1n, Price: 2.5 }]);
  });

  it('merges a df that adds a column as one new version, then records the column in the catalog', async () => {
    const created = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', a: 'double' },
      df: [
        { id: 1n, a: 1.5 },
        { id: 2n, a: 2.5 },
      ],
    });
    const before = await DeltaTable.open(created.location);
    const result = await fs.writeTable({
      name: 'ml.f.t',
      df: 'SELECT * FROM (VALUES (2::BIGINT, 3.5::DOUBLE, 7), (3::BIGINT, 4.5::DOUBLE, 8)) s(id, a, b)',
      mergeSchema: true,
    });
    expect(result.version).toBe(before.version + 1);
    expect(result.addedColumns).toEqual(['b']);
    const history = await (await DeltaTable.open(created.location)).history();
    expect(history[0]).toMatchObject({ version: result.version, operation: 'MERGE' });
    expect(history[1]?.version).toBe(before.version);
    const table = await fs.getTable('ml.f.t');
    expect(table.version).toBe(result.version);
    expect(table.features.map((f) => f.name)).toEqual(['a', 'b']);
    const rows = (await fs.readTable('ml.f.t')).toArray().map((r) => r.toJSON());
    expect(rows.sort((x, y) => Number(x.id) - Number(y.id))).toEqual([
      { id: 1n, a: 1.5, b: null },
      { id: 2n, a: 3.5, b: 7 },
      { id: 3n, a: 4.5, b: 8 },
    ]);
  });

  it('leaves the schema, the version and the catalog features as they were when a merge adding a column fails', async () => {
    const created = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', a: 'double' },
      properties: { 'delta.constraints.non_negative': 'a >= 0' },
      df: [{ id: 1n, a: 1.5 }],
    });
    const error = await failure(
      fs.writeTable({
        name: 'ml.f.t',
        df: 'SELECT 2::BIGINT AS id, -1.0::DOUBLE AS a, 42 AS b',
        mergeSchema: true,
      }),
    );
    expect(error.code).toBe('CONSTRAINT_VIOLATION');
    const delta = await DeltaTable.open(created.location);
    expect(delta.version).toBe(created.version);
    expect(delta.snapshot.schema.fields.map((f) => f.name)).toEqual(['id', 'a']);
    const table = await fs.getTable('ml.f.t');
    expect(table.features.map((f) => f.name)).toEqual(['a']);
    expect((await fs.readTable('ml.f.t')).toArray().map((r) => r.toJSON())).toEqual([{ id: 1n, a: 1.5 }]);
  });

  it('names the column of a type clash, and the table and a sample key of duplicates', async () => {
    await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long', a: 'double' } });
    const clash = await failure(fs.writeTable({ name: 'ml.f.t', df: "SELECT 1::BIGINT AS id, 'x' AS a" }));
    expect(clash.code).toBe('SCHEMA_MISMATCH');
    expect(clash.context.column).toBe('a');
    const duplicate = await failure(
      fs.writeTable({
        name: 'ml.f.t',
        df: [
          { id: 4n, a: 1 },
          { id: 4n, a: 2 },
        ],
      }),
    );
    expect(duplicate.code).toBe('DUPLICATE_KEY');
    expect(duplicate.message).toContain('ml.f.t');
    expect(duplicate.message).toContain('id=4');
    const nulls = await failure(fs.writeTable({ name: 'ml.f.t', df: [{ id: null, a: 2 }] }));
    expect(nulls.code).toBe('CONSTRAINT_VIOLATION');
    expect(nulls.context.column).toBe('id');
    expect((await fs.getTable('ml.f.t')).version).toBe(0);
  });

  it('names the table, the column and the row (index and key) of a value that does not fit its column', async () => {
    const created = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', n: 'long', day: 'date', small: 'integer' },
      df: [{ id: 1n, n: 1, day: '2024-01-01', small: 1 }],
    });
    const cases = [
      {
        df: [
          { id: 5n, n: 5 },
          { id: 6n, n: 'abc' },
        ],
        column: 'n',
        row: 1,
        key: 'id=6',
        value: '"abc"',
      },
      { df: [{ id: 7n, day: '2024-13-01' }], column: 'day', row: 0, key: 'id=7', value: '"2024-13-01"' },
      {
        df: [{ id: 8n }, { id: 9n }, { id: 10n, small: 3_000_000_000 }],
        column: 'small',
        row: 2,
        key: 'id=10',
        value: '3000000000',
      },
      { df: [{ id: 'eleven', n: 1 }], column: 'id', row: 0, key: 'id=eleven', value: '"eleven"' },
    ];
    for (const mode of ['merge', 'append'] as const) {
      for (const c of cases) {
        const error = await failure(fs.writeTable({ name: 'ml.f.t', df: c.df, mode }));
        expect(error.code).toBe('SCHEMA_MISMATCH');
        expect(error.message).toContain(
          `row ${c.row} (${c.key}) of the rows written to ml.f.t: value ${c.value} of column "${c.column}"`,
        );
        expect(error.message).not.toMatch(/rows\.json|larder-rows|JSON transform/);
        expect(error.context).toMatchObject({ table: 'ml.f.t', column: c.column, row: c.row, key: c.key });
      }
    }
    // createTable too, and nothing was written anywhere.
    const create = await failure(
      fs.createTable({
        name: 'ml.f.other',
        primaryKeys: 'id',
        schema: { id: 'long', day: 'date' },
        df: [{ id: 1n, day: 'soon' }],
      }),
    );
    expect(create.message).toContain(
      'row 0 (id=1) of the rows written to ml.f.other: value "soon" of column "day"',
    );
    // A declared schema is the table's: a df column outside it is refused, with a did-you-mean.
    const typo = await failure(
      fs.createTable({
        name: 'ml.f.other',
        primaryKeys: 'id',
        schema: { id: 'long', day: 'date' },
        df: [{ id: 1n, dya: '2024-01-01' }],
      }),
    );
    expect(typo.code).toBe('SCHEMA_MISMATCH');
    expect(typo.message).toContain('ml.f.other has a column the table lacks: "dya" (did you mean "day"?)');
    expect((await failure(fs.getTable('ml.f.other'))).code).toBe('TABLE_NOT_FOUND');
    expect((await DeltaTable.open(created.location)).version).toBe(created.version);
  });

  it('names the column of a nested value that does not fit, and the table of an Arrow column of the wrong type', async () => {
    await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      df: "SELECT 1::BIGINT AS id, {'a': 1::BIGINT} AS st, 2::BIGINT AS n",
    });
    const nested = await failure(
      fs.writeTable({
        name: 'ml.f.t',
        df: [
          { id: 2n, st: { a: 3 } },
          { id: 3n, st: { a: 'x' } },
        ],
      }),
    );
    expect(nested.code).toBe('SCHEMA_MISMATCH');
    expect(nested.message).toContain('the rows written to ml.f.t could not be read (column "st")');
    expect(nested.message).not.toMatch(/rows\.json|larder-rows/);
    expect(nested.context.column).toBe('st');
    const arrow = tableFromArrays({ id: BigInt64Array.from([2n]), n: ['abc'] });
    const fromArrow = await failure(fs.writeTable({ name: 'ml.f.t', df: arrow }));
    expect(fromArrow.code).toBe('SCHEMA_MISMATCH');
    expect(fromArrow.message).toContain('column "n" of table ml.f.t has type long');
    expect(fromArrow.context).toMatchObject({ table: 'ml.f.t', column: 'n' });
    expect((await fs.readTable('ml.f.t')).numRows).toBe(1);
  });

  it('appends rows in append mode', async () => {
    await fs.createTable({
      name: 'ml.f.daily',
      primaryKeys: 'id',
      timeseriesColumn: 'day',
      schema: { id: 'long', day: 'date', n: 'integer' },
    });
    await fs.writeTable({ name: 'ml.f.daily', df: [{ id: 1n, day: '2024-01-01', n: 1 }], mode: 'append' });
    const result = await fs.writeTable({
      name: 'ml.f.daily',
      df: [{ id: 1n, day: '2024-01-02', n: 2 }],
      mode: 'append',
    });
    expect(result.metrics).toMatchObject({ numOutputRows: 1 });
    const read = await fs.readTable('ml.f.daily');
    expect(read.numRows).toBe(2);
  });

  it('refuses an append that brings a key the table already has, naming the table and the key, and writes nothing', async () => {
    await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', a: 'integer' },
      df: [
        { id: 1n, a: 1 },
        { id: 2n, a: 2 },
      ],
    });
    const error = await failure(
      fs.writeTable({
        name: 'ml.f.t',
        df: [
          { id: 3n, a: 3 },
          { id: 2n, a: 9 },
        ],
        mode: 'append',
      }),
    );
    expect(error.code).toBe('DUPLICATE_KEY');
    expect(error.message).toContain('ml.f.t already has a row with the key (id=2)');
    expect(error.context).toMatchObject({ table: 'ml.f.t', key: 'id=2' });
    expect((await fs.getTable('ml.f.t')).version).toBe(1);
    expect((await fs.readTable('ml.f.t')).numRows).toBe(2);
    // A SQL df whose key is another integer type is checked all the same.
    const sql = await failure(
      fs.writeTable({ name: 'ml.f.t', df: 'SELECT 1::INTEGER AS id, 5 AS a', mode: 'append' }),
    );
    expect(sql.code).toBe('DUPLICATE_KEY');
    await fs.writeTable({ name: 'ml.f.t', df: [{ id: 3n, a: 3 }], mode: 'append' });
    expect((await fs.readTable('ml.f.t')).numRows).toBe(3);
  });

  it('appends new timestamps of an existing entity to a time series table, but not an existing (entity, time)', async () => {
    await fs.createTable({
      name: 'ml.f.daily',
      primaryKeys: 'id',
      timeseriesColumn: 'day',
      schema: { id: 'long', day: 'date', n: 'integer' },
      df: [{ id: 1n, day: '2024-01-01', n: 1 }],
    });
    await fs.writeTable({ name: 'ml.f.daily', df: [{ id: 1n, day: '2024-01-02', n: 2 }], mode: 'append' });
    const error = await failure(
      fs.writeTable({
        name: 'ml.f.daily',
        df: [
          { id: 2n, day: '2024-01-01', n: 3 },
          { id: 1n, day: '2024-01-02', n: 4 },
        ],
        mode: 'append',
      }),
    );
    expect(error.code).toBe('DUPLICATE_KEY');
    expect(error.message).toContain('ml.f.daily already has a row with the key (id=1, day=2024-01-02)');
    expect((await fs.readTable('ml.f.daily')).numRows).toBe(2);
  });

  it('checks an append against only the files whose key range admits its keys', async () => {
    const table = await fs.createTable({
      name: 'ml.f.ranges',
      primaryKeys: 'id',
      schema: { id: 'long', a: 'integer' },
    });
    // One file per append: ids 1–10, then 100–110.
    await fs.writeTable({
      name: table,
      df: Array.from({ length: 10 }, (_, i) => ({ id: BigInt(i + 1), a: i })),
      mode: 'append',
    });
    await fs.writeTable({
      name: table,
      df: Array.from({ length: 11 }, (_, i) => ({ id: BigInt(i + 100), a: i })),
      mode: 'append',
    });
    const delta = await DeltaTable.open(table.location);
    expect(delta.snapshot.files).toHaveLength(2);
    const low = delta.snapshot.files.find((f) => JSON.parse(f.stats ?? '{}').minValues?.id === 1)!;
    // Were the check to read the file of ids 1–10, the missing file would fail it.
    await rm(join(table.location, low.path));
    await fs.writeTable({ name: table, df: [{ id: 50n, a: 0 }], mode: 'append' });
    const error = await failure(fs.writeTable({ name: table, df: [{ id: 105n, a: 0 }], mode: 'append' }));
    expect(error.code).toBe('DUPLICATE_KEY');
    expect(error.message).toContain('(id=105)');
  });

  it('evolves the schema of a column-mapped table', async () => {
    const table = await fs.createTable({
      name: 'ml.f.mapped',
      primaryKeys: 'id',
      schema: { id: 'long', v: 'double' },
      properties: { 'delta.columnMapping.mode': 'name' },
      df: [{ id: 1n, v: 2 }],
    });
    await fs.writeTable({ name: table, df: [{ id: 2n, v: 3, extra: 'x' }], mergeSchema: true });
    const rows = (await fs.readTable(table)).toArray().map((r) => r.toJSON());
    expect(rows.sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      { id: 1n, v: 2, extra: null },
      { id: 2n, v: 3, extra: 'x' },
    ]);
  });

  it('commits domain metadata with the rows it writes', async () => {
    const table = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', v: 'integer' },
    });
    const watermark = { domain: 'larder.test', configuration: '{"watermark":7}', removed: false };
    const merged = await fs.writeTable({ name: table, df: [{ id: 1n, v: 1 }], domainMetadata: [watermark] });
    const snapshot = (await DeltaTable.open(table.location, { version: merged.version })).snapshot;
    expect(snapshot.domainMetadata.get('larder.test')?.configuration).toBe('{"watermark":7}');
    expect(
      await DeltaTable.open(table.location, { version: merged.version - 1 }).then((t) =>
        t.snapshot.domainMetadata.has('larder.test'),
      ),
    ).toBe(false);
  });

  it('retries a merge that loses a race, so concurrent merges both land', async () => {
    const table = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', v: 'integer' },
    });
    const results = await Promise.all(
      [0, 1].map((w) =>
        fs.writeTable({
          name: table,
          df: `SELECT (i + ${w * 100})::BIGINT AS id, ${w}::INTEGER AS v FROM range(50) r(i)`,
        }),
      ),
    );
    expect(results.map((r) => r.version).sort()).toEqual([1, 2]);
    const read = await fs.readTable(table);
    expect(read.numRows).toBe(100);
  });

  it('retries a merge that loses to a concurrent merge adding the same column, which it then reuses', async () => {
    const table = await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long' } });
    const results = await Promise.all(
      [0, 1].map((w) =>
        fs.writeTable({
          name: table,
          df: `SELECT (i + ${w * 100})::BIGINT AS id, ${w}::INTEGER AS v FROM range(20) r(i)`,
          mergeSchema: true,
        }),
      ),
    );
    expect(results.map((r) => r.version).sort()).toEqual([1, 2]);
    const after = await fs.getTable(table);
    expect(after.features.map((f) => [f.name, f.type])).toEqual([['v', 'integer']]);
    const read = (await fs.readTable('ml.f.t')).toArray().map((r) => r.toJSON());
    expect(read).toHaveLength(40);
    expect(read.filter((r) => r.v === 1).length).toBe(20);
  });

  it('lets exactly one of two concurrent appends of the same new key land; the other fails with DUPLICATE_KEY', async () => {
    const table = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', v: 'integer' },
      df: [{ id: 1n, v: 0 }],
    });
    const other = await FeatureStore.open({ projectDir: dir });
    try {
      for (const [round, key] of [7n, 8n, 9n].entries()) {
        const outcomes = await Promise.allSettled(
          [fs, other].map((store, w) =>
            store.writeTable({ name: 'ml.f.t', df: [{ id: key, v: w }], mode: 'append' }),
          ),
        );
        const landed = outcomes.filter((o) => o.status === 'fulfilled');
        const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as LarderError] : []));
        expect(landed, `round ${round}`).toHaveLength(1);
        expect(failed.map((e) => e.code)).toEqual(['DUPLICATE_KEY']);
        expect(failed[0]?.message).toContain(`id=${key}`);
        const rows = (await fs.readTable({ name: table, where: `id = ${key}` })).toArray();
        expect(rows, `one row for key ${key}`).toHaveLength(1);
      }
      const history = await (await DeltaTable.open(table.location)).history();
      expect(history.filter((h) => h.operation === 'WRITE')).toHaveLength(4);
      expect(history[0]).toMatchObject({ operation: 'WRITE', isBlindAppend: false });
      expect((await fs.readTable(table)).numRows).toBe(4);
      expect(await validateTableLog(table.location)).toEqual([]);
      const parquet = (await readdir(table.location, { recursive: true })).filter((f) =>
        f.endsWith('.parquet'),
      );
      expect(parquet, 'the losing appends leave no data file behind').toHaveLength(4);
    } finally {
      await other.close();
    }
  });

  it('lands both of two concurrent appends of different keys, and of new times of one entity', async () => {
    const table = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', v: 'integer' },
      df: [{ id: 1n, v: 0 }],
    });
    const daily = await fs.createTable({
      name: 'ml.f.daily',
      primaryKeys: 'id',
      timeseriesColumn: 'day',
      schema: { id: 'long', day: 'date', n: 'integer' },
    });
    const other = await FeatureStore.open({ projectDir: dir });
    try {
      const results = await Promise.all(
        [fs, other].map((store, w) =>
          store.writeTable({ name: 'ml.f.t', df: [{ id: BigInt(10 + w), v: w }], mode: 'append' }),
        ),
      );
      expect(results.map((r) => r.version).sort()).toEqual([2, 3]);
      const ids = (await fs.readTable(table)).toArray().map((r) => r.id);
      expect(ids.sort()).toEqual([1n, 10n, 11n]);

      const days = await Promise.all(
        ['2024-01-01', '2024-01-02'].map((day, w) =>
          [fs, other][w]!.writeTable({ name: daily, df: [{ id: 1n, day, n: w }], mode: 'append' }),
        ),
      );
      expect(days.map((r) => r.version).sort()).toEqual([1, 2]);
      expect((await fs.readTable(daily)).numRows).toBe(2);
    } finally {
      await other.close();
    }
  });

  it('fails with TABLE_NOT_FOUND and NOT_A_FEATURE_TABLE', async () => {
    expect((await failure(fs.writeTable({ name: 'ml.f.nope', df: [] }))).code).toBe('TABLE_NOT_FOUND');
    await fs.engine.metastore.createTable({
      name: { catalog: 'ml', schema: 'f', table: 'plain' },
      location: join(dir, 'plain'),
      managed: false,
    });
    const error = await failure(fs.writeTable({ name: 'ml.f.plain', df: [] }));
    expect(error.code).toBe('NOT_A_FEATURE_TABLE');
    expect(error.message).toContain('ml.f.plain');
  });

  it('writes an Apache Arrow table', async () => {
    await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', x: 'double', s: 'string' },
    });
    const arrow = tableFromArrays({
      id: BigInt64Array.from([1n, 2n, 3n]),
      x: Float64Array.from([0.5, 1.5, 2.5]),
      s: ['a', 'bb', 'a string longer than twelve bytes'],
    });
    await fs.writeTable({ name: 'ml.f.t', df: arrow });
    const rows = (await fs.readTable('ml.f.t')).toArray().map((r) => r.toJSON());
    expect(rows.sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      { id: 1n, x: 0.5, s: 'a' },
      { id: 2n, x: 1.5, s: 'bb' },
      { id: 3n, x: 2.5, s: 'a string longer than twelve bytes' },
    ]);
  });
});

describe('readTable', () => {
  it('reads a version or a time of the table', async () => {
    const table = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      schema: { id: 'long', v: 'integer' },
    });
    await fs.writeTable({ name: table, df: [{ id: 1n, v: 1 }] });
    const between = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await fs.writeTable({ name: table, df: [{ id: 1n, v: 2 }] });
    expect((await fs.readTable({ name: table, asOf: 1 })).toArray()[0]?.v).toBe(1);
    expect((await fs.readTable({ name: table, asOf: between })).toArray()[0]?.v).toBe(1);
    expect((await fs.readTable(table)).toArray()[0]?.v).toBe(2);
    expect((await failure(fs.readTable({ name: table, asOf: 9 }))).code).toBe('VERSION_NOT_FOUND');
    expect((await failure(fs.readTable({ name: table, asOf: new Date(0) }))).code).toBe('VERSION_NOT_FOUND');
    expect((await failure(fs.readTable({ name: table, asOf: 1.5 }))).code).toBe('INVALID_ARGUMENT');
  });

  it('reads the columns and rows asked for, and names an unknown column', async () => {
    const table = await fs.createTable({
      name: 'ml.f.t',
      primaryKeys: 'id',
      df: 'SELECT i::BIGINT AS id, i % 2 = 0 AS even, i * 1.5 AS x FROM range(10) r(i)',
    });
    const read = await fs.readTable({ name: table, columns: ['id', 'even'], where: 'even AND id > 4' });
    expect(read.schema.fields.map((f) => f.name)).toEqual(['id', 'even']);
    expect(
      read
        .toArray()
        .map((r) => r.id)
        .sort(),
    ).toEqual([6n, 8n]);
    const error = await failure(fs.readTable({ name: table, columns: ['nope'] }));
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.context.column).toBe('nope');
  });

  it('types the rows of a table created with a literal schema', async () => {
    const table = await fs.createTable({
      name: 'ml.f.typed',
      primaryKeys: ['customer_id'],
      schema: customerSchema,
      df: [{ customer_id: 1n, n_tx: 3, spend: 1.5, segment: 's' }],
    });
    const row = (await fs.readTable(table)).toArray()[0]!;
    expectTypeOf(row.customer_id).toEqualTypeOf<bigint>();
    expectTypeOf(row.n_tx).toEqualTypeOf<number | null>();
    expectTypeOf(row.segment).toEqualTypeOf<string | null>();
    expect(row.customer_id).toBe(1n);
    expect(row.n_tx).toBe(3);
    // Writes are typed too (checked by tsc, never run).
    void (() =>
      // @ts-expect-error customer_id is a long: a string is refused
      fs.writeTable({ name: table, df: [{ customer_id: 'one' }] }));
    void (() => fs.writeTable({ name: table, df: [{ customer_id: 1, n_tx: null }] }));
  });
});

describe('dropTable and tags', () => {
  it('drops a managed table: unregistered and its folder removed', async () => {
    const table = await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long' } });
    await fs.dropTable('ml.f.t');
    expect(await exists(table.location)).toBe(false);
    expect((await failure(fs.getTable('ml.f.t'))).code).toBe('TABLE_NOT_FOUND');
  });

  it('keeps the folder of a table at a location of its own, which is not managed', async () => {
    const table = await fs.createTable({
      name: 'ml.f.external',
      primaryKeys: 'id',
      schema: { id: 'long' },
      location: 'data/external',
      df: [{ id: 1n }],
    });
    expect(table.location).toBe(join(dir, 'data/external'));
    expect(table.managed).toBe(false);
    await fs.dropTable(table);
    expect((await DeltaTable.open(join(dir, 'data/external'))).version).toBe(1);
    const error = await failure(
      fs.createTable({
        name: 'ml.f.again',
        primaryKeys: 'id',
        schema: { id: 'long' },
        location: 'data/external',
      }),
    );
    expect(error.code).toBe('TABLE_ALREADY_EXISTS');
    expect(error.message).toContain(join(dir, 'data/external'));
  });

  it('sets and deletes tags', async () => {
    await fs.createTable({ name: 'ml.f.t', primaryKeys: 'id', schema: { id: 'long' }, tags: { a: '1' } });
    await fs.setTableTag({ name: 'ml.f.t', key: 'b', value: '2' });
    expect((await fs.getTable('ml.f.t')).tags).toEqual({ a: '1', b: '2' });
    expect(await fs.deleteTableTag({ name: 'ml.f.t', key: 'a' })).toBe(true);
    expect((await fs.getTable('ml.f.t')).tags).toEqual({ b: '2' });
  });

  it('lists feature tables only', async () => {
    await fs.createTable({ name: 'ml.f.one', primaryKeys: 'id', schema: { id: 'long' } });
    await fs.createTable({ name: 'ml.g.two', primaryKeys: 'id', schema: { id: 'long' } });
    await fs.engine.metastore.createTable({
      name: { catalog: 'ml', schema: 'f', table: 'plain' },
      location: join(dir, 'plain'),
      managed: false,
    });
    expect((await fs.listTables()).map((t) => t.fullName)).toEqual(['ml.f.one', 'ml.g.two']);
    expect((await fs.listTables({ catalog: 'ml', schema: 'g' })).map((t) => t.fullName)).toEqual([
      'ml.g.two',
    ]);
  });
});
