/**
 * The workload of the pipeline failure tests, shared by the test and its
 * worker process: a project with two append-only Delta sources (customers,
 * transactions) and an incremental per-customer pipeline; `appendBatch`
 * adds a deterministic batch whose change timestamps follow every earlier
 * one; `expectedRows` computes the pipeline's SQL over the sources as of
 * given watermarks, apart from the run path.
 */
import { join } from 'node:path';
import type { LarderConfig } from '../../src/config/define-config.js';
import { DeltaTable } from '../../src/delta/delta-table.js';
import { planScan } from '../../src/delta/scan/scan.js';
import { connect, sqlIdent, sqlString } from '../../src/duckdb/duckdb.js';

export const PIPELINE = 'customer_totals';
export const OUTPUT = 'ml.features.customer_totals';

export const PIPELINE_SQL = `
  SELECT c.customer_id, c.segment, count(t.amount) AS n_tx, coalesce(sum(t.amount), 0) AS total
    FROM customers c LEFT JOIN transactions t USING (customer_id)
   GROUP BY ALL`;

/** The project's config (`sql` may be replaced to make a run fail). */
export function workloadConfig(sql = PIPELINE_SQL): LarderConfig {
  return {
    sources: {
      customers: { type: 'delta', path: 'data/customers', changeColumn: '_change_timestamp' },
      transactions: { type: 'delta', path: 'data/transactions', changeColumn: '_change_timestamp' },
    },
    entities: { customer: { keys: ['customer_id'] } },
    featureTables: { [OUTPUT]: { entity: 'customer' } },
    pipelines: {
      [PIPELINE]: {
        output: OUTPUT,
        sources: ['customers', 'transactions'],
        sql,
        incremental: { key: 'customer_id' },
      },
    },
  };
}

/** Create the two source tables in `projectDir/data`. */
export async function createSources(projectDir: string): Promise<void> {
  await DeltaTable.create(join(projectDir, 'data', 'customers'), {
    schema: [
      { name: 'customer_id', type: 'long', nullable: false },
      { name: 'segment', type: 'string' },
      { name: '_change_timestamp', type: 'timestamp' },
    ],
  });
  await DeltaTable.create(join(projectDir, 'data', 'transactions'), {
    schema: [
      { name: 'transaction_id', type: 'long', nullable: false },
      { name: 'customer_id', type: 'long' },
      { name: 'amount', type: 'long' },
      { name: '_change_timestamp', type: 'timestamp' },
    ],
  });
}

/**
 * Append batch `n` (n = 1, 2, …): two customers, and transactions for old and
 * new customers, stamped at minute n. Returns nothing; the batch depends on n only.
 */
export async function appendBatch(projectDir: string, n: number): Promise<void> {
  const ts = `TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL ${n} MINUTE`;
  const customers = await DeltaTable.open(join(projectDir, 'data', 'customers'));
  const transactions = await DeltaTable.open(join(projectDir, 'data', 'transactions'));
  await customers.append(
    `SELECT (${n} * 2 + i)::BIGINT AS customer_id, CASE WHEN i = 0 THEN 'retail' ELSE 'pro' END AS segment,
            ${ts} + to_microseconds(i) AS _change_timestamp FROM range(2) r(i)`,
  );
  await transactions.append(
    `SELECT (${n} * 100 + i)::BIGINT AS transaction_id, ((${n} * 7 + i * 3) % (${n} * 2 + 2))::BIGINT AS customer_id,
            (${n} + i)::BIGINT AS amount, ${ts} + to_microseconds(i) AS _change_timestamp FROM range(25) r(i)`,
  );
}

/**
 * The pipeline's rows over the source rows changed at or before the
 * watermarks (null: no row; undefined: every row), ordered by customer.
 */
export async function expectedRows(
  projectDir: string,
  watermarks?: Readonly<Record<string, string | null>>,
): Promise<unknown[][]> {
  const connection = await connect();
  try {
    const ctes: string[] = [];
    for (const source of ['customers', 'transactions']) {
      const table = await DeltaTable.open(join(projectDir, 'data', source));
      const { sql } = await planScan(table.snapshot);
      const w = watermarks?.[source];
      const filter =
        watermarks === undefined
          ? ''
          : w === null || w === undefined
            ? ' WHERE false'
            : ` WHERE _change_timestamp <= CAST(${sqlString(w)} AS TIMESTAMPTZ)`;
      ctes.push(`${sqlIdent(source)} AS (SELECT * FROM (${sql})${filter})`);
    }
    const reader = await connection.runAndReadAll(
      `WITH ${ctes.join(', ')} SELECT customer_id, segment, n_tx, total FROM (${PIPELINE_SQL}) ORDER BY customer_id`,
    );
    return reader.getRowsJson() as unknown[][];
  } finally {
    connection.closeSync();
  }
}
