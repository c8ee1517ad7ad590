import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, queryJson } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import {
  boundsFromStats,
  mortonKey,
  resolveZOrderColumns,
  type ZOrderColumn,
  zOrderedSql,
} from './z-order.js';

let connection: DuckDBConnection;
beforeAll(async () => {
  connection = await connect();
});
afterAll(() => {
  connection.closeSync();
});

/** Bit b of value i at position b·n + (n − 1 − i), in BigInt. */
function reference(values: readonly bigint[], bits: number): bigint {
  const n = values.length;
  let key = 0n;
  values.forEach((v, i) => {
    for (let b = 0; b < bits; b++) {
      if ((v >> BigInt(b)) & 1n) key |= 1n << BigInt(b * n + (n - 1 - i));
    }
  });
  return key;
}

describe('mortonKey', () => {
  it.each([2, 3, 4, 5, 6])('interleaves the bits of %i values exactly as the definition says', async (n) => {
    const bits = Math.floor(62 / n);
    let seed = 12345 + n;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const rows: bigint[][] = [];
    rows.push(Array.from({ length: n }, () => (1n << BigInt(bits)) - 1n));
    rows.push(Array.from({ length: n }, () => 0n));
    for (let r = 0; r < 30; r++) {
      rows.push(Array.from({ length: n }, () => BigInt(random()) & ((1n << BigInt(bits)) - 1n)));
    }
    const names = Array.from({ length: n }, (_, i) => `v${i}`);
    const values = rows.map((row) => `(${row.map((v) => `${v}::UBIGINT`).join(', ')})`).join(', ');
    const result = await queryJson(
      connection,
      `SELECT CAST(${mortonKey(names, bits)} AS VARCHAR) AS k FROM (VALUES ${values}) AS t(${names.join(', ')})`,
    );
    expect(result.map((r) => BigInt(String(r.k)))).toEqual(rows.map((row) => reference(row, bits)));
  });
});

describe('zOrderedSql', () => {
  const table = {
    schema: {
      type: 'struct' as const,
      fields: [
        { name: 'x', type: 'integer' as const, nullable: true, metadata: {} },
        { name: 's', type: 'string' as const, nullable: true, metadata: {} },
        { name: 'd', type: 'date' as const, nullable: true, metadata: {} },
        { name: 'p', type: 'string' as const, nullable: true, metadata: {} },
        { name: 'flag', type: 'boolean' as const, nullable: true, metadata: {} },
      ],
    },
    partitionColumns: ['p'],
    columnMappingMode: 'none' as const,
    table: '/t',
  };
  const grid = `SELECT (i % 64)::INTEGER AS x, 'cust-' || lpad((i // 64)::VARCHAR, 4, '0') AS s,
                       DATE '2024-01-01' + (i // 64)::INTEGER AS d FROM range(4096) r(i)`;

  it('puts the lower-left quadrant first and keeps each coordinate monotone', async () => {
    const columns = resolveZOrderColumns(table, ['x', 'd'], 'ZORDER BY');
    const rows = await queryJson(connection, await zOrderedSql(connection, grid, columns));
    expect(rows).toHaveLength(4096);
    const dayOf = (r: Record<string, unknown>) => Date.parse(String(r.d)) / 86_400_000 - 19_723;
    const first = rows.slice(0, 1024);
    expect(first.every((r) => Number(r.x) < 32 && dayOf(r) < 32)).toBe(true);
    // For a fixed x, days come out in increasing order (the key is monotone in each coordinate).
    const lastDay = new Map<number, number>();
    for (const r of rows) {
      const x = Number(r.x);
      expect(dayOf(r)).toBeGreaterThanOrEqual(lastDay.get(x) ?? -1);
      lastDay.set(x, dayOf(r));
    }
  });

  it('orders strings by their characters after the shared prefix, and keeps null rows', async () => {
    const columns = resolveZOrderColumns(table, ['x', 's'], 'ZORDER BY');
    const sql = `${grid} UNION ALL SELECT NULL, NULL, NULL`;
    const rows = await queryJson(connection, await zOrderedSql(connection, sql, columns));
    expect(rows).toHaveLength(4097);
    const lastName = new Map<number, string>();
    let quadrant = 0;
    for (const [i, r] of rows.entries()) {
      if (r.x === null) continue;
      const x = Number(r.x);
      const s = String(r.s);
      expect(s >= (lastName.get(x) ?? '')).toBe(true);
      lastName.set(x, s);
      if (i < 1024 && x < 32 && s < 'cust-0032') quadrant++;
    }
    // Most of the first quarter is the lower-left quadrant (string scaling is by characters, not exact).
    expect(quadrant).toBeGreaterThan(700);
  });

  it('takes bounds from file stats, and leaves them undefined when a file lacks them', () => {
    const columns: ZOrderColumn[] = [
      { name: 'x', physical: 'x', type: 'integer' },
      { name: 'd', physical: 'd', type: 'date' },
    ];
    const file = (stats: string | undefined): Add => ({
      path: 'f.parquet',
      partitionValues: {},
      size: 1,
      modificationTime: 0,
      dataChange: true,
      stats,
    });
    const bounds = boundsFromStats(columns, [
      file('{"numRecords":2,"minValues":{"x":5,"d":"2024-01-02"},"maxValues":{"x":9,"d":"2024-01-03"}}'),
      file('{"numRecords":2,"minValues":{"x":-1,"d":"2024-01-01"},"maxValues":{"x":7,"d":"2024-01-05"}}'),
    ]);
    expect(bounds[0]).toEqual({ kind: 'number', min: -1, max: 9 });
    expect(bounds[1]).toEqual({ kind: 'number', min: 19_723, max: 19_727 });
    expect(boundsFromStats(columns, [file(undefined)])).toEqual([undefined, undefined]);
  });

  it('refuses unknown, partition and boolean columns, naming them', () => {
    for (const name of ['nope', 'p', 'flag']) {
      let error: unknown;
      try {
        resolveZOrderColumns(table, [name], 'ZORDER BY');
      } catch (e) {
        error = e;
      }
      expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toContain(`"${name}"`);
    }
  });
});
