/**
 * The seed guide's dashboard script (section "Real-time Performance
 * Dashboard"), verbatim, trailing spaces included: the tests run it exactly
 * as a user copies it.
 */

/** The two views of the guide's dashboard script, verbatim (section "Real-time Performance Dashboard"). */
export const DASHBOARD_VIEWS = `-- Create dashboard queries for monitoring

-- 1. Feature Computation Performance (Last 7 days)
CREATE OR REPLACE VIEW feature_computation_performance AS
SELECT 
    DATE(run_timestamp) as run_date,
    COUNT(*) as num_runs,
    AVG(duration_seconds) as avg_duration_sec,
    AVG(rows_per_second) as avg_throughput,
    SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) as failed_runs
FROM ml.churn_features.feature_computation_metrics
WHERE run_timestamp >= CURRENT_DATE - INTERVAL 7 DAYS
GROUP BY DATE(run_timestamp)
ORDER BY run_date DESC;

-- 2. Feature Freshness
CREATE OR REPLACE VIEW feature_freshness AS
SELECT 
    MAX(days_since_last_transaction) as oldest_activity_days,
    COUNT(*) as total_customers,
    SUM(CASE WHEN days_since_last_transaction > 60 THEN 1 ELSE 0 END) as stale_features,
    SUM(CASE WHEN days_since_last_transaction > 60 THEN 1 ELSE 0 END) / COUNT(*) as stale_pct
FROM ml.churn_features.customer_features;`;

/** The script's third query, verbatim: the online sync status. */
export const DASHBOARD_SYNC_STATUS = `-- 3. Online Store Sync Status
SELECT 
    table_name,
    sync_status,
    last_sync_time,
    TIMESTAMPDIFF(MINUTE, last_sync_time, CURRENT_TIMESTAMP) as minutes_since_sync
FROM system.information_schema.online_tables
WHERE catalog_name = 'ml';`;
