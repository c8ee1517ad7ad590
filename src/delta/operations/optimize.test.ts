import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { loadSnapshot, readCommit } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { planScan, readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { createTable } from './create.js';
import { deleteFrom } from './delete.js';
import { optimizeTable, resolveTargetFileSize, ZORDER_TAG } from './optimize.js';
import { writeTable } from './write.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-optimize-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sorted = (rows: Record<string, unknown>[]) =>
  rows.map((r) => JSON.stringify(r)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** A table of `files` appends of `rows` random rows each (seeded, so failures reproduce). */
async function smallFiles(
  path: string,
  files: number,
  rows: number,
  options: { partitionColumns?: string[]; properties?: Record<string, string> } = {},
): Promise<Snapshot> {
  let { table } = await createTable(path, {
    schema: [
      { name: 'id', type: 'long', nullable: false },
      { name: 'x', type: 'integer' },
      { name: 'y', type: 'double' },
      { name: 'name', type: 'string' },
      { name: 'p', type: 'string' },
    ],
    partitionColumns: options.partitionColumns,
    properties: options.properties,
  });
  for (let f = 0; f < files; f++) {
    ({ table } = await writeTable(
      table,
      `SELECT (${f * rows} + i)::BIGINT AS id, (hash(i * 7919 + ${f}) % 1000)::INTEGER AS x,
              (hash(i * 104729 + ${f}) % 100000) / 100.0 AS y, 'cust-' || lpad(((hash(i + ${f * 31}) % 5000))::VARCHAR, 5, '0') AS name,
              CASE WHEN i % 4 = 0 THEN 'a' ELSE 'b' END AS p
       FROM range(${rows}) t(i)`,
    ));
  }
  return table;
}

describe('optimizeTable (bin-packing)', () => {
  it('compacts small files into one, keeping the rows, and commits dataChange-free actions', async () => {
    const path = join(dir, 't');
    const before = await smallFiles(path, 8, 50);
    expect(before.files).toHaveLength(8);
    const { table, metrics } = await optimizeTable(before);
    expect(metrics.numRemovedFiles).toBe(8);
    expect(metrics.numAddedFiles).toBe(1);
    expect(table.files).toHaveLength(1);
    expect(table.version).toBe(before.version + 1);
    expect(sorted(await readTableRows(table))).toEqual(sorted(await readTableRows(before)));

    const commit = await readCommit(new LocalLogStore(path), table.version);
    expect(commit.commitInfo?.operation).toBe('OPTIMIZE');
    expect(commit.commitInfo?.operationParameters).toMatchObject({ predicate: '[]', zOrderBy: '[]' });
    expect(commit.commitInfo?.operationMetrics).toMatchObject({ numRemovedFiles: '8', numAddedFiles: '1' });
    expect(commit.add.every((a) => a.dataChange === false)).toBe(true);
    expect(commit.remove.every((r) => r.dataChange === false)).toBe(true);

    // Time travel still reads the old files.
    const old = await loadSnapshot(new LocalLogStore(path), { version: before.version });
    expect(old.files).toHaveLength(8);
    expect(sorted(await readTableRows(old))).toEqual(sorted(await readTableRows(table)));
  });

  it('commits nothing when there is nothing to do', async () => {
    const path = join(dir, 't');
    const first = await optimizeTable(await smallFiles(path, 3, 20));
    const again = await optimizeTable(first.table);
    expect(again.table.version).toBe(first.table.version);
    expect(again.metrics.numRemovedFiles).toBe(0);
    const empty = await createTable(join(dir, 'empty'), { schema: [{ name: 'a', type: 'long' }] });
    expect((await optimizeTable(empty.table)).table.version).toBe(0);
  });

  it('leaves files at or above the target alone', async () => {
    const path = join(dir, 't');
    const before = await smallFiles(path, 4, 50);
    const sizes = before.files.map((f) => f.size).sort((a, b) => a - b);
    // Target between the two smallest files and the others: only the two smallest are compacted.
    const { metrics } = await optimizeTable(before, { targetFileSize: sizes[1]! + 1 });
    expect(metrics.numRemovedFiles).toBe(2);
    expect(metrics.totalFilesSkipped).toBe(2);
  });

  it('rewrites a file with a deletion vector, purging the deleted rows', async () => {
    const path = join(dir, 't');
    const written = await smallFiles(path, 1, 100);
    const deleted = await deleteFrom(written, 'id % 3 = 0');
    expect(deleted.table.files[0]?.deletionVector).toBeTruthy();
    const { table, metrics } = await optimizeTable(deleted.table);
    expect(metrics.numDeletionVectorsRemoved).toBe(1);
    expect(table.files).toHaveLength(1);
    expect(table.files[0]?.deletionVector ?? undefined).toBeUndefined();
    expect(sorted(await readTableRows(table))).toEqual(sorted(await readTableRows(deleted.table)));
    expect(table.numRecords).toBe(66);
  });

  it('compacts within partitions, only those the WHERE clause selects', async () => {
    const path = join(dir, 't');
    const before = await smallFiles(path, 3, 40, { partitionColumns: ['p'] });
    expect(before.files).toHaveLength(6);
    const { table, metrics } = await optimizeTable(before, { where: "p = 'a'" });
    expect(metrics.numRemovedFiles).toBe(3);
    expect(metrics.partitionsOptimized).toBe(1);
    expect(table.files.filter((f) => f.partitionValues.p === 'a')).toHaveLength(1);
    expect(table.files.filter((f) => f.partitionValues.p === 'b')).toHaveLength(3);
    expect(sorted(await readTableRows(table))).toEqual(sorted(await readTableRows(before)));
    const commit = await readCommit(new LocalLogStore(path), table.version);
    expect(commit.commitInfo?.operationParameters?.predicate).toBe(JSON.stringify(["p = 'a'"]));
  });

  it('refuses a WHERE clause on a non-partition column, naming it', async () => {
    const path = join(dir, 't');
    const before = await smallFiles(path, 2, 10, { partitionColumns: ['p'] });
    const error = await optimizeTable(before, { where: "p = 'a' AND x > 3" }).catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain('"x"');
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(before.version);
  });

  it('splits a partition larger than the target into files of about the target size', async () => {
    const path = join(dir, 't');
    const before = await smallFiles(path, 12, 2000, { partitionColumns: ['p'] });
    const bPartition = before.files.filter((f) => f.partitionValues.p === 'b');
    const bytes = bPartition.reduce((s, f) => s + f.size, 0);
    const target = Math.floor(bytes / 3);
    const { table } = await optimizeTable(before, { targetFileSize: target });
    const newB = table.files.filter((f) => f.partitionValues.p === 'b');
    expect(newB.length).toBeGreaterThan(1);
    expect(newB.length).toBeLessThan(bPartition.length);
    expect(newB.every((f) => f.path.startsWith('p=b/'))).toBe(true);
    expect(sorted(await readTableRows(table))).toEqual(sorted(await readTableRows(before)));
  });

  it('takes the target size from delta.targetFileSize, else from the table size', async () => {
    const path = join(dir, 't');
    const table = await smallFiles(path, 2, 10, { properties: { 'delta.targetFileSize': '64mb' } });
    expect(resolveTargetFileSize(table)).toBe(64 * 1024 * 1024);
    expect(resolveTargetFileSize(table, 1000)).toBe(1000);
    const other = await smallFiles(join(dir, 'u'), 1, 10);
    expect(resolveTargetFileSize(other)).toBe(1024 * 1024);
  });
});

describe('optimizeTable (Z-order)', () => {
  it('makes point filters on each Z-order column read fewer files, with identical rows', async () => {
    const path = join(dir, 't');
    const before = await smallFiles(path, 40, 400);
    expect(before.files).toHaveLength(40);
    const total = before.files.reduce((s, f) => s + f.size, 0);
    const { table, metrics } = await optimizeTable(before, {
      zorderBy: ['x', 'name'],
      targetFileSize: Math.floor(total / 10),
    });
    expect(metrics.zOrderBy).toEqual(['x', 'name']);
    expect(table.files.length).toBeGreaterThan(3);
    expect(table.files.every((f) => f.tags?.[ZORDER_TAG] === '["x","name"]')).toBe(true);
    expect(sorted(await readTableRows(table))).toEqual(sorted(await readTableRows(before)));

    const filesRead = async (snapshot: Snapshot, column: string, value: number | string) =>
      (await planScan(snapshot, { predicate: { kind: 'compare', op: '=', column, value } })).files.length;
    let beforeX = 0;
    let afterX = 0;
    let beforeName = 0;
    let afterName = 0;
    for (const k of [3, 250, 500, 777, 999]) {
      beforeX += await filesRead(before, 'x', k);
      afterX += await filesRead(table, 'x', k);
    }
    for (const k of ['cust-00042', 'cust-01234', 'cust-02500', 'cust-03999', 'cust-04900']) {
      beforeName += await filesRead(before, 'name', k);
      afterName += await filesRead(table, 'name', k);
    }
    expect(afterX).toBeLessThan(beforeX / 2);
    expect(afterName).toBeLessThan(beforeName / 2);

    // The same point filters return the same rows.
    const rowsX = async (s: Snapshot) =>
      sorted(await readTableRows(s, { predicate: { kind: 'compare', op: '=', column: 'x', value: 250 } }));
    expect(await rowsX(table)).toEqual(await rowsX(before));

    // Time travel to the version before OPTIMIZE reads the old files.
    const old = await loadSnapshot(new LocalLogStore(path), { version: before.version });
    expect(old.files.map((f) => f.path).sort()).toEqual(before.files.map((f) => f.path).sort());
    expect(sorted(await readTableRows(old))).toEqual(sorted(await readTableRows(table)));
  });

  it('does nothing the second time, and refuses unknown or partition columns', async () => {
    const path = join(dir, 't');
    const before = await smallFiles(path, 3, 50, { partitionColumns: ['p'] });
    const first = await optimizeTable(before, { zorderBy: ['x', 'y'] });
    expect(first.metrics.numRemovedFiles).toBe(6);
    const again = await optimizeTable(first.table, { zorderBy: ['x', 'y'] });
    expect(again.table.version).toBe(first.table.version);
    const unknown = await optimizeTable(first.table, { zorderBy: ['nope'] }).catch((e: unknown) => e);
    expect(isLarderError(unknown, 'INVALID_ARGUMENT')).toBe(true);
    expect((unknown as Error).message).toContain('"nope"');
    const partition = await optimizeTable(first.table, { zorderBy: ['p'] }).catch((e: unknown) => e);
    expect(isLarderError(partition, 'INVALID_ARGUMENT')).toBe(true);
  });
});
