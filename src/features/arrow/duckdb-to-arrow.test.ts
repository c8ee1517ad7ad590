import type { DuckDBConnection } from '@duckdb/node-api';
import { DateDay, Float64, Int64, TimestampMicrosecond, Type, Utf8 } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import { queryArrow } from './duckdb-to-arrow.js';

let connection: DuckDBConnection;

beforeAll(async () => {
  connection = await connect();
});

afterAll(() => {
  connection.closeSync();
});

describe('queryArrow', () => {
  it('gives each DuckDB type its Arrow type and the same values', async () => {
    const table = await queryArrow(
      connection,
      `SELECT 7::BIGINT AS l, 3::INTEGER AS i, 2::SMALLINT AS s, 1::TINYINT AS b, 1.5::FLOAT AS f, 2.25::DOUBLE AS d,
              true AS flag, 'short' AS str, 'a string well past twelve bytes' AS long_str, '\\x00\\xff'::BLOB AS bin,
              DATE '2024-03-01' AS day, TIMESTAMPTZ '2024-03-01 12:00:00+00' AS ts, TIMESTAMP '2024-03-01 12:00:00' AS ts_ntz,
              12.34::DECIMAL(10,2) AS dec, 200::UTINYINT AS u8`,
      'types',
    );
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, f.type]));
    expect(types.l).toBeInstanceOf(Int64);
    expect(types.day).toBeInstanceOf(DateDay);
    expect(types.ts).toBeInstanceOf(TimestampMicrosecond);
    expect((types.ts as TimestampMicrosecond).timezone).toBe('UTC');
    expect((types.ts_ntz as TimestampMicrosecond).timezone ?? null).toBeNull();
    expect(types.dec).toBeInstanceOf(Float64);
    expect(types.str).toBeInstanceOf(Utf8);
    expect(types.bin?.typeId).toBe(Type.Binary);
    const row = table.get(0)!.toJSON();
    expect(row).toMatchObject({
      l: 7n,
      i: 3,
      s: 2,
      b: 1,
      f: 1.5,
      d: 2.25,
      flag: true,
      str: 'short',
      long_str: 'a string well past twelve bytes',
      day: Date.UTC(2024, 2, 1),
      ts: Date.UTC(2024, 2, 1, 12),
      ts_ntz: Date.UTC(2024, 2, 1, 12),
      dec: 12.34,
      u8: 200,
    });
    expect([...(row.bin as Uint8Array)]).toEqual([0, 255]);
  });

  it('keeps nulls and values across chunks of uneven sizes', async () => {
    // A filter makes chunks of uneven sizes, so validity bits land at unaligned offsets.
    const sql = `SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 2 END AS v,
                        CASE WHEN i % 5 = 0 THEN NULL WHEN i % 2 = 0 THEN 'even ' || i || ' and some padding' ELSE 'o' || i END AS s,
                        CASE WHEN i % 11 = 0 THEN NULL ELSE i % 3 = 0 END AS flag
                 FROM range(9000) r(i) WHERE i % 3 <> 1 OR i % 17 = 0 ORDER BY i`;
    const table = await queryArrow(connection, sql, 'uneven');
    const expected = (await connection.runAndReadAll(sql)).getRowObjectsJS();
    expect(table.numRows).toBe(expected.length);
    const v = table.getChild('v')!;
    const s = table.getChild('s')!;
    const flag = table.getChild('flag')!;
    expect(v.nullCount).toBe(expected.filter((r) => r.v === null).length);
    expected.forEach((r, index) => {
      expect(table.getChild('i')!.get(index)).toBe(r.i);
      expect(v.get(index)).toBe(r.v);
      expect(s.get(index)).toBe(r.s);
      expect(flag.get(index)).toBe(r.flag);
    });
  });

  it('returns an empty table with the columns of an empty result', async () => {
    const table = await queryArrow(
      connection,
      'SELECT 1::BIGINT AS id, 2.0::DOUBLE AS x WHERE false',
      'empty',
    );
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['id', 'x']);
  });

  it('reads nested columns through JavaScript values', async () => {
    const table = await queryArrow(connection, 'SELECT [1, 2, 3] AS xs', 'nested');
    expect([...(table.get(0)!.toJSON().xs as Iterable<unknown>)]).toEqual([1, 2, 3]);
  });

  it('reports a failing query as SQL_ERROR naming what was read', async () => {
    const error = await queryArrow(connection, 'SELECT nope FROM range(1)', 'ml.f.t').catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toContain('ml.f.t');
  });
});
