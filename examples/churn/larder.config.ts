/**
 * The churn example's Larder project: the seed's `ml.churn_features`
 * feature tables computed from the generator's `raw_customers` and
 * `raw_transactions` (see `generate.ts`), fully or incrementally.
 *
 * Features are computed as of a fixed reference day (`as_of`), not the
 * clock, so that a run's output depends only on the source rows: that is
 * what makes an incremental run equal a full one. In production set
 * `as_of` from the scheduler (or use `current_date` and refresh in full
 * daily, since every customer's recency moves with the clock).
 *
 * The features are exact, so that an incremental run equals a full one to
 * the last digit: money is DECIMAL (sums of decimals do not depend on the
 * order of the additions, sums of doubles do), averages of money are
 * decimals computed in integer arithmetic, and the ratios are divisions of
 * integer counts.
 */
import { defineConfig, type PipelineContext } from 'larderjs/config';

/** The day features describe: a month after the generator's snapshot day, so CDC batches land before it. */
export const CHURN_AS_OF = '2024-07-31';

/**
 * `numerator / denominator` as a DECIMAL(16,4), rounded half up. DuckDB
 * divides decimals in DOUBLE, and a double halfway case (47.44125 is
 * 47.441249999… as a double) rounds the wrong way, so the quotient is
 * taken in integers: `numerator` is a non-negative DECIMAL of at most 4
 * decimals, `denominator` a positive count.
 */
function decimalQuotientSql(numerator: string, denominator: string): string {
  return `((((${numerator}) * 20000 + (${denominator}))::HUGEINT // (2 * (${denominator}))) * 0.0001)::DECIMAL(16,4)`;
}

/**
 * One row per customer: recency, frequency and monetary features over
 * 7/30/90-day windows, trends, refund rate, tenure and the customer's
 * attributes. Every customer has a row, with zeros when it has no
 * transactions.
 */
function customerFeaturesSql(context: PipelineContext): string {
  const asOf = `DATE '${String(context.params.as_of)}'`;
  return `
WITH tx AS (
  SELECT customer_id,
    ts::DATE AS day,
    amount,
    is_refund,
    category,
    ${asOf} - ts::DATE AS age_days
  FROM raw_transactions
  WHERE ts::DATE <= ${asOf}
),
agg AS (
  SELECT customer_id,
    max(day) AS last_transaction_date,
    count(*) AS lifetime_transactions,
    count(*) FILTER (WHERE age_days < 7) AS num_transactions_7d,
    count(*) FILTER (WHERE age_days < 30) AS num_transactions_30d,
    count(*) FILTER (WHERE age_days < 90) AS num_transactions_90d,
    sum(amount) FILTER (WHERE age_days < 30 AND NOT is_refund) AS total_amount_30d,
    sum(amount) FILTER (WHERE age_days < 90 AND NOT is_refund) AS total_amount_90d,
    count(*) FILTER (WHERE age_days < 90 AND NOT is_refund) AS purchases_90d,
    count(*) FILTER (WHERE age_days < 90 AND is_refund) AS refunds_90d,
    count(DISTINCT category) FILTER (WHERE age_days < 90) AS distinct_categories_90d,
    count(*) FILTER (WHERE age_days >= 30 AND age_days < 90) AS num_transactions_30_90d
  FROM tx
  GROUP BY customer_id
)
SELECT
  c.customer_id,
  (${asOf} - coalesce(a.last_transaction_date, c.signup_date))::INTEGER AS days_since_last_transaction,
  (${asOf} - c.signup_date)::INTEGER AS tenure_days,
  coalesce(a.num_transactions_7d, 0)::INTEGER AS num_transactions_7d,
  coalesce(a.num_transactions_30d, 0)::INTEGER AS num_transactions_30d,
  coalesce(a.num_transactions_90d, 0)::INTEGER AS num_transactions_90d,
  coalesce(a.total_amount_30d, 0)::DECIMAL(18,2) AS total_amount_30d,
  coalesce(a.total_amount_90d, 0)::DECIMAL(18,2) AS total_amount_90d,
  CASE WHEN coalesce(a.purchases_90d, 0) = 0 THEN 0
       ELSE ${decimalQuotientSql('a.total_amount_90d', 'a.purchases_90d')} END::DECIMAL(16,4) AS avg_amount_90d,
  -- ratios of integer counts: a division of the same two integers gives the same double every time
  CASE WHEN coalesce(a.num_transactions_90d, 0) = 0 THEN 0.0
       ELSE a.refunds_90d / a.num_transactions_90d END::DOUBLE AS refund_rate_90d,
  -- the last 30 days against the 60 before them, per 30 days: < 1 means slowing down
  CASE WHEN coalesce(a.num_transactions_30_90d, 0) = 0
       THEN CASE WHEN coalesce(a.num_transactions_30d, 0) = 0 THEN 0.0 ELSE 2.0 END
       ELSE a.num_transactions_30d / (a.num_transactions_30_90d / 2.0) END::DOUBLE AS transaction_trend_30d,
  coalesce(a.distinct_categories_90d, 0)::INTEGER AS distinct_categories_90d,
  coalesce(a.lifetime_transactions, 0)::BIGINT AS lifetime_transactions,
  c.plan,
  c.country,
  c.age
FROM raw_customers AS c
LEFT JOIN agg AS a USING (customer_id)
WHERE c.signup_date <= ${asOf}`;
}

/**
 * One row per customer and day with transactions: that day's activity and
 * rolling 7- and 30-day sums ending on it, for point-in-time training sets.
 */
function dailyFeaturesSql(context: PipelineContext): string {
  const asOf = `DATE '${String(context.params.as_of)}'`;
  return `
WITH daily AS (
  SELECT customer_id,
    ts::DATE AS feature_date,
    count(*) AS num_transactions_1d,
    coalesce(sum(amount) FILTER (WHERE NOT is_refund), 0) AS amount_1d,
    count(*) FILTER (WHERE is_refund) AS refunds_1d
  FROM raw_transactions
  WHERE ts::DATE <= ${asOf}
  GROUP BY customer_id, ts::DATE
)
SELECT customer_id,
  feature_date,
  num_transactions_1d::INTEGER AS num_transactions_1d,
  amount_1d::DECIMAL(18,2) AS amount_1d,
  refunds_1d::INTEGER AS refunds_1d,
  sum(num_transactions_1d) OVER w7::INTEGER AS num_transactions_7d,
  (sum(amount_1d) OVER w7)::DECIMAL(18,2) AS amount_7d,
  sum(num_transactions_1d) OVER w30::INTEGER AS num_transactions_30d,
  (sum(amount_1d) OVER w30)::DECIMAL(18,2) AS amount_30d,
  (feature_date - lag(feature_date) OVER (PARTITION BY customer_id ORDER BY feature_date))::INTEGER
    AS days_since_previous_activity
FROM daily
WINDOW
  w7 AS (PARTITION BY customer_id ORDER BY feature_date RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW),
  w30 AS (PARTITION BY customer_id ORDER BY feature_date RANGE BETWEEN INTERVAL 29 DAYS PRECEDING AND CURRENT ROW)`;
}

export default defineConfig({
  sources: {
    raw_customers: {
      type: 'delta',
      path: 'data/raw_customers',
      changeColumn: '_change_timestamp',
      description: 'Customers, one row each, rewritten when they change (plan, churn, reactivation)',
    },
    raw_transactions: {
      type: 'delta',
      path: 'data/raw_transactions',
      changeColumn: '_change_timestamp',
      description: 'Card transactions, appended as they reach the warehouse (some late)',
    },
  },
  entities: {
    customer: { keys: ['customer_id'], description: 'A customer of the subscription service' },
  },
  featureTables: {
    'ml.churn_features.customer_features': {
      entity: 'customer',
      description: 'Churn features per customer, as of the reference day',
      owner: 'ml-platform',
      tags: { domain: 'churn', pii: 'false' },
      clusterBy: ['customer_id'],
      features: {
        days_since_last_transaction: {
          type: 'integer',
          description: 'Days from the last transaction (or signup) to the reference day',
        },
        tenure_days: { type: 'integer', description: 'Days since signup' },
        num_transactions_7d: { type: 'integer', description: 'Transactions in the last 7 days' },
        num_transactions_30d: { type: 'integer', description: 'Transactions in the last 30 days' },
        num_transactions_90d: { type: 'integer', description: 'Transactions in the last 90 days' },
        total_amount_30d: {
          type: 'decimal(18,2)',
          description: 'Amount spent in the last 30 days (refunds excluded)',
        },
        total_amount_90d: {
          type: 'decimal(18,2)',
          description: 'Amount spent in the last 90 days (refunds excluded)',
        },
        avg_amount_90d: {
          type: 'decimal(16,4)',
          description: 'Mean purchase amount over 90 days (refunds excluded), rounded half up',
        },
        refund_rate_90d: {
          type: 'double',
          description: 'Share of the last 90 days’ transactions that were refunds',
        },
        transaction_trend_30d: {
          type: 'double',
          description: 'Transactions in the last 30 days per 30 days of the 60 before (1 = steady)',
        },
        distinct_categories_90d: {
          type: 'integer',
          description: 'Distinct purchase categories over 90 days',
        },
        lifetime_transactions: { type: 'long', description: 'Transactions since signup' },
        plan: { type: 'string', description: 'Subscription plan' },
        country: { type: 'string' },
        age: { type: 'integer' },
      },
    },
    'ml.churn_features.customer_daily_features': {
      entity: 'customer',
      timeseriesColumn: 'feature_date',
      description: 'Daily activity per customer with rolling 7/30-day sums (point-in-time lookups)',
      owner: 'ml-platform',
      tags: { domain: 'churn' },
      clusterBy: ['customer_id', 'feature_date'],
    },
  },
  pipelines: {
    customer_features: {
      output: 'ml.churn_features.customer_features',
      sources: ['raw_customers', 'raw_transactions'],
      sql: customerFeaturesSql,
      params: { as_of: CHURN_AS_OF },
      incremental: { key: 'customer_id' },
      description: 'The seed’s compute_customer_features, incremental by customer',
    },
    customer_daily_features: {
      output: 'ml.churn_features.customer_daily_features',
      sources: ['raw_transactions'],
      sql: dailyFeaturesSql,
      params: { as_of: CHURN_AS_OF },
      incremental: { key: 'customer_id' },
    },
  },
  jobs: {
    churn_features_hourly: {
      schedule: '0 0 * * * ?',
      pipelines: ['customer_features', 'customer_daily_features'],
    },
  },
});
