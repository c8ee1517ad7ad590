import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { createTable } from './create.js';
import { tableHistory } from './history.js';
import { writeTable } from './write.js';

describe('tableHistory', () => {
  let dir: string;
  let store: LocalLogStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-history-'));
    store = new LocalLogStore(join(dir, 't'));
    const { table } = await createTable(store.root, { schema: [{ name: 'id', type: 'long' }] });
    const { table: v1 } = await writeTable(table, 'SELECT 1 AS id', { userMetadata: 'first load' });
    await writeTable(v1, 'SELECT 2 AS id', { mode: 'overwrite' });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists versions newest first with their commitInfo', async () => {
    const history = await tableHistory(store);
    expect(history.map((h) => [h.version, h.operation])).toEqual([
      [2, 'WRITE'],
      [1, 'WRITE'],
      [0, 'CREATE TABLE'],
    ]);
    expect(history[0]).toMatchObject({
      readVersion: 1,
      isBlindAppend: false,
      operationParameters: { mode: 'Overwrite' },
      operationMetrics: { numOutputRows: '1', numRemovedFiles: '1' },
    });
    expect(history[1]).toMatchObject({ userMetadata: 'first load', isBlindAppend: true });
    expect(history[0]!.engineInfo).toMatch(/^Larder\//);
    expect(history[0]!.timestamp).toBeGreaterThanOrEqual(history[1]!.timestamp);
  });

  it('honours the limit', async () => {
    expect((await tableHistory(store, 1)).map((h) => h.version)).toEqual([2]);
    expect(await tableHistory(store, 0)).toEqual([]);
  });

  it('uses the commit file time when a commit has no commitInfo', async () => {
    await writeFile(store.pathOf(commitFileName(3)), '{"txn":{"appId":"x","version":1}}\n');
    const [latest] = await tableHistory(store, 1);
    expect(latest).toMatchObject({ version: 3, operation: undefined });
    expect(latest!.timestamp).toBe(await store.modificationTime(commitFileName(3)));
  });
});
