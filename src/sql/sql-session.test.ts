import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import { SqlSession } from './sql-session.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const basicAppend = resolve(
  repoRoot,
  'test/fixtures/delta-acceptance/reader_tests/generated/basic_append/delta',
);

let cwd: string;
let session: SqlSession;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'larder-sql-session-'));
  session = await SqlSession.open({ cwd });
});

afterAll(async () => {
  session.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('SqlSession', () => {
  it('creates the project folder with its warehouse on open', async () => {
    expect((await stat(join(cwd, '.larder', 'warehouse'))).isDirectory()).toBe(true);
    expect(session.projectDir).toBe(join(cwd, '.larder'));
  });

  it('runs a script statement by statement and keeps state between calls', async () => {
    const results = await session.executeAll(
      'CREATE TEMP TABLE s_t (n BIGINT); INSERT INTO s_t VALUES (1), (2); SELECT sum(n) AS total FROM s_t',
    );
    expect(results.map((r) => r.kind)).toEqual(['CREATE', 'INSERT', 'SELECT']);
    expect(results[0]?.columns).toEqual([]);
    expect(results[2]?.columns).toEqual([{ name: 'total', type: 'HUGEINT' }]);
    expect(results[2]?.rows).toEqual([['3']]);
    const later = await session.execute('SELECT count(*) AS n FROM s_t');
    expect(later.rows).toEqual([['2']]);
  });

  it('resolves read_delta paths against the project folder and reports the scans', async () => {
    const result = await session.execute(
      `SELECT count(*) AS n FROM read_delta('${relative(cwd, basicAppend)}')`,
    );
    expect(result.rows).toEqual([['5']]);
    expect(result.scans).toEqual([
      { path: relative(cwd, basicAppend), version: 1, filesRead: 2, totalFiles: 2 },
    ]);
  });

  it('resolves DuckDB file paths against the project folder too', async () => {
    await writeFile(join(cwd, 'points.csv'), 'x,y\n1,2\n3,4\n');
    const result = await session.execute("SELECT sum(x + y)::INT AS s FROM 'points.csv'");
    expect(result.rows).toEqual([[10]]);
  });

  it('stops at the first failing statement with SQL_ERROR and DuckDB message', async () => {
    const error = await session
      .executeAll(
        'CREATE TEMP TABLE s_before (a INT); SELECT missing_column FROM s_before; CREATE TEMP TABLE s_after (a INT)',
      )
      .catch((e: unknown) => e);
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toContain('missing_column');
    expect((await session.execute('SELECT count(*) FROM s_before')).rows).toEqual([['0']]);
    const after = await session.execute('SELECT count(*) FROM s_after').catch((e: unknown) => e);
    expect(isLarderError(after, 'SQL_ERROR')).toBe(true);
  });

  it('reads backticked names as Spark does: a doubled backtick is one backtick', async () => {
    const result = await session.execute('SELECT 1 AS `a``b`; SELECT 2 AS `x y`, 3 AS `tick``` -- `');
    expect(result.columns.map((c) => c.name)).toEqual(['x y', 'tick`']);
  });

  it('refuses an unclosed backtick anywhere in a script before running any of it', async () => {
    const error = await session
      .executeAll('CREATE TEMP TABLE s_tick (a INT);\nSELECT a AS `never closed FROM s_tick')
      .catch((e: unknown) => e);
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(
      /line 2, column 13: .*`never closed FROM s_tick is never closed/,
    );
    const ran = await session.execute('SELECT count(*) FROM s_tick').catch((e: unknown) => e);
    expect(isLarderError(ran, 'SQL_ERROR')).toBe(true);
  });

  it('refuses an empty script', async () => {
    const error = await session.execute(' ; -- nothing\n').catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
  });
});
