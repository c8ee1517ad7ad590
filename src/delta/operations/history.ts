/**
 * DESCRIBE HISTORY: the provenance of each version, newest first, from the
 * `commitInfo` of each commit still in the log (versions whose commit files
 * were cleaned up after a checkpoint are not listed).
 */
import type { CommitInfo } from '../log/actions.js';
import { listLog, readCommit } from '../log/replay.js';
import type { LogStore } from '../storage/log-store.js';

/** One version of the table, as `DESCRIBE HISTORY` shows it. */
export interface HistoryEntry {
  readonly version: number;
  /** When the commit was made (ms): `inCommitTimestamp`, else `commitInfo.timestamp`, else the file's mtime. */
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
  return Promise.all(
    versions.map(async (version) => {
      const commit = await readCommit(store, version);
      const info: CommitInfo = commit.commitInfo ?? {};
      const timestamp =
        info.inCommitTimestamp ??
        info.timestamp ??
        (await store.modificationTime(listing.commits.get(version)!)) ??
        0;
      return {
        version,
        timestamp,
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
