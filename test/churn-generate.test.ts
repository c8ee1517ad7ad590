/**
 * The churn example's data generator (examples/churn/generate.ts), on 2 000
 * customers: the tables' shape and keys, the churn rate, that churn can be
 * learned from behaviour as of the snapshot date, determinism, and the CDC
 * batches of `applyChanges`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyChanges,
  CHURN_HISTORY_START,
  CHURN_SNAPSHOT_DATE,
  generateChurnData,
  RAW_CUSTOMERS,
  RAW_TRANSACTIONS,
} from '../examples/churn/generate.js';
import { DeltaTable } from '../src/delta/delta-table.js';
import { planScan } from '../src/delta/scan/scan.js';
import { connect, queryJson } from '../src/duckdb/duckdb.js';

const CUSTOMERS = 2000;
const SEED = 11;

/** The SQL reading a table folder at its latest version, or at `version`. */
async function tableSql(path: string, version?: number): Promise<string> {
  const table = await DeltaTable.open(path, { version });
  return (await planScan(table.snapshot)).sql;
}

async function one(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>> {
  const [row] = await queryJson(connection, sql);
  if (!row) throw new Error(`no row from ${sql}`);
  return row;
}

/** Rows in one query and not the other, either way (multiset difference). */
async function differences(connection: DuckDBConnection, a: string, b: string): Promise<number> {
  const row = await one(
    connection,
    `SELECT (SELECT count(*) FROM ((${a}) EXCEPT ALL (${b}))) + (SELECT count(*) FROM ((${b}) EXCEPT ALL (${a}))) AS n`,
  );
  return Number(row.n);
}

/**
 * Area under the ROC curve of `score` (higher = more likely churned) over
 * the rows of `features` (columns `is_churned` and the score's), by the
 * Mann-Whitney rank sum with ties at their mean rank.
 */
function aucSql(features: string, score: string): string {
  return `WITH f AS (SELECT is_churned, ${score} AS score FROM (${features})),
    r AS (SELECT is_churned,
            rank() OVER (ORDER BY score) + (count(*) OVER (PARTITION BY score) - 1) / 2.0 AS rk FROM f),
    s AS (SELECT count(*) FILTER (WHERE is_churned) AS p, count(*) FILTER (WHERE NOT is_churned) AS n,
            sum(rk) FILTER (WHERE is_churned) AS rank_sum FROM r)
    SELECT (rank_sum - p * (p + 1) / 2.0) / (p * n) AS auc FROM s`;
}

describe('churn data generator', () => {
  let dir: string;
  let out: string;
  let connection: DuckDBConnection;
  let generated: Awaited<ReturnType<typeof generateChurnData>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-churn-generate-'));
    out = join(dir, 'base');
    connection = await connect();
    generated = await generateChurnData({ out, customers: CUSTOMERS, seed: SEED });
  });

  afterAll(async () => {
    connection?.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the customers and their transactions with unique keys', async () => {
    const customers = await tableSql(generated.customersPath);
    const transactions = await tableSql(generated.transactionsPath);
    expect(generated.customersPath).toBe(join(out, RAW_CUSTOMERS));
    expect(generated.transactionsPath).toBe(join(out, RAW_TRANSACTIONS));
    const c = await one(
      connection,
      `SELECT count(*) AS n, count(DISTINCT customer_id) AS ids, min(customer_id) AS lo, max(customer_id) AS hi,
         count(*) FILTER (WHERE is_churned <> (churn_date IS NOT NULL)) AS bad_label,
         count(*) FILTER (WHERE churn_date > DATE '${CHURN_SNAPSHOT_DATE}' OR churn_date < signup_date) AS bad_churn_date,
         count(*) FILTER (WHERE plan NOT IN ('basic', 'standard', 'premium')) AS bad_plan,
         count(*) FILTER (WHERE age NOT BETWEEN 18 AND 85 OR country IS NULL OR _change_timestamp IS NULL) AS bad_other,
         count(*) FILTER (WHERE is_churned) AS churned
       FROM (${customers})`,
    );
    expect(Number(c.n)).toBe(CUSTOMERS);
    expect(Number(c.ids)).toBe(CUSTOMERS);
    expect([Number(c.lo), Number(c.hi)]).toEqual([1, CUSTOMERS]);
    expect(Number(c.bad_label)).toBe(0);
    expect(Number(c.bad_churn_date)).toBe(0);
    expect(Number(c.bad_plan)).toBe(0);
    expect(Number(c.bad_other)).toBe(0);
    expect(Number(c.churned)).toBe(generated.churned);
    expect(generated.customers).toBe(CUSTOMERS);

    const t = await one(
      connection,
      `SELECT count(*) AS n, count(DISTINCT transaction_id) AS ids,
         count(*) FILTER (WHERE customer_id NOT IN (SELECT customer_id FROM (${customers}))) AS orphans,
         count(*) FILTER (WHERE ts < TIMESTAMPTZ '${CHURN_HISTORY_START} 00:00:00+00'
                            OR ts >= TIMESTAMPTZ '${CHURN_SNAPSHOT_DATE} 00:00:00+00' + INTERVAL 1 DAY) AS outside,
         count(*) FILTER (WHERE _change_timestamp < ts) AS changed_before_event,
         count(*) FILTER (WHERE amount <= 0 OR category IS NULL OR is_refund IS NULL) AS bad_values
       FROM (${transactions})`,
    );
    expect(Number(t.n)).toBe(generated.transactions);
    expect(Number(t.ids)).toBe(generated.transactions);
    expect(generated.transactions).toBeGreaterThan(CUSTOMERS * 6);
    expect(generated.transactions).toBeLessThan(CUSTOMERS * 14);
    expect(Number(t.orphans)).toBe(0);
    expect(Number(t.outside)).toBe(0);
    expect(Number(t.changed_before_event)).toBe(0);
    expect(Number(t.bad_values)).toBe(0);

    // Money is a decimal, so that sums over it are exact in any order.
    const transactionTable = await DeltaTable.open(generated.transactionsPath);
    expect(transactionTable.snapshot.schema.fields.find((f) => f.name === 'amount')?.type).toBe(
      'decimal(12,2)',
    );
    const [amountType] = await queryJson(
      connection,
      `SELECT typeof(amount) AS type, count(*) FILTER (WHERE amount * 100 <> floor(amount * 100)) AS fractions_of_cents
       FROM (${transactions}) GROUP BY ALL`,
    );
    expect(amountType).toEqual({ type: 'DECIMAL(12,2)', fractions_of_cents: '0' });

    const late = await one(
      connection,
      `SELECT count(*) AS n FROM (${transactions}) t JOIN (${customers}) c USING (customer_id)
       WHERE c.is_churned AND t.ts::DATE > c.churn_date`,
    );
    expect(Number(late.n)).toBe(0);
  });

  it('churns between 15 and 25 % of customers, more on the basic plan than on premium', async () => {
    const rate = generated.churned / generated.customers;
    expect(rate).toBeGreaterThan(0.15);
    expect(rate).toBeLessThan(0.25);
    const byPlan = await queryJson(
      connection,
      `SELECT plan, avg(is_churned::INTEGER) AS rate FROM (${await tableSql(generated.customersPath)}) GROUP BY plan`,
    );
    const planRate = (plan: string) => Number(byPlan.find((r) => r.plan === plan)?.rate);
    expect(planRate('basic')).toBeGreaterThan(planRate('premium'));
  });

  it('makes churn learnable from behaviour as of the snapshot date', async () => {
    const asOf = `TIMESTAMPTZ '${CHURN_SNAPSHOT_DATE} 00:00:00+00' + INTERVAL 1 DAY`;
    const features = `
      SELECT c.customer_id, c.is_churned,
        coalesce(DATE '${CHURN_SNAPSHOT_DATE}' - max(t.ts)::DATE, 10000) AS days_since_last_transaction,
        count(t.ts) FILTER (WHERE t.ts >= ${asOf} - INTERVAL 30 DAY) AS transactions_30d,
        count(t.ts) FILTER (WHERE t.ts >= ${asOf} - INTERVAL 90 DAY) AS transactions_90d,
        count(t.ts) AS transactions,
        coalesce(avg(t.is_refund::INTEGER), 0) AS refund_rate
      FROM (${await tableSql(generated.customersPath)}) c
      LEFT JOIN (${await tableSql(generated.transactionsPath)}) t USING (customer_id)
      GROUP BY c.customer_id, c.is_churned`;
    const auc = async (score: string, where = 'true') =>
      Number((await one(connection, aucSql(`SELECT * FROM (${features}) WHERE ${where}`, score))).auc);

    const recency = await auc('days_since_last_transaction');
    expect(recency).toBeGreaterThan(0.85);
    expect(await auc('-transactions_90d')).toBeGreaterThan(0.8);
    expect(await auc('-transactions_30d')).toBeGreaterThan(0.7);
    // Refunds carry signal of their own among customers with enough history.
    expect(await auc('refund_rate', 'transactions >= 5')).toBeGreaterThan(0.55);
    const combined = await auc(
      'days_since_last_transaction / 30.0 - ln(1 + transactions_90d) + 10 * refund_rate',
    );
    expect(combined).toBeGreaterThan(0.85);

    // A plain rule: no transaction in the last 60 days means churned.
    const rule = await one(
      connection,
      `SELECT avg(is_churned::INTEGER) FILTER (WHERE days_since_last_transaction > 60) AS precision,
              avg((days_since_last_transaction > 60)::INTEGER) FILTER (WHERE is_churned) AS recall
       FROM (${features})`,
    );
    expect(Number(rule.precision)).toBeGreaterThan(0.5);
    expect(Number(rule.recall)).toBeGreaterThan(0.8);
  });

  it('generates the same rows for the same seed, and other rows for another seed', async () => {
    const again = await generateChurnData({ out: join(dir, 'again'), customers: CUSTOMERS, seed: SEED });
    const other = await generateChurnData({ out: join(dir, 'other'), customers: CUSTOMERS, seed: SEED + 1 });
    for (const name of [RAW_CUSTOMERS, RAW_TRANSACTIONS]) {
      const base = await tableSql(join(out, name));
      expect(await differences(connection, base, await tableSql(join(again.customersPath, '..', name)))).toBe(
        0,
      );
      expect(
        await differences(connection, base, await tableSql(join(other.customersPath, '..', name))),
      ).toBeGreaterThan(100);
    }
  });

  it('refuses to overwrite existing tables unless asked to replace them', async () => {
    const target = join(dir, 'replace');
    await generateChurnData({ out: target, customers: 50, seed: 1 });
    await expect(generateChurnData({ out: target, customers: 50, seed: 1 })).rejects.toMatchObject({
      code: 'TABLE_ALREADY_EXISTS',
    });
    const replaced = await generateChurnData({ out: target, customers: 60, seed: 1, replace: true });
    expect(replaced.customers).toBe(60);
    expect((await DeltaTable.open(replaced.customersPath)).version).toBe(1);
  });

  describe('CDC batches', () => {
    let cdc: string;
    let customersPath: string;
    let transactionsPath: string;

    beforeAll(async () => {
      cdc = join(dir, 'cdc');
      const data = await generateChurnData({ out: cdc, customers: CUSTOMERS, seed: SEED });
      customersPath = data.customersPath;
      transactionsPath = data.transactionsPath;
    });

    it('appends and updates only rows newer than every earlier row, for the changed customers', async () => {
      const before = {
        customers: await tableSql(customersPath),
        transactions: await tableSql(transactionsPath),
      };
      const previousMax = await one(
        connection,
        `SELECT greatest((SELECT max(_change_timestamp) FROM (${before.customers})),
                         (SELECT max(_change_timestamp) FROM (${before.transactions}))) AS m`,
      );
      const batch = await applyChanges({ out: cdc, changes: 200, seed: SEED });
      const clock = `TIMESTAMPTZ '${batch.changedAfter.toISOString()}'`;
      expect(await one(connection, `SELECT ${clock} = TIMESTAMPTZ '${previousMax.m}' AS same`)).toEqual({
        same: true,
      });
      expect(batch.changedCustomers).toBe(200);
      expect(batch.newCustomers).toBe(10);
      expect(batch.updatedCustomers).toBeGreaterThan(0);
      expect(batch.newTransactions).toBeGreaterThan(200);
      expect(batch.lateTransactions).toBeGreaterThan(0);

      const after = {
        customers: await tableSql(customersPath),
        transactions: await tableSql(transactionsPath),
      };
      // Old rows stay exactly as they were; everything else is new and newer than the clock.
      expect(
        await differences(
          connection,
          before.transactions,
          `SELECT * FROM (${after.transactions}) WHERE _change_timestamp <= ${clock}`,
        ),
      ).toBe(0);
      const changedIds = `SELECT customer_id FROM (${after.transactions}) WHERE _change_timestamp > ${clock}
                          UNION SELECT customer_id FROM (${after.customers}) WHERE _change_timestamp > ${clock}`;
      expect(
        await differences(
          connection,
          `SELECT * FROM (${before.customers}) WHERE customer_id NOT IN (
             SELECT customer_id FROM (${after.customers}) WHERE _change_timestamp > ${clock})`,
          `SELECT * FROM (${after.customers}) WHERE _change_timestamp <= ${clock}`,
        ),
      ).toBe(0);

      const t = await one(
        connection,
        `SELECT count(*) AS n, count(*) FILTER (WHERE ts < ${clock}) AS late,
           count(*) FILTER (WHERE ts > ${clock}) AS fresh,
           (SELECT count(*) FROM (${changedIds})) AS changed,
           count(*) FILTER (WHERE amount <= 0 OR typeof(amount) <> 'DECIMAL(12,2)') AS bad_amounts
         FROM (${after.transactions}) WHERE _change_timestamp > ${clock}`,
      );
      expect(Number(t.n)).toBe(batch.newTransactions);
      expect(Number(t.late)).toBe(batch.lateTransactions);
      expect(Number(t.fresh)).toBe(batch.newTransactions - batch.lateTransactions);
      expect(Number(t.changed)).toBe(batch.changedCustomers);
      expect(Number(t.bad_amounts)).toBe(0);

      const c = await one(
        connection,
        `SELECT count(*) FILTER (WHERE _change_timestamp > ${clock}) AS changed,
           count(*) FILTER (WHERE _change_timestamp > ${clock} AND customer_id > ${CUSTOMERS}) AS created,
           count(*) AS n, count(DISTINCT customer_id) AS ids,
           count(*) FILTER (WHERE is_churned <> (churn_date IS NOT NULL)) AS bad_label
         FROM (${after.customers})`,
      );
      expect(Number(c.changed)).toBe(batch.updatedCustomers + batch.newCustomers);
      expect(Number(c.created)).toBe(batch.newCustomers);
      expect(Number(c.n)).toBe(CUSTOMERS + batch.newCustomers);
      expect(Number(c.ids)).toBe(Number(c.n));
      expect(Number(c.bad_label)).toBe(0);

      const keys = await one(
        connection,
        `SELECT count(*) AS n, count(DISTINCT transaction_id) AS ids,
           count(*) FILTER (WHERE customer_id NOT IN (SELECT customer_id FROM (${after.customers}))) AS orphans
         FROM (${after.transactions})`,
      );
      expect(Number(keys.ids)).toBe(Number(keys.n));
      expect(Number(keys.orphans)).toBe(0);
    });

    it('picks other customers in the next batch, all its rows newer than the previous batch', async () => {
      const customers = await tableSql(customersPath);
      const transactions = await tableSql(transactionsPath);
      const previousMax = await one(
        connection,
        `SELECT m, epoch(m) AS seconds, n FROM (
           SELECT greatest((SELECT max(_change_timestamp) FROM (${customers})),
                           (SELECT max(_change_timestamp) FROM (${transactions}))) AS m,
                  (SELECT count(*) FROM (${transactions})) AS n)`,
      );
      const batchesBefore = new Set(
        (
          await queryJson(
            connection,
            `SELECT DISTINCT customer_id FROM (${await tableSql(transactionsPath)}) t
             WHERE t.transaction_id > (SELECT max(transaction_id) FROM (${await tableSql(transactionsPath, 1)}))`,
          )
        ).map((r) => String(r.customer_id)),
      );
      const batch = await applyChanges({ out: cdc, changes: 200, seed: SEED });
      expect(batch.changedAfter.getTime()).toBe(Number(previousMax.seconds) * 1000);
      const after = await tableSql(transactionsPath);
      const rows = await queryJson(
        connection,
        `SELECT DISTINCT customer_id FROM (${after}) WHERE _change_timestamp > TIMESTAMPTZ '${previousMax.m}'`,
      );
      const again = rows.map((r) => String(r.customer_id));
      const overlap = again.filter((id) => batchesBefore.has(id)).length;
      expect(again.length).toBeGreaterThan(150);
      expect(overlap).toBeLessThan(again.length / 2);
      const count = await one(connection, `SELECT count(*) AS n FROM (${after})`);
      expect(Number(count.n)).toBe(Number(previousMax.n) + batch.newTransactions);
    });

    it('applies the same batch to the same tables and seed', async () => {
      const copy = join(dir, 'cdc-copy');
      await generateChurnData({ out: copy, customers: CUSTOMERS, seed: SEED });
      const mirror = join(dir, 'cdc-mirror');
      await generateChurnData({ out: mirror, customers: CUSTOMERS, seed: SEED });
      const a = await applyChanges({ out: copy, changes: 100, seed: SEED });
      const b = await applyChanges({ out: mirror, changes: 100, seed: SEED });
      expect(a).toEqual(b);
      for (const name of [RAW_CUSTOMERS, RAW_TRANSACTIONS]) {
        expect(
          await differences(connection, await tableSql(join(copy, name)), await tableSql(join(mirror, name))),
        ).toBe(0);
      }
    });

    it('refuses a batch for a folder without tables', async () => {
      await expect(applyChanges({ out: join(dir, 'missing'), changes: 10 })).rejects.toMatchObject({
        code: 'TABLE_NOT_FOUND',
      });
      await expect(applyChanges({ out: cdc, changes: 0 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    });
  });
});
