import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../duckdb/duckdb.js';
import type { SqlResult } from '../engine/sql-result.js';
import { displayWidth, formatResult } from './format-result.js';

let connection: DuckDBConnection;

beforeAll(async () => {
  connection = await connect();
});

afterAll(() => {
  connection.closeSync();
});

/** A result as DuckDB gives it for `sql`. */
async function query(sql: string): Promise<SqlResult> {
  const reader = await connection.runAndReadAll(sql);
  return {
    kind: 'SELECT',
    columns: reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() })),
    rows: reader.getRowsJson(),
    scans: [],
  };
}

/** The trimmed cells of line `index` of a table. */
function cells(table: string, index: number): string[] {
  return (table.split('\n')[index] ?? '')
    .split('│')
    .slice(1, -1)
    .map((c) => c.trim());
}

describe('table format', () => {
  it('draws a box with names, types, right-aligned numbers, NULL and a row count', async () => {
    const result = await query(
      "SELECT * FROM (VALUES (1, 'a'), (22, NULL), (NULL, 'ccc')) AS t(n, s) ORDER BY n NULLS LAST",
    );
    expect(formatResult(result, 'table')).toBe(
      [
        '┌─────────┬─────────┐',
        '│    n    │    s    │',
        '│ integer │ varchar │',
        '├─────────┼─────────┤',
        '│       1 │ a       │',
        '│      22 │ NULL    │',
        '│    NULL │ ccc     │',
        '└─────────┴─────────┘',
        '3 rows',
        '',
      ].join('\n'),
    );
  });

  it('says "1 row" for a single row and shows nested values as DuckDB does', async () => {
    const result = await query(
      "SELECT [1, 2]::BIGINT[] AS l, {'k': 'v', 'd': 1.50::DECIMAL(4,2)} AS s, MAP {'a': 1} AS m, INTERVAL 90 MINUTE AS i",
    );
    const text = formatResult(result, 'table');
    expect(cells(text, 4)).toEqual(['[1, 2]', "{'k': 'v', 'd': 1.50}", "{'a'=1}", '01:30:00']);
    expect(text.endsWith('1 row\n')).toBe(true);
  });

  it('escapes line breaks so every row stays on one line', async () => {
    const text = formatResult(await query("SELECT 'a' || chr(10) || 'b' AS s"), 'table');
    expect(cells(text, 4)).toEqual(['a\\nb']);
  });

  it('aligns wide characters by their terminal width', async () => {
    expect(displayWidth('日本')).toBe(4);
    const lines = formatResult(await query("SELECT '日本' AS s UNION ALL SELECT 'abcde'"), 'table').split(
      '\n',
    );
    expect(new Set(lines.slice(0, -2).map(displayWidth)).size).toBe(1);
  });

  it('prints nothing for a statement without result columns', () => {
    expect(formatResult({ kind: 'CREATE', columns: [], rows: [], scans: [] }, 'table')).toBe('');
  });
});

describe('json format', () => {
  it('gives one object per row, numbers as numbers and BIGINT beyond 2^53 as strings', async () => {
    const result = await query(
      "SELECT 42 AS i, 9007199254740993::BIGINT AS big, 7::BIGINT AS small, 1.25::DECIMAL(10,2) AS d, 'x' AS s, NULL AS n, DATE '2024-05-01' AS day, 'nan'::DOUBLE AS f",
    );
    expect(JSON.parse(formatResult(result, 'json'))).toEqual([
      { i: 42, big: '9007199254740993', small: 7, d: 1.25, s: 'x', n: null, day: '2024-05-01', f: 'NaN' },
    ]);
  });

  it('converts nested integers by their type and keeps strings that look like numbers', async () => {
    const result = await query("SELECT [1, 2]::BIGINT[] AS l, {'a': 3::HUGEINT, 'b': '4'} AS s");
    expect(JSON.parse(formatResult(result, 'json'))).toEqual([{ l: [1, 2], s: { a: 3, b: '4' } }]);
  });

  it('keeps DECIMALs wider than 15 digits as exact strings', async () => {
    const result = await query('SELECT 12345678901234567.89::DECIMAL(38,2) AS d');
    expect(JSON.parse(formatResult(result, 'json'))).toEqual([{ d: '12345678901234567.89' }]);
  });

  it('makes repeated column names unique', async () => {
    expect(JSON.parse(formatResult(await query('SELECT 1 AS a, 2 AS a'), 'json'))).toEqual([
      { a: 1, a_1: 2 },
    ]);
  });

  it('writes one row per line', async () => {
    const text = formatResult(await query("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(n, s)"), 'json');
    expect(text).toBe('[\n  {"n":1,"s":"a"},\n  {"n":2,"s":"b"}\n]\n');
  });

  it('is an empty array for no rows', async () => {
    expect(formatResult(await query('SELECT 1 AS a WHERE false'), 'json')).toBe('[]\n');
  });
});

describe('csv format', () => {
  it('writes a header and quotes fields as RFC 4180 says', async () => {
    const result = await query(
      `SELECT * FROM (VALUES (1, 'plain'), (2, 'a,b'), (3, 'say "hi"'), (4, 'two' || chr(10) || 'lines'), (5, ''), (6, NULL)) AS t("id", "the text")`,
    );
    expect(formatResult(result, 'csv')).toBe(
      ['id,the text', '1,plain', '2,"a,b"', '3,"say ""hi"""', '4,"two\nlines"', '5,""', '6,', ''].join('\n'),
    );
  });
});

describe('EXPLAIN results', () => {
  it('prints the drawn plan as drawn, with the Delta scan lines after it', () => {
    const text = formatResult(
      {
        kind: 'EXPLAIN',
        columns: [
          { name: 'explain_key', type: 'VARCHAR' },
          { name: 'explain_value', type: 'VARCHAR' },
        ],
        rows: [
          ['physical_plan', '┌───┐\n│ A │\n└───┘\n'],
          ['delta_scan', 'ml.s.t version 3: read 1 of 4 files'],
        ],
        scans: [],
      },
      'table',
    );
    expect(text).toBe(
      'physical_plan:\n┌───┐\n│ A │\n└───┘\n\ndelta_scan:\nml.s.t version 3: read 1 of 4 files\n',
    );
  });
});
