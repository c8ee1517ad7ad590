/**
 * Every SQL statement of the seed (`test/fixtures/seed/feature-store-performance-guide.md`),
 * copied verbatim (f-strings filled in, `spark.conf.set("k", "v")` written as
 * `SET k = v`), run through `larder sql`'s session against a generated
 * `ml.churn_features.customer_features` table, with each result checked.
 *
 * The tests of this file run in order and share the session: each section
 * of the seed builds on the state the previous ones left, as in the guide.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlResult } from '../src/engine/sql-result.js';
import { isLarderError } from '../src/errors.js';
import { SqlSession } from '../src/sql/sql-session.js';
import { DASHBOARD_SYNC_STATUS, DASHBOARD_VIEWS } from './support/seed-dashboard-sql.js';

const CUSTOMERS = 4000;
const BATCHES = 8;
const TABLE = 'ml.churn_features.customer_features';

/**
 * The generated features of customer `i` (0 ≤ i < CUSTOMERS), as DuckDB SQL
 * over `r.i`: ids are a permutation, so every batch spans the whole id range
 * (and every file does, until Z-ordering sorts them out).
 */
const GENERATED = `
  ((r.i * 7919) % ${CUSTOMERS})::INT AS customer_id,
  (hash(r.i) % 120)::INT AS days_since_last_transaction,
  round((hash(r.i * 7) % 100000) / 100.0, 2)::DOUBLE AS total_spend,
  (hash(r.i * 13) % 50)::INT AS num_transactions,
  TIMESTAMP '2024-06-01 00:00:00' + INTERVAL (r.i % 1440) MINUTE AS feature_timestamp,
  TIMESTAMP '2024-06-02 00:00:00' + INTERVAL (r.i) SECOND AS _update_timestamp`;

let cwd: string;
let session: SqlSession;

const run = (sql: string) => session.execute(sql);
/** The result's rows as objects keyed by column name. */
const objects = (result: SqlResult) =>
  result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i]])));
const one = async (sql: string) => objects(await run(sql))[0]!;
const detail = (name = TABLE) => one(`DESCRIBE DETAIL ${name}`);
const filesRead = async (sql: string) => {
  const result = await run(sql);
  expect(result.scans).toHaveLength(1);
  return result.scans[0]!.filesRead;
};
/** Expected aggregates, computed by DuckDB from the generator itself (no Larder involved). */
const expected = (select: string) =>
  one(`SELECT ${select} FROM (SELECT ${GENERATED} FROM range(${CUSTOMERS}) r(i))`);

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'larder-seed-sql-'));
  session = await SqlSession.open({ cwd });
  await run('CREATE SCHEMA IF NOT EXISTS ml.churn_features');
  await run(`CREATE TABLE ${TABLE} (
      customer_id INT NOT NULL,
      days_since_last_transaction INT,
      total_spend DOUBLE,
      num_transactions INT,
      feature_timestamp TIMESTAMP,
      _update_timestamp TIMESTAMP
    ) USING DELTA
    TBLPROPERTIES ('delta.targetFileSize' = '24kb')`);
  const per = CUSTOMERS / BATCHES;
  for (let b = 0; b < BATCHES; b++) {
    await run(`INSERT INTO ${TABLE} SELECT ${GENERATED} FROM range(${b * per}, ${(b + 1) * per}) r(i)`);
  }
}, 120_000);

afterAll(async () => {
  session?.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('the seed guide, section "Delta Lake Optimization"', () => {
  let versionBefore: number;
  let rowsBefore: readonly (readonly unknown[])[];

  it('generated the feature table in eight appends', async () => {
    expect(await one(`SELECT count(*) AS n, count(DISTINCT customer_id) AS ids FROM ${TABLE}`)).toEqual({
      n: String(CUSTOMERS),
      ids: String(CUSTOMERS),
    });
    expect((await detail()).numFiles).toBe(String(BATCHES));
  });

  it('acknowledges the auto-optimize settings, which writes in the session then use', async () => {
    // spark.conf.set("spark.databricks.delta.optimizeWrite.enabled", "true")
    const optimizeWrite = objects(await run('SET spark.databricks.delta.optimizeWrite.enabled = true'));
    expect(optimizeWrite).toEqual([
      {
        key: 'spark.databricks.delta.optimizeWrite.enabled',
        value: 'true',
        note: expect.stringMatching(/used by Larder/),
      },
    ]);
    // spark.conf.set("spark.databricks.delta.autoCompact.enabled", "true")
    const autoCompact = objects(await run('SET spark.databricks.delta.autoCompact.enabled = true'));
    expect(autoCompact[0]).toMatchObject({
      key: 'spark.databricks.delta.autoCompact.enabled',
      value: 'true',
    });
    expect(objects(await run('SET spark.databricks.delta.autoCompact.enabled'))[0]?.value).toBe('true');
    // Later sections count files exactly: back to the defaults.
    await run('RESET spark.databricks.delta.optimizeWrite.enabled');
    await run('RESET spark.databricks.delta.autoCompact.enabled');
    expect(objects(await run('SET spark.databricks.delta.autoCompact.enabled'))[0]?.value).toBe('false');
  });

  it('OPTIMIZE … ZORDER BY keeps the rows, reduces the files and prunes point filters on both columns', async () => {
    versionBefore = Number((await detail()).version);
    rowsBefore = (await run(`SELECT * FROM ${TABLE} ORDER BY customer_id`)).rows;
    const idFilter = `SELECT * FROM ${TABLE} WHERE customer_id = 1234`;
    const daysFilter = `SELECT * FROM ${TABLE} WHERE days_since_last_transaction = 17`;
    expect(await filesRead(idFilter)).toBe(BATCHES);
    expect(await filesRead(daysFilter)).toBe(BATCHES);

    const result = await run(`
    OPTIMIZE ml.churn_features.customer_features
    ZORDER BY (customer_id, days_since_last_transaction)
`);
    expect(result.columns.map((c) => c.name)).toEqual(['path', 'metrics']);
    const [path, metrics] = result.rows[0] as [string, Record<string, unknown>];
    expect(path).toBe(join(cwd, '.larder', 'warehouse', 'ml', 'churn_features', 'customer_features'));
    expect(metrics.numFilesRemoved).toBe(String(BATCHES));
    const added = Number(metrics.numFilesAdded);
    expect(added).toBeGreaterThan(1);
    expect(added).toBeLessThan(BATCHES);

    expect((await detail()).numFiles).toBe(String(added));
    expect((await run(`SELECT * FROM ${TABLE} ORDER BY customer_id`)).rows).toEqual(rowsBefore);
    expect(await filesRead(idFilter)).toBeLessThan(added);
    expect(await filesRead(daysFilter)).toBeLessThan(added);
    expect((await run(idFilter)).rows).toHaveLength(1);
    const history = objects(await run(`DESCRIBE HISTORY ${TABLE} LIMIT 1`));
    expect(history[0]).toMatchObject({ version: String(versionBefore + 1), operation: 'OPTIMIZE' });
  });

  it('time travel to the version before OPTIMIZE returns the old rows from the old files', async () => {
    const old = await run(`SELECT * FROM ${TABLE} VERSION AS OF ${versionBefore} ORDER BY customer_id`);
    expect(old.rows).toEqual(rowsBefore);
    expect(old.scans[0]).toMatchObject({ version: versionBefore, filesRead: BATCHES });
  });

  it('ALTER TABLE … CLUSTER BY sets the clustering column that DESCRIBE shows', async () => {
    const result = await run(`
    ALTER TABLE ml.churn_features.customer_features
    CLUSTER BY (customer_id)
`);
    expect(result.rows).toEqual([]);
    expect((await detail()).clusteringColumns).toEqual(['customer_id']);
    const described = (await run(`DESCRIBE TABLE ${TABLE}`)).rows;
    expect(described.slice(0, 6).map((r) => [r[0], r[1]])).toEqual([
      ['customer_id', 'int'],
      ['days_since_last_transaction', 'int'],
      ['total_spend', 'double'],
      ['num_transactions', 'int'],
      ['feature_timestamp', 'timestamp'],
      ['_update_timestamp', 'timestamp'],
    ]);
    expect(described.slice(6)).toEqual([
      ['# Clustering Information', '', ''],
      ['# col_name', 'data_type', 'comment'],
      ['customer_id', 'int', null],
    ]);
  });
});

describe('the seed guide, section "Incremental Feature Computation"', () => {
  it('reads the last processed timestamp', async () => {
    const result = await run(`
            SELECT MAX(_update_timestamp) as last_ts
            FROM ml.churn_features.customer_features
        `);
    // TIMESTAMP columns are instants (TIMESTAMPTZ) in Delta tables.
    expect(objects(result)).toEqual([await expected('MAX(_update_timestamp)::TIMESTAMPTZ AS last_ts')]);
  });

  it('merges recomputed features of the affected customers into the table', async () => {
    const result = await run(`
      MERGE INTO ${TABLE} AS target
      USING (SELECT customer_id, 0 AS days_since_last_transaction, total_spend + 10 AS total_spend,
                    num_transactions + 1 AS num_transactions, feature_timestamp,
                    TIMESTAMP '2024-07-01 00:00:00' AS _update_timestamp
             FROM ${TABLE} WHERE customer_id < 10
             UNION ALL
             SELECT 100000, 0, 5.0, 1, TIMESTAMP '2024-07-01', TIMESTAMP '2024-07-01 00:00:00') AS updates
      ON target.customer_id = updates.customer_id
      WHEN MATCHED THEN UPDATE SET *
      WHEN NOT MATCHED THEN INSERT *`);
    expect(objects(result)).toEqual([
      { num_affected_rows: '11', num_updated_rows: '10', num_deleted_rows: '0', num_inserted_rows: '1' },
    ]);
    expect(await one(`SELECT count(*) AS n, MAX(_update_timestamp) AS last_ts FROM ${TABLE}`)).toEqual({
      n: String(CUSTOMERS + 1),
      last_ts: '2024-07-01 00:00:00+00',
    });
    expect(
      await one(
        `SELECT count(*) AS n FROM ${TABLE} WHERE days_since_last_transaction = 0 AND customer_id < 10`,
      ),
    ).toEqual({
      n: '10',
    });
  });
});

describe('the seed guide, section "Partition Strategy"', () => {
  const PARTITIONED = 'ml.churn_features.customer_features_partitioned';

  it('creates the partitioned and clustered table, trailing comment and comma included', async () => {
    const result = await run(`
    CREATE TABLE ml.churn_features.customer_features_partitioned (
        customer_id INT,
        feature_date DATE,
        -- other columns
    )
    USING DELTA
    PARTITIONED BY (feature_date)
    CLUSTER BY (customer_id)
`);
    expect(result.rows).toEqual([]);
    expect(await detail(PARTITIONED)).toMatchObject({
      partitionColumns: ['feature_date'],
      clusteringColumns: ['customer_id'],
      numFiles: '0',
    });
    expect((await run(`DESCRIBE ${PARTITIONED}`)).rows).toEqual([
      ['customer_id', 'int', null],
      ['feature_date', 'date', null],
      ['# Partition Information', '', ''],
      ['# col_name', 'data_type', 'comment'],
      ['feature_date', 'date', null],
      ['# Clustering Information', '', ''],
      ['# col_name', 'data_type', 'comment'],
      ['customer_id', 'int', null],
    ]);
  });

  it('writes one folder per date (the seed’s partitionBy append, as INSERT INTO)', async () => {
    const result = await run(
      `INSERT INTO ${PARTITIONED} SELECT customer_id, DATE '2024-06-01' + (customer_id % 3)::INT FROM ${TABLE}`,
    );
    expect(objects(result)).toEqual([
      { num_affected_rows: String(CUSTOMERS + 1), num_inserted_rows: String(CUSTOMERS + 1) },
    ]);
    expect((await detail(PARTITIONED)).numFiles).toBe('3');
    const dirs = await readdir(
      join(cwd, '.larder', 'warehouse', 'ml', 'churn_features', 'customer_features_partitioned'),
    );
    expect(dirs.filter((d) => d.startsWith('feature_date=')).sort()).toEqual([
      'feature_date=2024-06-01',
      'feature_date=2024-06-02',
      'feature_date=2024-06-03',
    ]);
    expect(
      await filesRead(`SELECT count(*) FROM ${PARTITIONED} WHERE feature_date = DATE '2024-06-02'`),
    ).toBe(1);
  });
});

describe('the seed guide, section "Feature Computation Metrics"', () => {
  const CREATE_METRICS = `
            CREATE TABLE IF NOT EXISTS ml.churn_features.feature_computation_metrics (
                run_id STRING,
                run_timestamp TIMESTAMP,
                num_customers_processed LONG,
                num_features_computed LONG,
                duration_seconds DOUBLE,
                rows_per_second DOUBLE,
                status STRING,
                error_message STRING
            )
            USING DELTA
        `;

  it('creates the metrics table if it does not exist, and leaves it alone when it does', async () => {
    await run(CREATE_METRICS);
    const version = (await detail('ml.churn_features.feature_computation_metrics')).version;
    await run(CREATE_METRICS);
    expect((await detail('ml.churn_features.feature_computation_metrics')).version).toBe(version);
    expect(
      (await run('DESCRIBE ml.churn_features.feature_computation_metrics')).rows.map((r) => r[1]),
    ).toEqual(['string', 'timestamp', 'bigint', 'bigint', 'double', 'double', 'string', 'string']);
  });

  it('appends computation runs (the seed’s metrics_df.write.mode("append"))', async () => {
    const result = await run(`INSERT INTO ml.churn_features.feature_computation_metrics VALUES
      ('run-1', CURRENT_TIMESTAMP - INTERVAL 1 HOUR, 4000, 6, 20.0, 200.0, 'success', NULL),
      ('run-2', CURRENT_TIMESTAMP - INTERVAL 2 HOUR, 4000, 6, 40.0, 100.0, 'success', NULL),
      ('run-3', CURRENT_TIMESTAMP - INTERVAL 3 HOUR, 0, 0, 5.0, 0.0, 'failed', 'source unavailable'),
      ('run-0', CURRENT_TIMESTAMP - INTERVAL 10 DAY, 4000, 6, 10.0, 400.0, 'success', NULL)`);
    expect(objects(result)).toEqual([{ num_affected_rows: '4', num_inserted_rows: '4' }]);
  });
});

describe('the seed guide, section "Real-time Performance Dashboard"', () => {
  it('runs the dashboard script unchanged: two views and the online sync status', async () => {
    const results = await session.executeAll(`${DASHBOARD_VIEWS}\n\n${DASHBOARD_SYNC_STATUS}`);
    expect(results).toHaveLength(3);
    expect(results[0]?.kind).toBe('CREATE');
    expect(results[1]?.kind).toBe('CREATE');
    // Online tables come with the online store (next issue): the system relation has the columns and no rows yet.
    expect(results[2]?.columns.map((c) => c.name)).toEqual([
      'table_name',
      'sync_status',
      'last_sync_time',
      'minutes_since_sync',
    ]);
    expect(results[2]?.rows).toEqual([]);
  });

  it('the views answer afterwards: computation performance by day', async () => {
    const rows = objects(await run('SELECT * FROM feature_computation_performance'));
    // Runs 1-3 are within the last hours (today, or yesterday just after midnight UTC); run-0 is 10 days old.
    const total = rows.reduce((sum, r) => sum + Number(r.num_runs), 0);
    expect(total).toBe(3);
    expect(rows.reduce((sum, r) => sum + Number(r.failed_runs), 0)).toBe(1);
    for (let i = 1; i < rows.length; i++)
      expect(String(rows[i - 1]!.run_date) > String(rows[i]!.run_date)).toBe(true);
  });

  it('the views answer afterwards: feature freshness of every customer', async () => {
    const freshness = await one('SELECT * FROM feature_freshness');
    const stale = Number(
      (await one(`SELECT count(*) AS n FROM ${TABLE} WHERE days_since_last_transaction > 60`)).n,
    );
    expect(stale).toBeGreaterThan(0);
    expect(freshness).toEqual({
      oldest_activity_days: (await expected('MAX(days_since_last_transaction) AS m')).m,
      total_customers: String(CUSTOMERS + 1),
      stale_features: String(stale),
      stale_pct: stale / (CUSTOMERS + 1),
    });
  });
});

describe('the seed guide, section "Storage Optimization"', () => {
  const CLONE = 'ml_dev.churn_features.customer_features';

  it('VACUUM … RETAIN 168 HOURS keeps every file a retained version needs', async () => {
    const filesBefore = await readdir(
      join(cwd, '.larder', 'warehouse', 'ml', 'churn_features', 'customer_features'),
    );
    const result = await run(`
    VACUUM ml.churn_features.customer_features
    RETAIN 168 HOURS  -- 7 days
`);
    expect(objects(result)).toEqual([
      {
        path: join(cwd, '.larder', 'warehouse', 'ml', 'churn_features', 'customer_features'),
        num_deleted_files: '0',
        size_of_deleted_files: '0',
      },
    ]);
    expect(
      await readdir(join(cwd, '.larder', 'warehouse', 'ml', 'churn_features', 'customer_features')),
    ).toEqual(filesBefore);
    // Every version is still readable, the first appends included.
    expect((await one(`SELECT count(*) AS n FROM ${TABLE} VERSION AS OF 1`)).n).toBe(
      String(CUSTOMERS / BATCHES),
    );
  });

  it('CREATE TABLE … SHALLOW CLONE makes an independent table over the source files', async () => {
    const source = await detail();
    const result = await run(`
    CREATE TABLE ml_dev.churn_features.customer_features
    SHALLOW CLONE ml.churn_features.customer_features
`);
    expect(objects(result)[0]).toMatchObject({ source_num_of_files: source.numFiles, num_copied_files: '0' });
    const cloneDir = join(cwd, '.larder', 'warehouse', 'ml_dev', 'churn_features', 'customer_features');
    expect((await readdir(cloneDir)).filter((f) => f.endsWith('.parquet'))).toEqual([]);
    expect((await run(`SELECT * FROM ${CLONE} ORDER BY customer_id`)).rows).toEqual(
      (await run(`SELECT * FROM ${TABLE} ORDER BY customer_id`)).rows,
    );

    // Writes to the clone never touch the source.
    const sourceRows = (await run(`SELECT * FROM ${TABLE} ORDER BY customer_id`)).rows;
    const sourceVersion = source.version;
    await run(`DELETE FROM ${CLONE} WHERE customer_id < 2000`);
    expect(objects(await run(`UPDATE ${CLONE} SET total_spend = 0 WHERE customer_id >= 3000`))).toEqual([
      { num_affected_rows: '1001' },
    ]);
    expect(
      await one(`SELECT count(*) AS n, count(*) FILTER (WHERE total_spend = 0) AS zero FROM ${CLONE}`),
    ).toEqual({
      n: String(CUSTOMERS + 1 - 2000),
      zero: '1001',
    });
    expect((await run(`SELECT * FROM ${TABLE} ORDER BY customer_id`)).rows).toEqual(sourceRows);
    expect((await detail()).version).toBe(sourceVersion);
  });

  it('VACUUM of the clone never deletes the source files, even with no retention', async () => {
    const refused = await run(`VACUUM ${CLONE} RETAIN 0 HOURS`).catch((e: unknown) => e);
    expect(isLarderError(refused)).toBe(true);
    expect(String((refused as Error).message)).toMatch(/retention/i);
    await run('SET spark.databricks.delta.retentionDurationCheck.enabled = false');
    const dry = await run(`VACUUM ${CLONE} RETAIN 0 HOURS DRY RUN`);
    expect(dry.columns.map((c) => c.name)).toEqual(['path']);
    for (const [file] of dry.rows)
      expect(String(file)).toContain(join('ml_dev', 'churn_features', 'customer_features'));
    await run(`VACUUM ${CLONE} RETAIN 0 HOURS`);
    expect((await one(`SELECT count(*) AS n FROM ${TABLE}`)).n).toBe(String(CUSTOMERS + 1));
    expect((await one(`SELECT count(*) AS n FROM ${CLONE}`)).n).toBe(String(CUSTOMERS + 1 - 2000));
    await run('RESET spark.databricks.delta.retentionDurationCheck.enabled');
  });
});

describe('the seed guide, section "Troubleshooting Performance Issues"', () => {
  it('shows the shuffle partitions setting (spark.sql("SET spark.sql.shuffle.partitions"))', async () => {
    expect(objects(await run('SET spark.sql.shuffle.partitions'))).toEqual([
      { key: 'spark.sql.shuffle.partitions', value: '200', note: expect.stringMatching(/no effect/) },
    ]);
  });

  it('acknowledges the shuffle and adaptive execution settings, saying they have no effect here', async () => {
    for (const [key, value] of [
      ['spark.sql.shuffle.partitions', '200'],
      ['spark.sql.adaptive.enabled', 'true'],
      ['spark.sql.adaptive.coalescePartitions.enabled', 'true'],
    ] as const) {
      expect(objects(await run(`SET ${key} = ${value}`))).toEqual([
        { key, value, note: expect.stringMatching(/no effect in Larder/) },
      ]);
    }
    expect((await run('SET')).rows.map((r) => r[0])).toEqual([
      'spark.sql.adaptive.coalescePartitions.enabled',
      'spark.sql.adaptive.enabled',
      'spark.sql.shuffle.partitions',
    ]);
  });

  it('explains a query with its cost (features_df.explain(mode="cost"))', async () => {
    const plan = await run(
      `EXPLAIN COST SELECT customer_id, total_spend FROM ${TABLE} WHERE customer_id = 7`,
    );
    expect(plan.rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(plan.rows)).toMatch(/files/i);
  });

  it('diagnoses online store lag', async () => {
    await run(`CREATE TABLE ml.churn_features_online.customer_features AS
      SELECT customer_id, CURRENT_TIMESTAMP - INTERVAL 42 MINUTE AS feature_timestamp FROM ${TABLE}`);
    const lag = await one(`
SELECT 
    MAX(feature_timestamp) as latest_feature,
    CURRENT_TIMESTAMP as now,
    TIMESTAMPDIFF(MINUTE, MAX(feature_timestamp), CURRENT_TIMESTAMP) as lag_minutes
FROM ml.churn_features_online.customer_features;
`);
    expect(Number(lag.lag_minutes)).toBeGreaterThanOrEqual(42);
    expect(Number(lag.lag_minutes)).toBeLessThanOrEqual(43);
  });
});
