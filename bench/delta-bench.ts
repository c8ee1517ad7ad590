/**
 * Delta table format benchmarks (issue 2). Every figure is printed with the
 * reference it is compared to, measured in the same run on the same machine:
 *
 *   npm run bench:delta            (LARDER_BENCH_ROWS=10000000 by default)
 *
 * - append of N rows vs DuckDB `COPY … TO parquet` of the same rows
 * - full-scan aggregate vs DuckDB over the same Parquet files
 * - merge of 1,000 changed keys into a 1 M-row table vs into a 10 k-row table
 * - opening a table with 10,000 commits (checkpointed)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeltaTable } from '../src/delta/delta-table.js';
import { writeCheckpoint } from '../src/delta/log/checkpoint-writer.js';
import { loadSnapshot } from '../src/delta/log/replay.js';
import { planScan } from '../src/delta/scan/scan.js';
import { LocalLogStore } from '../src/delta/storage/local-log-store.js';
import { commitFileName } from '../src/delta/storage/log-store.js';
import { connect, sqlString, sqlStringList } from '../src/duckdb/duckdb.js';
import { Engine } from '../src/engine/engine.js';
import { median as medianOf, middle, paired as pairedOf, time } from './bench-utils.js';

const ROWS = Number(process.env.LARDER_BENCH_ROWS ?? 10_000_000);
const REPEAT = Number(process.env.LARDER_BENCH_REPEAT ?? 5);
/** Median of `repeat` runs. */
const median = (fn: (run: number) => Promise<unknown>, repeat = REPEAT) => medianOf(fn, repeat);
/** Reference and Larder medians, ABBA-paired. */
const paired = (
  reference: (run: number) => Promise<unknown>,
  larder: (run: number) => Promise<unknown>,
  repeat = REPEAT,
) => pairedOf(reference, larder, repeat);
const dir = await mkdtemp(join(tmpdir(), 'larder-bench-'));
const connection = await connect();

const SCHEMA = [
  { name: 'customer_id', type: 'long', nullable: false },
  { name: 'ts', type: 'timestamp', nullable: false },
  { name: 'amount', type: 'double', nullable: true },
  { name: 'merchant', type: 'string', nullable: true },
  { name: 'is_refund', type: 'boolean', nullable: true },
] as const;

function sourceSql(rows: number, offset = 0): string {
  return `SELECT (i % ${Math.max(1, Math.floor(rows / 10))})::BIGINT AS customer_id,
    TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS ts,
    round((hash(i) % 100000) / 100.0, 2)::DOUBLE AS amount,
    'm' || (hash(i * 7) % 5000)::VARCHAR AS merchant,
    (i % 50 = 0) AS is_refund
  FROM range(${offset}, ${offset + rows}) t(i)`;
}

const results: { name: string; larder: string; reference: string; ratio: string; bar: string }[] = [];
function report(
  name: string,
  larderMs: number,
  referenceMs: number | undefined,
  bar: string,
  reference = '',
): void {
  results.push({
    name,
    larder: `${larderMs.toFixed(0)} ms`,
    reference: referenceMs === undefined ? reference : `${referenceMs.toFixed(0)} ms ${reference}`,
    ratio: referenceMs === undefined ? '' : `${(larderMs / referenceMs).toFixed(2)}×`,
    bar,
  });
  console.log(results.at(-1));
}

// 1. Append N rows.
let big: DeltaTable | undefined;
const [duckCopyMs, appendMs] = await paired(
  async (run) => {
    const out = join(dir, `duck-${run}`);
    await mkdir(out, { recursive: true });
    await connection.run(
      `COPY (${sourceSql(ROWS)}) TO ${sqlString(join(out, 'data.parquet'))} (FORMAT parquet)`,
    );
  },
  async (run) => {
    const path = join(dir, `append-${run}`);
    await DeltaTable.create(path, { schema: [...SCHEMA] });
    const table = await DeltaTable.open(path);
    await table.append(sourceSql(ROWS));
    big = await DeltaTable.open(path);
  },
);
report(`append ${ROWS.toLocaleString('en')} rows`, appendMs, duckCopyMs, '≤ 1.3×', 'DuckDB COPY TO parquet');

// 2. Full-scan aggregate over that table.
const aggregate = (from: string) =>
  `SELECT count(*), sum(amount), avg(amount), count(DISTINCT merchant), max(ts) FROM ${from}`;
const files = big!.snapshot.files.map((f) => join(big!.snapshot.root, decodeURIComponent(f.path)));
const [duckScanMs, larderScanMs] = await paired(
  () => connection.run(aggregate(`read_parquet(${sqlStringList(files)})`)),
  async () => {
    const table = await DeltaTable.open(big!.snapshot.root);
    const plan = await planScan(table.snapshot);
    await connection.run(aggregate(`(${plan.sql})`));
  },
  5,
);
report('full-scan aggregate', larderScanMs, duckScanMs, '≤ 1.1×', 'DuckDB over the same files');

// 3. Merge 1,000 changed keys into 1 M rows vs 10 k rows.
async function mergeBench(tableRows: number): Promise<number> {
  const path = join(dir, `merge-${tableRows}`);
  await DeltaTable.create(path, { schema: [...SCHEMA] });
  await (await DeltaTable.open(path)).append(
    `SELECT i::BIGINT AS customer_id, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS ts,
       (i % 1000)::DOUBLE AS amount, 'm' || (i % 100)::VARCHAR AS merchant, false AS is_refund
     FROM range(${tableRows}) t(i)`,
  );
  return median(async (run) => {
    const table = await DeltaTable.open(path);
    // 900 existing keys spread over the whole table, 100 new ones.
    await table.merge({
      source: `SELECT CASE WHEN j < 900 THEN ((j * 7919 + ${run * 13}) % ${tableRows}) ELSE ${tableRows} + ${run * 1000} + j END::BIGINT AS customer_id,
          TIMESTAMPTZ '2024-06-01 00:00:00+00' AS ts, j::DOUBLE AS amount, 'changed' AS merchant, true AS is_refund
        FROM (SELECT DISTINCT j FROM range(1000) t(j))`,
      on: ['customer_id'],
    });
  });
}
const merge10k = await mergeBench(10_000);
const merge1m = await mergeBench(1_000_000);
report('merge 1,000 keys into 1 M rows', merge1m, undefined, '< 1 s');
report('merge 1,000 keys into 1 M vs 10 k rows', merge1m, merge10k, '≤ 3×', 'same merge into 10 k rows');

// 4. Open a table with 10,000 commits, checkpointed.
const logPath = join(dir, 'commits-10k');
await DeltaTable.create(logPath, {
  schema: [...SCHEMA],
  properties: { 'delta.checkpointInterval': '1000000' },
});
const store = new LocalLogStore(logPath);
const logDir = join(logPath, '_delta_log');
const stats = JSON.stringify({
  numRecords: 10,
  minValues: { customer_id: 1 },
  maxValues: { customer_id: 9 },
  nullCount: { customer_id: 0 },
});
for (let v = 1; v <= 10_000; v++) {
  const add = {
    path: `part-${v}.parquet`,
    partitionValues: {},
    size: 1000,
    modificationTime: Date.now(),
    dataChange: true,
    stats,
  };
  await writeFile(
    join(logDir, commitFileName(v)),
    `${JSON.stringify({ commitInfo: { timestamp: Date.now(), operation: 'WRITE' } })}\n${JSON.stringify({ add })}\n`,
  );
  if (v === 9_990) await writeCheckpoint(store, await loadSnapshot(store));
}
const openMs = await median(() => DeltaTable.open(logPath), 5);
report('open a table with 10,000 commits (checkpoint at 9,990)', openMs, undefined, '< 200 ms');

// 5. OPTIMIZE … ZORDER BY of ~1,000 small files holding N rows, vs DuckDB rewriting them sorted.
const smallPath = join(dir, 'small-files');
await DeltaTable.create(smallPath, { schema: [...SCHEMA] });
const smallTable = await DeltaTable.open(smallPath);
const perFile = Math.max(1, Math.floor(big!.snapshot.files.reduce((n, f) => n + f.size, 0) / 1000));
await smallTable.append(sourceSql(ROWS), { targetFileSize: perFile, rowGroupSize: Math.ceil(ROWS / 1000) });
const smallFiles = (await DeltaTable.open(smallPath)).snapshot.files.map((f) =>
  join(smallPath, decodeURIComponent(f.path)),
);
const [sortedCopyMs, optimizeMs] = await paired(
  async (run) => {
    await connection.run(
      `COPY (SELECT * FROM read_parquet(${sqlStringList(smallFiles)}) ORDER BY customer_id) TO ${sqlString(join(dir, `sorted-${run}.parquet`))} (FORMAT parquet)`,
    );
  },
  async (run) => {
    const path = join(dir, `optimize-${run}`);
    const clone = await DeltaTable.clone(await DeltaTable.open(smallPath), path, {});
    await clone.optimize({ zorderBy: ['customer_id'] });
  },
  3,
);
report(
  `OPTIMIZE ZORDER BY (customer_id) of ${smallFiles.length} files, ${ROWS.toLocaleString('en')} rows`,
  optimizeMs,
  sortedCopyMs,
  '≤ 1.5×',
  'DuckDB COPY … ORDER BY',
);
const [, optimize2Ms] = await paired(
  async () => undefined,
  async (run) => {
    const clone = await DeltaTable.clone(await DeltaTable.open(smallPath), join(dir, `optimize2-${run}`), {});
    await clone.optimize({ zorderBy: ['customer_id', 'amount'] });
  },
  1,
);
report(
  'OPTIMIZE ZORDER BY (customer_id, amount), same files',
  optimize2Ms,
  sortedCopyMs,
  '(2 columns)',
  'DuckDB COPY … ORDER BY customer_id',
);

// 6. A point filter through Larder SQL on the Z-ordered table.
const project = join(dir, 'project');
await mkdir(project, { recursive: true });
const engine = await Engine.open({ projectDir: project });
await engine.metastore.createTable({
  name: { catalog: 'ml', schema: 'bench', table: 'transactions' },
  location: join(dir, 'optimize-0'),
  managed: false,
});
const lookups: number[] = [];
let filesRead = 0;
let totalFiles = 0;
for (let i = 0; i < 25; i++) {
  const key = (i * 7919) % Math.max(1, Math.floor(ROWS / 10));
  const sql = `SELECT count(*), sum(amount) FROM ml.bench.transactions WHERE customer_id = ${key}`;
  const { ms } = await time(() => engine.query(sql));
  const { scans } = await engine.rewrite(sql);
  if (i > 0) lookups.push(ms);
  filesRead = Math.max(filesRead, scans[0]?.filesRead ?? 0);
  totalFiles = scans[0]?.totalFiles ?? 0;
}
report(
  `point filter on customer_id after Z-order (reads ${filesRead} of ${totalFiles} files, ${((100 * filesRead) / Math.max(1, totalFiles)).toFixed(1)}%)`,
  middle(lookups),
  undefined,
  '< 100 ms, < 5% of files',
);
await engine.close();

console.log('\n| benchmark | Larder | reference | ratio | bar |\n|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.larder} | ${r.reference} | ${r.ratio} | ${r.bar} |`);
connection.closeSync();
await rm(dir, { recursive: true, force: true });
