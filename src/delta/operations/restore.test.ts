import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSnapshotRows } from '../../../test/protocol-validator.js';
import { isLarderError } from '../../errors.js';
import { loadSnapshot } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { createTable } from './create.js';
import { restoreTable } from './restore.js';
import { writeTable } from './write.js';

/** Commit timestamps are file times: keep commits apart so time travel can tell them apart. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

const ids = async (s: Snapshot) => (await readSnapshotRows(s)).map((r) => Number(r.id)).sort((a, b) => a - b);

describe('restoreTable', () => {
  let dir: string;
  let root: string;
  let v2: Snapshot;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-restore-'));
    root = join(dir, 't');
    const { table: v0 } = await createTable(root, { schema: [{ name: 'id', type: 'long' }] });
    await pause();
    const { table: v1 } = await writeTable(v0, 'SELECT 1 AS id UNION ALL SELECT 2');
    await pause();
    ({ table: v2 } = await writeTable(v1, 'SELECT 3 AS id', { mode: 'overwrite' }));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('brings back the files of an earlier version as a new commit', async () => {
    const { table, metrics } = await restoreTable(v2, { version: 1 });
    expect(table.version).toBe(3);
    expect(await ids(table)).toEqual([1, 2]);
    expect(metrics).toMatchObject({ numRestoredFiles: 1, numRemovedFiles: 1, numOfFilesAfterRestore: 1 });
    expect(metrics.tableSizeAfterRestore).toBe(table.files[0]!.size);
    const lines = (await readFile(join(root, '_delta_log', commitFileName(3)), 'utf8')).trim().split('\n');
    const actions = lines.map((l) => JSON.parse(l));
    expect(actions[0].commitInfo).toMatchObject({
      operation: 'RESTORE',
      operationParameters: { version: 1 },
      operationMetrics: { numRestoredFiles: '1', numRemovedFiles: '1' },
    });
    expect(actions.find((a) => a.add).add.dataChange).toBe(true);
    expect(actions.find((a) => a.remove).remove.dataChange).toBe(true);
    // Restoring to the current content changes no file.
    const again = await restoreTable(table, { version: 3 });
    expect(again.metrics).toMatchObject({ numRestoredFiles: 0, numRemovedFiles: 0 });
  });

  it('restores the schema of the target version', async () => {
    const { table: v3 } = await writeTable(v2, 'SELECT 4 AS id, 5 AS extra', { mergeSchema: true });
    expect(v3.schema.fields).toHaveLength(2);
    const { table } = await restoreTable(v3, { version: 2 });
    expect(table.schema.fields.map((f) => f.name)).toEqual(['id']);
    expect(await ids(table)).toEqual([3]);
  });

  it('restores the version current at a timestamp', async () => {
    const v1 = await loadSnapshot(new LocalLogStore(root), { version: 1 });
    const { table } = await restoreTable(v2, { timestamp: v1.timestamp });
    expect(await ids(table)).toEqual(await ids(v1));
  });

  it('fails naming the file when a file to restore was deleted, and commits nothing', async () => {
    const v1 = await loadSnapshot(new LocalLogStore(root), { version: 1 });
    const gone = v1.files[0]!;
    await rm(dataFileLocalPath(root, gone.path)!);
    const error = await restoreTable(v2, { version: 1 }).catch((e: unknown) => e);
    expect(isLarderError(error)).toBe(true);
    expect((error as Error).message).toContain(gone.path);
    expect((await loadSnapshot(new LocalLogStore(root))).version).toBe(2);
  });

  it('fails with VERSION_NOT_FOUND for a version after the latest', async () => {
    await expect(restoreTable(v2, { version: 9 })).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
  });
});
