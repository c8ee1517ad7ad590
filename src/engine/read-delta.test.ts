import { cp, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../duckdb/duckdb.js';
import { isLarderError } from '../errors.js';
import { rewriteReadDelta } from './read-delta.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const fixtures = resolve(repoRoot, 'test/fixtures/delta-acceptance/reader_tests/generated');
const APPEND = 'basic_append/delta';
const PARTITIONED = 'basic_partitioned/delta';

let connection: DuckDBConnection;

beforeAll(async () => {
  connection = await connect();
});

afterAll(() => {
  connection.closeSync();
});

async function rewrite(sql: string) {
  return rewriteReadDelta(sql, { cwd: fixtures, connection });
}

/** Rewrite and run a query; its rows as JSON-friendly arrays. */
async function rows(sql: string): Promise<unknown[][]> {
  const { sql: rewritten } = await rewrite(sql);
  return (await connection.runAndReadAll(rewritten)).getRowsJson();
}

async function rewriteError(sql: string, cwd = fixtures): Promise<unknown> {
  return rewriteReadDelta(sql, { cwd, connection }).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('rewriteReadDelta', () => {
  it('reads the latest version of a table by a path relative to cwd', async () => {
    expect(await rows(`SELECT count(*) FROM read_delta('${APPEND}')`)).toEqual([['5']]);
    const { scans } = await rewrite(`SELECT * FROM read_delta('${APPEND}')`);
    expect(scans).toEqual([{ path: APPEND, version: 1, filesRead: 2, totalFiles: 2 }]);
  });

  it('reads an older version with version => n', async () => {
    expect(await rows(`SELECT count(*) FROM read_delta('${APPEND}', version => 0)`)).toEqual([['3']]);
    const { scans } = await rewrite(`SELECT * FROM read_delta('${APPEND}', VERSION => 0)`);
    expect(scans[0]?.version).toBe(0);
    expect(await rows(`SELECT count(*) FROM read_delta(path => '${APPEND}', version => 0)`)).toEqual([['3']]);
  });

  it('reads the version current at timestamp => literal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'larder-read-delta-'));
    try {
      await cp(join(fixtures, APPEND), join(dir, 't'), { recursive: true });
      const log = join(dir, 't', '_delta_log');
      for (const name of await readdir(log)) {
        const version = Number(name.slice(0, 20));
        const when = new Date(Date.UTC(2024, 0, 1 + version));
        await utimes(join(log, name), when, when);
      }
      const at = async (literal: string) => {
        const result = await rewriteReadDelta(`SELECT * FROM read_delta('t', timestamp => ${literal})`, {
          cwd: dir,
          connection,
        });
        return result.scans[0]?.version;
      };
      expect(await at("'2024-01-01 12:00:00'")).toBe(0);
      expect(await at("TIMESTAMP '2024-01-02 00:00:00'")).toBe(1);
      expect(await at("'2024-01-02 00:00:00'")).toBe(1);
      // After the latest commit: refused, as Spark refuses it.
      const late = await at("'2030-01-01'").catch((e: unknown) => e);
      expect(isLarderError(late, 'VERSION_NOT_FOUND')).toBe(true);
      expect((late as Error).message).toContain('2024-01-02T00:00:00.000Z');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prunes files by the WHERE clause on the table and still returns the matching rows', async () => {
    const sql = `SELECT number FROM read_delta('${PARTITIONED}') WHERE letter = 'a' ORDER BY number`;
    expect(await rows(sql)).toEqual([['1'], ['4']]);
    const { scans } = await rewrite(sql);
    expect(scans).toEqual([
      { path: PARTITIONED, version: 1, filesRead: 2, totalFiles: 6, filter: "letter = 'a'" },
    ]);
  });

  it('uses conjuncts qualified by the alias and ignores those of other relations', async () => {
    const sql = `SELECT t.number FROM read_delta('${PARTITIONED}') AS t JOIN (VALUES ('a')) AS o(letter)
      ON o.letter = t.letter WHERE t.letter = 'a' AND o.letter = 'b'`;
    const { scans } = await rewrite(sql);
    expect(scans[0]?.filesRead).toBe(2);
    expect(await rows(sql)).toEqual([]);
  });

  it('never prunes the null-extended side of an outer join', async () => {
    const sql = `SELECT o.k, t.number FROM (VALUES (1), (2)) AS o(k) LEFT JOIN read_delta('${PARTITIONED}') AS t
      ON t.number = o.k WHERE t.letter IS NULL OR t.letter = 'a' ORDER BY o.k`;
    const { scans } = await rewrite(sql);
    expect(scans[0]?.filesRead).toBe(6);
    expect(await rows(sql)).toEqual([[1, '1']]);
    const right = `SELECT o.k FROM (VALUES (9)) AS o(k) LEFT JOIN read_delta('${PARTITIONED}') AS t
      ON t.number = o.k WHERE t.letter = 'a' OR t.letter IS NULL`;
    expect(await rows(right)).toEqual([[9]]);
  });

  it('prunes the preserved side of an outer join', async () => {
    const sql = `SELECT t.number FROM read_delta('${PARTITIONED}') AS t LEFT JOIN (VALUES (1)) AS o(k)
      ON t.number = o.k WHERE t.letter = 'a' ORDER BY 1`;
    expect((await rewrite(sql)).scans[0]?.filesRead).toBe(2);
    expect(await rows(sql)).toEqual([['1'], ['4']]);
  });

  it('does not prune through ASOF or positional joins, samples or column renames', async () => {
    const queries = [
      `SELECT * FROM (VALUES (10)) o(n) ASOF JOIN read_delta('${PARTITIONED}') t ON o.n >= t.number WHERE t.letter = 'a'`,
      `SELECT * FROM (VALUES (10)) o(n) POSITIONAL JOIN read_delta('${PARTITIONED}') t WHERE t.letter = 'a'`,
      `SELECT * FROM read_delta('${PARTITIONED}') TABLESAMPLE 50% WHERE letter = 'a'`,
      `SELECT * FROM read_delta('${PARTITIONED}') AS t(number, letter, f) WHERE number = 'a'`,
    ];
    for (const sql of queries) expect((await rewrite(sql)).scans[0]?.filesRead, sql).toBe(6);
  });

  it('ignores conjuncts on columns of an outer query, even ones named like the table columns', async () => {
    const sql = `SELECT o.letter FROM (VALUES ('a')) AS o(letter)
      WHERE EXISTS (SELECT 1 FROM read_delta('${PARTITIONED}') AS t WHERE o.letter = 'a' AND t.number = 2)`;
    // Only t.number = 2 prunes (to the one file holding it); o.letter = 'a' would prune every file.
    expect((await rewrite(sql)).scans[0]?.filesRead).toBe(1);
    expect(await rows(sql)).toEqual([['a']]);
    const unknown = `SELECT k FROM (VALUES ('a')) AS o(k) WHERE EXISTS (SELECT 1 FROM read_delta('${PARTITIONED}') WHERE k = 'a')`;
    expect((await rewrite(unknown)).scans[0]?.filesRead).toBe(6);
  });

  it('rewrites calls in joins, subqueries, CTEs and set operations, each with its own WHERE', async () => {
    const sql = `WITH a AS (SELECT number FROM read_delta('${PARTITIONED}') WHERE letter = 'e')
      SELECT number FROM a
      UNION ALL SELECT number FROM read_delta('${APPEND}', version => 0) WHERE number = 2
      UNION ALL SELECT (SELECT max(number) FROM read_delta('${PARTITIONED}') WHERE letter = 'b')
      ORDER BY 1`;
    expect(await rows(sql)).toEqual([['2'], ['2'], ['5']]);
    const { scans } = await rewrite(sql);
    expect(scans.map((s) => [s.path, s.version, s.filesRead])).toEqual([
      [PARTITIONED, 1, 1],
      [APPEND, 0, 1],
      [PARTITIONED, 1, 1],
    ]);
  });

  it('names an unaliased call read_delta so qualified references work', async () => {
    expect(
      await rows(`SELECT read_delta.number FROM read_delta('${APPEND}') WHERE read_delta.letter = 'e'`),
    ).toEqual([['5']]);
  });

  it('leaves strings, comments and other uses of the name alone', async () => {
    const sql = `SELECT 'read_delta(''x'')' AS read_delta /* read_delta('y') */ -- read_delta('z')\n`;
    const result = await rewrite(sql);
    expect(result).toEqual({ sql, scans: [] });
    const mixed = `SELECT 'read_delta(' AS s, count(*) AS read_delta FROM read_delta('${APPEND}')`;
    expect(await rows(mixed)).toEqual([['read_delta(', '5']]);
  });

  it('rewrites every statement of a script', async () => {
    const { sql, scans } = await rewrite(
      `SELECT 1; SELECT count(*) FROM read_delta('${APPEND}'); SELECT * FROM read_delta('${APPEND}', version => 0)`,
    );
    expect(scans.map((s) => s.version)).toEqual([1, 0]);
    expect(sql.startsWith('SELECT 1; SELECT count(*) FROM (')).toBe(true);
    expect(sql).not.toContain('read_delta(');
  });

  it('rewrites the queries inside non-SELECT statements', async () => {
    const { sql, scans } = await rewrite(
      `CREATE TEMP TABLE rd_ctas AS SELECT * FROM read_delta('${PARTITIONED}') WHERE letter = 'f'`,
    );
    expect(scans[0]?.filesRead).toBe(1);
    await connection.run(sql);
    expect((await connection.runAndReadAll('SELECT number FROM rd_ctas')).getRowsJson()).toEqual([['6']]);
    const copy = await rewrite(
      `COPY (FROM read_delta('${APPEND}') d WHERE d.letter = 'a') TO '/dev/null' (FORMAT csv)`,
    );
    expect(copy.scans).toHaveLength(1);
    expect(copy.sql).toMatch(/^COPY \(FROM \(.*\) d WHERE d\.letter = 'a'\) TO/s);
  });

  it('rewrites a call in table position of a statement whose queries do not parse alone', async () => {
    const pivot = await rewrite(`PIVOT read_delta('${APPEND}') ON letter IN ('a', 'e') USING sum(number)`);
    expect(pivot.scans).toHaveLength(1);
    const totals = await connection.runAndReadAll(`SELECT sum(a)::INT, sum(e)::INT FROM (${pivot.sql})`);
    expect(totals.getRowsJson()).toEqual([[1, 5]]);
    await connection.run('CREATE TEMP TABLE rd_keys (n BIGINT PRIMARY KEY)');
    await connection.run('INSERT INTO rd_keys VALUES (1), (2), (7)');
    const upsert = await rewrite(
      `INSERT INTO rd_keys SELECT number FROM read_delta('${APPEND}') ON CONFLICT DO NOTHING`,
    );
    await connection.run(upsert.sql);
    const removal = await rewrite(
      `DELETE FROM rd_keys USING read_delta('${APPEND}', version => 0) WHERE n = number`,
    );
    expect(removal.scans.map((s) => s.version)).toEqual([0]);
    await connection.run(removal.sql);
    expect((await connection.runAndReadAll('SELECT n FROM rd_keys ORDER BY n')).getRowsJson()).toEqual([
      ['4'],
      ['5'],
      ['7'],
    ]);
  });

  it('fails with TABLE_NOT_FOUND naming a path that holds no table', async () => {
    const error = await rewriteError(`SELECT * FROM read_delta('no/such/table')`);
    expect(isLarderError(error, 'TABLE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain("'no/such/table'");
    const notDir = await rewriteError(`SELECT * FROM read_delta('basic_append/test_case_info.json')`);
    expect(isLarderError(notDir, 'TABLE_NOT_FOUND')).toBe(true);
  });

  it('fails with INVALID_ARGUMENT naming an argument that is not a literal', async () => {
    const cases: [string, string][] = [
      [`read_delta('a' || 'b')`, '"path"'],
      [`read_delta('${APPEND}', version => 1 + 1)`, '"version"'],
      [`read_delta('${APPEND}', version => 1.5)`, '"version"'],
      [`read_delta('${APPEND}', timestamp => now())`, '"timestamp"'],
      [`read_delta('${APPEND}', versio => 1)`, '"versio"'],
      [`read_delta('${APPEND}', 1)`, 'one path'],
      [`read_delta('${APPEND}', path => 'x')`, 'one path'],
      [`read_delta()`, 'path'],
      [`read_delta('${APPEND}', version => 0, timestamp => '2024-01-01')`, 'not both'],
    ];
    for (const [call, named] of cases) {
      const error = await rewriteError(`SELECT * FROM ${call}`);
      expect(isLarderError(error, 'INVALID_ARGUMENT'), call).toBe(true);
      expect((error as Error).message, call).toContain(named);
    }
  });

  it('fails with SQL_ERROR carrying DuckDB message when the statement does not parse', async () => {
    const error = await rewriteError(`SELECT * FROM read_delta('${APPEND}') WHERE`);
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toContain('syntax error');
    const unclosed = await rewriteError(`SELECT * FROM read_delta('${APPEND}', timestamp => '2024-01-01'`);
    expect(isLarderError(unclosed, 'SQL_ERROR')).toBe(true);
    expect((unclosed as Error).message).toContain('syntax error');
  });

  it('keeps text offsets right after non-ASCII characters', async () => {
    expect(await rows(`SELECT 'é日本' AS s, count(*) FROM read_delta('${APPEND}')`)).toEqual([
      ['é日本', '5'],
    ]);
  });
});
