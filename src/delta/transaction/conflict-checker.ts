/**
 * Conflict detection for optimistic commits (PROTOCOL.md "Requirements for
 * Writers"; the rules Delta Spark and delta-rs apply). When another writer
 * committed the version we tried to write, we look at what it did and
 * decide whether our transaction, computed against an older snapshot, would
 * still be correct one version later.
 *
 * A winning commit conflicts with ours when it
 * - changed the protocol or the metadata (schema, partitioning, properties);
 * - wrote a `txn` for an application id we also write, or metadata of a
 *   domain we also write;
 * - removed a file we read or remove (by path, whatever its deletion vector);
 * - (unless we are a blind append) added data files our read could have
 *   seen: any `dataChange` add when we read the whole table, adds in the
 *   partitions our partition filter may match otherwise. Under
 *   `WriteSerializable`, files of blind-append winners are not conflicts.
 *
 * Whether a file "may match" the read's filter is decided exactly as scan
 * pruning decides it (`fileMayMatch` in `scan/prune.ts`): partition values
 * typed by the schema, and stats for other columns.
 *
 * Invariant: the checker is conservative: when it cannot decide (a column
 * without stats, a value it cannot compare) it reports a conflict.
 */
import { LarderError } from '../../errors.js';
import type { Add, CommitActions, Remove } from '../log/actions.js';
import type { ColumnMappingMode, StructType } from '../log/schema.js';
import type { Predicate } from '../scan/predicate.js';
import { filePruner, pruneContextOf } from '../scan/prune.js';

/**
 * What a transaction read: all files, the files a filter may match (by
 * partition values, and by stats for other columns), or nothing (blind append).
 */
export type ReadPredicate = 'all' | 'none' | { readonly partitionFilter: Predicate };

export type IsolationLevel = 'Serializable' | 'WriteSerializable';

/** What our transaction read and wrote, as the conflict checker needs it. */
export interface TransactionFootprint {
  /** The table, for messages. */
  readonly table: string;
  readonly readVersion: number;
  readonly readPredicate: ReadPredicate;
  /** Paths of files read (URI-encoded, as in the log). */
  readonly readFiles: ReadonlySet<string>;
  /** Paths of files this transaction removes. */
  readonly removedFiles: ReadonlySet<string>;
  /** Application ids of the `txn` actions this transaction writes. */
  readonly appIds: ReadonlySet<string>;
  /** Domains of the `domainMetadata` actions this transaction writes. */
  readonly domains: ReadonlySet<string>;
  readonly isBlindAppend: boolean;
  readonly isolationLevel: IsolationLevel;
  /** Schema, partition columns and column mapping of the read snapshot (to evaluate partition filters). */
  readonly schema?: StructType;
  readonly partitionColumns: readonly string[];
  readonly columnMappingMode?: ColumnMappingMode;
}

/**
 * Throw `CONCURRENT_MODIFICATION` if `winner` (a commit made after our read
 * version) conflicts with our transaction.
 *
 * @example
 * const winner = await readCommit(store, attemptedVersion);
 * checkConflicts(footprint, winner); // throws or returns
 */
export function checkConflicts(ours: TransactionFootprint, winner: CommitActions): void {
  const fail = (what: string): never => {
    throw new LarderError(
      'CONCURRENT_MODIFICATION',
      `table ${ours.table}: version ${winner.version} was committed concurrently (${winner.commitInfo?.operation ?? 'unknown operation'}) and ${what}; this transaction read version ${ours.readVersion}`,
      {
        table: ours.table,
        version: winner.version,
        hint: 'reload the table and retry the operation',
      },
    );
  };
  if (winner.protocol) fail('changed the protocol');
  if (winner.metaData) fail('changed the table metadata (schema, partitioning or properties)');
  for (const t of winner.txn) {
    if (ours.appIds.has(t.appId))
      fail(`wrote a transaction for application "${t.appId}" that this one also writes`);
  }
  for (const d of winner.domainMetadata) {
    if (ours.domains.has(d.domain))
      fail(`changed domain metadata "${d.domain}" that this transaction also changes`);
  }
  const readMayMatch = readMatcher(ours);
  for (const r of winner.remove) {
    if (ours.removedFiles.has(r.path)) fail(`removed file ${r.path} that this transaction also removes`);
    if (ours.readFiles.has(r.path) || readMayMatch(r))
      fail(`removed file ${r.path} that this transaction read`);
  }
  if (ours.isBlindAppend || ours.readPredicate === 'none') return;
  if (ours.isolationLevel === 'WriteSerializable' && winner.commitInfo?.isBlindAppend === true) return;
  for (const a of winner.add) {
    if (a.dataChange && readMayMatch(a))
      fail(`added file ${a.path} that this transaction's read would have seen`);
  }
}

/**
 * Whether a file may hold rows our read predicate selects: `fileMayMatch`
 * of scan pruning, with the predicate prepared once per winning commit.
 */
function readMatcher(ours: TransactionFootprint): (file: Add | Remove) => boolean {
  const predicate = ours.readPredicate;
  if (predicate === 'none') return () => false;
  if (predicate === 'all' || !ours.schema) return () => true;
  const context = pruneContextOf(ours.schema, ours.partitionColumns, ours.columnMappingMode ?? 'none');
  const mayMatch = filePruner(predicate.partitionFilter, context);
  return (file) => mayMatch(asAdd(file));
}

/** A removed file as pruning reads it: its partition values and stats, if the remove kept them. */
function asAdd(file: Add | Remove): Add {
  if ('modificationTime' in file) return file;
  return {
    path: file.path,
    partitionValues: file.partitionValues ?? {},
    size: file.size ?? 0,
    modificationTime: 0,
    dataChange: file.dataChange,
    stats: file.stats,
  };
}
