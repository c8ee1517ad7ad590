/**
 * Log replay: the snapshot of a table at a version is its newest complete
 * checkpoint at or before that version, plus every commit after it, applied
 * in order (PROTOCOL.md "Action Reconciliation").
 *
 * Invariants: `_last_checkpoint` is a hint, used only when the listing shows
 * the checkpoint it names complete; an incomplete multi-part checkpoint is
 * ignored; a gap in the commits is a `CORRUPT_LOG` error naming the missing
 * version; a file that does not parse is a `CORRUPT_LOG` error naming it.
 */
import { LarderError } from '../../errors.js';
import { commitFileName, type LogStore, parseLogName } from '../storage/log-store.js';
import {
  type Add,
  type CommitActions,
  type CommitInfo,
  type DomainMetadata,
  fileKey,
  type Metadata,
  type Protocol,
  type Remove,
  type Txn,
} from './actions.js';
import { readCheckpoint } from './checkpoint-reader.js';
import { assertReadable, Snapshot } from './snapshot.js';

/** Which version to load: the latest, a version, or the latest at or before a time. */
export interface SnapshotSelector {
  readonly version?: number;
  /** ms since the epoch, a Date, or an ISO-8601 string. */
  readonly timestamp?: number | Date | string;
}

/** The log files of a table, as a listing shows them. */
export interface LogListing {
  readonly commits: ReadonlyMap<number, string>;
  /** Complete checkpoints: version → part file names. */
  readonly checkpoints: ReadonlyMap<number, readonly string[]>;
  readonly latestVersion: number;
}

/** List and classify the files of `_delta_log/`. Throws `TABLE_NOT_FOUND` if there is no log. */
export async function listLog(store: LogStore): Promise<LogListing> {
  const names = await store.list();
  const commits = new Map<number, string>();
  const parts = new Map<number, Map<number, { parts: number; names: string[] }>>();
  for (const name of names) {
    const parsed = parseLogName(name);
    if (parsed.kind === 'commit') commits.set(parsed.version, name);
    else if (parsed.kind === 'checkpoint') {
      const byCount = parts.get(parsed.version) ?? new Map<number, { parts: number; names: string[] }>();
      parts.set(parsed.version, byCount);
      const set = byCount.get(parsed.parts) ?? { parts: parsed.parts, names: [] };
      byCount.set(parsed.parts, set);
      set.names.push(name);
    }
  }
  const checkpoints = new Map<number, string[]>();
  for (const [version, byCount] of parts) {
    for (const set of byCount.values()) {
      if (set.names.length === set.parts) checkpoints.set(version, set.names.sort());
    }
  }
  let latestVersion = -1;
  for (const v of commits.keys()) latestVersion = Math.max(latestVersion, v);
  for (const v of checkpoints.keys()) latestVersion = Math.max(latestVersion, v);
  if (latestVersion < 0) {
    throw new LarderError('TABLE_NOT_FOUND', `no Delta table at ${store.root} (no _delta_log commits)`, {
      table: store.root,
      hint: 'create the table first, or check the path',
    });
  }
  return { commits, checkpoints, latestVersion };
}

/** Load the snapshot of the table in `store`. */
export async function loadSnapshot(store: LogStore, selector: SnapshotSelector = {}): Promise<Snapshot> {
  const listing = await listLog(store);
  let target = listing.latestVersion;
  if (selector.version !== undefined) {
    target = selector.version;
    if (!Number.isInteger(target) || target < 0 || target > listing.latestVersion) {
      throw new LarderError(
        'VERSION_NOT_FOUND',
        `table ${store.root} has no version ${selector.version} (latest is ${listing.latestVersion})`,
        { table: store.root, version: selector.version },
      );
    }
  } else if (selector.timestamp !== undefined) {
    target = await versionAtTimestamp(store, listing, toMillis(selector.timestamp));
  }
  return replay(store, listing, target);
}

function toMillis(value: number | Date | string): number {
  if (typeof value === 'number') return value;
  if (value instanceof Date) return value.getTime();
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value)
    ? `${value}T00:00:00Z`
    : /[zZ]|[+-]\d{2}:?\d{2}$/.test(value)
      ? value
      : `${value.replace(' ', 'T')}Z`;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new LarderError('INVALID_ARGUMENT', `"${value}" is not a timestamp`, {
      hint: "use ISO-8601, e.g. '2024-05-01 12:00:00'",
    });
  }
  return ms;
}

/** Commit timestamps (ms) of every listed commit, made strictly increasing as Delta does. */
export async function commitTimestamps(store: LogStore, listing: LogListing): Promise<Map<number, number>> {
  const versions = [...listing.commits.keys()].sort((a, b) => a - b);
  const raw = await Promise.all(
    versions.map((v) => store.modificationTime(listing.commits.get(v) ?? commitFileName(v))),
  );
  const result = new Map<number, number>();
  let previous = Number.NEGATIVE_INFINITY;
  versions.forEach((v, i) => {
    let ts = raw[i] ?? 0;
    if (ts <= previous) ts = previous + 1;
    result.set(v, ts);
    previous = ts;
  });
  return result;
}

async function versionAtTimestamp(store: LogStore, listing: LogListing, ms: number): Promise<number> {
  const timestamps = await commitTimestamps(store, listing);
  let best = -1;
  let earliest = Number.POSITIVE_INFINITY;
  for (const [version, ts] of timestamps) {
    earliest = Math.min(earliest, ts);
    if (ts <= ms && version > best) best = version;
  }
  if (best < 0) {
    throw new LarderError(
      'VERSION_NOT_FOUND',
      `table ${store.root} has no version at or before ${new Date(ms).toISOString()} (earliest commit ${Number.isFinite(earliest) ? new Date(earliest).toISOString() : 'unknown'})`,
      { table: store.root },
    );
  }
  return best;
}

async function chooseCheckpoint(
  store: LogStore,
  listing: LogListing,
  target: number,
): Promise<number | undefined> {
  const hint = await store.read('_last_checkpoint').catch(() => undefined);
  if (hint) {
    try {
      const { version } = JSON.parse(hint.toString('utf8')) as { version?: number };
      if (typeof version === 'number' && version <= target && listing.checkpoints.has(version)) {
        // Trust it only if no newer complete checkpoint is listed at or before the target.
        const newer = [...listing.checkpoints.keys()].some((v) => v > version && v <= target);
        if (!newer) return version;
      }
    } catch {
      // A corrupt hint is ignored: the listing is the truth.
    }
  }
  let best: number | undefined;
  for (const v of listing.checkpoints.keys()) if (v <= target && (best === undefined || v > best)) best = v;
  return best;
}

/** Parse one commit file. Throws `CORRUPT_LOG` naming the file and line. */
export function parseCommit(version: number, text: string, fileName: string): CommitActions {
  const add: Add[] = [];
  const remove: Remove[] = [];
  const cdc: CommitActions['cdc'][number][] = [];
  const txn: Txn[] = [];
  const domainMetadata: DomainMetadata[] = [];
  let protocol: Protocol | undefined;
  let metaData: Metadata | undefined;
  let commitInfo: CommitInfo | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0) continue;
    let action: Record<string, unknown>;
    try {
      action = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new LarderError(
        'CORRUPT_LOG',
        `commit file ${fileName} is corrupt at line ${i + 1}: not valid JSON`,
        {
          file: fileName,
          version,
          cause: error,
          hint: 'the file was truncated or edited; restore it from a backup',
        },
      );
    }
    if (action === null || typeof action !== 'object') {
      throw new LarderError('CORRUPT_LOG', `commit file ${fileName} is corrupt at line ${i + 1}`, {
        file: fileName,
        version,
      });
    }
    if (action.add) add.push(action.add as Add);
    else if (action.remove) remove.push(action.remove as Remove);
    else if (action.metaData) metaData = action.metaData as Metadata;
    else if (action.protocol) protocol = action.protocol as Protocol;
    else if (action.commitInfo) commitInfo = action.commitInfo as CommitInfo;
    else if (action.cdc) cdc.push(action.cdc as CommitActions['cdc'][number]);
    else if (action.txn) txn.push(action.txn as Txn);
    else if (action.domainMetadata) domainMetadata.push(action.domainMetadata as DomainMetadata);
  }
  return { version, protocol, metaData, commitInfo, add, remove, cdc, txn, domainMetadata };
}

/** Read and parse the commit file of `version`. */
export async function readCommit(store: LogStore, version: number): Promise<CommitActions> {
  const name = commitFileName(version);
  const bytes = await store.read(name);
  if (!bytes) {
    throw new LarderError('CORRUPT_LOG', `commit file ${name} is missing from ${store.root}/_delta_log`, {
      file: name,
      version,
      table: store.root,
    });
  }
  return parseCommit(version, bytes.toString('utf8'), name);
}

async function replay(store: LogStore, listing: LogListing, target: number): Promise<Snapshot> {
  const checkpointVersion = await chooseCheckpoint(store, listing, target);
  const start = checkpointVersion === undefined ? 0 : checkpointVersion + 1;
  for (let v = start; v <= target; v++) {
    if (!listing.commits.has(v)) {
      throw new LarderError(
        'CORRUPT_LOG',
        `commit file ${commitFileName(v)} is missing from ${store.root}/_delta_log: cannot rebuild version ${target}`,
        { table: store.root, version: v, file: commitFileName(v) },
      );
    }
  }
  const [base, commits] = await Promise.all([
    checkpointVersion === undefined
      ? undefined
      : readCheckpoint(store, listing.checkpoints.get(checkpointVersion)!, checkpointVersion),
    Promise.all(Array.from({ length: target - start + 1 }, (_, i) => readCommit(store, start + i))),
  ]);

  let protocol = base?.protocol;
  let metadata = base?.metaData;
  const files = new Map<string, Add>();
  const tombstones = new Map<string, Remove>();
  const txns = new Map<string, Txn>();
  const domains = new Map<string, DomainMetadata>();
  if (base) {
    for (const a of base.add) files.set(fileKey(a), a);
    for (const r of base.remove) tombstones.set(fileKey(r), r);
    for (const t of base.txn) txns.set(t.appId, t);
    for (const d of base.domainMetadata) domains.set(d.domain, d);
  }
  let lastCommitInfo: CommitInfo | undefined;
  for (const commit of commits) {
    if (commit.protocol) protocol = commit.protocol;
    if (commit.metaData) metadata = commit.metaData;
    for (const r of commit.remove) {
      const key = fileKey(r);
      if (!files.delete(key) && !r.deletionVector) {
        // A remove without its DV id still removes the file by path.
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
    lastCommitInfo = commit.commitInfo;
  }
  if (!protocol || !metadata) {
    throw new LarderError(
      'CORRUPT_LOG',
      `table ${store.root} has no ${protocol ? 'metaData' : 'protocol'} action`,
      {
        table: store.root,
        version: target,
      },
    );
  }
  assertReadable(protocol, store.root);

  let timestamp: number | undefined;
  if (metadata.configuration['delta.enableInCommitTimestamps'] === 'true') {
    timestamp = lastCommitInfo?.inCommitTimestamp;
  }
  if (timestamp === undefined) {
    const name = listing.commits.get(target) ?? listing.checkpoints.get(target)?.[0];
    timestamp = name ? await store.modificationTime(name) : undefined;
  }
  return new Snapshot({
    root: store.root,
    version: target,
    timestamp: timestamp ?? 0,
    protocol,
    metadata,
    files: [...files.values()],
    tombstones: [...tombstones.values()],
    txns,
    domainMetadata: domains,
    checkpointVersion,
  });
}
