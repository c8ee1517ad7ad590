/**
 * DESCRIBE HISTORY: the provenance of each version, newest first, from the
 * `commitInfo` of each commit still in the log (versions whose commit files
 * were cleaned up after a checkpoint are not listed).
 *
 * Invariant: an entry's `timestamp` is the commit timestamp time travel
 * uses (`commitTimestamps`, `commit-timestamps.ts`): the commit's
 * `inCommitTimestamp` when the table has in-commit timestamps (for the
 * versions from their enablement on), else the commit file's modification
 * time, made strictly increasing; so opening the table at `timestamp` gives
 * `version`. `commitInfo.timestamp` is when the writer started, not when
 * the commit landed, and is not used.
 */
import type { CommitInfo } from '../log/actions.js';
import { commitTimestamps, listLog, readCommit } from '../log/replay.js';
import type { LogStore } from '../storage/log-store.js';

/** One version of the table, as `DESCRIBE HISTORY` shows it. */
export interface HistoryEntry {
  readonly version: number;
  /** The commit timestamp (ms) that time travel and the change feed use for this version. */
  readonly timestamp: number;
  readonly operation: string | undefined;
  readonly operationParameters: Readonly<Record<string, unknown>>;
  readonly operationMetrics: Readonly<Record<string, unknown>>;
  readonly readVersion: number | undefined;
  readonly isolationLevel: string | undefined;
  readonly isBlindAppend: boolean | undefined;
  readonly engineInfo: string | undefined;
  readonly userMetadata: string | undefined;
}

/**
 * The history of the table in `store`, newest first, at most `limit` entries.
 *
 * @example
 * const [latest] = await tableHistory(new LocalLogStore('/data/customers'), 1);
 * console.log(latest.version, latest.operation, latest.operationMetrics);
 */
export async function tableHistory(store: LogStore, limit?: number): Promise<HistoryEntry[]> {
  const listing = await listLog(store);
  let versions = [...listing.commits.keys()].sort((a, b) => b - a);
  if (limit !== undefined) versions = versions.slice(0, Math.max(0, Math.floor(limit)));
  if (versions.length === 0) return [];
  const timestamps = await commitTimestamps(store, listing);
  return Promise.all(
    versions.map(async (version) => {
      const commit = await readCommit(store, version);
      const info: CommitInfo = commit.commitInfo ?? {};
      return {
        version,
        timestamp: timestamps.get(version) ?? 0,
        operation: info.operation,
        operationParameters: info.operationParameters ?? {},
        operationMetrics: info.operationMetrics ?? {},
        readVersion: info.readVersion,
        isolationLevel: info.isolationLevel,
        isBlindAppend: info.isBlindAppend,
        engineInfo: info.engineInfo,
        userMetadata: typeof info.userMetadata === 'string' ? info.userMetadata : undefined,
      };
    }),
  );
}
