/**
 * The main job at this stage: a Delta table's life in one run. Creates a
 * table of customer transactions in `.larder/warehouse/demo/transactions`,
 * appends, merges, deletes, reads an old version, and prints the history and
 * the change data feed.
 *
 *   npm run demo
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltaTable } from '../../src/delta/delta-table.js';
import { readTableRows } from '../../src/delta/scan/scan.js';

const path = join(process.cwd(), '.larder', 'warehouse', 'demo', 'transactions');
await rm(path, { recursive: true, force: true });

function show(title: string, rows: readonly Record<string, unknown>[]): void {
  console.log(`\n${title}`);
  console.table(rows);
}

const created = await DeltaTable.create(path, {
  description: 'Card transactions per customer (Larder demo)',
  schema: [
    { name: 'customer_id', type: 'long', nullable: false },
    { name: 'ts', type: 'timestamp', nullable: false },
    { name: 'amount', type: 'double', nullable: true },
    { name: 'country', type: 'string', nullable: true },
  ],
  partitionColumns: ['country'],
});
console.log(`created ${path} at version ${created.version}`);

const table = await DeltaTable.open(path);
const appended = await table.append(`
  SELECT i AS customer_id,
         TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_hours(i) AS ts,
         round(10 + (i * 37 % 500) / 10.0, 2) AS amount,
         ['DE', 'FR', 'NL'][1 + i % 3] AS country
  FROM range(1, 10001) t(i)`);
console.log(`append: version ${appended.table.version}`, appended.metrics);

const merged = await table.merge({
  source: `SELECT * FROM (VALUES
      (1::BIGINT, TIMESTAMPTZ '2024-06-01 09:00:00+00', 999.0, 'FR'),
      (2::BIGINT, TIMESTAMPTZ '2024-06-01 09:30:00+00', 5.5, 'NL'),
      (20001::BIGINT, TIMESTAMPTZ '2024-06-02 10:00:00+00', 42.0, 'DE')
    ) AS s(customer_id, ts, amount, country)`,
  on: ['customer_id'],
});
console.log(`merge: version ${merged.table.version}`, merged.metrics);

const deleted = await table.delete('amount < 11');
console.log(`delete: version ${deleted.table.version}`, deleted.metrics);

const now = await DeltaTable.open(path);
const old = await DeltaTable.open(path, { version: appended.table.version });
const count = async (t: DeltaTable) => (await readTableRows(t.snapshot)).length;
console.log(`\nrows now (version ${now.version}): ${await count(now)}`);
console.log(`rows at version ${old.version} (time travel): ${await count(old)}`);
show('customer 1 at the append version and now', [
  ...(await readTableRows(old.snapshot, {
    predicate: { kind: 'compare', op: '=', column: 'customer_id', value: 1 },
  })),
  ...(await readTableRows(now.snapshot, {
    predicate: { kind: 'compare', op: '=', column: 'customer_id', value: 1 },
  })),
]);

show(
  'history (DESCRIBE HISTORY)',
  (await now.history()).map((h) => ({
    version: h.version,
    timestamp: new Date(h.timestamp).toISOString(),
    operation: h.operation,
    metrics: JSON.stringify(h.operationMetrics ?? {}).slice(0, 90),
  })),
);

const changes = await now.changes({ startVersion: merged.table.version, endVersion: merged.table.version });
show(
  `change data feed of the merge (version ${merged.table.version})`,
  changes.filter((r) => r._change_type !== 'insert' || Number(r.customer_id) > 20000),
);
