/**
 * The churn example's pipelines, incrementally, equal a full recompute to
 * the last digit (issue 8: after four CDC batches of 700 customers, 10 of
 * 10,140 `customer_features` rows once differed in the fourth decimal of
 * `avg_amount_90d`, a double summed in another order).
 *
 * The example project is made as `larder init --example churn` makes it,
 * both pipelines run in full, then several CDC batches each followed by
 * incremental runs. Every row of both feature tables is then compared
 * exactly (decimals as their digit strings, doubles bit for bit) with two
 * oracles: the pipeline's SQL run by plain DuckDB over the raw Delta tables,
 * and a `full: true` run of the same pipeline. The generator's seed is
 * random; replay a failure with `LARDER_TEST_SEED=<seed in the test name>`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyChanges, RAW_CUSTOMERS, RAW_TRANSACTIONS } from '../examples/churn/generate.js';
import { applyPlan } from '../src/config/apply.js';
import { initProject } from '../src/config/init-project.js';
import { type LoadedConfig, loadConfig } from '../src/config/load-config.js';
import { type OpenProject, openProject } from '../src/config/open-project.js';
import { planConfig } from '../src/config/plan.js';
import { DeltaTable } from '../src/delta/delta-table.js';
import { planScan } from '../src/delta/scan/scan.js';
import { connect, sqlIdent } from '../src/duckdb/duckdb.js';
import type { SqlResult } from '../src/engine/sql-result.js';
import { runPipeline } from '../src/pipelines/run-pipeline.js';

const CUSTOMERS = 3000;
const BATCHES = 4;
const CHANGES_PER_BATCH = 700;

const OUTPUTS = [
  { pipeline: 'customer_features', table: 'ml.churn_features.customer_features', orderBy: 'customer_id' },
  {
    pipeline: 'customer_daily_features',
    table: 'ml.churn_features.customer_daily_features',
    orderBy: 'customer_id, feature_date',
  },
] as const;

/** Money columns that must be stored as decimals (a double would make the comparison meaningless). */
const MONEY: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'ml.churn_features.customer_features': {
    total_amount_30d: 'DECIMAL(18,2)',
    total_amount_90d: 'DECIMAL(18,2)',
    avg_amount_90d: 'DECIMAL(16,4)',
  },
  'ml.churn_features.customer_daily_features': {
    amount_1d: 'DECIMAL(18,2)',
    amount_7d: 'DECIMAL(18,2)',
    amount_30d: 'DECIMAL(18,2)',
  },
};

describe('churn example: incremental runs after CDC batches', () => {
  const seed = Number(process.env.LARDER_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  let dir: string;
  let loaded: LoadedConfig;
  let project: OpenProject;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-churn-incremental-'));
    await initProject({ dir, example: 'churn', customers: CUSTOMERS, seed });
    loaded = await loadConfig({ projectDir: dir });
    project = await openProject(loaded);
    const featureStore = project.featureStore;
    await applyPlan(await planConfig({ featureStore, loaded }), { featureStore });
  });

  afterAll(async () => {
    await project?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The pipeline's SQL evaluated by a plain DuckDB connection over the raw tables' current files. */
  async function direct(pipeline: string, orderBy: string): Promise<SqlResult['rows']> {
    const definition = loaded.config.pipelines?.[pipeline];
    if (!definition) throw new Error(`no pipeline ${pipeline}`);
    const sql =
      typeof definition.sql === 'string'
        ? definition.sql
        : definition.sql({ pipeline, mode: 'full', params: definition.params ?? {} });
    const connection = await connect();
    try {
      for (const name of [RAW_CUSTOMERS, RAW_TRANSACTIONS]) {
        const table = await DeltaTable.open(join(dir, 'data', name));
        await connection.run(`CREATE TEMP VIEW ${sqlIdent(name)} AS ${(await planScan(table.snapshot)).sql}`);
      }
      const reader = await connection.runAndReadAll(`SELECT * FROM (${sql}\n) ORDER BY ${orderBy}`);
      return reader.getRowsJson();
    } finally {
      connection.closeSync();
    }
  }

  it(`gives every row of a full recompute, exactly (seed ${seed})`, async () => {
    const featureStore = project.featureStore;
    const config = loaded.config;
    for (const { pipeline } of OUTPUTS) {
      expect((await runPipeline({ featureStore, config, pipeline })).mode).toBe('full');
    }
    for (let batch = 0; batch < BATCHES; batch++) {
      const changes = await applyChanges({ out: join(dir, 'data'), changes: CHANGES_PER_BATCH, seed });
      expect(changes.newTransactions, `batch ${batch}, seed ${seed}`).toBeGreaterThan(0);
      for (const { pipeline } of OUTPUTS) {
        const run = await runPipeline({ featureStore, config, pipeline });
        expect(run.mode, `${pipeline} after batch ${batch}, seed ${seed}`).toBe('incremental');
        // Only the changed customers were recomputed.
        expect(run.numEntitiesProcessed).toBeGreaterThan(0);
        expect(run.numEntitiesProcessed).toBeLessThanOrEqual(changes.changedCustomers);
      }
    }

    for (const { pipeline, table, orderBy } of OUTPUTS) {
      const incremental = await featureStore.engine.query(`SELECT * FROM ${table} ORDER BY ${orderBy}`);
      const types = Object.fromEntries(incremental.columns.map((c) => [c.name, c.type]));
      for (const [column, type] of Object.entries(MONEY[table] ?? {})) expect(types[column]).toBe(type);
      expect(incremental.rows.length).toBeGreaterThan(CUSTOMERS);

      const want = await direct(pipeline, orderBy);
      expect(incremental.rows, `${table} against its SQL over the raw tables (seed ${seed})`).toEqual(want);

      const full = await runPipeline({ featureStore, config, pipeline, full: true });
      expect(full.mode).toBe('full');
      const recomputed = await featureStore.engine.query(`SELECT * FROM ${table} ORDER BY ${orderBy}`);
      expect(recomputed.columns).toEqual(incremental.columns);
      expect(incremental.rows, `${table} against a full recompute (seed ${seed})`).toEqual(recomputed.rows);
    }
  });
});
