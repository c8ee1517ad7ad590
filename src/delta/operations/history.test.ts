import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeltaTable } from '../delta-table.js';
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

  it('lists a commit without commitInfo at its commit file time', async () => {
    await writeFile(store.pathOf(commitFileName(3)), '{"txn":{"appId":"x","version":1}}\n');
    const at = new Date(Date.UTC(2030, 0, 1));
    await utimes(store.pathOf(commitFileName(3)), at, at);
    const [latest] = await tableHistory(store, 1);
    expect(latest).toMatchObject({ version: 3, operation: undefined, timestamp: at.getTime() });
  });

  it('reports the commit timestamps that time travel uses', async () => {
    // Commit file times that disagree with commitInfo.timestamp, one of them going backwards.
    const T0 = Date.UTC(2024, 0, 1);
    const times = [T0, T0 + 60_000, T0 + 30_000];
    for (const [version, ms] of times.entries()) {
      await utimes(store.pathOf(commitFileName(version)), ms / 1000, ms / 1000);
    }
    const history = await tableHistory(store);
    expect(history.map((h) => [h.version, h.timestamp])).toEqual([
      [2, T0 + 60_001],
      [1, T0 + 60_000],
      [0, T0],
    ]);
    for (const h of history) {
      expect((await DeltaTable.open(store.root, { timestamp: h.timestamp })).version).toBe(h.version);
    }
  });

  it('gives timestamps that reopen each version of a table written in quick succession', async () => {
    const table = await DeltaTable.open(store.root);
    for (let i = 0; i < 3; i++) await table.append(`SELECT ${10 + i} AS id`);
    const history = await tableHistory(store);
    expect(history.map((h) => h.version)).toEqual([5, 4, 3, 2, 1, 0]);
    for (const h of history) {
      expect((await DeltaTable.open(store.root, { timestamp: h.timestamp })).version).toBe(h.version);
      expect((await DeltaTable.open(store.root, { timestamp: new Date(h.timestamp) })).version).toBe(
        h.version,
      );
    }
  });
});
