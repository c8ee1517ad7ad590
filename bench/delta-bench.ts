/**
 * Delta table format benchmarks (issue 2, issue 8). Every figure is printed
 * with the reference it is compared to, measured in the same run on the same
 * machine, and with peak RSS beside it:
 *
 *   npm run bench:delta            (LARDER_BENCH_ROWS=10000000 by default)
 *
 * - append of N rows vs DuckDB `COPY … TO parquet` of the same rows
 * - full-scan aggregate vs DuckDB over the same Parquet files
 * - merge of 1,000 changed keys into a 1 M-row table vs DuckDB rewriting the
 *   affected files itself; and vs the same merge into a 10 k-row table
 * - opening a table with 10,000 commits (checkpointed)
 * - OPTIMIZE … ZORDER BY one and two columns vs DuckDB doing the same job
 *   (same key kind, cuts, file count and row-group size: delta-sides.ts)
 * - a point filter on the Z-ordered table
 *
 * Each side of a comparison runs in its own child process (side-runner.ts),
 * the two alternated ABBA; a figure's peak RSS is that process's
 * `ru_maxrss`: Node, DuckDB and the side's setup and runs, nothing else.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeltaTable } from '../src/delta/delta-table.js';
import { writeCheckpoint } from '../src/delta/log/checkpoint-writer.js';
import { loadSnapshot } from '../src/delta/log/replay.js';
import { LocalLogStore } from '../src/delta/storage/local-log-store.js';
import { commitFileName } from '../src/delta/storage/log-store.js';
import { connect, queryJson, sqlStringList } from '../src/duckdb/duckdb.js';
import { formatBytes, type PairedSides, pairedSides, soloSide } from './bench-utils.js';
import { footerBounds, mergeTargetSql, SCHEMA, sourceSql } from './delta-sides.js';

const ROWS = Number(process.env.LARDER_BENCH_ROWS ?? 10_000_000);
const REPEAT = Number(process.env.LARDER_BENCH_REPEAT ?? 5);
const SIDES = fileURLToPath(new URL('./delta-sides.ts', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'larder-bench-'));
const connection = await connect();

interface Row {
  readonly name: string;
  readonly larder: string;
  readonly reference: string;
  readonly ratio: string;
  readonly bar: string;
}
const results: Row[] = [];
function report(row: Row): void {
  results.push(row);
  console.log(
    `${row.name}: Larder ${row.larder}; reference ${row.reference || '—'}; ${row.ratio || ''} (bar ${row.bar})`,
  );
}
const ms = (value: number) => `${value.toFixed(0)} ms`;
const withRss = (value: number, peak: number) => `${ms(value)} (peak RSS ${formatBytes(peak)})`;
function reportPair(name: string, pair: PairedSides, reference: string, bar: string): void {
  report({
    name,
    larder: withRss(pair.larderMs, pair.larderPeakRss),
    reference: `${withRss(pair.referenceMs, pair.referencePeakRss)} ${reference}`,
    ratio: `${(pair.larderMs / pair.referenceMs).toFixed(2)}×`,
    bar,
  });
}
const localFiles = (table: DeltaTable) =>
  table.snapshot.files.map((f) => join(table.snapshot.root, decodeURIComponent(f.path)));

const idle = await soloSide(SIDES, { name: 'idle' }, 1);
console.log(`an idle side process (Node, tsx, one DuckDB connection) peaks at ${formatBytes(idle.peakRss)}`);

// 1. Append N rows.
const append = await pairedSides(
  SIDES,
  { name: 'duckdb-copy', args: { rows: ROWS, dir } },
  { name: 'larder-append', args: { rows: ROWS, dir } },
  REPEAT,
);
reportPair(`append ${ROWS.toLocaleString('en')} rows`, append, 'DuckDB COPY TO parquet', '≤ 1.3×');
const big = await DeltaTable.open(join(dir, 'append-0'));

// 2. Full-scan aggregate over that table.
const aggregate = 'SELECT count(*), sum(amount), avg(amount), count(DISTINCT merchant), max(ts) FROM $FROM';
const scan = await pairedSides(
  SIDES,
  { name: 'duckdb-scan', args: { files: localFiles(big), aggregate } },
  { name: 'larder-scan', args: { path: big.snapshot.root, aggregate } },
  REPEAT,
);
reportPair('full-scan aggregate', scan, 'DuckDB over the same files', '≤ 1.1×');

// 3. Merge 1,000 changed keys (900 updates, 100 inserts) into 1 M rows; fresh copies per run.
async function mergeTarget(name: string, rows: number, properties: Record<string, string> = {}) {
  const table = await DeltaTable.create(join(dir, name), { schema: [...SCHEMA], properties });
  await table.append(mergeTargetSql(rows));
  return DeltaTable.open(join(dir, name));
}
const copyOnWrite = await mergeTarget('merge-1m-cow', 1_000_000, {
  'delta.enableDeletionVectors': 'false',
  'delta.enableChangeDataFeed': 'false',
});
const byDefault = await mergeTarget('merge-1m', 1_000_000);
const small = await mergeTarget('merge-10k', 10_000);
const duckMerge = {
  name: 'duckdb-merge',
  args: { files: localFiles(copyOnWrite), dir, tableRows: 1_000_000 },
};
const mergeCow = await pairedSides(
  SIDES,
  duckMerge,
  {
    name: 'larder-merge',
    args: { path: copyOnWrite.snapshot.root, dir, tableRows: 1_000_000, label: 'cow' },
  },
  REPEAT,
);
const rewritten = (details: unknown[]) => (details[0] as { filesRewritten?: number })?.filesRewritten ?? 0;
reportPair(
  `merge 1,000 keys into 1 M rows, copy-on-write (rewrites ${rewritten(mergeCow.larderDetails)} of ${copyOnWrite.snapshot.files.length} files; DuckDB ${rewritten(mergeCow.referenceDetails)})`,
  mergeCow,
  'DuckDB alone: find the files, rewrite them with the changes',
  '≤ 1.3×',
);
const mergeDefault = await pairedSides(
  SIDES,
  duckMerge,
  { name: 'larder-merge', args: { path: byDefault.snapshot.root, dir, tableRows: 1_000_000, label: 'dv' } },
  REPEAT,
);
reportPair(
  'merge 1,000 keys into 1 M rows, default table (deletion vectors, change feed: other work)',
  mergeDefault,
  'the same DuckDB copy-on-write rewrite',
  '< 1 s',
);
const merge10k = await soloSide(
  SIDES,
  { name: 'larder-merge', args: { path: small.snapshot.root, dir, tableRows: 10_000, label: 'small' } },
  REPEAT,
);
report({
  name: 'the same merge, default table, 1 M rows vs 10 k rows',
  larder: withRss(mergeDefault.larderMs, mergeDefault.larderPeakRss),
  reference: `${withRss(merge10k.ms, merge10k.peakRss)} into 10 k rows`,
  ratio: `${(mergeDefault.larderMs / merge10k.ms).toFixed(2)}×`,
  bar: '≤ 3×',
});

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
const open = await soloSide(SIDES, { name: 'larder-open', args: { path: logPath } }, REPEAT);
report({
  name: 'open a table with 10,000 commits (checkpoint at 9,990)',
  larder: withRss(open.ms, open.peakRss),
  reference: '',
  ratio: '',
  bar: '< 200 ms',
});

// 5. OPTIMIZE … ZORDER BY of ~1,000 small files holding N rows, vs DuckDB doing the same job.
const smallPath = join(dir, 'small-files');
await DeltaTable.create(smallPath, { schema: [...SCHEMA] });
const perFile = Math.max(1, Math.floor(big.snapshot.files.reduce((n, f) => n + f.size, 0) / 1000));
await (await DeltaTable.open(smallPath)).append(sourceSql(ROWS), {
  targetFileSize: perFile,
  rowGroupSize: Math.ceil(ROWS / 1000),
});
const smallTable = await DeltaTable.open(smallPath);
const smallFiles = localFiles(smallTable);
async function zorder(columns: string[], bar: string): Promise<DeltaTable> {
  // Untimed, in this process: Larder's layout (file count, row-group size), which the reference copies.
  const warm = await DeltaTable.clone(smallTable, join(dir, `zordered-${columns.join('-')}`), {});
  await warm.optimize({ zorderBy: columns });
  const layout = await DeltaTable.open(warm.snapshot.root);
  const [row] = await queryJson(
    connection,
    `SELECT max(row_group_num_rows) AS rg FROM parquet_metadata(${sqlStringList(localFiles(layout))})`,
  );
  const pair = await pairedSides(
    SIDES,
    {
      name: 'duckdb-zorder',
      args: {
        files: smallFiles,
        dir,
        columns,
        bounds: await footerBounds(connection, smallFiles, columns),
        ranges: layout.snapshot.files.length,
        rowGroupRows: Number(row?.rg),
      },
    },
    { name: 'larder-zorder', args: { path: smallPath, dir, columns } },
    Math.min(REPEAT, 4),
  );
  const files = (details: unknown[]) => (details[0] as { files?: number })?.files ?? 0;
  reportPair(
    `OPTIMIZE ZORDER BY (${columns.join(', ')}) of ${smallFiles.length} files, ${ROWS.toLocaleString('en')} rows, into ${files(pair.larderDetails)} files (DuckDB ${files(pair.referenceDetails)})`,
    pair,
    'DuckDB alone: same key kind, quantile cuts, partitioned COPY',
    bar,
  );
  return layout;
}
const zordered = await zorder(['customer_id'], '≤ 1.5×');
await zorder(['customer_id', 'amount'], '≤ 1.5×');

// 6. A point filter through Larder SQL on the Z-ordered table.
const project = join(dir, 'project');
await mkdir(project, { recursive: true });
const lookups = await soloSide(
  SIDES,
  {
    name: 'larder-point-filter',
    args: { project, location: zordered.snapshot.root, customers: Math.floor(ROWS / 10) },
  },
  25,
);
const filesRead = Math.max(...lookups.details.map((d) => (d as { filesRead: number }).filesRead));
const totalFiles = (lookups.details[0] as { totalFiles: number }).totalFiles;
report({
  name: `point filter on customer_id after Z-order (reads ${filesRead} of ${totalFiles} files, ${((100 * filesRead) / Math.max(1, totalFiles)).toFixed(1)}%)`,
  larder: withRss(lookups.ms, lookups.peakRss),
  reference: '',
  ratio: '',
  bar: '< 100 ms, < 5% of files',
});

console.log(
  `\nPeak RSS: of the child process that ran that side alone (Node, tsx, DuckDB, the side's setup and all its runs); an idle one peaks at ${formatBytes(idle.peakRss)}.`,
);
console.log('| benchmark | Larder | reference | ratio | bar |\n|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.larder} | ${r.reference} | ${r.ratio} | ${r.bar} |`);
connection.closeSync();
await rm(dir, { recursive: true, force: true });
