/**
 * The sides of the Delta benchmarks (delta-bench.ts), each built in its own
 * child process by side-runner.ts: DuckDB alone doing a job, and Larder
 * doing the same job. The parent prepares the inputs and passes their paths.
 *
 * The references are DuckDB doing the work the Larder operation does, not
 * less and not more:
 * - Z-order: Larder cuts the Z-order key into ranges at approximate
 *   quantiles and writes each range as one file with one partitioned COPY
 *   (rows unsorted within a file). The reference computes the same kind of
 *   key in its own SQL (the column itself, or the bits of two min/max-scaled
 *   columns interleaved), the same number of quantile cuts, and writes the
 *   same number of files with the same row-group size by one partitioned
 *   COPY. Both know the columns' bounds beforehand (Larder from the Delta
 *   log's stats, the reference from the Parquet footers, read in setup).
 * - Merge: the reference finds the files holding the source's keys,
 *   rewrites them with the source rows in place of the matched ones plus the
 *   unmatched source rows, and writes new Parquet (copy-on-write). Larder's
 *   copy-on-write merge (a table without deletion vectors or change feed)
 *   does the same; its default table (deletion vectors, change feed) does
 *   other work, and is shown against the same reference for what it is.
 */
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DeltaTable } from '../src/delta/delta-table.js';
import { planScan } from '../src/delta/scan/scan.js';
import { connect, queryJson, sqlString, sqlStringList } from '../src/duckdb/duckdb.js';
import { Engine } from '../src/engine/engine.js';
import type { SideFactory } from './bench-utils.js';

/** The transactions-like table every Delta benchmark writes. */
export const SCHEMA = [
  { name: 'customer_id', type: 'long', nullable: false },
  { name: 'ts', type: 'timestamp', nullable: false },
  { name: 'amount', type: 'double', nullable: true },
  { name: 'merchant', type: 'string', nullable: true },
  { name: 'is_refund', type: 'boolean', nullable: true },
] as const;

/** `rows` rows of that table (customers: a tenth of the rows). */
export function sourceSql(rows: number, offset = 0): string {
  return `SELECT (i % ${Math.max(1, Math.floor(rows / 10))})::BIGINT AS customer_id,
    TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS ts,
    round((hash(i) % 100000) / 100.0, 2)::DOUBLE AS amount,
    'm' || (hash(i * 7) % 5000)::VARCHAR AS merchant,
    (i % 50 = 0) AS is_refund
  FROM range(${offset}, ${offset + rows}) t(i)`;
}

/** A table of `rows` rows with one row per customer, for merges. */
export function mergeTargetSql(rows: number): string {
  return `SELECT i::BIGINT AS customer_id, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS ts,
       (i % 1000)::DOUBLE AS amount, 'm' || (i % 100)::VARCHAR AS merchant, false AS is_refund
     FROM range(${rows}) t(i)`;
}

/** 1,000 changed rows: 900 existing keys spread over the whole table, 100 new ones. */
export function mergeSourceSql(tableRows: number, run: number): string {
  return `SELECT CASE WHEN j < 900 THEN ((j * 7919 + ${run * 13}) % ${tableRows}) ELSE ${tableRows} + ${run * 1000} + j END::BIGINT AS customer_id,
      TIMESTAMPTZ '2024-06-01 00:00:00+00' AS ts, j::DOUBLE AS amount, 'changed' AS merchant, true AS is_refund
    FROM (SELECT DISTINCT j FROM range(1000) t(j))`;
}

/** A column's bounds, as the Parquet footers give them. */
export interface ColumnBounds {
  readonly name: string;
  readonly integral: boolean;
  readonly min: number;
  readonly max: number;
}

/** The bounds of `columns` over Parquet `files`, from their footers' statistics. */
export async function footerBounds(
  connection: DuckDBConnection,
  files: readonly string[],
  columns: readonly string[],
): Promise<ColumnBounds[]> {
  const bounds: ColumnBounds[] = [];
  for (const column of columns) {
    const [row] = await queryJson(
      connection,
      `SELECT min(TRY_CAST(stats_min_value AS DOUBLE)) AS lo, max(TRY_CAST(stats_max_value AS DOUBLE)) AS hi,
              any_value(type) AS type
       FROM parquet_metadata(${sqlStringList(files)}) WHERE path_in_schema = ${sqlString(column)}`,
    );
    bounds.push({
      name: column,
      integral: String(row?.type) === 'INT64' || String(row?.type) === 'INT32',
      min: Number(row?.lo),
      max: Number(row?.hi),
    });
  }
  return bounds;
}

/**
 * The reference's Z-order key over `columns`: the column itself for one; for
 * several, each scaled to an unsigned integer of floor(62 / n) bits and the
 * bits interleaved (two columns: the classic "part1by1" spread).
 */
export function referenceZKey(bounds: readonly ColumnBounds[]): string {
  if (bounds.length === 1) return `"${bounds[0]!.name}"`;
  if (bounds.length !== 2) throw new Error('the reference interleaves one or two columns');
  const bits = 31;
  const scaled = bounds.map((b) => {
    if (b.integral) {
      const width = Math.max(1, Math.ceil(Math.log2(b.max - b.min + 1)));
      const offset = `CAST(least(greatest("${b.name}", ${b.min}), ${b.max}) - ${b.min} AS UBIGINT)`;
      return width <= bits ? `(${offset} << ${bits - width})` : `(${offset} >> ${width - bits})`;
    }
    const factor = (2 ** bits - 1) / (b.max - b.min || 1);
    return `CAST(greatest(0, least(${2 ** bits - 1}, ("${b.name}" - ${b.min}) * ${factor})) AS UBIGINT)`;
  });
  const spread = (x: string): string => {
    let v = `coalesce(${x}, 0::UBIGINT)`;
    for (const [shift, mask] of [
      [16, '0x0000FFFF0000FFFF'],
      [8, '0x00FF00FF00FF00FF'],
      [4, '0x0F0F0F0F0F0F0F0F'],
      [2, '0x3333333333333333'],
      [1, '0x5555555555555555'],
    ] as const) {
      v = `((${v} | (${v} << ${shift})) & ${BigInt(mask).toString()}::UBIGINT)`;
    }
    return v;
  };
  return `((${spread(scaled[0]!)} << 1) | ${spread(scaled[1]!)})`;
}

/** A balanced CASE tree: how many of the sorted `cuts` are <= `key`. */
function rangeOf(key: string, cuts: readonly string[], type: string): string {
  const tree = (lo: number, hi: number): string => {
    if (lo === hi) return String(lo);
    const mid = (lo + hi + 1) >> 1;
    return `CASE WHEN ${key} < CAST(${sqlString(cuts[mid - 1]!)} AS ${type}) THEN ${tree(lo, mid - 1)} ELSE ${tree(mid, hi)} END`;
  };
  return cuts.length === 0 ? '0' : tree(0, cuts.length);
}

/** Peak RSS is per process, so each side owns its connection for its whole life. */
async function withConnection(): Promise<{ connection: DuckDBConnection; close(): Promise<void> }> {
  const connection = await connect();
  return { connection, close: async () => connection.closeSync() };
}

export const sides: Record<string, SideFactory> = {
  /** Nothing but Node, tsx and a DuckDB connection: the floor under every peak RSS. */
  async idle() {
    const { connection, close } = await withConnection();
    return { run: () => connection.run('SELECT 1'), close };
  },
  /** DuckDB `COPY … TO parquet` of `rows` generated rows. */
  async 'duckdb-copy'(args) {
    const { connection, close } = await withConnection();
    const { rows, dir } = args as { rows: number; dir: string };
    return {
      async run(run) {
        const out = join(dir, `duck-${run}`);
        await mkdir(out, { recursive: true });
        await connection.run(
          `COPY (${sourceSql(rows)}) TO ${sqlString(join(out, 'data.parquet'))} (FORMAT parquet)`,
        );
      },
      close,
    };
  },
  /** Larder: create a table and append the same rows. */
  async 'larder-append'(args) {
    const { rows, dir } = args as { rows: number; dir: string };
    return {
      async run(run) {
        const path = join(dir, `append-${run}`);
        const table = await DeltaTable.create(path, { schema: [...SCHEMA] });
        await table.append(sourceSql(rows));
      },
    };
  },

  /** The scan aggregate over Parquet files. */
  async 'duckdb-scan'(args) {
    const { connection, close } = await withConnection();
    const { files, aggregate } = args as { files: string[]; aggregate: string };
    const from = `read_parquet(${sqlStringList(files)})`;
    return { run: () => connection.run(aggregate.replace('$FROM', from)), close };
  },
  /** The same aggregate over the Delta table: open it, plan the scan, run. */
  async 'larder-scan'(args) {
    const { connection, close } = await withConnection();
    const { path, aggregate } = args as { path: string; aggregate: string };
    return {
      async run() {
        const table = await DeltaTable.open(path);
        const plan = await planScan(table.snapshot);
        await connection.run(aggregate.replace('$FROM', `(${plan.sql})`));
      },
      close,
    };
  },

  /** DuckDB alone, copy-on-write merge of 1,000 keys into the Parquet files of the table at `path`. */
  async 'duckdb-merge'(args) {
    const { connection, close } = await withConnection();
    const { files, dir, tableRows } = args as { files: string[]; dir: string; tableRows: number };
    return {
      async run(run) {
        const out = join(dir, `duck-merge-${run}`);
        await mkdir(out, { recursive: true });
        await connection.run(`CREATE OR REPLACE TEMP TABLE src AS ${mergeSourceSql(tableRows, run)}`);
        // The files holding a source key: only the key column is read.
        const hit = await queryJson(
          connection,
          `SELECT DISTINCT filename FROM read_parquet(${sqlStringList(files)}, filename = true)
           WHERE customer_id IN (SELECT customer_id FROM src)`,
        );
        const affected = hit.map((r) => String(r.filename));
        const kept =
          affected.length === 0
            ? ''
            : `SELECT t.* FROM read_parquet(${sqlStringList(affected)}) AS t
               ANTI JOIN src USING (customer_id) UNION ALL `;
        await connection.run(
          `COPY (${kept}SELECT * FROM src) TO ${sqlString(join(out, 'part-0.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
        );
        return { filesRewritten: affected.length };
      },
      close,
    };
  },
  /** Larder's merge of the same keys into a fresh copy (made untimed) of the table at `path`. */
  async 'larder-merge'(args) {
    const { path, dir, tableRows, label } = args as {
      path: string;
      dir: string;
      tableRows: number;
      label: string;
    };
    const copyOf = (run: number) => join(dir, `merge-${label}-${run}`);
    return {
      async prepare(run) {
        await cp(path, copyOf(run), { recursive: true });
      },
      async run(run) {
        const table = await DeltaTable.open(copyOf(run));
        const { metrics } = await table.merge({
          source: mergeSourceSql(tableRows, run),
          on: ['customer_id'],
        });
        return {
          filesRewritten: metrics.numTargetFilesRemoved,
          deletionVectors: metrics.numTargetDeletionVectorsAdded,
        };
      },
    };
  },

  /** DuckDB alone: the Z-order job of `OPTIMIZE … ZORDER BY` (see the module comment). */
  async 'duckdb-zorder'(args) {
    const { connection, close } = await withConnection();
    const { files, dir, bounds, ranges, rowGroupRows, columns } = args as {
      files: string[];
      dir: string;
      bounds: ColumnBounds[];
      ranges: number;
      rowGroupRows: number;
      columns: string[];
    };
    const from = `read_parquet(${sqlStringList(files)})`;
    const key = referenceZKey(bounds);
    return {
      async run(run) {
        const fractions = Array.from({ length: ranges - 1 }, (_, i) => (i + 1) / ranges);
        const [row] = await queryJson(
          connection,
          `SELECT CAST(approx_quantile(zkey, [${fractions.join(', ')}]) AS VARCHAR[]) AS cuts, typeof(any_value(zkey)) AS type
           FROM (SELECT ${key} AS zkey FROM ${from})`,
        );
        const cuts = [...new Set((row?.cuts as string[] | null) ?? [])];
        const out = join(dir, `duck-zorder-${columns.join('-')}-${run}`);
        await connection.run(
          `COPY (SELECT *, ${rangeOf('zkey', cuts, String(row?.type))} AS zrange
                 FROM (SELECT *, ${key} AS zkey FROM ${from}))
           TO ${sqlString(out)} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (zrange), ROW_GROUP_SIZE ${rowGroupRows})`,
        );
        const [files_] = await queryJson(
          connection,
          `SELECT count(*) AS n FROM glob(${sqlString(join(out, '**', '*.parquet'))})`,
        );
        return { files: Number(files_?.n) };
      },
      close,
    };
  },
  /** Larder: `OPTIMIZE … ZORDER BY` of a shallow clone (made untimed) of the table at `path`. */
  async 'larder-zorder'(args) {
    const { path, dir, columns } = args as { path: string; dir: string; columns: string[] };
    const cloneOf = (run: number) => join(dir, `optimize-${columns.join('-')}-${run}`);
    return {
      async prepare(run) {
        await DeltaTable.clone(await DeltaTable.open(path), cloneOf(run), {});
      },
      async run(run) {
        const table = await DeltaTable.open(cloneOf(run));
        const { metrics } = await table.optimize({ zorderBy: columns });
        return { files: metrics.numAddedFiles };
      },
    };
  },

  /** Open a Delta table (log replay from its last checkpoint). */
  async 'larder-open'(args) {
    const { path } = args as { path: string };
    return { run: () => DeltaTable.open(path).then(() => undefined) };
  },

  /** A point filter through Larder SQL on a registered table; returns the files it read. */
  async 'larder-point-filter'(args) {
    const { project, location, customers } = args as { project: string; location: string; customers: number };
    const engine = await Engine.open({ projectDir: project });
    await engine.metastore.createTable({
      name: { catalog: 'ml', schema: 'bench', table: 'transactions' },
      location,
      managed: false,
    });
    const sqlOf = (run: number) =>
      `SELECT count(*), sum(amount) FROM ml.bench.transactions WHERE customer_id = ${(run * 7919) % Math.max(1, customers)}`;
    let files = { filesRead: 0, totalFiles: 0 };
    return {
      async prepare(run) {
        // Untimed: the files this run's filter reads, and (first run) a warm catalog and snapshot cache.
        const { scans } = await engine.rewrite(sqlOf(run));
        files = { filesRead: scans[0]?.filesRead ?? 0, totalFiles: scans[0]?.totalFiles ?? 0 };
        if (run === 0) await engine.query(sqlOf(0));
      },
      async run(run) {
        await engine.query(sqlOf(run));
        return files;
      },
      async close() {
        await engine.close();
      },
    };
  },
};
