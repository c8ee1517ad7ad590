/**
 * `npm run demo`: the churn example end to end, on embedded defaults (no
 * servers): a project folder with generated data, the catalog made to match
 * `larder.config.ts`, a full run of both pipelines, a CDC batch touching
 * 1,000 customers, an incremental run, and the seed's monitoring views over
 * the computation-metrics table.
 *
 *   npm run demo                     (10,000 customers into ./churn-demo)
 *   npm run demo -- --customers 100000 --changes 5000 --dir /tmp/churn
 *
 * The folder is recreated on every run; explore it afterwards with
 * `npx larder tables -C churn-demo`, `npx larder runs -C churn-demo`,
 * `npx larder sql -C churn-demo "SELECT …"`.
 */
import { rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { applyPlan } from '../../src/config/apply.js';
import { formatPlan } from '../../src/config/format-plan.js';
import { initProject } from '../../src/config/init-project.js';
import { loadConfig } from '../../src/config/load-config.js';
import { openProject } from '../../src/config/open-project.js';
import { planConfig } from '../../src/config/plan.js';
import { isLarderError } from '../../src/errors.js';
import { type RunResult, runPipeline } from '../../src/pipelines/run-pipeline.js';
import { formatResult } from '../../src/sql/format-result.js';
import { SqlSession } from '../../src/sql/sql-session.js';
import { applyChanges } from './generate.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: 'churn-demo' },
    customers: { type: 'string', default: '10000' },
    changes: { type: 'string', default: '1000' },
  },
  strict: true,
});

const dir = resolve(values.dir);
const customers = Number(values.customers);
const changes = Number(values.changes);
const PIPELINES = ['customer_features', 'customer_daily_features'] as const;

function heading(text: string): void {
  console.log(`\n== ${text}`);
}

function summary(run: RunResult): string {
  return (
    `${run.pipeline}: ${run.mode} run, ${run.numEntitiesProcessed.toLocaleString('en-US')} customers, ` +
    `${run.numFeaturesComputed} features, ${run.sourceRowsRead.toLocaleString('en-US')} source rows read, ` +
    `${run.rowsWritten.toLocaleString('en-US')} rows written, ${run.durationSeconds.toFixed(2)} s → ` +
    `${run.featureTable} v${run.tableVersion}`
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  await rm(dir, { recursive: true, force: true });

  heading(`larder init --example churn --customers ${customers} (${relative(process.cwd(), dir) || '.'})`);
  const init = await initProject({ dir, example: 'churn', customers });
  const tables = init.data?.tables ?? {};
  console.log(
    `generated ${Number(tables.raw_customers).toLocaleString('en-US')} customers and ` +
      `${Number(tables.raw_transactions).toLocaleString('en-US')} transactions in ${relative(process.cwd(), join(dir, 'data'))}/`,
  );

  const loaded = await loadConfig({ projectDir: dir });
  const project = await openProject(loaded);
  try {
    const featureStore = project.featureStore;
    heading('larder apply');
    const plan = await planConfig({ featureStore, loaded });
    console.log(formatPlan(plan));
    await applyPlan(plan, { featureStore });

    heading('larder run (first run: full)');
    for (const pipeline of PIPELINES) {
      console.log(summary(await runPipeline({ featureStore, config: loaded.config, pipeline })));
    }

    heading(`a CDC batch touching ${changes.toLocaleString('en-US')} customers`);
    const batch = await applyChanges({ out: join(dir, 'data'), changes });
    console.log(
      `${batch.changedCustomers} customers changed (${batch.updatedCustomers} updated, ${batch.newCustomers} new), ` +
        `${batch.newTransactions} transactions appended (${batch.lateTransactions} late-arriving)`,
    );

    heading('larder run (incremental: only the changed customers)');
    for (const pipeline of PIPELINES) {
      const run = await runPipeline({ featureStore, config: loaded.config, pipeline });
      console.log(summary(run));
      const marks = Object.entries(run.watermarks).map(([source, mark]) => `${source} ${mark ?? '-'}`);
      console.log(`  watermarks now: ${marks.join(', ')}`);
    }

    const session = await SqlSession.open({ cwd: dir, engine: featureStore.engine });
    const show = async (title: string, sql: string): Promise<void> => {
      heading(title);
      console.log(formatResult(await session.execute(sql), 'table'));
    };
    await show(
      'the computation-metrics table',
      `SELECT run_timestamp, pipeline, mode, num_entities_processed, num_features_computed,
              source_rows_read, round(duration_seconds, 3) AS duration_seconds,
              round(rows_per_second) AS rows_per_second, status, table_version
       FROM ml.churn_features.feature_computation_metrics ORDER BY run_timestamp`,
    );
    // The seed's dashboard views ("Monitoring and Observability / 3"), verbatim.
    await session.execute(`USE ml.churn_features`);
    await show(
      'feature computation performance, last 7 days (the seed’s view)',
      `CREATE OR REPLACE VIEW feature_computation_performance AS
       SELECT DATE(run_timestamp) as run_date, COUNT(*) as num_runs,
           AVG(duration_seconds) as avg_duration_sec, AVG(rows_per_second) as avg_throughput,
           SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) as failed_runs
       FROM ml.churn_features.feature_computation_metrics
       WHERE run_timestamp >= CURRENT_DATE - INTERVAL 7 DAYS
       GROUP BY DATE(run_timestamp) ORDER BY run_date DESC;
       SELECT * FROM feature_computation_performance`,
    );
    await show(
      'feature freshness (the seed’s view)',
      `CREATE OR REPLACE VIEW feature_freshness AS
       SELECT MAX(days_since_last_transaction) as oldest_activity_days, COUNT(*) as total_customers,
           SUM(CASE WHEN days_since_last_transaction > 60 THEN 1 ELSE 0 END) as stale_features,
           SUM(CASE WHEN days_since_last_transaction > 60 THEN 1 ELSE 0 END) / COUNT(*) as stale_pct
       FROM ml.churn_features.customer_features;
       SELECT * FROM feature_freshness`,
    );
    await session.close();
  } finally {
    await project.close();
  }
  heading(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const at = relative(process.cwd(), dir) || '.';
  console.log(
    `explore: npx larder tables -C ${at} · npx larder describe -C ${at} ml.churn_features.customer_features · npx larder runs -C ${at}`,
  );
}

try {
  await main();
} catch (error) {
  if (isLarderError(error)) {
    console.error(`error [${error.code}]: ${error.message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
