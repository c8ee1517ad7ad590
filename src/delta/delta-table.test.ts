import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSnapshotRows } from '../../test/protocol-validator.js';
import { DeltaTable } from './delta-table.js';

const ids = async (t: DeltaTable) =>
  (await readSnapshotRows(t.snapshot)).map((r) => Number(r.id)).sort((a, b) => a - b);

describe('DeltaTable', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-delta-table-'));
    path = join(dir, 'tx');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, appends, overwrites, restores and lists history', async () => {
    const table = await DeltaTable.create(path, {
      schema: [
        { name: 'id', type: 'long', nullable: false },
        { name: 'day', type: 'date' },
      ],
      partitionColumns: ['day'],
    });
    expect(table.version).toBe(0);
    await table.append([{ id: 1n, day: '2024-05-01' }]);
    expect(table.version).toBe(1);
    await table.append("SELECT 2 AS id, DATE '2024-05-02' AS day");
    expect(await ids(table)).toEqual([1, 2]);
    const { metrics } = await table.overwrite([{ id: 3, day: new Date('2024-05-03T00:00:00Z') }]);
    expect(metrics.numRemovedFiles).toBe(2);
    expect(await ids(table)).toEqual([3]);
    await table.restore(2);
    expect(table.version).toBe(4);
    expect(await ids(table)).toEqual([1, 2]);
    expect((await table.history()).map((h) => h.operation)).toEqual([
      'RESTORE',
      'WRITE',
      'WRITE',
      'WRITE',
      'CREATE TABLE',
    ]);
    expect(await table.history(2)).toHaveLength(2);
  });

  it('opens a version or a timestamp, and writes always go to the latest version', async () => {
    const created = await DeltaTable.create(path, { schema: [{ name: 'id', type: 'long' }] });
    await created.append('SELECT 1 AS id');
    await created.append('SELECT 2 AS id');
    const v1 = await DeltaTable.open(path, { version: 1 });
    expect(v1.version).toBe(1);
    expect(await ids(v1)).toEqual([1]);
    const byTime = await DeltaTable.open(path, { timestamp: v1.snapshot.timestamp });
    expect(byTime.version).toBeLessThanOrEqual(1);

    const stale = await DeltaTable.open(path);
    await created.append('SELECT 3 AS id');
    expect(stale.version).toBe(2);
    await stale.append('SELECT 4 AS id');
    expect(stale.version).toBe(4);
    expect(await ids(stale)).toEqual([1, 2, 3, 4]);

    await v1.refresh();
    expect(v1.version).toBe(4);
    expect(await ids(v1)).toEqual([1, 2, 3, 4]);
  });

  it('fails to open a folder without a table', async () => {
    await expect(DeltaTable.open(join(dir, 'nothing'))).rejects.toMatchObject({ code: 'TABLE_NOT_FOUND' });
  });
});

describe('DeltaTable maintenance', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-delta-table-maintenance-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('updates, clusters, optimizes, clones, describes and vacuums through the facade', async () => {
    const table = await DeltaTable.create(join(dir, 'prod'), {
      schema: [
        { name: 'id', type: 'long', nullable: false },
        { name: 'score', type: 'integer' },
      ],
    });
    for (let i = 0; i < 3; i++) {
      await table.append(`SELECT (${i * 10} + j)::BIGINT AS id, j::INTEGER AS score FROM range(10) t(j)`);
    }
    expect((await table.update({ set: { score: '-1' }, where: 'id < 5' })).metrics.numUpdatedRows).toBe(5);
    await table.clusterBy(['score']);
    expect(table.describeDetail().clusteringColumns).toEqual(['score']);
    const optimized = await table.optimize();
    expect(optimized.metrics.numAddedFiles).toBe(1);
    expect(table.describeDetail().numFiles).toBe(1);
    expect(await ids(table)).toEqual(Array.from({ length: 30 }, (_, i) => i));

    const dev = await DeltaTable.clone(table, join(dir, 'dev'));
    expect(dev.version).toBe(0);
    expect(await ids(dev)).toEqual(await ids(table));

    const vacuumed = await table.vacuum({ dryRun: true, now: Date.now() + 8 * 86_400_000 });
    expect(vacuumed.metrics.numDeletedFiles).toBeGreaterThan(0);
    expect((await table.vacuum()).metrics.numDeletedFiles).toBe(0);
    expect((await table.history(2)).map((h) => h.operation)).toEqual(['VACUUM END', 'VACUUM START']);
  });

  it('passes domain metadata through append, overwrite and merge into their commits', async () => {
    const path = join(dir, 'domains');
    const table = await DeltaTable.create(path, { schema: [{ name: 'id', type: 'long', nullable: false }] });
    const state = (n: number) => [{ domain: 'app.state', configuration: `{"n":${n}}`, removed: false }];
    await table.append([{ id: 1 }], { domainMetadata: state(1) });
    expect(table.snapshot.domainMetadata.get('app.state')?.configuration).toBe('{"n":1}');
    await table.overwrite([{ id: 2 }], { domainMetadata: state(2) });
    expect(table.snapshot.domainMetadata.get('app.state')?.configuration).toBe('{"n":2}');
    await table.merge({ source: [{ id: 3 }], on: ['id'], domainMetadata: state(3) });
    expect((await DeltaTable.open(path)).snapshot.domainMetadata.get('app.state')?.configuration).toBe(
      '{"n":3}',
    );
    expect(await ids(table)).toEqual([2, 3]);
  });
});
