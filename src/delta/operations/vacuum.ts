/**
 * VACUUM: delete the files under a table's root that no retained version
 * needs, to reclaim storage (PROTOCOL.md: removed files may be deleted
 * "after a user-specified retention period").
 *
 * A file is deleted when it is not referenced by the current version (live
 * data files and their deletion vectors) and it is older than the
 * retention: a removed file once its tombstone's `deletionTimestamp` is,
 * any other file (left by a failed write, change data, old deletion
 * vectors) once its modification time is. Every version that was current
 * at some point within the retention therefore keeps its files, and time
 * travel to it keeps working.
 *
 * Invariants:
 * - Only files under the root are ever listed or deleted: never
 *   `_delta_log/` (so never the `_delta_log/_sidecars/` files that V2
 *   checkpoints reference), never hidden files or directories (`.` or `_` prefixed,
 *   except `_change_data` and partition directories), never a nested table,
 *   never through a symbolic link. A shallow clone's files that point into
 *   its source table are outside its root and are never touched.
 * - A retention shorter than the table's (`delta.deletedFileRetentionDuration`,
 *   default 7 days) is refused unless the check is disabled, as Delta does.
 * - Like Delta, a VACUUM records `VACUUM START` and `VACUUM END` commits
 *   (no data change) around the deletion; a dry run deletes and commits
 *   nothing, and lists what it would delete.
 */
import { lstat, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { LarderError } from '../../errors.js';
import type { Add, Remove } from '../log/actions.js';
import { intervalMillis } from '../log/checkpoint-writer.js';
import { physicalName } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { deletionVectorPath } from '../scan/deletion-vector.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { CHANGE_DATA_DIR } from './change-files.js';
import type { OperationResult } from './operation-result.js';

/** Delta's default retention of removed files: 7 days. */
export const DEFAULT_RETENTION_HOURS = 168;

/** The setting that disables the retention check, as Delta names it. */
export const RETENTION_CHECK_SETTING = 'spark.databricks.delta.retentionDurationCheck.enabled';

export interface VacuumOptions {
  /** Keep files needed by versions of the last this many hours (default: the table's retention, else 168). */
  readonly retentionHours?: number;
  /** List the files that would be deleted; delete and commit nothing. */
  readonly dryRun?: boolean;
  /** Refuse a retention shorter than the table's (default true). */
  readonly enforceRetentionDuration?: boolean;
  /** The current time in ms (default `Date.now()`). */
  readonly now?: number;
  readonly store?: LogStore;
}

export interface VacuumMetrics {
  readonly numDeletedFiles: number;
  readonly sizeOfDeletedFiles: number;
  /** Paths relative to the table root, `/`-separated, sorted. */
  readonly filesDeleted: readonly string[];
  readonly numVacuumedDirectories: number;
  readonly dryRun: boolean;
}

/**
 * Delete the files of `snapshot`'s table that no retained version needs.
 *
 * @example
 * const preview = await vacuumTable(snapshot, { dryRun: true });
 * console.log(preview.metrics.filesDeleted);
 * await vacuumTable(snapshot, { retentionHours: 168 });
 */
export async function vacuumTable(
  snapshot: Snapshot,
  options: VacuumOptions = {},
): Promise<OperationResult<VacuumMetrics>> {
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  const store = options.store ?? new LocalLogStore(table);
  const now = options.now ?? Date.now();
  const property = snapshot.properties['delta.deletedFileRetentionDuration'];
  const tableRetention =
    property === undefined ? DEFAULT_RETENTION_HOURS * 3_600_000 : intervalMillis(property);
  if (tableRetention === undefined) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `table property delta.deletedFileRetentionDuration of ${table} is "${property}", not an interval`,
      { table, hint: "use e.g. 'interval 7 days'" },
    );
  }
  let retention = tableRetention;
  if (options.retentionHours !== undefined) {
    if (!(options.retentionHours >= 0) || !Number.isFinite(options.retentionHours)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `VACUUM retention must be a number of hours ≥ 0, not ${options.retentionHours}`,
        {
          table,
        },
      );
    }
    retention = options.retentionHours * 3_600_000;
  }
  const enforce = options.enforceRetentionDuration ?? true;
  if (enforce && retention < tableRetention) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `VACUUM ${table} with a retention of ${retention / 3_600_000} hours is below the table's ${tableRetention / 3_600_000} hours: versions still within it could lose their files`,
      {
        table,
        hint: `to vacuum anyway, set ${RETENTION_CHECK_SETTING} = false (or lower delta.deletedFileRetentionDuration)`,
      },
    );
  }
  const cutoff = now - retention;

  const keep = new Set<string>();
  const expired = new Set<string>();
  const reference = (file: Add | Remove, into: Set<string>) => {
    const local = dataFileLocalPath(table, file.path);
    if (local !== undefined) into.add(local);
    const dv = file.deletionVector;
    if (dv && dv.storageType !== 'i') {
      try {
        into.add(deletionVectorPath(table, dv));
      } catch {
        // A deletion vector on a remote store is not ours to delete.
      }
    }
  };
  for (const add of snapshot.files) reference(add, keep);
  for (const tombstone of snapshot.tombstones) {
    const at = tombstone.deletionTimestamp;
    // Without a deletion time the file is judged by its modification time, like an untracked one.
    if (at === undefined || at === null) continue;
    reference(tombstone, at >= cutoff ? keep : expired);
  }

  const partitionPrefixes = snapshot.partitionColumns.map((name) => {
    const field = snapshot.schema.fields.find((f) => f.name === name);
    return `${field ? physicalName(field, snapshot.columnMappingMode) : name}=`;
  });
  const candidates: { path: string; size: number }[] = [];
  const directories: string[] = [];
  const walk = async (directory: string, top: boolean): Promise<void> => {
    const entries = await readdir(directory, { withFileTypes: true }).catch((error: unknown) => {
      throw new LarderError('IO_ERROR', `VACUUM cannot list ${directory}: ${(error as Error).message}`, {
        table,
        file: directory,
        cause: error,
      });
    });
    if (!top && entries.some((e) => e.name === '_delta_log')) return; // a nested table
    for (const entry of entries) {
      const path = join(directory, entry.name);
      // The log, with its checkpoints and the V2 checkpoints' `_sidecars/`, is never ours to delete.
      if (entry.isSymbolicLink() || (top && entry.name === '_delta_log')) continue;
      const hidden = entry.name.startsWith('.') || entry.name.startsWith('_');
      if (entry.isDirectory()) {
        const visible =
          !hidden ||
          (top && entry.name === CHANGE_DATA_DIR) ||
          partitionPrefixes.some((prefix) => entry.name.startsWith(prefix));
        if (!visible) continue;
        directories.push(path);
        await walk(path, false);
      } else if (entry.isFile() && !hidden) {
        if (keep.has(path)) continue;
        const info = await lstat(path).catch(() => undefined);
        if (!info?.isFile()) continue;
        if (expired.has(path) || info.mtimeMs < cutoff) candidates.push({ path, size: info.size });
      }
    }
  };
  await walk(table, true);

  const filesDeleted = candidates.map((c) => relative(table, c.path).split(sep).join('/')).sort();
  const size = candidates.reduce((sum, c) => sum + c.size, 0);
  if (options.dryRun) {
    return {
      table: snapshot,
      metrics: {
        numDeletedFiles: candidates.length,
        sizeOfDeletedFiles: size,
        filesDeleted,
        numVacuumedDirectories: 0,
        dryRun: true,
      },
    };
  }

  const parameters = {
    retentionCheckEnabled: enforce,
    defaultRetentionMillis: tableRetention,
    ...(options.retentionHours !== undefined ? { specifiedRetentionMillis: retention } : {}),
  };
  const start = await new Transaction(store, snapshot, {
    operation: 'VACUUM START',
    operationParameters: parameters,
    operationMetrics: { numFilesToDelete: candidates.length, sizeOfDataToDelete: size },
    readPredicate: 'none',
    isBlindAppend: false,
  }).commit();

  let deleted = 0;
  await Promise.all(
    candidates.map(async (c) => {
      try {
        await rm(c.path);
        deleted++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new LarderError('IO_ERROR', `VACUUM cannot delete ${c.path}: ${(error as Error).message}`, {
            table,
            file: c.path,
            cause: error,
          });
        }
      }
    }),
  );
  // Directories left empty (partition directories of deleted files), deepest first.
  let vacuumedDirectories = 0;
  for (const directory of directories.sort((a, b) => b.length - a.length)) {
    const empty = (await readdir(directory).catch(() => ['?'])).length === 0;
    if (empty && (await stat(directory).catch(() => undefined))?.isDirectory()) {
      await rmdir(directory)
        .then(() => vacuumedDirectories++)
        .catch(() => undefined);
    }
  }

  const end = await new Transaction(store, start.snapshot, {
    operation: 'VACUUM END',
    operationParameters: { status: 'COMPLETED' },
    operationMetrics: { numDeletedFiles: deleted, numVacuumedDirectories: vacuumedDirectories },
    readPredicate: 'none',
    isBlindAppend: false,
  }).commit();
  return {
    table: end.snapshot,
    metrics: {
      numDeletedFiles: deleted,
      sizeOfDeletedFiles: size,
      filesDeleted,
      numVacuumedDirectories: vacuumedDirectories,
      dryRun: false,
    },
  };
}
