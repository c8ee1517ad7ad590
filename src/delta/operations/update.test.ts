import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryJson, sharedConnection } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import { loadSnapshot, readCommit } from '../log/replay.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { planChanges } from './change-data-feed.js';
import { createTable } from './create.js';
import { updateTable } from './update.js';
import { writeTable } from './write.js';

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'score', type: 'integer' },
  { name: 'segment', type: 'string' },
];

/** Every file under a folder (recursively), to prove a failed update left nothing behind. */
async function allFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

describe.each([
  { name: 'deletion vectors', properties: {}, partitionColumns: [] as string[] },
  { name: 'copy-on-write', properties: { 'delta.enableDeletionVectors': 'false' }, partitionColumns: [] },
  { name: 'partitioned', properties: {}, partitionColumns: ['segment'] },
])('updateTable ($name)', ({ properties, partitionColumns }) => {
  let dir: string;
  let path: string;
  const store = () => new LocalLogStore(path);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-update-'));
    path = join(dir, 't');
    const { table } = await createTable(path, { schema, properties, partitionColumns });
    await writeTable(
      table,
      `SELECT i::BIGINT AS id, (i * 10)::INTEGER AS score, CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END AS segment FROM range(40) t(i)`,
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sets the matching rows and leaves the others and older versions as they were', async () => {
    const before = await loadSnapshot(store());
    const { table, metrics } = await updateTable(before, {
      set: { score: 'score + 1', SEGMENT: 'upper(segment)' },
      where: 'id < 5',
    });
    expect(metrics.numUpdatedRows).toBe(5);
    const rows = (await readTableRows(table)).map((r) => ({
      id: Number(r.id),
      score: r.score,
      segment: r.segment,
    }));
    rows.sort((a, b) => a.id - b.id);
    expect(rows).toHaveLength(40);
    expect(rows.slice(0, 6)).toEqual([
      { id: 0, score: 1, segment: 'EVEN' },
      { id: 1, score: 11, segment: 'ODD' },
      { id: 2, score: 21, segment: 'EVEN' },
      { id: 3, score: 31, segment: 'ODD' },
      { id: 4, score: 41, segment: 'EVEN' },
      { id: 5, score: 50, segment: 'odd' },
    ]);
    expect(await readTableRows(await loadSnapshot(store(), { version: before.version }))).toHaveLength(40);
    const commit = await readCommit(store(), table.version);
    expect(commit.commitInfo?.operation).toBe('UPDATE');
    expect(commit.commitInfo?.operationParameters).toEqual({ predicate: JSON.stringify(['id < 5']) });
    expect(commit.commitInfo?.operationMetrics).toMatchObject({ numUpdatedRows: '5' });
  });

  it('records pre- and post-images in the change data feed', async () => {
    const before = await loadSnapshot(store());
    const { table } = await updateTable(before, { set: { score: '-1' }, where: 'id IN (7, 8)' });
    const { sql } = await planChanges(store(), { startVersion: table.version });
    const changes = await queryJson(
      await sharedConnection(),
      `SELECT id, score, _change_type FROM (${sql}) ORDER BY id, _change_type`,
    );
    expect(changes.map((c) => [Number(c.id), c.score, c._change_type])).toEqual([
      [7, -1, 'update_postimage'],
      [7, 70, 'update_preimage'],
      [8, -1, 'update_postimage'],
      [8, 80, 'update_preimage'],
    ]);
  });

  it('updates every row without a predicate, and commits nothing when no row matches', async () => {
    const before = await loadSnapshot(store());
    const none = await updateTable(before, { set: { score: '0' }, where: 'id > 1000' });
    expect(none.metrics.numUpdatedRows).toBe(0);
    expect(none.table.version).toBe(before.version);
    const all = await updateTable(before, { set: { score: '0' } });
    expect(all.metrics.numUpdatedRows).toBe(40);
    expect((await readTableRows(all.table)).every((r) => r.score === 0)).toBe(true);
  });

  it('fails with SCHEMA_MISMATCH naming an unknown column or an unconvertible value, leaving nothing', async () => {
    const before = await loadSnapshot(store());
    const files = await allFiles(path);
    const unknown = await updateTable(before, { set: { nope: '1' } }).catch((e: unknown) => e);
    expect(isLarderError(unknown, 'SCHEMA_MISMATCH')).toBe(true);
    expect((unknown as Error).message).toContain('"nope"');
    const badType = await updateTable(before, { set: { score: "'high'" }, where: 'id < 3' }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(badType, 'SCHEMA_MISMATCH')).toBe(true);
    expect((badType as Error).message).toContain('"score"');
    expect((await loadSnapshot(store())).version).toBe(before.version);
    expect(await allFiles(path)).toEqual(files);
  });

  it('fails with CONSTRAINT_VIOLATION on a NULL in a NOT NULL column, leaving nothing', async () => {
    const before = await loadSnapshot(store());
    const files = await allFiles(path);
    const error = await updateTable(before, { set: { id: 'NULL' }, where: 'id = 3' }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'CONSTRAINT_VIOLATION')).toBe(true);
    expect((error as Error).message).toContain('"id"');
    expect((await loadSnapshot(store())).version).toBe(before.version);
    expect(await allFiles(path)).toEqual(files);
  });

  it('fails with SQL_ERROR naming the table for a bad predicate', async () => {
    const before = await loadSnapshot(store());
    const error = await updateTable(before, { set: { score: '1' }, where: 'missing = 1' }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toContain(path);
  });
});
