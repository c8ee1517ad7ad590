import type { DuckDBConnection } from '@duckdb/node-api';
import {
  Bool,
  DateDay,
  DateMillisecond,
  Decimal,
  Dictionary,
  Field,
  Float32,
  Int8,
  Int32,
  List,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampSecond,
  tableFromArrays,
  Uint16,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import { isArrowTable, stageArrowTable } from './arrow-to-duckdb.js';

let connection: DuckDBConnection;

beforeAll(async () => {
  connection = await connect();
});

afterAll(() => {
  connection.closeSync();
});

async function staged(
  table: Table,
): Promise<{ types: Record<string, string>; rows: Record<string, unknown>[] }> {
  const stage = await stageArrowTable(connection, table, 'test');
  try {
    const described = (await connection.runAndReadAll(`DESCRIBE ${stage.sql}`)).getRowObjectsJS();
    const types = Object.fromEntries(described.map((r) => [String(r.column_name), String(r.column_type)]));
    const rows = (await connection.runAndReadAll(stage.sql)).getRowObjectsJson() as Record<string, unknown>[];
    return { types, rows };
  } finally {
    await stage.release();
  }
}

describe('stageArrowTable', () => {
  it('loads numbers, strings, booleans and nulls column by column', async () => {
    const table = new Table({
      id: makeVector(BigInt64Array.from([1n, 2n, 3n])),
      x: makeVector(Float64Array.from([0.5, Number.NaN, -2])),
      small: makeVector(Int8Array.from([-1, 0, 1])),
      s: vectorFromArray(['a', null, 'a string longer than twelve bytes'], new Utf8()),
      flag: vectorFromArray([true, null, false], new Bool()),
      n: vectorFromArray([null, 5, 6], new Int32()),
      u: vectorFromArray([65535, 0, 1], new Uint16()),
      f: vectorFromArray([1.5, 2.5, null], new Float32()),
    });
    const { types, rows } = await staged(table);
    expect(types).toEqual({
      id: 'BIGINT',
      x: 'DOUBLE',
      small: 'TINYINT',
      s: 'VARCHAR',
      flag: 'BOOLEAN',
      n: 'INTEGER',
      u: 'USMALLINT',
      f: 'FLOAT',
    });
    expect(rows).toEqual([
      { id: '1', x: 0.5, small: -1, s: 'a', flag: true, n: null, u: 65535, f: 1.5 },
      { id: '2', x: 'NaN', small: 0, s: null, flag: null, n: 5, u: 0, f: 2.5 },
      { id: '3', x: -2, small: 1, s: 'a string longer than twelve bytes', flag: false, n: 6, u: 1, f: null },
    ]);
  });

  it('loads dates, timestamps (with and without zone, any unit) and decimals exactly', async () => {
    const day = Date.UTC(2024, 4, 1);
    const instant = Date.UTC(2024, 4, 1, 12, 30, 15, 250);
    const table = new Table({
      day: vectorFromArray([day, null], new DateDay()),
      day_ms: vectorFromArray([day, day], new DateMillisecond()),
      ts_utc: vectorFromArray([instant, null], new TimestampMicrosecond('UTC')),
      ts_ntz: vectorFromArray([instant, instant], new TimestampMillisecond()),
      ts_s: vectorFromArray([Math.floor(instant / 1000) * 1000, 0], new TimestampSecond('Europe/Paris')),
      price: makeVector(
        makeData({
          type: new Decimal(2, 10, 128),
          length: 2,
          nullCount: 0,
          // 12345 and -5 as 128-bit little-endian integers.
          data: Uint32Array.from([12345, 0, 0, 0, 0xfffffffb, 0xffffffff, 0xffffffff, 0xffffffff]),
        }),
      ),
    });
    const { types, rows } = await staged(table);
    expect(types).toEqual({
      day: 'DATE',
      day_ms: 'DATE',
      ts_utc: 'TIMESTAMP WITH TIME ZONE',
      ts_ntz: 'TIMESTAMP',
      ts_s: 'TIMESTAMP WITH TIME ZONE',
      price: 'DECIMAL(10,2)',
    });
    expect(rows[0]).toEqual({
      day: '2024-05-01',
      day_ms: '2024-05-01',
      ts_utc: '2024-05-01 12:30:15.25+00',
      ts_ntz: '2024-05-01 12:30:15.25',
      ts_s: '2024-05-01 12:30:15+00',
      price: '123.45',
    });
    expect(rows[1]).toMatchObject({ day: null, ts_utc: null, price: '-0.05' });
  });

  it('loads dictionary-encoded strings', async () => {
    const dictionary = vectorFromArray(
      ['red', 'green', null, 'red'],
      new Dictionary(new Utf8(), new Int32()),
    );
    const { rows } = await staged(new Table({ color: dictionary }));
    expect(rows.map((r) => r.color)).toEqual(['red', 'green', null, 'red']);
  });

  it('loads many batches, slices and rows past one chunk with their nulls in place', async () => {
    const n = 5000;
    const values = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : i));
    const strings = Array.from({ length: n }, (_, i) => (i % 4 === 0 ? null : `value number ${i}`));
    const whole = new Table({
      v: vectorFromArray(values, new Int32()),
      s: vectorFromArray(strings, new Utf8()),
    });
    // A slice starting at row 3 makes every validity bit unaligned.
    const sliced = whole.slice(3, 4100);
    const twoBatches = new Table([...sliced.batches, ...whole.slice(0, 10).batches]);
    const { rows } = await staged(twoBatches);
    const expected = [
      ...values.slice(3, 4100).map((v, i) => ({ v, s: strings[i + 3] })),
      ...values.slice(0, 10).map((v, i) => ({ v, s: strings[i] })),
    ];
    expect(rows).toEqual(expected);
  });

  it('loads an empty table with its columns', async () => {
    const table = new Table(
      new Schema([new Field('id', new Int32(), true)]),
      new RecordBatch(
        new Schema([new Field('id', new Int32(), true)]),
        makeData({
          type: new Struct([new Field('id', new Int32(), true)]),
          length: 0,
          children: [makeData({ type: new Int32(), length: 0 })],
        }),
      ),
    );
    const { types, rows } = await staged(table);
    expect(types).toEqual({ id: 'INTEGER' });
    expect(rows).toEqual([]);
  });

  it('refuses nested columns, naming the column', async () => {
    const table = new Table({ xs: vectorFromArray([[1], [2]], new List(new Field('item', new Int8()))) });
    const error = await stageArrowTable(connection, table, 'ml.f.t').catch((e: unknown) => e);
    expect(isLarderError(error, 'UNSUPPORTED_FEATURE')).toBe(true);
    expect((error as Error).message).toContain('"xs"');
    expect((error as Error).message).toContain('ml.f.t');
  });

  it('recognises Arrow tables by shape', () => {
    expect(isArrowTable(tableFromArrays({ a: Int32Array.from([1]) }))).toBe(true);
    expect(isArrowTable([{ a: 1 }])).toBe(false);
    expect(isArrowTable('SELECT 1')).toBe(false);
  });
});
