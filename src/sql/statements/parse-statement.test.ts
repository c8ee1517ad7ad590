import { describe, expect, it } from 'vitest';
import { isLarderError, type LarderError } from '../../errors.js';
import { parseScript, parseStatement } from './parse-statement.js';
import type { Statement } from './statement.js';

function parse<K extends Statement['kind']>(sql: string, kind: K): Extract<Statement, { kind: K }> {
  const statement = parseStatement(sql);
  expect(statement.kind).toBe(kind);
  return statement as Extract<Statement, { kind: K }>;
}

function failure(sql: string): LarderError {
  try {
    parseScript(sql);
  } catch (error) {
    if (isLarderError(error)) return error;
    throw error;
  }
  throw new Error(`expected ${sql} to fail`);
}

describe('parseStatement: schemas, catalogs and USE', () => {
  it('parses CREATE SCHEMA and CREATE DATABASE with IF NOT EXISTS and COMMENT', () => {
    expect(
      parse("create schema if not exists ml.churn_features comment 'features'", 'createSchema'),
    ).toMatchObject({
      name: ['ml', 'churn_features'],
      ifNotExists: true,
      comment: 'features',
    });
    expect(parse('CREATE DATABASE s', 'createSchema')).toMatchObject({ name: ['s'], ifNotExists: false });
  });

  it('parses CREATE CATALOG', () => {
    expect(parse('CREATE CATALOG IF NOT EXISTS ml_dev', 'createCatalog')).toMatchObject({
      name: 'ml_dev',
      ifNotExists: true,
    });
  });

  it('parses SHOW SCHEMAS, SHOW DATABASES, SHOW TABLES, SHOW VIEWS and SHOW CATALOGS', () => {
    expect(parse('SHOW SCHEMAS IN ml', 'showSchemas')).toMatchObject({ catalog: 'ml' });
    expect(parse('show databases', 'showSchemas')).not.toHaveProperty('catalog');
    expect(parse('SHOW TABLES FROM ml.churn_features LIKE "cust*"', 'showTables')).toMatchObject({
      schema: ['ml', 'churn_features'],
      like: 'cust*',
    });
    expect(parse('SHOW TABLES', 'showTables')).not.toHaveProperty('schema');
    expect(parse('SHOW VIEWS IN ml.s', 'showViews')).toMatchObject({ schema: ['ml', 's'] });
    parse('SHOW CATALOGS', 'showCatalogs');
  });

  it('parses USE, USE CATALOG and USE SCHEMA', () => {
    expect(parse('USE CATALOG ml', 'use')).toMatchObject({ target: 'catalog', name: ['ml'] });
    expect(parse('use schema ml.churn_features', 'use')).toMatchObject({
      target: 'schema',
      name: ['ml', 'churn_features'],
    });
    expect(parse('USE ml', 'use')).toMatchObject({ target: 'either', name: ['ml'] });
  });

  it('refuses DROP SCHEMA by name', () => {
    expect(failure('DROP SCHEMA IF EXISTS ml.s CASCADE').context.feature).toBe('DROP SCHEMA');
  });
});

describe('parseStatement: CREATE TABLE', () => {
  it('parses the seed partitioned and clustered table, with its comment and trailing comma', () => {
    const statement = parse(
      `CREATE TABLE ml.churn_features.customer_features_partitioned (
        customer_id INT,
        feature_date DATE,
        -- other columns
    )
    USING DELTA
    PARTITIONED BY (feature_date)
    CLUSTER BY (customer_id)`,
      'createTable',
    );
    expect(statement).toMatchObject({
      name: ['ml', 'churn_features', 'customer_features_partitioned'],
      columns: [
        { name: 'customer_id', type: 'integer', nullable: true },
        { name: 'feature_date', type: 'date', nullable: true },
      ],
      partitionedBy: ['feature_date'],
      clusterBy: ['customer_id'],
      orReplace: false,
      ifNotExists: false,
    });
  });

  it('accepts the clauses in any order, with NOT NULL, comments, properties and a location', () => {
    const statement = parse(
      `create or replace table t (id bigint not null comment 'the key', amount decimal(10, 2), tags array<string>)
       tblproperties ('delta.appendOnly' = 'true', delta.checkpointInterval = 5, "k" "v")
       comment 'my table' location 'data/t' using delta`,
      'createTable',
    );
    expect(statement).toMatchObject({
      name: ['t'],
      orReplace: true,
      columns: [
        { name: 'id', type: 'long', nullable: false, comment: 'the key' },
        { name: 'amount', type: 'decimal(10,2)' },
        { name: 'tags', type: { type: 'array', elementType: 'string' } },
      ],
      properties: { 'delta.appendOnly': 'true', 'delta.checkpointInterval': '5', k: 'v' },
      comment: 'my table',
      location: 'data/t',
    });
  });

  it('parses CREATE TABLE IF NOT EXISTS with the seed metrics columns', () => {
    const statement = parse(
      `CREATE TABLE IF NOT EXISTS ml.churn_features.feature_computation_metrics (
          run_id STRING, run_timestamp TIMESTAMP, num_customers_processed LONG,
          duration_seconds DOUBLE, status STRING, error_message STRING
      ) USING DELTA`,
      'createTable',
    );
    expect(statement.ifNotExists).toBe(true);
    expect(statement.columns?.map((c) => c.type)).toEqual([
      'string',
      'timestamp',
      'long',
      'double',
      'string',
      'string',
    ]);
  });

  it('parses a primary key constraint with a timeseries column', () => {
    const statement = parse(
      'CREATE TABLE t (id INT NOT NULL, ts TIMESTAMP NOT NULL, x DOUBLE, CONSTRAINT t_pk PRIMARY KEY (id, ts TIMESERIES) RELY)',
      'createTable',
    );
    expect(statement.primaryKey).toEqual({ name: 't_pk', columns: ['id', 'ts'], timeseries: 'ts' });
    expect(statement.columns).toHaveLength(3);
  });

  it('parses CREATE TABLE AS SELECT, keeping the query text', () => {
    const statement = parse(
      'CREATE TABLE ml.s.t USING DELTA PARTITIONED BY (d) TBLPROPERTIES (a = 1) AS SELECT 1 AS id, current_date AS d',
      'createTable',
    );
    expect(statement.asQuery).toBe('SELECT 1 AS id, current_date AS d');
    expect(statement.partitionedBy).toEqual(['d']);
    expect(statement.columns).toBeUndefined();
  });

  it('parses SHALLOW CLONE with a version and a location', () => {
    expect(
      parse('CREATE TABLE ml_dev.s.t SHALLOW CLONE ml.s.t VERSION AS OF 3 LOCATION "/tmp/x"', 'cloneTable'),
    ).toMatchObject({
      name: ['ml_dev', 's', 't'],
      source: ['ml', 's', 't'],
      at: { version: 3 },
      location: '/tmp/x',
    });
    expect(
      parse("CREATE OR REPLACE TABLE a SHALLOW CLONE b TIMESTAMP AS OF '2024-01-01'", 'cloneTable'),
    ).toMatchObject({
      orReplace: true,
      at: { timestamp: '2024-01-01' },
    });
  });

  it('accepts backtick-quoted identifiers', () => {
    const statement = parse('CREATE TABLE `ml`.`my schema`.`t``x` (`order id` INT)', 'createTable');
    expect(statement.name).toEqual(['ml', 'my schema', 't`x']);
    expect(statement.columns?.[0]?.name).toBe('order id');
  });

  it('leaves DuckDB temporary tables to DuckDB', () => {
    expect(parse('CREATE TEMP TABLE x (n BIGINT)', 'query').query.text).toBe(
      'CREATE TEMP TABLE x (n BIGINT)',
    );
    parse('CREATE MACRO add1(x) AS x + 1', 'query');
  });

  it('refuses DEEP CLONE, other formats, generated columns and LIKE by name', () => {
    expect(failure('CREATE TABLE a DEEP CLONE b')).toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      context: { feature: 'DEEP CLONE' },
    });
    expect(failure('CREATE TABLE a CLONE b').context.feature).toBe('DEEP CLONE');
    expect(failure('CREATE TABLE a (x INT) USING PARQUET')).toMatchObject({
      code: 'UNSUPPORTED_FEATURE',
      context: { feature: 'USING PARQUET' },
    });
    expect(failure('CREATE TABLE a (x INT GENERATED ALWAYS AS (1))').message).toMatch(/generated columns/);
    expect(failure('CREATE TABLE a (x BIGINT GENERATED ALWAYS AS IDENTITY)').message).toMatch(
      /identity columns/,
    );
    expect(failure('CREATE TABLE a LIKE b').context.feature).toBe('CREATE TABLE … LIKE');
    expect(failure('CREATE TABLE a (x INTERVAL)').context.feature).toBe('INTERVAL type');
  });

  it('reports a clause given twice and a missing column list', () => {
    expect(failure('CREATE TABLE a (x INT) COMMENT "a" COMMENT "b"').message).toMatch(
      /COMMENT clause appears twice/,
    );
    expect(failure('CREATE TABLE a USING DELTA').message).toMatch(/column list/);
  });
});

describe('parseStatement: views', () => {
  it('parses CREATE OR REPLACE VIEW with the seed dashboard query', () => {
    const statement = parse(
      `CREATE OR REPLACE VIEW feature_freshness AS
SELECT
    MAX(days_since_last_transaction) as oldest_activity_days,
    COUNT(*) as total_customers
FROM ml.churn_features.customer_features`,
      'createView',
    );
    expect(statement).toMatchObject({ name: ['feature_freshness'], orReplace: true, temporary: false });
    expect(statement.query).toMatch(/^SELECT\n {4}MAX/);
    expect(statement.query).toMatch(/customer_features$/);
  });

  it('parses temporary views and view column lists', () => {
    expect(parse('CREATE TEMPORARY VIEW v (a, b COMMENT "x") AS SELECT 1, 2', 'createView')).toMatchObject({
      temporary: true,
      columns: ['a', 'b'],
      query: 'SELECT 1, 2',
    });
    expect(parse('CREATE GLOBAL TEMP VIEW v AS SELECT 1', 'createView').temporary).toBe(true);
  });

  it('parses DROP VIEW', () => {
    expect(parse('DROP VIEW IF EXISTS ml.s.v', 'dropView')).toMatchObject({
      name: ['ml', 's', 'v'],
      ifExists: true,
    });
  });
});

describe('parseStatement: DML', () => {
  it('parses INSERT INTO with a query, VALUES and a column list', () => {
    expect(parse('INSERT INTO ml.s.t SELECT * FROM src', 'insert')).toMatchObject({
      overwrite: false,
      query: 'SELECT * FROM src',
    });
    expect(parse("insert into table t (a, b) values (1, 'x'), (2, 'y')", 'insert')).toMatchObject({
      name: ['t'],
      columns: ['a', 'b'],
      query: "values (1, 'x'), (2, 'y')",
    });
    expect(parse('INSERT INTO t (SELECT 1)', 'insert')).toMatchObject({ query: '(SELECT 1)' });
    expect(parse('INSERT INTO t BY NAME SELECT 1 AS a', 'insert').byName).toBe(true);
  });

  it('parses INSERT OVERWRITE [TABLE]', () => {
    expect(parse('INSERT OVERWRITE TABLE ml.s.t SELECT 1', 'insert')).toMatchObject({
      overwrite: true,
      name: ['ml', 's', 't'],
    });
  });

  it('refuses INSERT … REPLACE WHERE on a qualified table, and defers it on a one-part name', () => {
    expect(failure('INSERT INTO ml.s.t REPLACE WHERE d = 1 SELECT 1').context.feature).toBe(
      'INSERT … REPLACE WHERE',
    );
    const deferred = parse('INSERT INTO t REPLACE WHERE d = 1 SELECT 1', 'query');
    expect(deferred.deferredError?.name).toEqual(['t']);
    expect(isLarderError(deferred.deferredError?.error, 'UNSUPPORTED_FEATURE')).toBe(true);
  });

  it('hands DuckDB-only INSERT forms to DuckDB', () => {
    parse('INSERT OR REPLACE INTO t VALUES (1)', 'query');
  });

  it('parses MERGE with aliases, every clause kind and conditions', () => {
    const statement = parse(
      `MERGE INTO ml.s.target AS tgt
       USING (SELECT * FROM updates WHERE x > 0) src
       ON tgt.id = src.id AND tgt.day = src.day
       WHEN MATCHED AND src.deleted THEN DELETE
       WHEN MATCHED AND tgt.v <> src.v THEN UPDATE SET tgt.v = src.v + 1, n = tgt.n + 1,
       WHEN MATCHED THEN UPDATE SET *
       WHEN NOT MATCHED BY TARGET AND NOT src.deleted THEN INSERT (id, day, v) VALUES (src.id, src.day, coalesce(src.v, 0))
       WHEN NOT MATCHED THEN INSERT *`,
      'merge',
    );
    expect(statement).toMatchObject({
      target: ['ml', 's', 'target'],
      targetAlias: 'tgt',
      source: { kind: 'query', query: 'SELECT * FROM updates WHERE x > 0' },
      sourceAlias: 'src',
      on: 'tgt.id = src.id AND tgt.day = src.day',
    });
    expect(statement.clauses).toEqual([
      { when: 'matched', action: 'delete', condition: 'src.deleted' },
      {
        when: 'matched',
        action: 'update',
        condition: 'tgt.v <> src.v',
        set: [
          { column: ['tgt', 'v'], expression: 'src.v + 1' },
          { column: ['n'], expression: 'tgt.n + 1' },
        ],
      },
      { when: 'matched', action: 'update' },
      {
        when: 'notMatched',
        action: 'insert',
        condition: 'NOT src.deleted',
        columns: [['id'], ['day'], ['v']],
        values: ['src.id', 'src.day', 'coalesce(src.v, 0)'],
      },
      { when: 'notMatched', action: 'insert' },
    ]);
  });

  it('parses MERGE from a table name without aliases', () => {
    const statement = parse('merge into t using ml.s.u on t.id = u.id when matched then delete', 'merge');
    expect(statement.source).toEqual({ kind: 'table', text: 'ml.s.u', name: ['ml', 's', 'u'] });
    expect(statement.targetAlias).toBeUndefined();
    expect(statement.sourceAlias).toBeUndefined();
  });

  it('refuses WHEN NOT MATCHED BY SOURCE by name', () => {
    const error = failure('MERGE INTO ml.s.t USING u ON t.id = u.id WHEN NOT MATCHED BY SOURCE THEN DELETE');
    expect(error.code).toBe('UNSUPPORTED_FEATURE');
    expect(error.context.feature).toBe('WHEN NOT MATCHED BY SOURCE');
  });

  it('parses UPDATE and DELETE with aliases and WHERE', () => {
    expect(parse("UPDATE ml.s.t AS x SET x.a = 1, b = 'y' WHERE x.id = 3", 'update')).toMatchObject({
      alias: 'x',
      set: [
        { column: ['x', 'a'], expression: '1' },
        { column: ['b'], expression: "'y'" },
      ],
      where: 'x.id = 3',
    });
    expect(parse("DELETE FROM ml.s.t WHERE day < DATE '2024-01-01'", 'delete')).toMatchObject({
      where: "day < DATE '2024-01-01'",
    });
    expect(parse('DELETE FROM ml.s.t', 'delete')).not.toHaveProperty('where');
    expect(failure('UPDATE ml.s.t SET a = 1 FROM u').context.feature).toBe('UPDATE … FROM');
  });

  it('parses DROP TABLE and TRUNCATE TABLE', () => {
    expect(parse('DROP TABLE IF EXISTS ml.s.t', 'dropTable')).toMatchObject({
      ifExists: true,
      name: ['ml', 's', 't'],
    });
    expect(parse('TRUNCATE TABLE ml.s.t', 'truncate')).toMatchObject({ name: ['ml', 's', 't'] });
  });
});

describe('parseStatement: DESCRIBE, properties and maintenance', () => {
  it('parses DESCRIBE [TABLE], DESCRIBE DETAIL and DESCRIBE HISTORY … LIMIT', () => {
    expect(parse('DESCRIBE TABLE ml.s.t', 'describeTable')).toMatchObject({
      name: ['ml', 's', 't'],
      extended: false,
    });
    expect(parse('DESC EXTENDED t', 'describeTable').extended).toBe(true);
    expect(parse('DESCRIBE DETAIL ml.s.t', 'describeDetail').name).toEqual(['ml', 's', 't']);
    expect(parse('describe history ml.s.t limit 5', 'describeHistory')).toMatchObject({ limit: 5 });
    expect(parse('DESCRIBE SELECT 1', 'query').query.text).toBe('DESCRIBE SELECT 1');
    expect(parse('DESCRIBE QUERY SELECT 1', 'query').query.text).toBe('DESCRIBE SELECT 1');
  });

  it('parses SHOW TBLPROPERTIES and ALTER TABLE SET/UNSET TBLPROPERTIES', () => {
    expect(parse("SHOW TBLPROPERTIES t ('delta.appendOnly')", 'showTblProperties')).toMatchObject({
      key: 'delta.appendOnly',
    });
    expect(
      parse(
        "ALTER TABLE ml.s.t SET TBLPROPERTIES ('delta.autoOptimize.optimizeWrite' = 'true', owner = 'me',)",
        'alterSetProperties',
      ),
    ).toMatchObject({ properties: { 'delta.autoOptimize.optimizeWrite': 'true', owner: 'me' } });
    expect(
      parse("ALTER TABLE t UNSET TBLPROPERTIES IF EXISTS ('a', b.c)", 'alterUnsetProperties'),
    ).toMatchObject({
      keys: ['a', 'b.c'],
      ifExists: true,
    });
  });

  it('parses ALTER TABLE … CLUSTER BY (cols) and CLUSTER BY NONE', () => {
    expect(
      parse('ALTER TABLE ml.churn_features.customer_features\n    CLUSTER BY (customer_id)', 'alterClusterBy')
        .columns,
    ).toEqual(['customer_id']);
    expect(parse('ALTER TABLE ml.s.t CLUSTER BY NONE', 'alterClusterBy').columns).toEqual([]);
  });

  it('refuses other ALTER TABLE forms by name', () => {
    expect(failure('ALTER TABLE ml.s.t ADD COLUMNS (x INT)').context.feature).toBe(
      'ALTER TABLE … ADD COLUMNS',
    );
    expect(failure('ALTER TABLE ml.s.t RENAME TO u').context.feature).toBe('ALTER TABLE … RENAME TO');
  });

  it('parses RESTORE with and without TABLE and TO', () => {
    expect(parse('RESTORE TABLE ml.s.t TO VERSION AS OF 2', 'restore')).toMatchObject({ to: { version: 2 } });
    expect(parse("restore ml.s.t timestamp as of '2024-05-01 00:00:00'", 'restore')).toMatchObject({
      to: { timestamp: '2024-05-01 00:00:00' },
    });
    expect(failure('RESTORE TABLE ml.s.t TO 2').code).toBe('SQL_ERROR');
  });

  it('parses the seed OPTIMIZE … ZORDER BY and OPTIMIZE … WHERE', () => {
    expect(
      parse(
        '\n    OPTIMIZE ml.churn_features.customer_features\n    ZORDER BY (customer_id, days_since_last_transaction)\n',
        'optimize',
      ),
    ).toMatchObject({
      name: ['ml', 'churn_features', 'customer_features'],
      zorderBy: ['customer_id', 'days_since_last_transaction'],
    });
    expect(parse("OPTIMIZE t WHERE day >= '2024-01-01' ZORDER BY id", 'optimize')).toMatchObject({
      where: "day >= '2024-01-01'",
      zorderBy: ['id'],
    });
    expect(parse('OPTIMIZE t', 'optimize')).not.toHaveProperty('zorderBy');
  });

  it('parses the seed VACUUM … RETAIN 168 HOURS -- 7 days, and DRY RUN', () => {
    expect(
      parse('\n    VACUUM ml.churn_features.customer_features\n    RETAIN 168 HOURS  -- 7 days\n', 'vacuum'),
    ).toMatchObject({
      retainHours: 168,
      dryRun: false,
    });
    expect(parse('VACUUM ml.s.t RETAIN 0 HOURS DRY RUN', 'vacuum')).toMatchObject({
      retainHours: 0,
      dryRun: true,
    });
    expect(parse('VACUUM', 'query').query.text).toBe('VACUUM');
  });
});

describe('parseStatement: SET, RESET, EXPLAIN and pass-through', () => {
  it('parses SET key = value, SET key, SET and RESET', () => {
    expect(parse('SET spark.sql.shuffle.partitions = 200', 'set')).toMatchObject({
      key: 'spark.sql.shuffle.partitions',
      value: '200',
    });
    expect(parse('set spark.databricks.delta.optimizeWrite.enabled = "true"', 'set')).toMatchObject({
      value: 'true',
    });
    const { tokens, ...set } = parse('SET spark.sql.shuffle.partitions', 'set');
    expect(set).toEqual({
      kind: 'set',
      text: 'SET spark.sql.shuffle.partitions',
      key: 'spark.sql.shuffle.partitions',
    });
    expect(tokens.map((t) => t.text).join('')).toBe(set.text);
    expect(parse('SET', 'set')).not.toHaveProperty('key');
    expect(parse('SET threads TO 2', 'set')).toMatchObject({ key: 'threads', value: '2' });
    expect(parse('RESET spark.sql.shuffle.partitions', 'reset').key).toBe('spark.sql.shuffle.partitions');
    expect(parse('RESET', 'reset')).not.toHaveProperty('key');
    parse('SET VARIABLE x = 1', 'query');
  });

  it('parses EXPLAIN with a mode', () => {
    expect(parse('EXPLAIN COST SELECT 1', 'explain')).toMatchObject({ mode: 'cost', query: 'SELECT 1' });
    expect(parse('explain select 1', 'explain')).not.toHaveProperty('mode');
  });

  it('hands queries and other DuckDB statements to DuckDB unchanged', () => {
    for (const sql of [
      'SELECT 1',
      'WITH x AS (SELECT 1) SELECT * FROM x',
      'PRAGMA version',
      "COPY t TO 'x.csv'",
      'FROM t',
    ]) {
      expect(parse(sql, 'query').query.text).toBe(sql);
    }
  });

  it('refuses Databricks statements Larder does not run, naming them', () => {
    const cases: [string, string][] = [
      ['CREATE FUNCTION f(x INT) RETURNS INT RETURN x + 1', 'CREATE FUNCTION'],
      ['GRANT SELECT ON TABLE t TO users', 'GRANT'],
      ['FSCK REPAIR TABLE t', 'FSCK REPAIR TABLE'],
      ['CONVERT TO DELTA parquet.`/data`', 'CONVERT TO DELTA'],
      ["COPY INTO t FROM '/data' FILEFORMAT = PARQUET", 'COPY INTO'],
      ['CREATE MATERIALIZED VIEW v AS SELECT 1', 'CREATE MATERIALIZED VIEW'],
      ['ANALYZE TABLE t COMPUTE STATISTICS', 'ANALYZE TABLE … COMPUTE STATISTICS'],
    ];
    for (const [sql, feature] of cases) {
      const error = failure(sql);
      expect(error.code).toBe('UNSUPPORTED_FEATURE');
      expect(error.context.feature).toBe(feature);
      expect(error.message).toContain(feature);
    }
  });
});

describe('parseScript', () => {
  it('splits at top-level semicolons and parses every statement', () => {
    const statements = parseScript(`
      -- a comment; with a semicolon
      CREATE SCHEMA IF NOT EXISTS ml.s; /* block; comment */
      SELECT ';' AS x;
      OPTIMIZE ml.s.t;`);
    expect(statements.map((s) => s.kind)).toEqual(['createSchema', 'query', 'optimize']);
  });

  it('fails the whole script on an error in a later statement, naming the token, line and column', () => {
    const error = failure('SELECT 1;\nCREATE TABLE ml.s.t (id INT) PARTITIONED (id)');
    expect(error.code).toBe('SQL_ERROR');
    expect(error.message).toContain('at "PARTITIONED" (line 2, column 30)');
  });

  it('names the end of the statement when it stops early', () => {
    expect(failure('MERGE INTO ml.s.t USING u ON t.id = u.id').message).toMatch(
      /at the end of the statement/,
    );
    expect(failure('CREATE TABLE ml.s.t (id INT').message).toMatch(/at the end of the statement: expected/);
  });
});
