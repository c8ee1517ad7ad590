/**
 * Moving a snapshot forward by the commits that follow it, without
 * replaying the log from its last checkpoint: a writer that just committed
 * (or saw others commit) applies those commits to the snapshot it holds.
 *
 * Invariant: the result equals `loadSnapshot(store, { version })` for the
 * last commit applied: both reconcile actions through `LogState`.
 */
import { LarderError } from '../../errors.js';
import type { LogStore } from '../storage/log-store.js';
import type { CommitActions } from './actions.js';
import { LogState } from './log-state.js';
import { listLog, loadSnapshot, readCommit } from './replay.js';
import type { Snapshot } from './snapshot.js';

/**
 * Apply `commits` (consecutive versions, starting right after
 * `snapshot.version`) to `snapshot`. `timestamp` is the commit timestamp of
 * the last one (ms).
 *
 * @example
 * const next = advanceSnapshot(snapshot, [await readCommit(store, snapshot.version + 1)], Date.now());
 */
export function advanceSnapshot(
  snapshot: Snapshot,
  commits: readonly CommitActions[],
  timestamp: number,
): Snapshot {
  if (commits.length === 0) return snapshot;
  const state = LogState.of(snapshot.root, snapshot);
  let expected = snapshot.version + 1;
  for (const commit of commits) {
    if (commit.version !== expected) {
      throw new LarderError(
        'CORRUPT_LOG',
        `cannot apply version ${commit.version} to table ${snapshot.root} at version ${expected - 1}`,
        { table: snapshot.root, version: commit.version },
      );
    }
    expected++;
    state.apply(commit);
  }
  return state.toSnapshot({
    root: snapshot.root,
    version: expected - 1,
    timestamp,
    checkpointVersion: snapshot.checkpointVersion,
  });
}

/**
 * The latest snapshot of the table, reached from `snapshot` by reading only
 * the commits after it (`snapshot` itself when nothing was committed since).
 *
 * @example
 * const fresh = await latestSnapshot(store, table.snapshot);
 */
export async function latestSnapshot(store: LogStore, snapshot: Snapshot): Promise<Snapshot> {
  const listing = await listLog(store);
  if (listing.latestVersion <= snapshot.version) return snapshot;
  const versions = Array.from(
    { length: listing.latestVersion - snapshot.version },
    (_, i) => snapshot.version + 1 + i,
  );
  if (
    versions.some((v) => !listing.commits.has(v)) ||
    snapshot.metadata.configuration['delta.enableInCommitTimestamps'] === 'true'
  ) {
    return loadSnapshot(store);
  }
  const commits = await Promise.all(versions.map((v) => readCommit(store, v)));
  const last = listing.commits.get(listing.latestVersion);
  const timestamp = (last ? await store.modificationTime(last) : undefined) ?? Date.now();
  return advanceSnapshot(snapshot, commits, timestamp);
}
