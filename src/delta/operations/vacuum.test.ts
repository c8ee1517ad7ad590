import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { loadSnapshot, readCommit } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { createTable } from './create.js';
import { deleteFrom } from './delete.js';
import { RETENTION_CHECK_SETTING, vacuumTable } from './vacuum.js';
import { removeOf, writeTable } from './write.js';

const DAY = 86_400_000;
let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-vacuum-'));
  path = join(dir, 't');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'p', type: 'string' },
];
const rows = (from: number, n: number, p = 'a') =>
  `SELECT (${from} + i)::BIGINT AS id, '${p}' AS p FROM range(${n}) t(i)`;

/** Remove `files` from the table in one commit, as if it happened at `when`. */
async function removeAt(table: Snapshot, files: Snapshot['files'], when: number): Promise<Snapshot> {
  const { snapshot } = await new Transaction(new LocalLogStore(table.root), table, { operation: 'DELETE' })
    .addActions(...files.map((f) => ({ remove: removeOf(f, when) })))
    .commit();
  return snapshot;
}

/** A file under the root with the given age. */
async function stray(relative: string, ageMs: number): Promise<void> {
  const file = join(path, relative);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, 'not referenced');
  const when = new Date(Date.now() - ageMs);
  await utimes(file, when, when);
}

const exists = (relative: string) =>
  stat(join(path, relative)).then(
    () => true,
    () => false,
  );

describe('vacuumTable', () => {
  it('deletes only files no version within the retention needs', async () => {
    const { table } = await createTable(path, { schema, partitionColumns: ['p'] });
    const a = (await writeTable(table, rows(0, 10, 'a'))).table; // v1
    const b = (await writeTable(a, rows(10, 10, 'b'))).table; // v2
    const fileA = a.files[0]!;
    const fileB = b.files.find((f) => f.partitionValues.p === 'b')!;
    const v3 = await removeAt(b, [fileA], Date.now() - 10 * DAY); // A removed 10 days ago
    const v4 = (await writeTable(v3, rows(20, 10, 'c'))).table;
    const v5 = await removeAt(v4, [fileB], Date.now() - 3_600_000); // B removed an hour ago

    await stray('part-orphan-old.parquet', 10 * DAY);
    await stray('part-orphan-new.parquet', 0);
    await stray('p=z/part-old.parquet', 10 * DAY);
    await stray('_change_data/cdc-old.parquet', 10 * DAY);
    await stray('_hidden/old.parquet', 10 * DAY);
    await stray('.hidden-old.parquet', 10 * DAY);
    await stray('_delta_log/.old-temp', 10 * DAY);
    await stray('nested/_delta_log/00000000000000000000.json', 10 * DAY);
    await stray('nested/part-old.parquet', 10 * DAY);

    const { table: after, metrics } = await vacuumTable(v5);
    expect(metrics.filesDeleted).toEqual(
      [
        decodeURIComponent(fileA.path),
        '_change_data/cdc-old.parquet',
        'p=z/part-old.parquet',
        'part-orphan-old.parquet',
      ].sort(),
    );
    expect(metrics.numDeletedFiles).toBe(4);
    expect(metrics.numVacuumedDirectories).toBeGreaterThanOrEqual(2); // p=a (A's directory) and p=z
    expect(await exists(decodeURIComponent(fileA.path))).toBe(false);
    expect(await exists('p=z')).toBe(false);
    for (const kept of [
      decodeURIComponent(fileB.path),
      'part-orphan-new.parquet',
      '_hidden/old.parquet',
      '.hidden-old.parquet',
      '_delta_log/.old-temp',
      'nested/part-old.parquet',
    ]) {
      expect(await exists(kept)).toBe(true);
    }

    // The versions current within the retention (since B's removal an hour ago, and the latest) read fine.
    const store = new LocalLogStore(path);
    expect(await readTableRows(await loadSnapshot(store, { version: v4.version }))).toHaveLength(20);
    expect(await readTableRows(await loadSnapshot(store, { version: v5.version }))).toHaveLength(10);
    expect(await readTableRows(after)).toHaveLength(10);

    // START and END commits carry the metrics and change no data.
    const startCommit = await readCommit(store, v5.version + 1);
    const endCommit = await readCommit(store, v5.version + 2);
    expect(startCommit.commitInfo?.operation).toBe('VACUUM START');
    expect(startCommit.commitInfo?.operationMetrics).toMatchObject({ numFilesToDelete: '4' });
    expect(endCommit.commitInfo?.operation).toBe('VACUUM END');
    expect(endCommit.commitInfo?.operationMetrics).toMatchObject({ numDeletedFiles: '4' });
    expect(startCommit.add.length + startCommit.remove.length + endCommit.add.length).toBe(0);
    expect(after.version).toBe(v5.version + 2);
  });

  it('keeps deletion vectors in use and deletes superseded ones once expired', async () => {
    const { table } = await createTable(path, { schema });
    const written = (await writeTable(table, rows(0, 100))).table;
    const first = (await deleteFrom(written, 'id < 10')).table;
    const second = (await deleteFrom(first, 'id < 20')).table;
    const dvFiles = async () => (await readdir(path)).filter((n) => n.startsWith('deletion_vector_'));
    expect(await dvFiles()).toHaveLength(2);
    // Eight days later every tombstone has expired: only the live file and its current DV stay.
    const { metrics, table: after } = await vacuumTable(second, { now: Date.now() + 8 * DAY });
    expect(metrics.filesDeleted.filter((f) => f.startsWith('deletion_vector_'))).toHaveLength(1);
    expect(await dvFiles()).toHaveLength(1);
    expect(await readTableRows(after)).toHaveLength(80);
  });

  it('lists without deleting or committing on a dry run', async () => {
    const { table } = await createTable(path, { schema });
    const v1 = (await writeTable(table, rows(0, 5))).table;
    const v2 = (await writeTable(v1, rows(5, 5), { mode: 'overwrite' })).table;
    const { table: same, metrics } = await vacuumTable(v2, { dryRun: true, now: Date.now() + 8 * DAY });
    expect(metrics.dryRun).toBe(true);
    expect(metrics.filesDeleted).toEqual([decodeURIComponent(v1.files[0]!.path)]);
    expect(same.version).toBe(v2.version);
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(v2.version);
    expect(await exists(decodeURIComponent(v1.files[0]!.path))).toBe(true);
    expect(await readTableRows(await loadSnapshot(new LocalLogStore(path), { version: 1 }))).toHaveLength(5);
  });

  it('refuses a retention below the table’s unless the check is off, naming the setting', async () => {
    const { table } = await createTable(path, { schema });
    const v1 = (await writeTable(table, rows(0, 5))).table;
    const v2 = (await writeTable(v1, rows(5, 5), { mode: 'overwrite' })).table;
    const error = await vacuumTable(v2, { retentionHours: 0 }).catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain(RETENTION_CHECK_SETTING);
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(v2.version);

    const { metrics } = await vacuumTable(v2, {
      retentionHours: 0,
      enforceRetentionDuration: false,
      now: Date.now() + 1000,
    });
    expect(metrics.numDeletedFiles).toBe(1);
    expect(await readTableRows(await loadSnapshot(new LocalLogStore(path)))).toHaveLength(5);
  });

  it('vacuums a table with the v2Checkpoint feature, never deleting the sidecar files of its checkpoints', async () => {
    const { table } = await createTable(path, { schema, partitionColumns: ['p'] });
    const v1 = (await writeTable(table, rows(0, 10, 'a'))).table;
    // Another engine enabled V2 checkpoints (reader 3 / writer 7 with v2Checkpoint).
    const feature = (list: readonly string[] | undefined) => [...(list ?? []), 'v2Checkpoint'];
    const { snapshot: v2 } = await new Transaction(new LocalLogStore(path), v1, {
      operation: 'SET TBLPROPERTIES',
    })
      .addActions({
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: feature(v1.protocol.minReaderVersion >= 3 ? v1.protocol.readerFeatures : []),
          writerFeatures: feature(v1.protocol.minWriterVersion >= 7 ? v1.protocol.writerFeatures : []),
        },
      })
      .commit();
    const gone = v2.files[0]!;
    const v3 = await removeAt(v2, [gone], Date.now() - 10 * DAY);
    await stray('_delta_log/_sidecars/00000000000000000002.sidecar.parquet', 10 * DAY);
    await stray('_delta_log/_sidecars/unreferenced.parquet', 10 * DAY);
    const { metrics } = await vacuumTable(v3);
    expect(metrics.filesDeleted).toEqual([decodeURIComponent(gone.path)]);
    expect(await exists('_delta_log/_sidecars/00000000000000000002.sidecar.parquet')).toBe(true);
    expect(await exists('_delta_log/_sidecars/unreferenced.parquet')).toBe(true);
  });

  it('takes the retention from delta.deletedFileRetentionDuration', async () => {
    const { table } = await createTable(path, {
      schema,
      properties: { 'delta.deletedFileRetentionDuration': 'interval 2 hours' },
    });
    const v1 = (await writeTable(table, rows(0, 5))).table;
    const v2 = (await writeTable(v1, rows(5, 5), { mode: 'overwrite' })).table;
    expect(
      (await vacuumTable(v2, { now: Date.now() + 3_600_000, dryRun: true })).metrics.numDeletedFiles,
    ).toBe(0);
    expect(
      (await vacuumTable(v2, { now: Date.now() + 3 * 3_600_000, dryRun: true })).metrics.numDeletedFiles,
    ).toBe(1);
    // 2 hours is the table's own retention: allowed with the check on.
    expect((await vacuumTable(v2, { retentionHours: 2, dryRun: true })).metrics.dryRun).toBe(true);
  });
});
