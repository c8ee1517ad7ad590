import { mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryJson, sharedConnection, sqlString } from '../../duckdb/duckdb.js';
import { createTable } from '../operations/create.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { checkpointFileName, commitFileName } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import type { Add } from './actions.js';
import { intervalMillis, writeCheckpoint } from './checkpoint-writer.js';
import { loadSnapshot } from './replay.js';
import type { Snapshot } from './snapshot.js';
import { lastCheckpointChecksum, readLastCheckpoint } from './v2-checkpoint.js';

const FIXTURE_CHECKPOINT = resolve(
  import.meta.dirname,
  '../../../test/fixtures/delta-acceptance/reader_tests/generated/with_checkpoint/delta/_delta_log/00000000000000000002.checkpoint.parquet',
);

/** Null and absent optional fields mean the same in the log. */
function withoutNulls<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v === null ? undefined : v))) as T;
}

function state(s: Snapshot) {
  return withoutNulls({
    version: s.version,
    protocol: s.protocol,
    metadata: s.metadata,
    files: [...s.files].sort((a, b) => a.path.localeCompare(b.path)),
    txns: [...s.txns.values()].sort((a, b) => a.appId.localeCompare(b.appId)),
    domains: [...s.domainMetadata.values()],
  });
}

describe('writeCheckpoint', () => {
  let dir: string;
  let store: LocalLogStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-checkpoint-'));
    store = new LocalLogStore(join(dir, 't'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function buildTable(): Promise<Snapshot> {
    const { table: v0 } = await createTable(store.root, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'p', type: 'string' },
      ],
      partitionColumns: ['p'],
      description: 'a table',
      properties: { 'delta.checkpointInterval': '100' },
    });
    const files: Add[] = [
      {
        path: 'p=a/1.parquet',
        partitionValues: { p: 'a' },
        size: 10,
        modificationTime: 1,
        dataChange: true,
        stats: '{"numRecords":3}',
      },
      {
        path: 'p=__HIVE_DEFAULT_PARTITION__/2.parquet',
        partitionValues: { p: null },
        size: 11,
        modificationTime: 2,
        dataChange: true,
      },
      {
        path: 'p=b/3%20x.parquet',
        partitionValues: { p: 'b' },
        size: 12,
        modificationTime: 3,
        dataChange: true,
        tags: { ZCUBE: 'z1' },
        stats: '{"numRecords":9,"minValues":{"id":1}}',
        deletionVector: {
          storageType: 'u',
          pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^',
          offset: 1,
          sizeInBytes: 36,
          cardinality: 2,
        },
      },
      {
        path: 'p=a/gone.parquet',
        partitionValues: { p: 'a' },
        size: 13,
        modificationTime: 4,
        dataChange: true,
      },
    ];
    const v1 = await new Transaction(store, v0, { operation: 'WRITE', isBlindAppend: true })
      .addActions(...files.map((add) => ({ add })), {
        txn: { appId: 'pipeline', version: 7, lastUpdated: 99 },
      })
      .commit();
    const v2 = await new Transaction(store, v1.snapshot, { operation: 'DELETE' })
      .addActions(
        {
          remove: {
            path: 'p=a/gone.parquet',
            deletionTimestamp: Date.now(),
            dataChange: true,
            extendedFileMetadata: true,
            partitionValues: { p: 'a' },
            size: 13,
          },
        },
        { remove: { path: 'old.parquet', deletionTimestamp: 1000, dataChange: true } },
        {
          domainMetadata: {
            domain: 'delta.clustering',
            configuration: '{"clusteringColumns":[]}',
            removed: false,
          },
        },
      )
      .commit();
    return v2.snapshot;
  }

  it('reads back as the same files, metadata, protocol, transactions and domains', async () => {
    const before = await buildTable();
    const info = await writeCheckpoint(store, before);
    expect(info).toMatchObject({ version: 2, numOfAddFiles: 3 });
    // protocol, metaData, txn, domain, 3 adds, 1 recent tombstone (the 1970 one is past retention)
    expect(info.size).toBe(8);
    const hint = JSON.parse(await readFile(store.pathOf('_last_checkpoint'), 'utf8'));
    const fields = { version: 2, size: 8, sizeInBytes: info.sizeInBytes, numOfAddFiles: 3 };
    // With the checksum PROTOCOL.md defines, which readers check.
    expect(hint).toEqual({ ...fields, checksum: lastCheckpointChecksum(fields) });
    expect(hint.checksum).toMatch(/^[0-9a-f]{32}$/);
    expect(await readLastCheckpoint(store)).toEqual({ version: 2 });
    expect((await readFile(store.pathOf(checkpointFileName(2)))).length).toBe(info.sizeInBytes);

    const after = await loadSnapshot(store);
    expect(after.checkpointVersion).toBe(2);
    expect(state(after)).toEqual(state(before));
    expect(after.tombstones.map((t) => t.path)).toEqual(['p=a/gone.parquet']);
  });

  it('uses exactly the column types of a Spark checkpoint', async () => {
    const snapshot = await buildTable();
    await writeCheckpoint(store, snapshot);
    const connection = await sharedConnection();
    const describe = (file: string) =>
      queryJson(connection, `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`).then((rows) =>
        rows.map((r) => [r.column_name, r.column_type]),
      );
    expect(await describe(store.pathOf(checkpointFileName(2)))).toEqual(await describe(FIXTURE_CHECKPOINT));
  });

  it('keeps later commits applying on top of the checkpoint', async () => {
    const snapshot = await buildTable();
    await writeCheckpoint(store, snapshot);
    const next = await new Transaction(store, snapshot, { operation: 'WRITE', isBlindAppend: true })
      .addActions({
        add: {
          path: 'p=c/4.parquet',
          partitionValues: { p: 'c' },
          size: 5,
          modificationTime: 5,
          dataChange: true,
        },
      })
      .commit();
    expect(state(await loadSnapshot(store))).toEqual(state(next.snapshot));
  });

  it('never moves _last_checkpoint backwards', async () => {
    const v2 = await buildTable();
    const v1 = await loadSnapshot(store, { version: 1 });
    await writeCheckpoint(store, v2);
    await writeCheckpoint(store, v1);
    expect(JSON.parse(await readFile(store.pathOf('_last_checkpoint'), 'utf8')).version).toBe(2);
    expect(state(await loadSnapshot(store, { version: 1 }))).toEqual(state(v1));
  });

  it('writes a classic checkpoint that follows the V2 spec on a table with the v2Checkpoint feature', async () => {
    const before = await buildTable();
    const add = (list: readonly string[] | undefined) => [...(list ?? []), 'v2Checkpoint'];
    const protocol = {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: add(before.protocol.minReaderVersion >= 3 ? before.protocol.readerFeatures : []),
      writerFeatures: add(before.protocol.minWriterVersion >= 7 ? before.protocol.writerFeatures : []),
    };
    // Larder does not enable v2Checkpoint itself (other engines do): the upgrade is written by hand.
    await store.putIfAbsent(commitFileName(3), `${JSON.stringify({ protocol })}\n`);
    const upgraded = await loadSnapshot(store);
    const info = await writeCheckpoint(store, upgraded);
    // checkpointMetadata, protocol, metaData, txn, domain, 3 adds, 1 recent tombstone
    expect(info).toMatchObject({ version: 3, size: 9, numOfAddFiles: 3 });
    const file = store.pathOf(checkpointFileName(3));
    const rows = await queryJson(
      await sharedConnection(),
      `SELECT to_json(checkpointMetadata) AS m FROM read_parquet(${sqlString(file)}) WHERE checkpointMetadata IS NOT NULL`,
    );
    expect(rows.map((r) => JSON.parse(String(r.m)))).toEqual([{ version: 3, tags: {} }]);
    // No multi-part or UUID-named files, no sidecars: one classic file.
    expect((await readdir(store.pathOf(''))).filter((n) => n.includes('.checkpoint.'))).toEqual([
      checkpointFileName(3),
    ]);
    for (const v of [0, 1, 2, 3]) await unlink(store.pathOf(commitFileName(v)));
    const after = await loadSnapshot(store);
    expect(after.checkpointVersion).toBe(3);
    expect(state(after)).toEqual(state(upgraded));
    expect(after.protocol.writerFeatures).toContain('v2Checkpoint');
  });

  it('writes no checkpointMetadata on a table without the v2Checkpoint feature', async () => {
    const snapshot = await buildTable();
    await writeCheckpoint(store, snapshot);
    const columns = await queryJson(
      await sharedConnection(),
      `DESCRIBE SELECT * FROM read_parquet(${sqlString(store.pathOf(checkpointFileName(2)))})`,
    );
    expect(columns.map((c) => c.column_name)).not.toContain('checkpointMetadata');
  });

  it('parses Spark retention intervals', () => {
    expect(intervalMillis('interval 1 week')).toBe(604_800_000);
    expect(intervalMillis('interval 2 days')).toBe(172_800_000);
    expect(intervalMillis('30 minutes')).toBe(1_800_000);
    expect(intervalMillis('forever')).toBeUndefined();
  });
});
