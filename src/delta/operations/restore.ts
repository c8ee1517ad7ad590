/**
 * RESTORE: make the latest version hold what an earlier version held. The
 * commit removes the files live now but not then, re-adds the files live
 * then but not now (with `dataChange: true`, so readers of the change feed
 * see the rows come back), and restores the metadata; the protocol is never
 * downgraded.
 *
 * Invariant: every file re-added still exists (VACUUM may have deleted it);
 * otherwise the restore fails naming the file and nothing is committed.
 */
import { stat } from 'node:fs/promises';
import { LarderError } from '../../errors.js';
import { type Action, type Add, fileKey } from '../log/actions.js';
import { loadSnapshot, type SnapshotSelector } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import type { OperationResult } from './operation-result.js';
import { removeOf } from './write.js';

export interface RestoreOptions extends SnapshotSelector {
  readonly store?: LogStore;
  readonly userMetadata?: string;
}

/** The metrics of a restore, named as Spark names them. */
export interface RestoreMetrics {
  readonly tableSizeAfterRestore: number;
  readonly numOfFilesAfterRestore: number;
  readonly numRemovedFiles: number;
  readonly numRestoredFiles: number;
  readonly removedFilesSize: number;
  readonly restoredFilesSize: number;
}

/**
 * Restore the table whose latest snapshot is `snapshot` to an earlier version
 * (or the version current at a timestamp).
 *
 * @example
 * const { table, metrics } = await restoreTable(latest, { version: 3 });
 * console.log(table.version, metrics.numRestoredFiles);
 */
export async function restoreTable(
  snapshot: Snapshot,
  options: RestoreOptions,
): Promise<OperationResult<RestoreMetrics>> {
  const store = options.store ?? new LocalLogStore(snapshot.root);
  const table = snapshot.root;
  if (options.version === undefined && options.timestamp === undefined) {
    throw new LarderError('INVALID_ARGUMENT', `restore of ${table} needs a version or a timestamp`, {
      table,
    });
  }
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  if (options.version !== undefined && options.version > snapshot.version) {
    throw new LarderError(
      'VERSION_NOT_FOUND',
      `table ${table} has no version ${options.version} (latest is ${snapshot.version})`,
      {
        table,
        version: options.version,
      },
    );
  }
  const target = await loadSnapshot(store, { version: options.version, timestamp: options.timestamp });

  const key = (f: Add) => fileKey(f, snapshot.root);
  const current = new Map(snapshot.files.map((f) => [key(f), f]));
  const wanted = new Map(target.files.map((f) => [key(f), f]));
  const toRemove = snapshot.files.filter((f) => !wanted.has(key(f)));
  const toRestore = target.files.filter((f) => !current.has(key(f)));

  await Promise.all(
    toRestore.map(async (f) => {
      const local = dataFileLocalPath(snapshot.root, f.path);
      try {
        await stat(local);
      } catch (error) {
        throw new LarderError(
          'IO_ERROR',
          `cannot restore ${table} to version ${target.version}: data file ${f.path} no longer exists (removed by VACUUM?)`,
          { table, version: target.version, file: f.path, cause: error },
        );
      }
    }),
  );

  const now = Date.now();
  const actions: Action[] = [];
  if (JSON.stringify(target.metadata) !== JSON.stringify(snapshot.metadata)) {
    actions.push({ metaData: target.metadata });
  }
  for (const f of toRemove) actions.push({ remove: removeOf(f, now) });
  for (const f of toRestore) actions.push({ add: { ...f, dataChange: true } });

  const size = (files: readonly { size: number }[]) => files.reduce((sum, f) => sum + f.size, 0);
  const metrics: RestoreMetrics = {
    tableSizeAfterRestore: size(target.files),
    numOfFilesAfterRestore: target.files.length,
    numRemovedFiles: toRemove.length,
    numRestoredFiles: toRestore.length,
    removedFilesSize: size(toRemove),
    restoredFilesSize: size(toRestore),
  };
  const tx = new Transaction(store, snapshot, {
    operation: 'RESTORE',
    operationParameters: {
      version: options.version ?? null,
      timestamp:
        options.timestamp === undefined
          ? null
          : options.timestamp instanceof Date
            ? options.timestamp.toISOString()
            : String(options.timestamp),
    },
    operationMetrics: { ...metrics },
    readPredicate: 'all',
    isBlindAppend: false,
    isolationLevel: 'Serializable',
    userMetadata: options.userMetadata,
  }).addActions(...actions);
  const result = await tx.commit();
  return { table: result.snapshot, metrics };
}
