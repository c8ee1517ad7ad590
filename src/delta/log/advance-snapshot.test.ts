import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTable } from '../operations/create.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import type { Add } from './actions.js';
import { latestSnapshot } from './advance-snapshot.js';
import { writeCheckpoint } from './checkpoint-writer.js';
import { loadSnapshot } from './replay.js';
import type { Snapshot } from './snapshot.js';

const file = (path: string): Add => ({
  path,
  partitionValues: {},
  size: 1,
  modificationTime: 1,
  dataChange: true,
});

function comparable(s: Snapshot) {
  return {
    version: s.version,
    timestamp: s.timestamp,
    protocol: s.protocol,
    metadata: s.metadata,
    files: s.files.map((f) => f.path).sort(),
    tombstones: s.tombstones.map((f) => f.path).sort(),
    txns: [...s.txns.entries()],
  };
}

describe('latestSnapshot', () => {
  let dir: string;
  let store: LocalLogStore;
  let v0: Snapshot;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-advance-'));
    store = new LocalLogStore(join(dir, 't'));
    v0 = (await createTable(store.root, { schema: [{ name: 'id', type: 'long' }], store })).table;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('applies the commits made since, giving what log replay gives', async () => {
    const v1 = await new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: file('a') }, { add: file('b') })
      .commit();
    await new Transaction(store, v1.snapshot, { operation: 'DELETE' })
      .addActions(
        { remove: { path: 'a', dataChange: true, deletionTimestamp: 1 } },
        { txn: { appId: 'x', version: 1 } },
      )
      .commit();
    const next = await latestSnapshot(store, v0);
    expect(comparable(next)).toEqual(comparable(await loadSnapshot(store)));
    expect(await latestSnapshot(store, next)).toBe(next);
  });

  it('falls back to log replay when commits after the snapshot were cleaned up', async () => {
    let snapshot = v0;
    for (const name of ['a', 'b', 'c']) {
      snapshot = (
        await new Transaction(store, snapshot, { operation: 'WRITE', isBlindAppend: true })
          .addActions({ add: file(name) })
          .commit()
      ).snapshot;
    }
    await writeCheckpoint(store, snapshot);
    await rm(store.pathOf(commitFileName(1)));
    const next = await latestSnapshot(store, v0);
    expect(next.version).toBe(3);
    expect(next.files.map((f) => f.path).sort()).toEqual(['a', 'b', 'c']);
  });
});
