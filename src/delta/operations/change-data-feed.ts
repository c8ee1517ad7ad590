/**
 * Reading the change data feed between two versions (PROTOCOL.md "Change
 * Data Files", Delta's `table_changes`): rows with `_change_type` (`insert`,
 * `update_preimage`, `update_postimage`, `delete`), `_commit_version` and
 * `_commit_timestamp`.
 *
 * Per commit: if it has `cdc` actions, only those files; otherwise its
 * data-changing `add`s are inserts and `remove`s deletes; commits that change
 * no data (compaction) contribute nothing.
 *
 * Invariant: every version of the range must have recorded the feed
 * (`delta.enableChangeDataFeed`), else `CHANGE_DATA_NOT_RECORDED` names the
 * first version that did not.
 */
import { sqlIdent, sqlString } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Add, CommitActions } from '../log/actions.js';
import { commitTimestamps, listLog, loadSnapshot, readCommit } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { planScan } from '../scan/scan.js';
import type { LogStore } from '../storage/log-store.js';

export interface ChangesOptions {
  /** First version of the range (inclusive). */
  readonly startVersion: number;
  /** Last version (inclusive); default the latest. */
  readonly endVersion?: number;
}

export interface ChangesPlan {
  /** A DuckDB query returning the table's columns plus `_change_type`, `_commit_version`, `_commit_timestamp`. */
  readonly sql: string;
  readonly startVersion: number;
  readonly endVersion: number;
}

/**
 * Plan a read of the changes between two versions.
 *
 * @example
 * const { sql } = await planChanges(store, { startVersion: 3 });
 * const rows = await connection.runAndReadAll(`SELECT * FROM (${sql}) ORDER BY _commit_version`);
 */
export async function planChanges(store: LogStore, options: ChangesOptions): Promise<ChangesPlan> {
  const table = store.root;
  const listing = await listLog(store);
  const start = options.startVersion;
  const end = options.endVersion ?? listing.latestVersion;
  if (
    !Number.isInteger(start) ||
    start < 0 ||
    !Number.isInteger(end) ||
    start > end ||
    end > listing.latestVersion
  ) {
    throw new LarderError(
      'VERSION_NOT_FOUND',
      `table ${table}: no change range ${start}..${end} (versions 0..${listing.latestVersion})`,
      { table, version: start },
    );
  }
  const endSnapshot = await loadSnapshot(store, { version: end });
  let enabled =
    (await loadSnapshot(store, { version: start })).metadata.configuration['delta.enableChangeDataFeed'] ===
    'true';
  const columns = endSnapshot.schema.fields.map((f) => sqlIdent(f.name)).join(', ');
  const timestamps = await commitTimestamps(store, listing);
  const parts: string[] = [];
  for (let version = start; version <= end; version++) {
    const commit = await readCommit(store, version);
    if (commit.metaData) enabled = commit.metaData.configuration['delta.enableChangeDataFeed'] === 'true';
    if (!enabled) {
      throw new LarderError(
        'CHANGE_DATA_NOT_RECORDED',
        `table ${table} did not record its change data feed at version ${version}`,
        { table, version, hint: "set delta.enableChangeDataFeed = 'true' and read from a later version" },
      );
    }
    const timestamp = commitTimestamp(commit, endSnapshot, timestamps);
    const tag = (changeType: string | undefined) =>
      `${changeType === undefined ? '' : `${sqlString(changeType)} AS _change_type, `}${version}::BIGINT AS _commit_version, make_timestamptz(${timestamp * 1000}::BIGINT) AS _commit_timestamp`;
    if (commit.cdc.length > 0) {
      const files = commit.cdc.map((c): Add => ({ ...c, modificationTime: 0 }));
      const plan = await planScan(endSnapshot, { files, withChangeType: true });
      parts.push(`SELECT ${columns}, _change_type, ${tag(undefined)} FROM (${plan.sql})`);
      continue;
    }
    const adds = commit.add.filter((a) => a.dataChange);
    const removes = commit.remove
      .filter((r) => r.dataChange)
      .map(
        (r): Add => ({
          ...r,
          partitionValues: r.partitionValues ?? {},
          size: r.size ?? 0,
          modificationTime: 0,
        }),
      );
    if (adds.length > 0) {
      const plan = await planScan(endSnapshot, { files: adds });
      parts.push(`SELECT ${columns}, ${tag('insert')} FROM (${plan.sql})`);
    }
    if (removes.length > 0) {
      const plan = await planScan(endSnapshot, { files: removes });
      parts.push(`SELECT ${columns}, ${tag('delete')} FROM (${plan.sql})`);
    }
  }
  if (parts.length === 0) {
    const empty = await planScan(endSnapshot, { files: [] });
    parts.push(
      `SELECT ${columns}, NULL::VARCHAR AS _change_type, NULL::BIGINT AS _commit_version, NULL::TIMESTAMPTZ AS _commit_timestamp FROM (${empty.sql}) WHERE false`,
    );
  }
  return { sql: parts.join('\nUNION ALL\n'), startVersion: start, endVersion: end };
}

/** `_commit_timestamp` of a commit: its in-commit timestamp when enabled, else the one time travel uses. */
function commitTimestamp(
  commit: CommitActions,
  snapshot: Snapshot,
  timestamps: ReadonlyMap<number, number>,
): number {
  if (
    snapshot.properties['delta.enableInCommitTimestamps'] === 'true' &&
    commit.commitInfo?.inCommitTimestamp
  ) {
    return commit.commitInfo.inCommitTimestamp;
  }
  return timestamps.get(commit.version) ?? commit.commitInfo?.timestamp ?? 0;
}
