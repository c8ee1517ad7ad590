import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { loadSnapshot } from '../log/replay.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { createTable } from './create.js';
import { deleteFrom } from './delete.js';
import { writeTable } from './write.js';

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'day', type: 'date' },
];

describe.each([
  { name: 'deletion vectors', properties: {}, partitionColumns: [] as string[] },
  { name: 'copy-on-write', properties: { 'delta.enableDeletionVectors': 'false' }, partitionColumns: [] },
  { name: 'partitioned', properties: {}, partitionColumns: ['day'] },
])('delete ($name)', ({ properties, partitionColumns }) => {
  let dir: string;
  let path: string;
  const store = () => new LocalLogStore(path);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-delete-'));
    path = join(dir, 't');
    const { table } = await createTable(path, { schema, properties, partitionColumns });
    const first = await writeTable(
      table,
      `SELECT i::BIGINT AS id, DATE '2024-01-01' + (i % 3)::INTEGER AS day FROM range(60) t(i)`,
    );
    await writeTable(first.table, `SELECT i::BIGINT AS id, DATE '2024-02-01' AS day FROM range(60, 90) t(i)`);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('removes exactly the matching rows and keeps older versions readable', async () => {
    const { metrics, table } = await deleteFrom(await loadSnapshot(store()), 'id % 10 = 0');
    expect(metrics.numDeletedRows).toBe(9);
    const ids = (await readTableRows(table)).map((r) => Number(r.id)).sort((a, b) => a - b);
    expect(ids).toHaveLength(81);
    expect(ids.some((id) => id % 10 === 0)).toBe(false);
    expect(await readTableRows(await loadSnapshot(store(), { version: 2 }))).toHaveLength(90);
  });

  it('reads only the files the predicate can match', async () => {
    const { metrics } = await deleteFrom(await loadSnapshot(store()), "day = DATE '2024-02-01' AND id = 61");
    expect(metrics.numDeletedRows).toBe(1);
    expect(metrics.numFilesScanned).toBeLessThan(metrics.numFilesTotal);
  });

  it('removes whole files when all their rows go, and everything without a predicate', async () => {
    const some = await deleteFrom(await loadSnapshot(store()), 'id >= 60');
    expect(some.metrics.numDeletedRows).toBe(30);
    expect(some.metrics.numDeletionVectorsAdded).toBe(0);
    const all = await deleteFrom(some.table, undefined);
    expect(all.table.files).toHaveLength(0);
    expect(await readTableRows(all.table)).toHaveLength(0);
  });

  it('changes nothing when no row matches', async () => {
    const before = await loadSnapshot(store());
    const { table, metrics } = await deleteFrom(before, 'id < 0');
    expect(metrics.numDeletedRows).toBe(0);
    expect(table.version).toBe(before.version);
  });

  it('fails with SQL_ERROR naming the table for an unknown column, writing nothing', async () => {
    const before = await loadSnapshot(store());
    const error = await deleteFrom(before, 'nope = 1').catch((e: unknown) => e);
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toContain(path);
    expect((await loadSnapshot(store())).version).toBe(before.version);
  });
});
