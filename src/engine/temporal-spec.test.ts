import { describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import { extractTemporalSpecs, findAtClause } from './temporal-spec.js';

describe('extractTemporalSpecs', () => {
  it('blanks Databricks clauses, keeping every other offset, and keys them by the name they follow', () => {
    const sql =
      "SELECT * FROM ml.s.t VERSION AS OF 3 AS x JOIN u FOR TIMESTAMP AS OF '2024-05-01' y ON x.a = y.a";
    const { text, specs } = extractTemporalSpecs(sql);
    expect(text.length).toBe(sql.length);
    expect(text).toBe(
      `SELECT * FROM ml.s.t ${' '.repeat(15)} AS x JOIN u ${' '.repeat("FOR TIMESTAMP AS OF '2024-05-01'".length)} y ON x.a = y.a`,
    );
    expect([...specs.entries()].map(([at, s]) => [sql.slice(at, at + 6), s.kind, s.expression])).toEqual([
      ['ml.s.t', 'version', '3'],
      ['u FOR ', 'timestamp', "'2024-05-01'"],
    ]);
  });

  it('reads expressions up to the alias: typed literals, intervals, calls and casts', () => {
    const expressionOf = (clause: string) =>
      [...extractTemporalSpecs(`SELECT * FROM t ${clause} alias`).specs.values()][0]?.expression;
    expect(expressionOf("TIMESTAMP AS OF TIMESTAMP '2024-05-01' - INTERVAL 1 DAY")).toBe(
      "TIMESTAMP '2024-05-01' - INTERVAL 1 DAY",
    );
    expect(expressionOf("TIMESTAMP AS OF current_timestamp() - INTERVAL '2' HOURS")).toBe(
      "current_timestamp() - INTERVAL '2' HOURS",
    );
    expect(expressionOf("SYSTEM_TIMESTAMP AS OF '2024-05-01'::TIMESTAMP")).toBe("'2024-05-01'::TIMESTAMP");
    expect(expressionOf('SYSTEM_VERSION AS OF (1 + 2)')).toBe('(1 + 2)');
  });

  it('reads @v and @timestamp suffixes written right after the name', () => {
    const { text, specs } = extractTemporalSpecs('SELECT * FROM s.t@v12, u@20240501123000000');
    expect(text).toBe('SELECT * FROM s.t    , u                  ');
    expect([...specs.values()].map((s) => [s.kind, s.expression])).toEqual([
      ['version', '12'],
      ['timestamp', "'2024-05-01 12:30:00.000'"],
    ]);
  });

  it('leaves strings, comments, casts and column aliases alone', () => {
    for (const sql of [
      "SELECT 'VERSION AS OF 3' FROM t",
      'SELECT * FROM t -- VERSION AS OF 3',
      'SELECT x::TIMESTAMP AS of FROM t',
      'SELECT @ -3 AS v',
    ]) {
      const { text, specs } = extractTemporalSpecs(sql);
      expect({ text, specs }, sql).toEqual({ text: sql, specs: new Map() });
    }
  });

  it('refuses a clause without a version or timestamp', () => {
    let error: unknown;
    try {
      extractTemporalSpecs('SELECT * FROM t VERSION AS OF WHERE x');
    } catch (e) {
      error = e;
    }
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain('VERSION AS OF needs a version number');
  });
});

describe('findAtClause', () => {
  it('finds DuckDB’s AT clause after the name and alias', () => {
    const sql = 'SELECT * FROM t AS x AT (TIMESTAMP => now() - INTERVAL 1 DAY) WHERE x.a = 1';
    const spec = findAtClause(sql, 14);
    expect(spec && [spec.kind, spec.expression, sql.slice(spec.start, spec.end)]).toEqual([
      'timestamp',
      'now() - INTERVAL 1 DAY',
      'AT (TIMESTAMP => now() - INTERVAL 1 DAY)',
    ]);
  });
});
