import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateTableLog } from '../../../test/protocol-validator.js';
import { DeltaTable } from '../../delta/delta-table.js';
import type { SqlResult } from '../../engine/sql-result.js';
import { isLarderError, type LarderError } from '../../errors.js';
import { SqlSession } from '../sql-session.js';

let cwd: string;
let session: SqlSession;

const run = (sql: string) => session.execute(sql);
const objects = (result: SqlResult) =>
  result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i]])));
const rows = async (sql: string) => objects(await run(sql));
const failure = async (sql: string): Promise<LarderError> => {
  const error = await run(sql).catch((e: unknown) => e);
  if (!isLarderError(error))
    throw new Error(`expected ${sql} to fail with a LarderError, got ${String(error)}`);
  return error;
};
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const warehouse = (...parts: string[]) => join(cwd, '.larder', 'warehouse', ...parts);

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'larder-statements-'));
  session = await SqlSession.open({ cwd });
  await run('CREATE SCHEMA ml.s');
});

afterAll(async () => {
  await session?.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('schemas, USE and SHOW', () => {
  it('creates schemas once, lists them, and switches the current schema', async () => {
    expect(isLarderError(await failure('CREATE SCHEMA ml.s'), 'SCHEMA_ALREADY_EXISTS')).toBe(true);
    await run("CREATE DATABASE IF NOT EXISTS ml.s COMMENT 'again'");
    await run('CREATE SCHEMA ml.other');
    expect(await rows('SHOW SCHEMAS IN ml')).toEqual([{ databaseName: 'other' }, { databaseName: 's' }]);
    await run('CREATE TABLE ml.other.t1 (x INT) USING DELTA');
    await run('USE ml.other');
    expect(await rows('SHOW TABLES')).toEqual([{ database: 'other', tableName: 't1', isTemporary: false }]);
    expect(await rows('SELECT count(*) AS n FROM t1')).toEqual([{ n: '0' }]);
    await run('USE s');
    expect(session.engine.currentSchema).toBe('s');
    await run('USE CATALOG main');
    expect([session.engine.currentCatalog, session.engine.currentSchema]).toEqual(['main', 'default']);
    expect(await rows("SHOW TABLES IN ml.other LIKE 't*'")).toHaveLength(1);
    expect((await rows('SHOW CATALOGS')).map((r) => r.catalog)).toEqual(['main', 'ml']);
  });
});

describe('CREATE TABLE', () => {
  it('creates a Delta table with Spark types, comments and NOT NULL, described with Spark names', async () => {
    await run(`CREATE TABLE ml.s.typed (
      id BIGINT NOT NULL COMMENT 'the key', small SMALLINT, tiny TINYINT, flag BOOLEAN, f FLOAT,
      amount DECIMAL(12, 2), name VARCHAR(20), day DATE, ts TIMESTAMP, ntz TIMESTAMP_NTZ, raw BINARY,
      tags ARRAY<STRING>, attrs MAP<STRING, INT>, address STRUCT<city: STRING, zip: INT>,
    ) USING DELTA COMMENT 'all the types' TBLPROPERTIES ('team' = 'ml')`);
    expect((await run('DESCRIBE TABLE EXTENDED ml.s.typed')).rows.slice(0, 14)).toEqual([
      ['id', 'bigint', 'the key'],
      ['small', 'smallint', null],
      ['tiny', 'tinyint', null],
      ['flag', 'boolean', null],
      ['f', 'float', null],
      ['amount', 'decimal(12,2)', null],
      ['name', 'string', null],
      ['day', 'date', null],
      ['ts', 'timestamp', null],
      ['ntz', 'timestamp_ntz', null],
      ['raw', 'binary', null],
      ['tags', 'array<string>', null],
      ['attrs', 'map<string,int>', null],
      ['address', 'struct<city:string,zip:int>', null],
    ]);
    const extended = Object.fromEntries(
      (await run('DESCRIBE EXTENDED ml.s.typed')).rows.map((r) => [r[0], r[1]]),
    );
    expect(extended).toMatchObject({
      Type: 'MANAGED',
      Provider: 'delta',
      Comment: 'all the types',
      Location: warehouse('ml', 's', 'typed'),
    });
    const error = await failure('INSERT INTO ml.s.typed (id) VALUES (NULL)');
    expect(error.message).toMatch(/id/);
  });

  it('refuses a second table of the same name, and does nothing with IF NOT EXISTS', async () => {
    await run('CREATE TABLE ml.s.once (x INT)');
    expect(isLarderError(await failure('CREATE TABLE ml.s.once (y INT)'), 'TABLE_ALREADY_EXISTS')).toBe(true);
    await run('CREATE TABLE IF NOT EXISTS ml.s.once (y INT)');
    expect((await run('DESCRIBE ml.s.once')).rows).toEqual([['x', 'int', null]]);
  });

  it('refuses partition and clustering columns that are not columns, creating nothing', async () => {
    const error = await failure('CREATE TABLE ml.s.bad (x INT) PARTITIONED BY (y)');
    expect(error.message).toMatch(/"y"/);
    expect(
      await session.engine.metastore.getTable({ catalog: 'ml', schema: 's', table: 'bad' }),
    ).toBeUndefined();
    expect(await exists(warehouse('ml', 's', 'bad'))).toBe(false);
  });

  it('CREATE TABLE … CLUSTER BY is one commit, recording whether the table is managed', async () => {
    await run('CREATE TABLE ml.s.clustered (id BIGINT, v STRING) USING DELTA CLUSTER BY (id)');
    await run(
      "CREATE TABLE ml.s.clustered_ext (id BIGINT, v STRING) CLUSTER BY (id) LOCATION 'data/clustered'",
    );
    for (const [table, managed] of [
      ['ml.s.clustered', 'true'],
      ['ml.s.clustered_ext', 'false'],
    ] as const) {
      const history = await rows(`DESCRIBE HISTORY ${table}`);
      expect(
        history.map((h) => [h.version, h.operation]),
        table,
      ).toEqual([['0', 'CREATE TABLE']]);
      const parameters = Object.fromEntries(
        ((history[0]?.operationParameters ?? []) as { key: string; value: string }[]).map((p) => [
          p.key,
          p.value,
        ]),
      );
      expect(parameters, table).toMatchObject({ isManaged: managed, clusterBy: '["id"]' });
      expect((await rows(`DESCRIBE DETAIL ${table}`))[0]?.clusteringColumns, table).toEqual(['id']);
    }
  });

  it('CREATE [OR REPLACE] TABLE … CLUSTER BY … AS SELECT is one commit each, recording whether the table is managed', async () => {
    /** [version, operation, isManaged, clusterBy] of each commit, oldest first. */
    const commits = async (table: string) =>
      (await rows(`DESCRIBE HISTORY ${table}`))
        .map((h) => {
          const p = Object.fromEntries(
            (h.operationParameters as { key: string; value: string }[]).map((x) => [x.key, x.value]),
          );
          return [h.version, h.operation, p.isManaged, p.clusterBy];
        })
        .reverse();
    await run(
      'CREATE TABLE ml.s.ctas_clustered CLUSTER BY (id) AS SELECT i::BIGINT AS id, i % 3 AS g FROM range(6) r(i)',
    );
    await run(
      "CREATE TABLE ml.s.ctas_clustered_ext CLUSTER BY (id) LOCATION 'data/ctas_clustered' AS SELECT i::BIGINT AS id, i % 3 AS g FROM range(6) r(i)",
    );
    expect(await commits('ml.s.ctas_clustered')).toEqual([['0', 'CREATE TABLE AS SELECT', 'true', '["id"]']]);
    expect(await commits('ml.s.ctas_clustered_ext')).toEqual([
      ['0', 'CREATE TABLE AS SELECT', 'false', '["id"]'],
    ]);
    await run(
      'CREATE OR REPLACE TABLE ml.s.ctas_clustered CLUSTER BY (g) AS SELECT i::BIGINT AS id, i % 4 AS g FROM range(8) r(i)',
    );
    await run(
      'CREATE OR REPLACE TABLE ml.s.ctas_clustered_ext CLUSTER BY (g) AS SELECT i::BIGINT AS id, i % 4 AS g FROM range(8) r(i)',
    );
    expect(await commits('ml.s.ctas_clustered')).toEqual([
      ['0', 'CREATE TABLE AS SELECT', 'true', '["id"]'],
      ['1', 'CREATE OR REPLACE TABLE AS SELECT', 'true', '["g"]'],
    ]);
    expect(await commits('ml.s.ctas_clustered_ext')).toEqual([
      ['0', 'CREATE TABLE AS SELECT', 'false', '["id"]'],
      ['1', 'CREATE OR REPLACE TABLE AS SELECT', 'false', '["g"]'],
    ]);
    expect((await rows('DESCRIBE DETAIL ml.s.ctas_clustered'))[0]?.clusteringColumns).toEqual(['g']);
    expect(await rows('SELECT count(*) AS n FROM ml.s.ctas_clustered')).toEqual([{ n: '8' }]);
    // Replaced without CLUSTER BY, the table is no longer clustered (as in Delta).
    await run('CREATE OR REPLACE TABLE ml.s.ctas_clustered AS SELECT 1::BIGINT AS id, 2 AS g');
    expect((await rows('DESCRIBE DETAIL ml.s.ctas_clustered'))[0]?.clusteringColumns).toEqual([]);
  });

  it('CREATE TABLE … AS SELECT takes the columns from the query and writes the rows in one commit', async () => {
    const result = await run(
      "CREATE TABLE ml.s.ctas USING DELTA PARTITIONED BY (d) AS SELECT i::INT AS id, 'n' || i AS name, DATE '2024-01-01' + (i % 2)::INT AS d FROM range(5) r(i)",
    );
    expect(objects(result)).toEqual([{ num_affected_rows: '5', num_inserted_rows: '5' }]);
    expect((await run('DESCRIBE ml.s.ctas')).rows.slice(0, 3)).toEqual([
      ['id', 'int', null],
      ['name', 'string', null],
      ['d', 'date', null],
    ]);
    expect(
      await rows('SELECT version, operation FROM (DESCRIBE HISTORY ml.s.ctas)').catch(() => undefined),
    ).toBeUndefined();
    expect((await rows('DESCRIBE HISTORY ml.s.ctas')).map((h) => [h.version, h.operation])).toEqual([
      ['0', 'CREATE TABLE AS SELECT'],
    ]);
    expect((await rows('DESCRIBE DETAIL ml.s.ctas'))[0]).toMatchObject({
      partitionColumns: ['d'],
      numFiles: '2',
    });
  });

  it('CTAS whose query does not bind creates nothing', async () => {
    const error = await failure('CREATE TABLE ml.s.broken AS SELECT no_such_column FROM ml.s.ctas');
    expect(error.code).toBe('SQL_ERROR');
    expect(
      await session.engine.metastore.getTable({ catalog: 'ml', schema: 's', table: 'broken' }),
    ).toBeUndefined();
    expect(await exists(warehouse('ml', 's', 'broken'))).toBe(false);
  });

  it('CTAS whose rows fail to compute is rolled back: not registered, no folder', async () => {
    const error = await failure(
      "CREATE TABLE ml.s.broken AS SELECT CAST('x' || i AS INTEGER) AS n FROM range(3) r(i)",
    );
    expect(error.code).toBe('SQL_ERROR');
    expect(
      await session.engine.metastore.getTable({ catalog: 'ml', schema: 's', table: 'broken' }),
    ).toBeUndefined();
    expect(await exists(warehouse('ml', 's', 'broken'))).toBe(false);
  });

  it('CREATE OR REPLACE TABLE redefines the table in one new version, the old one still readable', async () => {
    await run('CREATE TABLE ml.s.replaced AS SELECT 1 AS id');
    await run("CREATE OR REPLACE TABLE ml.s.replaced AS SELECT 'a' AS name, 2.5 AS score");
    expect(await rows('SELECT * FROM ml.s.replaced')).toEqual([{ name: 'a', score: '2.5' }]);
    expect(await rows('SELECT * FROM ml.s.replaced VERSION AS OF 0')).toEqual([{ id: 1 }]);
    await run('CREATE OR REPLACE TABLE ml.s.replaced (k BIGINT) USING DELTA');
    expect(await rows('SELECT count(*) AS n FROM ml.s.replaced')).toEqual([{ n: '0' }]);
    expect((await rows('DESCRIBE HISTORY ml.s.replaced')).map((h) => h.operation)).toEqual([
      'CREATE OR REPLACE TABLE',
      'CREATE OR REPLACE TABLE AS SELECT',
      'CREATE TABLE AS SELECT',
    ]);
  });

  it('external tables: a LOCATION relative to the project, unregistered by DROP and registered again', async () => {
    await run("CREATE TABLE ml.s.ext (x INT) LOCATION 'data/ext'");
    await run('INSERT INTO ml.s.ext VALUES (1), (2)');
    await run('DROP TABLE ml.s.ext');
    expect(await exists(join(cwd, 'data', 'ext', '_delta_log'))).toBe(true);
    expect(isLarderError(await failure('SELECT * FROM ml.s.ext'), 'TABLE_NOT_FOUND')).toBe(true);
    await run("CREATE TABLE ml.s.ext2 LOCATION 'data/ext'");
    expect(await rows('SELECT sum(x) AS s FROM ml.s.ext2')).toEqual([{ s: '3' }]);
  });

  it('DROP TABLE deletes a managed table folder; IF EXISTS tolerates a missing table', async () => {
    await run('CREATE TABLE ml.s.gone (x INT)');
    expect(await exists(warehouse('ml', 's', 'gone'))).toBe(true);
    await run('DROP TABLE ml.s.gone');
    expect(await exists(warehouse('ml', 's', 'gone'))).toBe(false);
    await run('DROP TABLE IF EXISTS ml.s.gone');
    expect(isLarderError(await failure('DROP TABLE ml.s.gone'), 'TABLE_NOT_FOUND')).toBe(true);
  });
});

describe('INSERT', () => {
  beforeAll(async () => {
    await run('CREATE TABLE ml.s.ins (id BIGINT, day DATE, note STRING) USING DELTA');
  });

  it('inserts VALUES by position, casting to the column types, and a column list leaves the others NULL', async () => {
    expect(
      objects(await run("INSERT INTO ml.s.ins VALUES (1, '2024-05-01', 'a'), (2, '2024-05-02', NULL)")),
    ).toEqual([{ num_affected_rows: '2', num_inserted_rows: '2' }]);
    await run("INSERT INTO ml.s.ins (note, id) VALUES ('c', 3)");
    expect(await rows('SELECT * FROM ml.s.ins ORDER BY id')).toEqual([
      { id: '1', day: '2024-05-01', note: 'a' },
      { id: '2', day: '2024-05-02', note: null },
      { id: '3', day: null, note: 'c' },
    ]);
  });

  it('fails when the query has another number of columns, writing nothing', async () => {
    const error = await failure('INSERT INTO ml.s.ins SELECT 1, 2');
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(await rows('SELECT count(*) AS n FROM ml.s.ins')).toEqual([{ n: '3' }]);
  });

  it('inserts BY NAME and overwrites with INSERT OVERWRITE', async () => {
    await run("INSERT INTO ml.s.ins BY NAME SELECT 'z' AS note, 9::BIGINT AS id");
    expect(await rows('SELECT note FROM ml.s.ins WHERE id = 9')).toEqual([{ note: 'z' }]);
    await run('INSERT OVERWRITE TABLE ml.s.ins SELECT id * 10, day, note FROM ml.s.ins WHERE id < 3');
    expect(await rows('SELECT id FROM ml.s.ins ORDER BY id')).toEqual([{ id: '10' }, { id: '20' }]);
  });
});

describe('MERGE, UPDATE, DELETE, TRUNCATE', () => {
  beforeAll(async () => {
    await run(
      "CREATE TABLE ml.s.target AS SELECT i::BIGINT AS id, 'v' || i AS v, i % 3 AS grp FROM range(10) r(i)",
    );
    await run(
      "CREATE TABLE ml.s.changes AS SELECT * FROM (VALUES (1::BIGINT, 'one', false), (2, 'two', true), (50, 'fifty', false), (51, 'gone', true)) c(id, v, deleted)",
    );
  });

  it('merges with aliases, conditions and every clause kind', async () => {
    const result = await run(`
      MERGE INTO ml.s.target AS tgt
      USING ml.s.changes src
      ON tgt.id = src.id
      WHEN MATCHED AND src.deleted THEN DELETE
      WHEN MATCHED THEN UPDATE SET tgt.v = upper(src.v), grp = tgt.grp + 100
      WHEN NOT MATCHED AND NOT src.deleted THEN INSERT (id, v) VALUES (src.id, src.v || '!')`);
    expect(objects(result)).toEqual([
      { num_affected_rows: '3', num_updated_rows: '1', num_deleted_rows: '1', num_inserted_rows: '1' },
    ]);
    expect(await rows('SELECT id, v, grp FROM ml.s.target WHERE id IN (1, 2, 50, 51) ORDER BY id')).toEqual([
      { id: '1', v: 'ONE', grp: '101' },
      { id: '50', v: 'fifty!', grp: null },
    ]);
  });

  it('merges from a query on a general condition with the table names as qualifiers', async () => {
    const result = await run(`
      MERGE INTO ml.s.target
      USING (SELECT id + 1000 AS shifted, 'moved' AS v FROM ml.s.changes) AS c
      ON target.id + 1000 = c.shifted
      WHEN MATCHED THEN UPDATE SET v = c.v`);
    // Without a WHEN NOT MATCHED clause nothing is inserted.
    expect(objects(result)[0]).toMatchObject({ num_updated_rows: '2', num_inserted_rows: '0' });
    expect(await rows("SELECT id FROM ml.s.target WHERE v = 'moved' ORDER BY id")).toEqual([
      { id: '1' },
      { id: '50' },
    ]);
  });

  it('merges with only WHEN NOT MATCHED THEN INSERT *: new keys are added, no file of the table is touched', async () => {
    await run("CREATE TABLE ml.s.insert_only AS SELECT i::BIGINT AS id, 'v' || i AS v FROM range(5) r(i)");
    const result = await run(`
      MERGE INTO ml.s.insert_only t
      USING (SELECT * FROM (VALUES (1::BIGINT, 'one'), (7, 'seven'), (8, 'eight')) c(id, v)) s
      ON t.id = s.id
      WHEN NOT MATCHED THEN INSERT *`);
    expect(objects(result)).toEqual([
      { num_affected_rows: '2', num_updated_rows: '0', num_deleted_rows: '0', num_inserted_rows: '2' },
    ]);
    expect(await rows('SELECT id, v FROM ml.s.insert_only WHERE id IN (1, 7, 8) ORDER BY id')).toEqual([
      { id: '1', v: 'v1' },
      { id: '7', v: 'seven' },
      { id: '8', v: 'eight' },
    ]);
    const commit = await readFile(
      join(warehouse('ml', 's', 'insert_only'), '_delta_log', '00000000000000000001.json'),
      'utf8',
    );
    const kinds = commit
      .trim()
      .split('\n')
      .map((line) => Object.keys(JSON.parse(line) as object)[0]);
    expect(kinds.filter((k) => k !== 'commitInfo')).toEqual(['add']);
    // And a merge with only WHEN MATCHED clauses changes matched rows, inserting nothing.
    await run(
      "MERGE INTO ml.s.insert_only t USING (SELECT 7::BIGINT AS id, 'SEVEN' AS v UNION ALL SELECT 99, 'x') s ON t.id = s.id WHEN MATCHED THEN UPDATE SET *",
    );
    expect(await rows('SELECT id, v FROM ml.s.insert_only WHERE id >= 7 ORDER BY id')).toEqual([
      { id: '7', v: 'SEVEN' },
      { id: '8', v: 'eight' },
    ]);
  });

  it('refuses WHEN NOT MATCHED BY SOURCE by name, changing nothing', async () => {
    const error = await failure(
      'MERGE INTO ml.s.target t USING ml.s.changes s ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE',
    );
    expect(error.code).toBe('UNSUPPORTED_FEATURE');
    expect(error.message).toContain('WHEN NOT MATCHED BY SOURCE');
  });

  it('updates and deletes with an alias, and truncates', async () => {
    // Ids 0, 3, 6 and 9 are in group 0.
    expect(objects(await run("UPDATE ml.s.target AS x SET x.v = 'g0' WHERE x.grp = 0"))).toEqual([
      { num_affected_rows: '4' },
    ]);
    expect(await rows("SELECT count(*) AS n FROM ml.s.target WHERE v = 'g0'")).toEqual([{ n: '4' }]);
    expect(objects(await run('DELETE FROM ml.s.target t WHERE t.grp = 0'))).toEqual([
      { num_affected_rows: '4' },
    ]);
    const before = Number((await rows('SELECT count(*) AS n FROM ml.s.target'))[0]!.n);
    expect(objects(await run('TRUNCATE TABLE ml.s.target'))).toEqual([{ num_affected_rows: String(before) }]);
    expect(await rows('SELECT count(*) AS n FROM ml.s.target')).toEqual([{ n: '0' }]);
  });

  it('restores an earlier version', async () => {
    const result = await run('RESTORE TABLE ml.s.target TO VERSION AS OF 0');
    expect(objects(result)[0]).toMatchObject({ num_restored_files: '1' });
    expect(await rows('SELECT count(*) AS n FROM ml.s.target')).toEqual([{ n: '10' }]);
  });
});

describe('Larder names in the conditions and values of MERGE, UPDATE and DELETE', () => {
  beforeAll(async () => {
    await run('CREATE TABLE ml.s.facts AS SELECT i::BIGINT AS id, i * 10 AS x FROM range(6) r(i)');
    await run(
      'CREATE TABLE ml.s.picked AS SELECT * FROM (VALUES (1::BIGINT, 100), (2, 200), (9, 900)) p(id, y)',
    );
    await run("CREATE TABLE ml.s.dim AS SELECT i::BIGINT AS id, 'd' || i AS name FROM range(10) r(i)");
  });
  const facts = () => rows('SELECT id, x FROM ml.s.facts ORDER BY id');

  it('updates to scalar subqueries over other tables, correlated by the table alias', async () => {
    expect(
      objects(await run('UPDATE ml.s.facts SET x = (SELECT max(y) FROM ml.s.picked) WHERE id = 0')),
    ).toEqual([{ num_affected_rows: '1' }]);
    await run(`UPDATE ml.s.facts AS f SET x = (SELECT p.y + f.x FROM ml.s.picked p WHERE p.id = f.id)
               WHERE f.id IN (SELECT id FROM ml.s.picked)`);
    expect(await facts()).toEqual([
      { id: '0', x: '900' },
      { id: '1', x: '110' },
      { id: '2', x: '220' },
      { id: '3', x: '30' },
      { id: '4', x: '40' },
      { id: '5', x: '50' },
    ]);
  });

  it('merges from a join of two tables, with subqueries in conditions and values', async () => {
    const result = await run(`
      MERGE INTO ml.s.facts AS f
      USING (SELECT p.id, p.y, d.name FROM ml.s.picked p JOIN ml.s.dim d ON p.id = d.id) AS src
      ON f.id = src.id
      WHEN MATCHED AND src.id IN (SELECT id FROM ml.s.dim WHERE name <> 'd2') THEN
        UPDATE SET x = src.y + (SELECT count(*) FROM ml.s.dim)
      WHEN NOT MATCHED THEN INSERT (id, x) VALUES (src.id, (SELECT max(id) FROM ml.s.dim) * 1000)`);
    expect(objects(result)).toEqual([
      { num_affected_rows: '2', num_updated_rows: '1', num_deleted_rows: '0', num_inserted_rows: '1' },
    ]);
    expect(await rows('SELECT id, x FROM ml.s.facts WHERE id IN (1, 2, 9) ORDER BY id')).toEqual([
      { id: '1', x: '110' },
      { id: '2', x: '220' },
      { id: '9', x: '9000' },
    ]);
  });

  it('deletes the rows subqueries over other tables (and older versions) name, correlated or not', async () => {
    // Version 0 of ml.s.picked holds ids 1, 2 and 9: after this, 9 is gone from it.
    await run('DELETE FROM ml.s.picked WHERE id = 9');
    expect(
      objects(await run('DELETE FROM ml.s.facts WHERE id IN (SELECT id FROM ml.s.picked VERSION AS OF 0)')),
    ).toEqual([{ num_affected_rows: '3' }]);
    await run(
      "DELETE FROM ml.s.facts f WHERE EXISTS (SELECT 1 FROM ml.s.dim d WHERE d.id = f.id + 1 AND d.name = 'd4')",
    );
    expect(await facts()).toEqual([
      { id: '0', x: '900' },
      { id: '4', x: '40' },
      { id: '5', x: '50' },
    ]);
    const picked = warehouse('ml', 's', 'picked');
    await run(`DELETE FROM ml.s.facts WHERE id IN (SELECT id + 3 FROM read_delta('${picked}'))`);
    expect(await facts()).toEqual([{ id: '0', x: '900' }]);
  });
});

describe('vacuumed versions', () => {
  it('names the table and the missing file when a statement reads a vacuumed version', async () => {
    await run('CREATE TABLE ml.s.swept AS SELECT 1::BIGINT AS id');
    await run('INSERT OVERWRITE ml.s.swept SELECT 2::BIGINT AS id');
    await run('SET spark.databricks.delta.retentionDurationCheck.enabled = false');
    try {
      await run('VACUUM ml.s.swept RETAIN 0 HOURS');
    } finally {
      await run('RESET spark.databricks.delta.retentionDurationCheck.enabled');
    }
    await run('CREATE TABLE ml.s.copy (id BIGINT)');
    for (const sql of [
      'SELECT * FROM ml.s.swept VERSION AS OF 0',
      'INSERT INTO ml.s.copy SELECT * FROM ml.s.swept VERSION AS OF 0',
    ]) {
      const error = await failure(sql);
      expect(error.code, sql).toBe('IO_ERROR');
      expect(error.message).toMatch(
        /version 0 of table ml\.s\.swept: its data file part-.*\.parquet is missing/,
      );
      expect(error.hint).toContain('newer version');
    }
    expect(await rows('SELECT count(*) AS n FROM ml.s.copy')).toEqual([{ n: '0' }]);
  });
});

describe('DuckDB tables of the session', () => {
  it('leaves statements about temporary tables to DuckDB', async () => {
    await run('CREATE TEMP TABLE scratch (n BIGINT, s VARCHAR)');
    await run("INSERT INTO scratch VALUES (1, 'a'), (2, 'b')");
    await run("UPDATE scratch SET s = 'c' WHERE n = 2");
    await run('DELETE FROM scratch WHERE n = 1');
    expect(await rows('SELECT * FROM scratch')).toEqual([{ n: '2', s: 'c' }]);
    expect((await rows('DESCRIBE scratch')).map((r) => r.column_name)).toEqual(['n', 's']);
    await run('DROP TABLE scratch');
    expect((await failure('SELECT * FROM scratch')).code).toBe('SQL_ERROR');
  });

  it('writes Delta tables from temporary tables and project-relative files of the session', async () => {
    await writeFile(join(cwd, 'more.csv'), 'id,v\n100,csv-a\n101,csv-b\n');
    await run("CREATE TEMP TABLE staged AS SELECT 200::BIGINT AS id, 'temp' AS v");
    await run('CREATE TABLE ml.s.fed (id BIGINT, v STRING)');
    await run("INSERT INTO ml.s.fed SELECT * FROM 'more.csv'");
    await run('INSERT INTO ml.s.fed SELECT * FROM staged');
    await run("CREATE TABLE ml.s.fed_copy AS SELECT * FROM read_csv('more.csv')");
    await run(
      "MERGE INTO ml.s.fed f USING (SELECT 200::BIGINT AS id, 'merged' AS v FROM staged) u ON f.id = u.id WHEN MATCHED THEN UPDATE SET *",
    );
    expect(await rows('SELECT * FROM ml.s.fed ORDER BY id')).toEqual([
      { id: '100', v: 'csv-a' },
      { id: '101', v: 'csv-b' },
      { id: '200', v: 'merged' },
    ]);
    expect(await rows('SELECT count(*) AS n FROM ml.s.fed_copy')).toEqual([{ n: '2' }]);
    expect(
      await rows("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name LIKE '__larder_source_%'"),
    ).toEqual([{ n: '0' }]);
    await run('DROP TABLE staged');
  });

  it('raises the deferred Larder error when a one-part name is a Delta table', async () => {
    await run('USE ml.s');
    try {
      const error = await failure('INSERT INTO ins REPLACE WHERE id = 1 SELECT 1, NULL, NULL');
      expect(error.code).toBe('UNSUPPORTED_FEATURE');
    } finally {
      await run('USE CATALOG main');
    }
  });
});

describe('views', () => {
  it('creates, replaces, describes and drops views stored in the catalog', async () => {
    await run('CREATE VIEW ml.s.v (a, b) AS SELECT id, v FROM ml.s.target WHERE id < 3');
    expect(await rows('SELECT * FROM ml.s.v ORDER BY a')).toEqual([
      { a: '0', b: 'v0' },
      { a: '1', b: 'v1' },
      { a: '2', b: 'v2' },
    ]);
    expect(isLarderError(await failure('CREATE VIEW ml.s.v AS SELECT 1'), 'VIEW_ALREADY_EXISTS')).toBe(true);
    await run('CREATE OR REPLACE VIEW ml.s.v AS SELECT count(*) AS n FROM ml.s.target');
    expect((await run('DESCRIBE ml.s.v')).rows).toEqual([['n', 'bigint', null]]);
    expect(await rows('SHOW VIEWS IN ml.s')).toEqual([{ namespace: 's', viewName: 'v', isTemporary: false }]);
    await run('DROP VIEW ml.s.v');
    await run('DROP VIEW IF EXISTS ml.s.v');
    expect(isLarderError(await failure('DROP VIEW ml.s.v'), 'VIEW_NOT_FOUND')).toBe(true);
  });

  it('keeps temporary views for the session only, never over a permanent view', async () => {
    await run('CREATE OR REPLACE TEMP VIEW ml.s.tmp AS SELECT 1 AS one');
    await run('CREATE OR REPLACE TEMPORARY VIEW ml.s.tmp AS SELECT 2 AS two');
    expect(await rows('SELECT * FROM ml.s.tmp')).toEqual([{ two: 2 }]);
    await run('CREATE VIEW ml.s.permanent AS SELECT 3 AS three');
    expect(
      isLarderError(
        await failure('CREATE OR REPLACE TEMP VIEW ml.s.permanent AS SELECT 4'),
        'VIEW_ALREADY_EXISTS',
      ),
    ).toBe(true);
    const other = await SqlSession.open({ cwd });
    try {
      await other.execute('CREATE TEMP VIEW ml.s.other_tmp AS SELECT 5 AS five');
      expect((await other.execute('SELECT * FROM ml.s.other_tmp')).rows).toEqual([[5]]);
    } finally {
      await other.close();
    }
    expect(isLarderError(await failure('SELECT * FROM ml.s.other_tmp'))).toBe(true);
    expect(await rows('SELECT * FROM ml.s.permanent')).toEqual([{ three: 3 }]);
  });

  it('validates the view query before storing it', async () => {
    expect((await failure('CREATE VIEW ml.s.w AS SELECT nope FROM ml.s.target')).code).toBe('SQL_ERROR');
    expect(
      await session.engine.metastore.getView({ catalog: 'ml', schema: 's', table: 'w' }),
    ).toBeUndefined();
  });
});

describe('table properties and clustering', () => {
  it('sets, shows and unsets table properties', async () => {
    await run(
      "ALTER TABLE ml.s.target SET TBLPROPERTIES ('delta.autoOptimize.optimizeWrite' = 'true', 'owner' = 'me')",
    );
    const properties = Object.fromEntries(
      (await run('SHOW TBLPROPERTIES ml.s.target')).rows.map((r) => [r[0], r[1]]),
    );
    expect(properties).toMatchObject({
      'delta.autoOptimize.optimizeWrite': 'true',
      owner: 'me',
      'delta.enableChangeDataFeed': 'true',
      'delta.minReaderVersion': '3',
      'delta.minWriterVersion': '7',
      'delta.feature.deletionVectors': 'supported',
    });
    await run("ALTER TABLE ml.s.target UNSET TBLPROPERTIES ('owner')");
    expect(await rows("SHOW TBLPROPERTIES ml.s.target ('owner')")).toEqual([
      { key: 'owner', value: 'Table ml.s.target does not have property: owner' },
    ]);
    expect((await failure("ALTER TABLE ml.s.target UNSET TBLPROPERTIES ('owner')")).code).toBe(
      'INVALID_ARGUMENT',
    );
    await run("ALTER TABLE ml.s.target UNSET TBLPROPERTIES IF EXISTS ('owner')");
  });

  it('sets and removes clustering columns', async () => {
    await run('ALTER TABLE ml.s.target CLUSTER BY (id)');
    expect((await rows('DESCRIBE DETAIL ml.s.target'))[0]?.clusteringColumns).toEqual(['id']);
    await run('ALTER TABLE ml.s.target CLUSTER BY NONE');
    expect((await rows('DESCRIBE DETAIL ml.s.target'))[0]?.clusteringColumns).toEqual([]);
  });
});

describe('settings', () => {
  it('maps Spark cores and memory to DuckDB settings, and RESET restores them', async () => {
    const threads = (await rows("SELECT current_setting('threads') AS t"))[0]!.t;
    expect(objects(await run('SET spark.driver.cores = 1'))).toEqual([
      { key: 'spark.driver.cores', value: '1', note: 'applied as DuckDB threads' },
    ]);
    expect(await rows("SELECT current_setting('threads') AS t")).toEqual([{ t: '1' }]);
    await run('SET spark.driver.memory = 1g');
    expect(String((await rows("SELECT current_setting('memory_limit') AS m"))[0]!.m)).toMatch(
      /^(953\.6 MiB|1\.0 GiB|1 GiB)$/,
    );
    await run('RESET spark.driver.cores');
    await run('RESET spark.driver.memory');
    expect(await rows("SELECT current_setting('threads') AS t")).toEqual([{ t: threads }]);
  });

  it('passes DuckDB settings through and validates the values Larder uses', async () => {
    expect(objects(await run('SET threads = 2'))[0]).toMatchObject({ key: 'threads', value: '2' });
    expect(objects(await run('SET threads'))[0]).toMatchObject({ key: 'threads', value: '2' });
    expect((await failure('SET spark.databricks.delta.autoCompact.enabled = maybe')).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(objects(await run('SET spark.databricks.delta.autoCompact.enabled'))[0]?.value).toBe('false');
    expect(objects(await run('SET my.own.key = 5'))[0]).toMatchObject({
      value: '5',
      note: expect.stringMatching(/no effect/),
    });
  });
});

describe('scripts', () => {
  it('refuses an unsupported statement before running any statement of the script', async () => {
    const error = await failure('CREATE SCHEMA ml.never; GRANT SELECT ON TABLE ml.s.target TO analysts');
    expect(error.code).toBe('UNSUPPORTED_FEATURE');
    expect(error.message).toContain('GRANT');
    expect((await rows('SHOW SCHEMAS IN ml')).map((r) => r.databaseName)).not.toContain('never');
  });

  it('explains a query with the files of each Delta table it reads', async () => {
    const plan = await run("EXPLAIN SELECT * FROM ml.s.ctas WHERE d = DATE '2024-01-02'");
    const delta = plan.rows.filter((r) => r[0] === 'delta_scan');
    expect(delta).toEqual([
      ['delta_scan', expect.stringMatching(/ml\.s\.ctas version 0: read 1 of 2 files/)],
    ]);
  });
});

describe('ALTER TABLE … ALTER COLUMN … TYPE (type widening)', () => {
  it('widens types without rewriting files once delta.enableTypeWidening is set, as Databricks does', async () => {
    await run('CREATE TABLE ml.s.widen (id INT, qty INT, day DATE, price DECIMAL(5,2)) USING DELTA');
    await run("INSERT INTO ml.s.widen VALUES (1, 100, DATE '2024-01-02', 1.50)");
    const root = warehouse('ml', 's', 'widen');
    const before = await DeltaTable.open(root);

    const notEnabled = await failure('ALTER TABLE ml.s.widen ALTER COLUMN qty TYPE BIGINT');
    expect(notEnabled.code).toBe('UNSUPPORTED_FEATURE');
    expect(notEnabled.message).toContain('"qty"');
    expect(notEnabled.hint).toContain("'delta.enableTypeWidening' = 'true'");
    expect((await DeltaTable.open(root)).version).toBe(before.version);

    await run("ALTER TABLE ml.s.widen SET TBLPROPERTIES ('delta.enableTypeWidening' = 'true')");
    await run('ALTER TABLE ml.s.widen ALTER COLUMN qty TYPE BIGINT');
    await run('ALTER TABLE ml.s.widen CHANGE COLUMN day day TIMESTAMP_NTZ');
    await run('ALTER TABLE ml.s.widen CHANGE price TYPE DECIMAL(10,4)');
    await run('ALTER TABLE ml.s.widen ALTER COLUMN qty TYPE BIGINT'); // no change, no commit

    for (const [sql, column, from, to] of [
      ['ALTER TABLE ml.s.widen ALTER COLUMN id TYPE SMALLINT', 'id', 'INT', 'SMALLINT'],
      ['ALTER TABLE ml.s.widen ALTER COLUMN qty TYPE STRING', 'qty', 'BIGINT', 'STRING'],
      [
        'ALTER TABLE ml.s.widen ALTER COLUMN price TYPE DECIMAL(10,2)',
        'price',
        'DECIMAL(10,4)',
        'DECIMAL(10,2)',
      ],
    ] as const) {
      const error = await failure(sql);
      expect(error.code, sql).toBe('SCHEMA_MISMATCH');
      expect(error.message).toContain(`"${column}"`);
      expect(error.message).toContain(`from ${from} to ${to}`);
    }
    expect((await failure('ALTER TABLE ml.s.widen CHANGE COLUMN qty quantity BIGINT')).code).toBe(
      'UNSUPPORTED_FEATURE',
    );

    await run("INSERT INTO ml.s.widen VALUES (2, 5000000000, TIMESTAMP '2024-03-04 05:06:07', 123456.1234)");
    expect(await rows('SELECT * FROM ml.s.widen ORDER BY id')).toEqual([
      { id: 1, qty: '100', day: '2024-01-02 00:00:00', price: '1.5000' },
      { id: 2, qty: '5000000000', day: '2024-03-04 05:06:07', price: '123456.1234' },
    ]);
    expect(await rows('SELECT id FROM ml.s.widen WHERE qty > 4000000000')).toEqual([{ id: 2 }]);

    const after = await DeltaTable.open(root);
    // Five commits after the insert: the property, three type changes and the second insert.
    expect(after.version).toBe(before.version + 5);
    expect(after.snapshot.files.map((f) => f.path)).toContain(before.snapshot.files[0]!.path);
    expect(after.snapshot.protocol.readerFeatures).toContain('typeWidening');
    expect(after.snapshot.protocol.writerFeatures).toContain('typeWidening');
    expect(after.snapshot.protocol.readerFeatures).toContain('timestampNtz');
    const metadataOf = (name: string) => after.snapshot.schema.fields.find((f) => f.name === name)!.metadata;
    expect(metadataOf('qty')['delta.typeChanges']).toEqual([{ fromType: 'integer', toType: 'long' }]);
    expect(metadataOf('day')['delta.typeChanges']).toEqual([{ fromType: 'date', toType: 'timestamp_ntz' }]);
    expect(metadataOf('price')['delta.typeChanges']).toEqual([
      { fromType: 'decimal(5,2)', toType: 'decimal(10,4)' },
    ]);
    expect(metadataOf('id')['delta.typeChanges']).toBeUndefined();
    expect(await validateTableLog(root)).toEqual([]);
  });
});
