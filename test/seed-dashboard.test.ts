/**
 * The seed's "Real-time Performance Dashboard" (`test/fixtures/seed/
 * feature-store-performance-guide.md`) over tables Larder itself wrote:
 * a project whose pipeline `customer_features` computes
 * `days_since_last_transaction` from CSV files into
 * `ml.churn_features.customer_features`, run by real `node bin/larder.js`
 * processes twice successfully (full, then incremental) and once failing
 * (its source gone), then the guide's two views, copied verbatim, created
 * and queried through `larder sql`.
 *
 * Every expected number comes from outside the metrics table: the
 * freshness figures from the generated transactions (plain TypeScript), the
 * run counts and modes from what the test ran, the durations from each
 * run's own `--json` result and the wall-clock time of its process.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LarderRun, runLarder } from './support/run-larder.js';
import { DASHBOARD_VIEWS } from './support/seed-dashboard-sql.js';

/** The day `days_since_last_transaction` counts to (the pipeline's `as_of` param). */
const AS_OF = Date.UTC(2024, 6, 1);
const DAY = 86_400_000;

interface Run extends LarderRun {
  /** Wall-clock seconds of the process. */
  readonly seconds: number;
}

let project: string;

/** Run `larder …args` against the project (`-C`), from a folder that is not the project. */
async function larder(args: readonly string[]): Promise<Run> {
  const started = performance.now();
  const run = await runLarder([...args, '-C', project], { cwd: tmpdir() });
  return { ...run, seconds: (performance.now() - started) / 1000 };
}

/** `larder sql <script> --format json`: the last statement's rows. */
async function sql(script: string): Promise<Record<string, unknown>[]> {
  const run = await larder(['sql', script, '--format', 'json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>[];
}

interface Transaction {
  readonly transactionId: number;
  readonly customerId: number;
  readonly amount: number;
  /** Days before AS_OF. */
  readonly daysAgo: number;
}

/**
 * Batch 1: customers 1–30, one to three transactions each, 0–119 days old.
 * Batch 2: recent transactions of every third customer (six of them were
 * stale), and old ones of new customers 31–34 (60 to 110 days).
 */
function batch(n: 1 | 2): Transaction[] {
  const out: Transaction[] = [];
  if (n === 1) {
    for (let c = 1; c <= 30; c++) {
      for (let k = 0; k <= c % 3; k++) {
        out.push({
          transactionId: c * 10 + k,
          customerId: c,
          amount: (c * 7 + k * 3) % 50,
          daysAgo: (c * 37 + k * 11) % 120,
        });
      }
    }
  } else {
    for (let c = 3; c <= 30; c += 3) {
      out.push({ transactionId: 1000 + c, customerId: c, amount: c, daysAgo: c % 5 });
    }
    // Exactly 60 days is not stale yet; 61 is.
    [60, 61, 90, 110].forEach((daysAgo, i) => {
      out.push({ transactionId: 1031 + i, customerId: 31 + i, amount: 1, daysAgo });
    });
  }
  return out;
}

/** A batch as CSV; every row of batch n changed at minute n. */
function csv(n: 1 | 2): string {
  const date = (daysAgo: number) => new Date(AS_OF - daysAgo * DAY).toISOString().slice(0, 10);
  const lines = batch(n).map(
    (t, i) =>
      `${t.transactionId},${t.customerId},${t.amount},${date(t.daysAgo)},2024-07-0${n} 00:00:${String(i % 60).padStart(2, '0')}`,
  );
  return `transaction_id,customer_id,amount,transaction_date,_change_timestamp\n${lines.join('\n')}\n`;
}

/** The seed's feature-freshness numbers, computed from the transactions alone. */
function expectedFreshness(transactions: readonly Transaction[]) {
  const lastActivity = new Map<number, number>();
  for (const t of transactions) {
    lastActivity.set(t.customerId, Math.min(lastActivity.get(t.customerId) ?? Infinity, t.daysAgo));
  }
  const days = [...lastActivity.values()];
  const stale = days.filter((d) => d > 60).length;
  return {
    oldest_activity_days: Math.max(...days),
    total_customers: days.length,
    stale_features: stale,
    stale_pct: stale / days.length,
  };
}

const CONFIG = `import { defineConfig } from 'larderjs/config';

export default defineConfig({
  sources: {
    transactions: { type: 'csv', path: 'data/transactions-*.csv', changeColumn: '_change_timestamp' },
  },
  entities: { customer: { keys: ['customer_id'] } },
  featureTables: {
    'ml.churn_features.customer_features': { entity: 'customer', description: 'activity per customer' },
  },
  pipelines: {
    customer_features: {
      output: 'ml.churn_features.customer_features',
      sources: ['transactions'],
      params: { as_of: '2024-07-01' },
      sql: ({ params }) => \`
        SELECT customer_id,
               date_diff('day', max(transaction_date), DATE '\${params.as_of}') AS days_since_last_transaction,
               count(*) AS num_transactions,
               sum(amount) AS total_spend
          FROM transactions
         GROUP BY customer_id\`,
      incremental: { key: 'customer_id' },
    },
  },
});
`;

interface RunJson {
  readonly runId: string;
  readonly mode: string;
  readonly status: string;
  readonly numEntitiesProcessed: number;
  readonly durationSeconds: number;
  readonly rowsPerSecond: number;
}

interface RecordedRun extends RunJson {
  readonly runTimestamp: string;
  readonly pipeline: string;
  readonly errorMessage: string | null;
}

/** What the three runs reported themselves (the failed one: its process only). */
const runs: {
  ok: RunJson[];
  wallSeconds: number[];
  failure?: Run;
  /** The UTC days the runs started and ended on. */
  firstDay: string;
  lastDay: string;
} = { ok: [], wallSeconds: [], firstDay: '', lastDay: '' };
const utcDay = () => new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'larder-seed-dashboard-'));
  await mkdir(join(project, 'data'));
  await writeFile(join(project, 'larder.config.ts'), CONFIG);
  await writeFile(join(project, 'data', 'transactions-1.csv'), csv(1));
  runs.firstDay = utcDay();

  for (const n of [1, 2] as const) {
    if (n === 2) await writeFile(join(project, 'data', 'transactions-2.csv'), csv(2));
    const run = await larder(['run', 'customer_features', '--json']);
    expect(run.code, run.stderr).toBe(0);
    runs.ok.push(JSON.parse(run.stdout) as RunJson);
    runs.wallSeconds.push(run.seconds);
  }
  // The source disappears: the third run fails, and is recorded as failed.
  await rename(join(project, 'data'), join(project, 'data-moved'));
  runs.failure = await larder(['run', 'customer_features']);
  runs.wallSeconds.push(runs.failure.seconds);
  runs.lastDay = utcDay();
}, 120_000);

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

describe('the runs the dashboard reads', () => {
  it('are one full run of every customer, one incremental run of the changed ones, and a failure', () => {
    expect(runs.ok.map((r) => [r.mode, r.status])).toEqual([
      ['full', 'success'],
      ['incremental', 'success'],
    ]);
    expect(runs.ok[0]!.numEntitiesProcessed).toBe(new Set(batch(1).map((t) => t.customerId)).size);
    expect(runs.ok[1]!.numEntitiesProcessed).toBe(new Set(batch(2).map((t) => t.customerId)).size);
    expect(runs.failure?.code).toBe(1);
    expect(runs.failure?.stderr).toMatch(
      /^error \[PIPELINE_FAILED\]: pipeline "customer_features" failed: source "transactions": no CSV file matches/m,
    );
  });

  it('are recorded one row each in ml.churn_features.feature_computation_metrics', async () => {
    const listed = await larder(['runs', '--json']);
    expect(listed.code).toBe(0);
    const recorded = (JSON.parse(listed.stdout) as RecordedRun[]).reverse();
    expect(recorded.map((r) => [r.pipeline, r.mode, r.status])).toEqual([
      ['customer_features', 'full', 'success'],
      ['customer_features', 'incremental', 'success'],
      ['customer_features', 'incremental', 'failed'],
    ]);
    // The successful runs' rows hold what the runs themselves reported.
    for (const i of [0, 1]) {
      expect(recorded[i]).toMatchObject({
        runId: runs.ok[i]!.runId,
        numEntitiesProcessed: runs.ok[i]!.numEntitiesProcessed,
        durationSeconds: runs.ok[i]!.durationSeconds,
        rowsPerSecond: runs.ok[i]!.rowsPerSecond,
        errorMessage: null,
      });
    }
    expect(recorded[2]).toMatchObject({ numEntitiesProcessed: 0, rowsPerSecond: 0 });
    expect(recorded[2]!.errorMessage).toMatch(/no CSV file matches/);
    recorded.forEach((r, i) => {
      expect(r.durationSeconds).toBeGreaterThan(0);
      expect(r.durationSeconds).toBeLessThan(runs.wallSeconds[i]!);
    });
  });
});

describe('the seed dashboard, through larder sql', () => {
  it('creates both views of the guide unchanged', async () => {
    const run = await larder(['sql', `USE ml.churn_features;\n${DASHBOARD_VIEWS}`]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const views = await sql('SHOW VIEWS IN ml.churn_features');
    expect(views.map((v) => [v.namespace, v.viewName]).sort()).toEqual([
      ['churn_features', 'feature_computation_performance'],
      ['churn_features', 'feature_freshness'],
    ]);
  });

  it('feature_computation_performance: three runs in the last 7 days, one failed, their mean duration', async () => {
    const rows = await sql('USE ml.churn_features; SELECT * FROM feature_computation_performance');
    // The three runs took seconds, but may straddle midnight (UTC): one row per day.
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeLessThanOrEqual(2);
    for (const row of rows) {
      expect(String(row.run_date) >= runs.firstDay).toBe(true);
      expect(String(row.run_date) <= runs.lastDay).toBe(true);
    }
    for (let i = 1; i < rows.length; i++)
      expect(String(rows[i - 1]!.run_date) > String(rows[i]!.run_date)).toBe(true);
    const sum = (key: string) => rows.reduce((total, r) => total + Number(r[key]), 0);
    expect(sum('num_runs')).toBe(3);
    expect(sum('failed_runs')).toBe(1);
    for (const row of rows) expect(Number(row.avg_duration_sec)).toBeGreaterThan(0);

    // Weighted by runs per day, the averages are those of the three runs.
    const weighted = (key: string) =>
      rows.reduce((total, r) => total + Number(r[key]) * Number(r.num_runs), 0) / 3;
    const failedDuration =
      weighted('avg_duration_sec') * 3 - runs.ok[0]!.durationSeconds - runs.ok[1]!.durationSeconds;
    expect(failedDuration).toBeGreaterThan(0);
    expect(failedDuration).toBeLessThan(runs.wallSeconds[2]!);
    expect(weighted('avg_throughput')).toBeCloseTo(
      (runs.ok[0]!.rowsPerSecond + runs.ok[1]!.rowsPerSecond) / 3,
      6,
    );
  });

  it('feature_freshness: the numbers the transactions give', async () => {
    const expected = expectedFreshness([...batch(1), ...batch(2)]);
    // The data has stale and fresh customers, so the figures test something.
    expect(expected.stale_features).toBeGreaterThan(0);
    expect(expected.stale_features).toBeLessThan(expected.total_customers);
    const rows = await sql('SELECT * FROM ml.churn_features.feature_freshness');
    expect(rows).toHaveLength(1);
    const { stale_pct, ...counts } = rows[0]!;
    const { stale_pct: expectedPct, ...expectedCounts } = expected;
    expect(counts).toEqual(expectedCounts);
    expect(stale_pct).toBeCloseTo(expectedPct, 12);
  });
});
