import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryJson, sharedConnection, sqlString } from '../../duckdb/duckdb.js';
import type { Action } from '../log/actions.js';
import { readCommit } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { readTableRows } from '../scan/scan.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { AUTO_COMPACT_MIN_NUM_FILES } from './auto-optimize.js';
import { setClusteringColumns } from './clustering.js';
import { createTable } from './create.js';
import { writeTable } from './write.js';
import { writeDataFiles } from './write-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-auto-optimize-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'x', type: 'integer' },
  { name: 'p', type: 'string' },
];
const randomRows = (n: number, p = "'a'") =>
  `SELECT i::BIGINT AS id, (hash(i) % 100000)::INTEGER AS x, ${p} AS p FROM range(${n}) t(i) ORDER BY hash(i * 31)`;

/** The x values of a data file, in file order. */
async function fileOrder(table: Snapshot, path: string): Promise<number[]> {
  const file = dataFileLocalPath(table.root, path)!;
  const rows = await queryJson(await sharedConnection(), `SELECT x FROM read_parquet(${sqlString(file)})`);
  return rows.map((r) => Number(r.x));
}
const isSorted = (xs: readonly number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x);

describe('optimized writes', () => {
  it('sort the rows of a clustered table by the clustering key', async () => {
    const { table } = await createTable(join(dir, 't'), { schema });
    const { table: clustered } = await setClusteringColumns(table, ['x']);
    const plain = await writeTable(clustered, randomRows(3000));
    expect(isSorted(await fileOrder(plain.table, plain.table.files[0]!.path))).toBe(false);
    const optimized = await writeTable(plain.table, randomRows(3000), { optimizeWrite: true });
    const added = optimized.table.files.find((f) => !plain.table.files.some((g) => g.path === f.path))!;
    expect(isSorted(await fileOrder(optimized.table, added.path))).toBe(true);
    expect(await readTableRows(optimized.table)).toHaveLength(6000);
  });

  it('are on by default with delta.autoOptimize.optimizeWrite', async () => {
    const { table } = await createTable(join(dir, 't'), {
      schema,
      properties: { 'delta.autoOptimize.optimizeWrite': 'true' },
    });
    const { table: clustered } = await setClusteringColumns(table, ['x', 'id']);
    const { table: written } = await writeTable(clustered, randomRows(3000));
    const xs = await fileOrder(written, written.files[0]!.path);
    // Z-order by (x, id): the first quarter of the file holds the lower half of the x range, mostly.
    const low = xs.slice(0, 750).filter((x) => x < 50000).length;
    expect(low).toBeGreaterThan(600);
  });
});

describe('auto compaction', () => {
  /** `count` small files in partition `p`, committed at once (as many small writes would leave them). */
  async function smallFiles(table: Snapshot, p: string, count: number): Promise<Snapshot> {
    const actions: Action[] = [];
    for (let i = 0; i < count; i++) {
      const written = await writeDataFiles({
        root: table.root,
        schema: table.schema,
        partitionColumns: table.partitionColumns,
        sourceSql: `SELECT (${i} * 10 + j)::BIGINT AS id, j::INTEGER AS x, '${p}' AS p FROM range(10) t(j)`,
      });
      for (const add of written.adds) actions.push({ add });
    }
    const result = await new Transaction(new LocalLogStore(table.root), table, {
      operation: 'WRITE',
      isBlindAppend: true,
    })
      .addActions(...actions)
      .commit();
    return result.snapshot;
  }

  it('compacts the touched partitions once they hold more than 50 small files', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, {
      schema,
      partitionColumns: ['p'],
      properties: { 'delta.autoOptimize.autoCompact': 'auto' },
    });
    let current = await smallFiles(table, 'a', AUTO_COMPACT_MIN_NUM_FILES - 1);
    current = await smallFiles(current, 'b', AUTO_COMPACT_MIN_NUM_FILES + 5);

    // 50 small files in 'a' after this write: not more than 50, no compaction.
    const at50 = await writeTable(current, randomRows(5, "'a'"));
    expect(at50.metrics.autoCompaction).toBeUndefined();
    expect(at50.table.files.filter((f) => f.partitionValues.p === 'a')).toHaveLength(50);

    // 51 in 'a': the write is followed by an OPTIMIZE of 'a' only ('b' was not touched).
    const at51 = await writeTable(at50.table, randomRows(5, "'a'"));
    expect(at51.metrics.autoCompaction?.numRemovedFiles).toBe(51);
    expect(at51.table.version).toBe(at50.table.version + 2);
    expect(at51.table.files.filter((f) => f.partitionValues.p === 'a')).toHaveLength(1);
    expect(at51.table.files.filter((f) => f.partitionValues.p === 'b')).toHaveLength(55);
    const commit = await readCommit(new LocalLogStore(path), at51.table.version);
    expect(commit.commitInfo?.operation).toBe('OPTIMIZE');
    expect(commit.commitInfo?.operationParameters).toMatchObject({ auto: true });
    expect(await readTableRows(at51.table)).toHaveLength(49 * 10 + 10 + 55 * 10);

    // Turned off per write.
    const off = await writeTable(at51.table, randomRows(5, "'b'"), { autoCompact: false });
    expect(off.metrics.autoCompaction).toBeUndefined();
    expect(off.table.version).toBe(at51.table.version + 1);
  });
});
