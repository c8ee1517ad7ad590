/**
 * The churn example's data generator: two Delta tables, `raw_customers` and
 * `raw_transactions`, with a real, learnable churn signal, and a CDC mode
 * that appends and updates rows as a change feed would.
 *
 * How the data is made, and why:
 * - Everything is computed by DuckDB SQL over `range()`; randomness is a
 *   hash of (seed, salt, key) turned into a uniform in (0, 1), so a row's
 *   values depend only on the seed and its key: the output is identical for
 *   a given seed whatever the thread count, and 1 M customers / ~10 M
 *   transactions take seconds, not minutes (no per-row JavaScript).
 * - Each customer has a latent engagement (standard normal). Churn is drawn
 *   from a logistic model of plan, age, tenure and (mostly) engagement, so
 *   about a fifth of customers churn. Engagement also sets the transaction
 *   rate, so behaviour both causes and reveals churn.
 * - Transactions cover the year before the snapshot date (`CHURN_SNAPSHOT_DATE`,
 *   fixed so that outputs are reproducible). An active customer transacts
 *   uniformly up to the snapshot; a churner up to its `churn_date` only, and
 *   over its last (up to) 90 days at a rate decaying linearly to zero, with
 *   amounts drifting down and refunds growing more frequent.
 * - `_change_timestamp` is when the row reached the warehouse: a few hours
 *   after the event in the initial load.
 * - CDC (`applyChanges`) runs on a simulated clock: a batch's rows carry
 *   `_change_timestamp`s in the day after the greatest one already in
 *   either table, so every changed row is newer than every earlier row, and
 *   the batch is deterministic for a given seed and table versions. The
 *   customers a batch touches are picked by a hash of the seed and the two
 *   tables' versions, so each call picks others.
 *
 * Invariants: `transaction_id` and `customer_id` are unique; `churn_date` is
 * null exactly when `is_churned` is false; no transaction of a churner is
 * dated after its churn day, except those of a batch that reactivates it.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltaTable } from '../../src/delta/delta-table.js';
import type { ColumnSpec } from '../../src/delta/operations/create.js';
import { planScan } from '../../src/delta/scan/scan.js';
import { connect, queryJson, run, sqlIdent, sqlString, sqlStringList } from '../../src/duckdb/duckdb.js';
import { LarderError } from '../../src/errors.js';

/** The day the labels are taken: customers active on it are `is_churned = false`. */
export const CHURN_SNAPSHOT_DATE = '2024-06-30';
/** The first day of the transaction history (a year before the snapshot). */
export const CHURN_HISTORY_START = '2023-07-01';

/** Folder names of the two tables inside the output folder. */
export const RAW_CUSTOMERS = 'raw_customers';
export const RAW_TRANSACTIONS = 'raw_transactions';

/** DuckDB's name of `raw_transactions.amount`'s type, `decimal(12,2)`: up to 9,999,999,999.99, to the cent. */
const AMOUNT_SQL_TYPE = 'DECIMAL(12,2)';

/** The columns of `raw_customers`. */
export const RAW_CUSTOMERS_SCHEMA: readonly ColumnSpec[] = Object.freeze([
  { name: 'customer_id', type: 'long', nullable: false },
  { name: 'signup_date', type: 'date' },
  { name: 'country', type: 'string' },
  { name: 'plan', type: 'string' },
  { name: 'age', type: 'integer' },
  { name: 'is_churned', type: 'boolean' },
  { name: 'churn_date', type: 'date' },
  { name: '_change_timestamp', type: 'timestamp' },
]);

/**
 * The columns of `raw_transactions`. `amount` is positive money, a
 * `decimal(12,2)` as money should be: sums of decimals are exact whatever
 * the order of the additions, so features summed over a customer's rows are
 * the same whether an incremental run or a full one computes them.
 * `is_refund` marks money paid back.
 */
export const RAW_TRANSACTIONS_SCHEMA: readonly ColumnSpec[] = Object.freeze([
  { name: 'transaction_id', type: 'long', nullable: false },
  { name: 'customer_id', type: 'long' },
  { name: 'ts', type: 'timestamp' },
  { name: 'amount', type: 'decimal(12,2)' },
  { name: 'category', type: 'string' },
  { name: 'is_refund', type: 'boolean' },
  { name: '_change_timestamp', type: 'timestamp' },
]);

const PLANS = ['basic', 'standard', 'premium'] as const;
/** Repeated entries weight the draw. */
const COUNTRIES = [
  'US',
  'US',
  'US',
  'US',
  'GB',
  'GB',
  'DE',
  'DE',
  'FR',
  'FR',
  'NL',
  'ES',
  'IT',
  'SE',
  'PL',
  'BR',
];
const CATEGORIES = [
  'groceries',
  'dining',
  'electronics',
  'fashion',
  'travel',
  'entertainment',
  'home',
  'health',
];

/** Days of signup dates before the snapshot: customers joined over about five and a half years. */
const SIGNUP_SPAN_DAYS = 2000;
/** Churners' activity decays over at most this many days before their churn day. */
const DECAY_DAYS = 90;
/** Intercept of the churn logit, set for a churn rate near 20 %. */
const CHURN_INTERCEPT = -1.75;
/** Transactions per day of an average customer. */
const BASE_RATE = 0.032;
const PLANS_SQL = `(${sqlStringList(PLANS)})`;
/** Mean amount of a transaction, by plan. */
const PLAN_AMOUNT_SQL = `CASE plan WHEN 'basic' THEN 25.0 WHEN 'standard' THEN 45.0 ELSE 80.0 END`;
const CUSTOMER_COLUMNS = RAW_CUSTOMERS_SCHEMA.map((c) => sqlIdent(c.name)).join(', ');
const TRANSACTION_COLUMNS = RAW_TRANSACTIONS_SCHEMA.map((c) => sqlIdent(c.name)).join(', ');

export interface GenerateChurnOptions {
  /** The folder that receives `raw_customers/` and `raw_transactions/`. */
  readonly out: string;
  /** Number of customers (default 10 000). */
  readonly customers?: number;
  /** Seed of every random draw (default 42). */
  readonly seed?: number;
  /** Remove the two tables first if they exist (otherwise an existing table is `TABLE_ALREADY_EXISTS`). */
  readonly replace?: boolean;
}

export interface GeneratedChurnData {
  readonly customersPath: string;
  readonly transactionsPath: string;
  readonly customers: number;
  readonly transactions: number;
  /** Customers with `is_churned = true`. */
  readonly churned: number;
}

/**
 * Create `raw_customers` and `raw_transactions` under `out`.
 *
 * @example
 * const data = await generateChurnData({ out: '.larder/warehouse/ml/churn_raw', customers: 10_000, seed: 7 });
 * console.log(data.transactions, data.churned / data.customers);
 */
export async function generateChurnData(options: GenerateChurnOptions): Promise<GeneratedChurnData> {
  const customers = options.customers ?? 10_000;
  const seed = options.seed ?? 42;
  checkCount('customers', customers, 1);
  checkSeed(seed);
  const customersPath = join(options.out, RAW_CUSTOMERS);
  const transactionsPath = join(options.out, RAW_TRANSACTIONS);
  if (options.replace) {
    await rm(customersPath, { recursive: true, force: true });
    await rm(transactionsPath, { recursive: true, force: true });
  }
  const customerTable = await DeltaTable.create(customersPath, {
    schema: RAW_CUSTOMERS_SCHEMA,
    description: `Churn example: customers with their churn label as of ${CHURN_SNAPSHOT_DATE} (seed ${seed})`,
  });
  const transactionTable = await DeltaTable.create(transactionsPath, {
    schema: RAW_TRANSACTIONS_SCHEMA,
    description: `Churn example: card transactions from ${CHURN_HISTORY_START} to ${CHURN_SNAPSHOT_DATE} (seed ${seed})`,
  });
  const model = customerModelSql(seed, customers);
  const written = await customerTable.append(`WITH model AS (${model})
    SELECT customer_id, signup_date, country, plan, age, is_churned, churn_date,
           to_timestamp(changed_at) AS _change_timestamp
    FROM model`);
  const tx = await transactionTable.append(transactionsSql(seed, model));
  const connection = await connect();
  try {
    const [row] = await queryJson(
      connection,
      `SELECT count(*) FILTER (WHERE is_churned) AS churned FROM (${(await planScan(customerTable.snapshot, { columns: ['is_churned'] })).sql})`,
      `counting churners of ${customersPath}`,
    );
    return {
      customersPath,
      transactionsPath,
      customers: written.metrics.numOutputRows,
      transactions: tx.metrics.numOutputRows,
      churned: Number(row?.churned ?? 0),
    };
  } finally {
    connection.closeSync();
  }
}

export interface ApplyChangesOptions {
  /** The folder `generateChurnData` wrote to. */
  readonly out: string;
  /** Number of customers the batch touches (existing ones, plus about 5 % new ones). */
  readonly changes: number;
  /** Seed of every random draw (default 42). */
  readonly seed?: number;
}

export interface AppliedChanges {
  /** Distinct customers with a new or changed row in either table. */
  readonly changedCustomers: number;
  /** Rows appended to `raw_transactions` (late-arriving ones included). */
  readonly newTransactions: number;
  /** Of those, rows dated before the batch (`ts` older than every earlier `_change_timestamp`). */
  readonly lateTransactions: number;
  /** Existing `raw_customers` rows rewritten (plan change, churn, reactivation). */
  readonly updatedCustomers: number;
  /** Customers the batch created. */
  readonly newCustomers: number;
  /** The greatest `_change_timestamp` before the batch: every row of the batch is newer. */
  readonly changedAfter: Date;
}

/**
 * Apply one CDC batch to the tables under `out`: new and late-arriving
 * transactions, customer updates (plan changes, churn, reactivation) merged
 * by `customer_id`, and a few new customers.
 *
 * @example
 * const batch = await applyChanges({ out: '.larder/warehouse/ml/churn_raw', changes: 1000 });
 * console.log(batch.changedCustomers, batch.newTransactions, batch.updatedCustomers);
 */
export async function applyChanges(options: ApplyChangesOptions): Promise<AppliedChanges> {
  const seed = options.seed ?? 42;
  checkCount('changes', options.changes, 1);
  checkSeed(seed);
  const customerTable = await DeltaTable.open(join(options.out, RAW_CUSTOMERS));
  const transactionTable = await DeltaTable.open(join(options.out, RAW_TRANSACTIONS));
  const customersSql = (await planScan(customerTable.snapshot)).sql;
  const transactionsSql = (await planScan(transactionTable.snapshot)).sql;
  const connection = await connect();
  const tag = randomUUID().replaceAll('-', '');
  const picked = sqlIdent(`__larder_churn_${tag}_picked`);
  const customerChanges = sqlIdent(`__larder_churn_${tag}_customers`);
  const transactionChanges = sqlIdent(`__larder_churn_${tag}_transactions`);
  try {
    const [state] = await queryJson(
      connection,
      `SELECT
         (SELECT count(*) FROM (${customersSql})) AS customers,
         (SELECT coalesce(max(customer_id), 0) FROM (${customersSql})) AS max_customer,
         (SELECT coalesce(max(transaction_id), 0) FROM (${transactionsSql})) AS max_transaction,
         epoch(greatest(
           (SELECT max(_change_timestamp) FROM (${customersSql})),
           (SELECT max(_change_timestamp) FROM (${transactionsSql})))) AS clock`,
      `reading the state of ${options.out}`,
    );
    const existing = Number(state?.customers ?? 0);
    const clock = Math.floor(Number(state?.clock ?? Number.NaN));
    if (existing === 0 || !Number.isFinite(clock)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${join(options.out, RAW_CUSTOMERS)} has no customers to change`,
        {
          table: join(options.out, RAW_CUSTOMERS),
          hint: 'generate the tables first (generateChurnData or `npm run churn:generate`)',
        },
      );
    }
    const maxCustomer = BigInt(String(state?.max_customer ?? 0));
    const maxTransaction = BigInt(String(state?.max_transaction ?? 0));
    const newCount = Math.floor(options.changes * 0.05);
    const existingCount = Math.min(options.changes - newCount, existing);
    const r = new Random(
      seed,
      `hash(${customerTable.version}::BIGINT * 1000003 + ${transactionTable.version})`,
    );
    const tBatch = `${clock}::BIGINT`;

    await run(
      connection,
      `CREATE TABLE ${picked} AS
       SELECT c.*, list_position(${PLANS_SQL}, c.plan) - 1 AS plan_index
       FROM (${customersSql}) AS c
       ORDER BY ${r.uniform(1, 'c.customer_id')}, c.customer_id
       LIMIT ${existingCount}`,
      'picking the customers to change',
    );
    // The fate of each picked customer; every one gets at least one change.
    const fate = `
      SELECT *,
        NOT is_churned AND ${r.uniform(2, 'customer_id')} < 0.08 AS churns,
        is_churned AND ${r.uniform(3, 'customer_id')} < 0.3 AS reactivates,
        (NOT is_churned OR ${r.uniform(3, 'customer_id')} < 0.3) AND ${r.uniform(4, 'customer_id')} < 0.2 AS changes_plan,
        (NOT is_churned AND ${r.uniform(5, 'customer_id')} < 0.25)
          OR (is_churned AND ${r.uniform(3, 'customer_id')} >= 0.3) AS arrives_late,
        CASE WHEN NOT is_churned OR ${r.uniform(3, 'customer_id')} < 0.3
             THEN 1 + floor(${r.uniform(6, 'customer_id')} * 4)::INTEGER ELSE 0 END AS n_new
      FROM ${picked}`;
    await run(
      connection,
      `CREATE TABLE ${customerChanges} AS
       WITH fate AS (${fate}),
       updated AS (
         SELECT customer_id, signup_date, country,
           CASE WHEN changes_plan
                THEN ${PLANS_SQL}[1 + (plan_index + 1 + floor(${r.uniform(7, 'customer_id')} * 2)::INTEGER) % 3]
                ELSE plan END AS plan,
           age,
           CASE WHEN churns THEN true WHEN reactivates THEN false ELSE is_churned END AS is_churned,
           CASE WHEN churns THEN to_timestamp(${tBatch} + 86400)::DATE
                WHEN reactivates THEN NULL ELSE churn_date END AS churn_date,
           to_timestamp(${tBatch} + 1 + floor(${r.uniform(8, 'customer_id')} * 86399)::BIGINT) AS _change_timestamp,
           false AS is_new, n_new, arrives_late, churn_date AS old_churn_date
         FROM fate
       ),
       created AS (
         SELECT ${maxCustomer}::BIGINT + i AS customer_id,
           to_timestamp(${tBatch})::DATE AS signup_date,
           ${sqlStringList(COUNTRIES)}[1 + floor(${r.uniform(9, 'i')} * ${COUNTRIES.length})::INTEGER] AS country,
           ${PLANS_SQL}[1 + floor(${r.uniform(10, 'i')} * 3)::INTEGER] AS plan,
           least(85, greatest(18, round(38 + 13 * ${r.normal(11, 12, 'i')})))::INTEGER AS age,
           false AS is_churned, NULL::DATE AS churn_date,
           to_timestamp(${tBatch} + 1 + floor(${r.uniform(13, 'i')} * 3600)::BIGINT) AS _change_timestamp,
           true AS is_new, 1 + floor(${r.uniform(14, 'i')} * 3)::INTEGER AS n_new, false AS arrives_late,
           NULL::DATE AS old_churn_date
         FROM range(1, ${newCount + 1}) AS t(i)
       )
       SELECT *, churns OR reactivates OR changes_plan AS rewritten FROM (
         SELECT u.*, f.churns, f.reactivates, f.changes_plan
         FROM updated u JOIN fate f USING (customer_id)
         UNION ALL
         SELECT *, false, false, false FROM created
       )`,
      'computing the customer changes',
    );
    await run(
      connection,
      `CREATE TABLE ${transactionChanges} AS
       WITH c AS (
         SELECT *, ${PLAN_AMOUNT_SQL} AS mean_amount FROM ${customerChanges}
       ),
       fresh AS (
         SELECT customer_id, k AS seq, mean_amount,
           ${tBatch} + 1 + floor(${r.uniform(20, 'xor(hash(customer_id), k::UBIGINT)')} * 86399)::BIGINT AS ts_sec
         FROM (SELECT *, unnest(range(n_new)) AS k FROM c)
       ),
       late AS (
         SELECT customer_id, -1 AS seq, mean_amount,
           greatest(epoch(signup_date::TIMESTAMP)::BIGINT,
             least(${tBatch} - 1,
                   coalesce(epoch(old_churn_date::TIMESTAMP)::BIGINT + 86399, ${tBatch} - 1))
             - floor((1 + ${r.uniform(21, 'customer_id')} * 29) * 86400)::BIGINT) AS ts_sec
         FROM c WHERE arrives_late
       ),
       rows AS (
         SELECT *, seq < 0 AS is_late FROM fresh UNION ALL SELECT *, seq < 0 AS is_late FROM late
       )
       SELECT
         ${maxTransaction}::BIGINT + row_number() OVER (ORDER BY customer_id, seq) AS transaction_id,
         customer_id,
         to_timestamp(ts_sec) AS ts,
         greatest(0.5, round(mean_amount * exp(0.5 * ${r.normal(22, 23, 'xor(hash(customer_id), (seq + 7)::UBIGINT)')} - 0.125), 2))::${AMOUNT_SQL_TYPE} AS amount,
         ${sqlStringList(CATEGORIES)}[1 + floor(${r.uniform(24, 'xor(hash(customer_id), (seq + 7)::UBIGINT)')} * ${CATEGORIES.length})::INTEGER] AS category,
         ${r.uniform(25, 'xor(hash(customer_id), (seq + 7)::UBIGINT)')} < 0.03 AS is_refund,
         to_timestamp(CASE WHEN is_late
           THEN ${tBatch} + 1 + floor(${r.uniform(26, 'customer_id')} * 86399)::BIGINT
           ELSE ts_sec + floor(${r.uniform(27, 'xor(hash(customer_id), (seq + 7)::UBIGINT)')} * 600)::BIGINT END) AS _change_timestamp,
         is_late
       FROM rows`,
      'computing the new transactions',
    );
    const [counts] = await queryJson(
      connection,
      `SELECT
         (SELECT count(*) FROM ${transactionChanges}) AS transactions,
         (SELECT count(*) FILTER (WHERE is_late) FROM ${transactionChanges}) AS late,
         (SELECT count(*) FILTER (WHERE rewritten AND NOT is_new) FROM ${customerChanges}) AS updated,
         (SELECT count(*) FILTER (WHERE is_new) FROM ${customerChanges}) AS created,
         (SELECT count(*) FROM (
            SELECT customer_id FROM ${transactionChanges}
            UNION SELECT customer_id FROM ${customerChanges} WHERE rewritten OR is_new)) AS changed`,
      'counting the changes',
    );
    await transactionTable.append(`SELECT ${TRANSACTION_COLUMNS} FROM ${transactionChanges}`, {
      userMetadata: 'churn example CDC batch',
    });
    await customerTable.merge({
      source: `SELECT ${CUSTOMER_COLUMNS} FROM ${customerChanges} WHERE rewritten OR is_new`,
      on: ['customer_id'],
      userMetadata: 'churn example CDC batch',
    });
    return {
      changedCustomers: Number(counts?.changed ?? 0),
      newTransactions: Number(counts?.transactions ?? 0),
      lateTransactions: Number(counts?.late ?? 0),
      updatedCustomers: Number(counts?.updated ?? 0),
      newCustomers: Number(counts?.created ?? 0),
      changedAfter: new Date(clock * 1000),
    };
  } finally {
    for (const table of [picked, customerChanges, transactionChanges]) {
      await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    }
    connection.closeSync();
  }
}

/**
 * Deterministic draws in SQL: a uniform in (0, 1) is the top 53 bits of
 * `hash(hash(key) xor hash(seed, batch, salt))`. DuckDB's variadic `hash(a, b)`
 * is not used because its outputs for small integer arguments correlate.
 */
class Random {
  readonly #seed: number;
  readonly #batch: string;

  constructor(seed: number, batch = '0') {
    this.#seed = seed;
    this.#batch = batch;
  }

  /** A uniform in (0, 1) for `key` (a SQL expression of an integer type). */
  uniform(salt: number, key: string): string {
    return this.uniformOfHash(salt, `hash(${key})`);
  }

  /** `uniform` for a key already hashed (a `UBIGINT` column computed once per row, for speed). */
  uniformOfHash(salt: number, hashedKey: string): string {
    const stream = `hash(xor(hash(${this.#seed}::BIGINT * 1000003 + ${salt}), ${this.#batch}))`;
    return `((hash(xor(${hashedKey}, ${stream})) >> 11)::DOUBLE + 0.5) / 9007199254740992.0`;
  }

  /** A standard normal (Box-Muller over two uniforms). */
  normal(saltA: number, saltB: number, key: string): string {
    return this.normalOfHash(saltA, saltB, `hash(${key})`);
  }

  /** `normal` for a key already hashed. */
  normalOfHash(saltA: number, saltB: number, hashedKey: string): string {
    const a = this.uniformOfHash(saltA, hashedKey);
    const b = this.uniformOfHash(saltB, hashedKey);
    return `(sqrt(-2 * ln(${a})) * cos(2 * pi() * ${b}))`;
  }
}

/**
 * One row per customer with its public columns and the latent ones the
 * transactions are drawn from: `engagement`, the activity window in days
 * since the epoch (`start_day`, `end_day`), `decay_days`, the daily `rate`,
 * `n_tx` and `mean_amount`.
 */
function customerModelSql(seed: number, customers: number): string {
  const r = new Random(seed);
  const snapshot = `DATE ${sqlString(CHURN_SNAPSHOT_DATE)}`;
  const historyStart = `DATE ${sqlString(CHURN_HISTORY_START)}`;
  return `
    WITH base AS (
      SELECT id AS customer_id,
        ${snapshot} - (14 + floor(${r.uniform(1, 'id')} * ${SIGNUP_SPAN_DAYS}))::INTEGER AS signup_date,
        ${sqlStringList(COUNTRIES)}[1 + floor(${r.uniform(2, 'id')} * ${COUNTRIES.length})::INTEGER] AS country,
        CASE WHEN ${r.uniform(3, 'id')} < 0.5 THEN 'basic'
             WHEN ${r.uniform(3, 'id')} < 0.85 THEN 'standard' ELSE 'premium' END AS plan,
        least(85, greatest(18, round(38 + 13 * ${r.normal(4, 5, 'id')})))::INTEGER AS age,
        ${r.normal(6, 7, 'id')} AS engagement,
        ${r.uniform(8, 'id')} AS u_churn,
        ${r.uniform(9, 'id')} AS u_churn_day,
        ${r.normal(10, 11, 'id')} AS z_count,
        ${r.normal(12, 13, 'id')} AS z_amount,
        ${r.uniform(14, 'id')} AS u_lag
      FROM range(1, ${customers + 1}) AS t(id)
    ),
    labelled AS (
      SELECT *,
        u_churn < 1 / (1 + exp(-(
          ${CHURN_INTERCEPT}
          + CASE plan WHEN 'basic' THEN 0.5 WHEN 'standard' THEN 0.0 ELSE -0.6 END
          + 0.03 * (35 - age)
          - 0.3 * ln(1 + (${snapshot} - signup_date) / 365.25)
          - 1.5 * engagement))) AS is_churned,
        greatest(signup_date, ${historyStart}) AS window_start
      FROM base
    ),
    dated AS (
      SELECT *,
        CASE WHEN is_churned
             THEN least(${snapshot}, window_start + 7 + floor(u_churn_day * (${snapshot} - window_start - 6))::INTEGER)
        END AS churn_date
      FROM labelled
    ),
    windowed AS (
      SELECT *,
        epoch(window_start::TIMESTAMP) / 86400 AS start_day,
        epoch((coalesce(churn_date, ${snapshot}) + 1)::TIMESTAMP) / 86400 AS end_day,
        ${BASE_RATE} * exp(0.6 * engagement - 0.18)
          * CASE plan WHEN 'basic' THEN 0.9 WHEN 'standard' THEN 1.0 ELSE 1.2 END AS rate,
        ${PLAN_AMOUNT_SQL} * exp(0.3 * z_amount - 0.045) AS mean_amount
      FROM dated
    ),
    counted AS (
      SELECT *,
        CASE WHEN is_churned THEN least(${DECAY_DAYS}, (end_day - start_day) / 2) ELSE 0 END AS decay_days,
        rate * (end_day - start_day - CASE WHEN is_churned THEN least(${DECAY_DAYS}, (end_day - start_day) / 2) ELSE 0 END / 2)
          AS expected_tx
      FROM windowed
    )
    SELECT *,
      greatest(0, round(expected_tx + sqrt(expected_tx) * z_count))::INTEGER AS n_tx,
      epoch(coalesce(churn_date + 1, signup_date)::TIMESTAMP)::BIGINT + floor(u_lag * 21600)::BIGINT AS changed_at
    FROM counted`;
}

/** The initial transactions of every customer of the model, ids numbered by customer. */
function transactionsSql(seed: number, model: string): string {
  const r = new Random(seed);
  const key = 'tx_key';
  return `
    WITH model AS (${model}),
    numbered AS (
      SELECT customer_id, is_churned, engagement, start_day, end_day, decay_days, mean_amount, n_tx,
        (sum(n_tx) OVER (ORDER BY customer_id) - n_tx)::BIGINT AS first_tx
      FROM model
    ),
    drawn AS (
      SELECT customer_id, is_churned, engagement, start_day, end_day, decay_days, mean_amount, first_tx, k, tx_key,
        ${r.uniformOfHash(30, key)} AS u_pos,
        is_churned AND ${r.uniformOfHash(31, key)} < (decay_days / 2) / (end_day - start_day - decay_days / 2) AS in_decay
      FROM (SELECT *, hash(xor(hash(customer_id), k::UBIGINT)) AS tx_key
            FROM (SELECT *, unnest(range(n_tx)) AS k FROM numbered))
    ),
    placed AS (
      SELECT *,
        CASE WHEN in_decay THEN 1 - sqrt(1 - u_pos) ELSE 0 END AS progress,
        CASE WHEN in_decay THEN end_day - decay_days * sqrt(1 - u_pos)
             ELSE start_day + u_pos * (end_day - start_day - decay_days) END AS day
      FROM drawn
    )
    SELECT
      first_tx + k + 1 AS transaction_id,
      customer_id,
      to_timestamp(floor(day * 86400)::BIGINT) AS ts,
      greatest(0.5, round(mean_amount * exp(0.5 * ${r.normalOfHash(32, 33, key)} - 0.125) * (1 - 0.5 * progress), 2))::${AMOUNT_SQL_TYPE} AS amount,
      ${sqlStringList(CATEGORIES)}[1 + floor(${r.uniformOfHash(34, key)} * ${CATEGORIES.length})::INTEGER] AS category,
      ${r.uniformOfHash(35, key)} < 0.025 * exp(-0.4 * engagement) + CASE WHEN is_churned THEN 0.04 + 0.2 * progress ELSE 0 END
        AS is_refund,
      to_timestamp(floor(day * 86400)::BIGINT + floor(${r.uniformOfHash(36, key)} * 21600)::BIGINT) AS _change_timestamp
    FROM placed`;
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new LarderError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got ${value}`, {
      hint: `pass a whole number of ${name}`,
    });
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new LarderError('INVALID_ARGUMENT', `seed must be an integer, got ${seed}`, {
      hint: 'pass a whole number as the seed',
    });
  }
}
