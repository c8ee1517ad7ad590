/**
 * Moving a snapshot forward by the commits that follow it, without
 * replaying the log from its last checkpoint: a writer that just committed
 * (or saw others commit) applies those commits to the snapshot it holds.
 *
 * Invariant: the result equals `loadSnapshot(store, { version })` for the
 * last commit applied (same reconciliation as log replay: removes first,
 * then adds, per commit, in version order; files keyed by path and
 * deletion vector).
 */
import { LarderError } from '../../errors.js';
import type { LogStore } from '../storage/log-store.js';
import { type Add, type CommitActions, type DomainMetadata, fileKey, type Remove } from './actions.js';
import { listLog, loadSnapshot, readCommit } from './replay.js';
import { assertReadable, Snapshot } from './snapshot.js';

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
  let protocol = snapshot.protocol;
  let metadata = snapshot.metadata;
  const files = new Map<string, Add>();
  for (const a of snapshot.files) files.set(fileKey(a), a);
  const tombstones = new Map<string, Remove>();
  for (const r of snapshot.tombstones) tombstones.set(fileKey(r), r);
  const txns = new Map(snapshot.txns);
  const domains = new Map<string, DomainMetadata>(snapshot.domainMetadata);
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
    if (commit.protocol) protocol = commit.protocol;
    if (commit.metaData) metadata = commit.metaData;
    for (const r of commit.remove) {
      const key = fileKey(r);
      if (!files.delete(key) && !r.deletionVector) {
        for (const [k, a] of files) if (a.path === r.path) files.delete(k);
      }
      tombstones.set(key, r);
    }
    for (const a of commit.add) {
      const key = fileKey(a);
      files.set(key, a);
      tombstones.delete(key);
    }
    for (const t of commit.txn) txns.set(t.appId, t);
    for (const d of commit.domainMetadata) {
      if (d.removed) domains.delete(d.domain);
      else domains.set(d.domain, d);
    }
  }
  assertReadable(protocol, snapshot.root);
  return new Snapshot({
    root: snapshot.root,
    version: expected - 1,
    timestamp,
    protocol,
    metadata,
    files: [...files.values()],
    tombstones: [...tombstones.values()],
    txns,
    domainMetadata: domains,
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
