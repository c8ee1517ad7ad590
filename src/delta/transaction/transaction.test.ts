import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError, LarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import { loadSnapshot } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { createTable } from '../operations/create.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { Transaction } from './transaction.js';

function add(path: string, partitionValues: Record<string, string | null> = {}): Add {
  return {
    path,
    partitionValues,
    size: 100,
    modificationTime: 1,
    dataChange: true,
    stats: '{"numRecords":1}',
  };
}

function comparable(s: Snapshot) {
  return {
    version: s.version,
    protocol: s.protocol,
    metadata: s.metadata,
    files: [...s.files].sort((a, b) => a.path.localeCompare(b.path)),
    tombstones: [...s.tombstones].sort((a, b) => a.path.localeCompare(b.path)),
    txns: [...s.txns.entries()],
  };
}

describe('Transaction', () => {
  let dir: string;
  let store: LocalLogStore;
  let v0: Snapshot;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-tx-'));
    store = new LocalLogStore(join(dir, 't'));
    v0 = (
      await createTable(store.root, {
        schema: [
          { name: 'id', type: 'long' },
          { name: 'p', type: 'string' },
        ],
        partitionColumns: ['p'],
        store,
      })
    ).table;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes commitInfo first, then the actions, as the next version', async () => {
    const result = await new Transaction(store, v0, {
      operation: 'WRITE',
      operationParameters: { mode: 'Append' },
      operationMetrics: { numFiles: 1 },
      isBlindAppend: true,
    })
      .addActions({ add: add('p=a/f1.parquet', { p: 'a' }) })
      .commit();
    expect(result.version).toBe(1);
    expect(result.attempts).toBe(1);
    const lines = (await readFile(store.pathOf(commitFileName(1)), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    const info = JSON.parse(lines[0]!).commitInfo;
    expect(info).toMatchObject({
      operation: 'WRITE',
      operationParameters: { mode: 'Append' },
      operationMetrics: { numFiles: '1' },
      readVersion: 0,
      isolationLevel: 'Serializable',
      isBlindAppend: true,
    });
    expect(info.engineInfo).toMatch(/^Larder\/\d+\.\d+\.\d+/);
    expect(typeof info.timestamp).toBe('number');
    expect(info.txnId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(lines[1]!)).toEqual({ add: add('p=a/f1.parquet', { p: 'a' }) });
  });

  it('returns the same snapshot log replay gives', async () => {
    const r1 = await new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: add('a.parquet', { p: 'a' }) }, { add: add('b.parquet', { p: 'b' }) })
      .commit();
    const r2 = await new Transaction(store, r1.snapshot, { operation: 'DELETE' })
      .addActions(
        { remove: { path: 'a.parquet', dataChange: true, deletionTimestamp: 5 } },
        { txn: { appId: 'app', version: 3 } },
      )
      .commit();
    expect(comparable(r2.snapshot)).toEqual(comparable(await loadSnapshot(store)));
    expect(r2.snapshot.timestamp).toBe((await loadSnapshot(store)).timestamp);
  });

  it('lands two blind appends made from the same read version', async () => {
    const first = new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true }).addActions({
      add: add('a.parquet', { p: 'a' }),
    });
    const second = new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true }).addActions({
      add: add('b.parquet', { p: 'a' }),
    });
    const [r1, r2] = await Promise.all([first.commit(), second.commit()]);
    expect([r1.version, r2.version].sort()).toEqual([1, 2]);
    const latest = await loadSnapshot(store);
    expect(latest.files.map((f) => f.path).sort()).toEqual(['a.parquet', 'b.parquet']);
    const last = r1.version === 2 ? r1 : r2;
    expect(last.attempts).toBe(2);
    expect(last.winners.map((w) => w.version)).toEqual([1]);
    expect(comparable(last.snapshot)).toEqual(comparable(latest));
    const info = JSON.parse(
      (await readFile(store.pathOf(commitFileName(2)), 'utf8')).split('\n')[0]!,
    ).commitInfo;
    expect(info.readVersion).toBe(0);
  });

  it('fails an overwrite that read the table when an append landed first', async () => {
    await new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: add('new.parquet', { p: 'a' }) })
      .commit();
    const error = await new Transaction(store, v0, { operation: 'WRITE', readPredicate: 'all' })
      .addActions({ add: add('replacement.parquet', { p: 'b' }) })
      .commit()
      .catch((e: unknown) => e);
    expect(isLarderError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
    const message = (error as LarderError).message;
    expect(message).toContain(store.root);
    expect(message).toContain('version 1');
    expect(message).toContain('new.parquet');
    expect((await loadSnapshot(store)).version).toBe(1);
  });

  it('only conflicts with adds in the partitions a partition filter reads', async () => {
    const filter = { partitionFilter: { kind: 'compare', op: '=', column: 'p', value: 'a' } as const };
    await new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: add('b.parquet', { p: 'b' }) })
      .commit();
    const ok = await new Transaction(store, v0, { operation: 'MERGE', readPredicate: filter })
      .addActions({ add: add('merged.parquet', { p: 'a' }) })
      .commit();
    expect(ok.version).toBe(2);
    await new Transaction(store, ok.snapshot, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: add('a2.parquet', { p: 'a' }) })
      .commit();
    const error = await new Transaction(store, ok.snapshot, { operation: 'MERGE', readPredicate: filter })
      .addActions({ add: add('merged2.parquet', { p: 'a' }) })
      .commit()
      .catch((e: unknown) => e);
    expect(isLarderError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
  });

  it('conflicts on a file both transactions remove, a shared txn app id, and a metadata change', async () => {
    const base = await new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: add('x.parquet', { p: 'a' }) })
      .commit();
    const remove = { remove: { path: 'x.parquet', dataChange: true, deletionTimestamp: 1 } };
    await new Transaction(store, base.snapshot, { operation: 'DELETE' }).addActions(remove).commit();
    await expect(
      new Transaction(store, base.snapshot, { operation: 'DELETE', readPredicate: 'none' })
        .addActions(remove)
        .commit(),
    ).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });

    const v2 = await loadSnapshot(store);
    await new Transaction(store, v2, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ txn: { appId: 'pipeline', version: 1 } })
      .commit();
    await expect(
      new Transaction(store, v2, { operation: 'WRITE', isBlindAppend: true })
        .addActions({ txn: { appId: 'pipeline', version: 2 } })
        .commit(),
    ).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });

    const v3 = await loadSnapshot(store);
    await new Transaction(store, v3, { operation: 'SET TBLPROPERTIES' })
      .addActions({
        metaData: { ...v3.metadata, configuration: { ...v3.metadata.configuration, owner: 'me' } },
      })
      .commit();
    await expect(
      new Transaction(store, v3, { operation: 'WRITE', isBlindAppend: true })
        .addActions({ add: add('y.parquet', { p: 'a' }) })
        .commit(),
    ).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });
  });

  it('gives up with CONCURRENT_MODIFICATION after the maximum number of attempts', async () => {
    for (let i = 0; i < 3; i++) {
      await new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true })
        .addActions({ add: add(`w${i}.parquet`, { p: 'a' }) })
        .commit();
    }
    const error = await new Transaction(store, v0, {
      operation: 'WRITE',
      isBlindAppend: true,
      maxAttempts: 3,
    })
      .addActions({ add: add('late.parquet', { p: 'a' }) })
      .commit()
      .catch((e: unknown) => e);
    expect(isLarderError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
    expect((error as Error).message).toContain('3 attempts');
  });

  it('fails with TABLE_ALREADY_EXISTS when creating over an existing version 0', async () => {
    await expect(
      new Transaction(store, undefined, { operation: 'CREATE TABLE' })
        .addActions({ protocol: v0.protocol }, { metaData: v0.metadata })
        .commit(),
    ).rejects.toMatchObject({ code: 'TABLE_ALREADY_EXISTS' });
  });

  it('refuses commits with two metaData actions or a file added twice', async () => {
    await expect(
      new Transaction(store, v0, { operation: 'X' })
        .addActions({ metaData: v0.metadata }, { metaData: v0.metadata })
        .commit(),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      new Transaction(store, v0, { operation: 'X' })
        .addActions({ add: add('a') }, { add: add('a') })
        .commit(),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses to write tables with writer features Larder does not implement', async () => {
    const error = await new Transaction(store, v0, { operation: 'UPGRADE' })
      .addActions({
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: [],
          writerFeatures: ['rowTracking'],
        },
      })
      .commit()
      .catch((e: unknown) => e);
    expect(isLarderError(error, 'UNSUPPORTED_FEATURE')).toBe(true);
    expect((error as LarderError).context.feature).toBe('rowTracking');
    expect((await loadSnapshot(store)).version).toBe(0);
  });

  it('refuses data-changing removes on append-only tables', async () => {
    const appendOnly = await new Transaction(store, v0, { operation: 'SET TBLPROPERTIES' })
      .addActions({
        metaData: {
          ...v0.metadata,
          configuration: { ...v0.metadata.configuration, 'delta.appendOnly': 'true' },
        },
      })
      .commit();
    await expect(
      new Transaction(store, appendOnly.snapshot, { operation: 'DELETE' })
        .addActions({ remove: { path: 'x.parquet', dataChange: true } })
        .commit(),
    ).rejects.toMatchObject({ code: 'CONSTRAINT_VIOLATION' });
  });

  it('writes a checkpoint at the interval, and a failing checkpoint does not fail the commit', async () => {
    const withInterval = await new Transaction(store, v0, { operation: 'SET TBLPROPERTIES' })
      .addActions({
        metaData: {
          ...v0.metadata,
          configuration: { ...v0.metadata.configuration, 'delta.checkpointInterval': '2' },
        },
      })
      .commit();
    const r2 = await new Transaction(store, withInterval.snapshot, {
      operation: 'WRITE',
      isBlindAppend: true,
    })
      .addActions({ add: add('c.parquet', { p: 'a' }) })
      .commit();
    expect(r2.version).toBe(2);
    expect(r2.checkpoint).toMatchObject({ version: 2, numOfAddFiles: 1 });
    expect(JSON.parse(await readFile(store.pathOf('_last_checkpoint'), 'utf8'))).toMatchObject({
      version: 2,
    });

    class FailingCheckpoints extends LocalLogStore {
      override async put(name: string, bytes: Uint8Array | string): Promise<void> {
        if (name.includes('checkpoint')) throw new LarderError('IO_ERROR', 'disk full');
        return super.put(name, bytes);
      }
    }
    const failing = new FailingCheckpoints(store.root);
    const r3 = await new Transaction(failing, r2.snapshot, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: add('d.parquet', { p: 'a' }) })
      .commit();
    const r4 = await new Transaction(failing, r3.snapshot, { operation: 'WRITE', isBlindAppend: true })
      .addActions({ add: add('e.parquet', { p: 'a' }) })
      .commit();
    expect(r4.version).toBe(4);
    expect(r4.checkpoint).toBeUndefined();
    expect(isLarderError(r4.checkpointError, 'IO_ERROR')).toBe(true);
    expect((await loadSnapshot(store)).files).toHaveLength(3);
  });
});
