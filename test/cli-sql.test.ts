/**
 * `larder sql` as users run it: a real `node bin/larder.js` process in a fresh
 * folder, reading the acceptance fixtures through `read_delta`, in each
 * output format, with its exit codes and error messages.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresMetastore } from '../src/catalog/postgres/postgres-metastore.js';
import { dropTestSchema, TEST_POSTGRES_URL } from './support/postgres.js';
import { type LarderRun, runLarder } from './support/run-larder.js';

const repoRoot = resolve(import.meta.dirname, '..');
const fixtures = resolve(repoRoot, 'test/fixtures/delta-acceptance/reader_tests/generated');
const basicAppend = join(fixtures, 'basic_append', 'delta');
const basicPartitioned = join(fixtures, 'basic_partitioned', 'delta');

let cwd: string;

/** Run `larder …args` in the temporary project folder (no LARDER_CATALOG_URL unless `extraEnv` sets it). */
function larder(
  args: readonly string[],
  input?: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<LarderRun> {
  return runLarder(args, { cwd, ...(input !== undefined ? { input } : {}), env: extraEnv });
}

/** Run a statement with `--format json` and parse the output; fails the test on a non-zero exit. */
async function json(statement: string): Promise<unknown> {
  const run = await larder(['sql', statement, '--format', 'json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

const sqlPath = (path: string) => `'${path.replaceAll("'", "''")}'`;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'larder-cli-sql-'));
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('larder sql', () => {
  it('prints a query result as a table with names, types and a row count', async () => {
    const run = await larder(['sql', 'select 42 as x']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      '┌─────────┐',
      '│    x    │',
      '│ integer │',
      '├─────────┤',
      '│      42 │',
      '└─────────┘',
      '1 row',
      '',
    ]);
  });

  it('creates the project folder .larder/warehouse on first use', async () => {
    await larder(['sql', 'select 1']);
    expect((await stat(join(cwd, '.larder', 'warehouse'))).isDirectory()).toBe(true);
  });

  it('prints JSON and CSV', async () => {
    expect(await json('select 42 as x')).toEqual([{ x: 42 }]);
    const csv = await larder(['sql', 'select 42 as x', '--format', 'csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe('x\n42\n');
  });

  it('counts the rows of a Delta table, latest and at version 0', async () => {
    expect(await json(`SELECT count(*) AS n FROM read_delta(${sqlPath(basicAppend)})`)).toEqual([{ n: 5 }]);
    expect(await json(`SELECT count(*) AS n FROM read_delta(${sqlPath(basicAppend)}, version => 0)`)).toEqual(
      [{ n: 3 }],
    );
  });

  it('filters a partitioned table on its partition column', async () => {
    const rows = await json(
      `SELECT letter, number, a_float FROM read_delta(${sqlPath(basicPartitioned)}) WHERE letter = 'a' ORDER BY number`,
    );
    expect(rows).toEqual([
      { letter: 'a', number: 1, a_float: 1.1 },
      { letter: 'a', number: 4, a_float: 4.4 },
    ]);
  });

  it('reads the statement from standard input when it is -', async () => {
    const run = await larder(['sql', '-', '--format', 'csv'], 'SELECT 1 AS a;\nSELECT 2 AS b;\n');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('b\n2\n');
  });

  it('fails with exit code 1 and names the path of a missing table', async () => {
    const run = await larder(['sql', "SELECT * FROM read_delta('tables/missing')"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error \[TABLE_NOT_FOUND\]: .*'tables\/missing'/);
  });

  it('fails with exit code 1 and INVALID_ARGUMENT when there is no statement to run', async () => {
    for (const [statement, input] of [
      ['', undefined],
      ['  \n ', undefined],
      ['/* only a comment */ ;', undefined],
      ['-', '  \n-- only a comment\n'],
    ] as const) {
      const run = await larder(['sql', statement], input);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error \[INVALID_ARGUMENT\]: larder sql was given no SQL statement/);
    }
  });

  it('suggests the Larder table closest to a misspelt name, not a DuckDB system table', async () => {
    const create = await larder([
      'sql',
      'CREATE TABLE ml.churn_features.customer_features (customer_id BIGINT, n_tx INTEGER)',
    ]);
    expect(create.code).toBe(0);
    const run = await larder(['sql', 'SELECT * FROM ml.churn_features.custmer_features']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^error \[TABLE_NOT_FOUND\]: table ml\.churn_features\.custmer_features not found \(did you mean "ml\.churn_features\.customer_features"\?\)/,
    );
    const short = await larder(['sql', 'SELECT * FROM custmer_features']);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('Did you mean "ml.churn_features.customer_features"?');
    expect(short.stderr.match(/did you mean/gi)).toHaveLength(1);
  });

  it('reads backticked names, a doubled backtick being one backtick', async () => {
    expect(await json('SELECT 7 AS `my ``col```')).toEqual([{ 'my `col`': 7 }]);
  });

  it('fails with exit code 1 naming the line of an unclosed backtick', async () => {
    const run = await larder(['sql', 'SELECT 1;\nSELECT `x FROM t']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^error \[SQL_ERROR\]: syntax error at line 2, column 8: .*`x FROM t is never closed/,
    );
  });

  it('fails with exit code 1 and DuckDB message on a SQL error', async () => {
    const run = await larder(['sql', 'SELECT no_such_column']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error \[SQL_ERROR\]: .*no_such_column/);
  });
});

describe('larder sql in a project with a config', () => {
  const postgresUrl = TEST_POSTGRES_URL;
  const schema = `larder_cli_sql_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  let project: string;
  let broken: string;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'larder-cli-sql-project-'));
    broken = await mkdtemp(join(tmpdir(), 'larder-cli-sql-broken-'));
    await writeFile(
      join(project, 'larder.config.ts'),
      `import { defineConfig } from 'larderjs/config';
export default defineConfig({
  catalog: { url: '${postgresUrl}?schema=${schema}' },
  warehouse: 'lake',
});
`,
    );
    await writeFile(join(broken, 'larder.config.ts'), 'export default { warehouse: 42 };\n');
  });

  afterAll(async () => {
    await dropTestSchema(schema, postgresUrl);
    await rm(project, { recursive: true, force: true });
    await rm(broken, { recursive: true, force: true });
  });

  it('runs on the catalog and the warehouse the config names', async () => {
    const run = await larder([
      'sql',
      '-C',
      project,
      '--format',
      'json',
      `CREATE SCHEMA ml.s; CREATE TABLE ml.s.t (id BIGINT) USING DELTA; INSERT INTO ml.s.t VALUES (1), (2);
       SELECT count(*) AS n FROM ml.s.t`,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([{ n: 2 }]);
    const metastore = await PostgresMetastore.open(postgresUrl, { schema });
    try {
      const entry = await metastore.getTable({ catalog: 'ml', schema: 's', table: 't' });
      expect(entry?.location).toBe(join(project, 'lake', 'ml', 's', 't'));
    } finally {
      await metastore.close();
    }
    await expect(stat(join(project, '.larder', 'catalog.db'))).rejects.toMatchObject({ code: 'ENOENT' });
    // A second process sees the table through the same catalog.
    const again = await larder(['sql', '-C', project, '--format', 'csv', 'SELECT sum(id) AS s FROM ml.s.t']);
    expect(again.stdout).toBe('s\n3\n');
  });

  it('lets LARDER_CATALOG_URL win over the config', async () => {
    const other = `${schema}_env`;
    try {
      const run = await larder(['sql', '-C', project, 'CREATE SCHEMA ml.from_env'], undefined, {
        LARDER_CATALOG_URL: `${postgresUrl}?schema=${other}`,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      for (const [where, expected] of [
        [other, true],
        [schema, false],
      ] as const) {
        const metastore = await PostgresMetastore.open(postgresUrl, { schema: where });
        try {
          const names = (await metastore.listSchemas()).map((s) => `${s.catalog}.${s.schema}`);
          expect(names.includes('ml.from_env')).toBe(expected);
        } finally {
          await metastore.close();
        }
      }
    } finally {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${other}" CASCADE`).finally(() => client.end());
    }
  });

  it('fails with CONFIG_INVALID naming the file when the config is broken, rather than use another catalog', async () => {
    const run = await larder(['sql', '-C', broken, 'SELECT 1 AS x']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error \[CONFIG_INVALID\]: larder\.config\.ts: config › warehouse: /);
    await expect(stat(join(broken, '.larder'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('larder sql COPY with a relative path', () => {
  it('writes COPY … TO into the project folder (-C), making the missing folder, and reads it back with COPY … FROM', async () => {
    const project = await mkdtemp(join(tmpdir(), 'larder-copy-project-'));
    try {
      const write = await larder([
        'sql',
        '-C',
        project,
        "COPY (SELECT range AS id, 'x' || range AS label FROM range(3)) TO 'export/deep/ids.csv' (HEADER)",
      ]);
      expect(write.stderr).toBe('');
      expect(write.code).toBe(0);
      // The file is under the project, not under the process's working folder.
      expect(await readFile(join(project, 'export', 'deep', 'ids.csv'), 'utf8')).toBe(
        'id,label\n0,x0\n1,x1\n2,x2\n',
      );
      await expect(stat(join(cwd, 'export'))).rejects.toMatchObject({ code: 'ENOENT' });
      const read = await larder([
        'sql',
        '-C',
        project,
        "CREATE TEMP TABLE ids (id BIGINT, label VARCHAR); COPY ids FROM 'export/deep/ids.csv' (HEADER); SELECT sum(id) AS total FROM ids",
        '--format',
        'csv',
      ]);
      expect(read.stderr).toBe('');
      expect(read.stdout).toBe('total\n3\n');
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  });
});
