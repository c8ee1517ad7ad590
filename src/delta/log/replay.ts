/**
 * Log replay: the snapshot of a table at a version is its newest complete
 * checkpoint at or before that version, plus every commit after it, applied
 * in order (PROTOCOL.md "Action Reconciliation").
 *
 * Invariants:
 * - The listing of `_delta_log/` is the truth. `_last_checkpoint` is a hint
 *   for stores that cannot list cheaply; a local listing is complete, so it
 *   only picks among several complete checkpoints of the version replay
 *   starts from (and is read only then): a stale, missing or garbled hint
 *   changes nothing.
 * - The newest complete checkpoint at or before the target is used:
 *   classic, multi-part, or V2 (UUID-named, with sidecars); an incomplete
 *   multi-part checkpoint is ignored; a checkpoint that cannot be read
 *   (lacks protocol or metadata, or a sidecar) is skipped for another one
 *   of its version, an older one or the JSON commits, and is a
 *   `CORRUPT_LOG` error naming it only when nothing else can rebuild the
 *   version.
 * - A gap in the commits is a `CORRUPT_LOG` error naming the missing
 *   version; a commit line that is not an action is a `CORRUPT_LOG` error
 *   naming the file and line.
 * - A version older than the earliest one the log can rebuild (commits
 *   cleaned up before the earliest checkpoint) is `VERSION_NOT_FOUND`.
 */
import { isLarderError, LarderError } from '../../errors.js';
import { commitFileName, type LogStore, parseLogName } from '../storage/log-store.js';
import type {
  Add,
  CommitActions,
  CommitInfo,
  DomainMetadata,
  Metadata,
  Protocol,
  Remove,
  Txn,
} from './actions.js';
import { readCheckpoint } from './checkpoint-reader.js';
import {
  type CommitTiming,
  commitTimestampsOf,
  commitTiming,
  FILE_TIMES,
  readInCommitTimestamp,
  versionAtTimestamp,
} from './commit-timestamps.js';
import { LogState } from './log-state.js';
import type { Snapshot } from './snapshot.js';
import { type LastCheckpointHint, preferNamed, readLastCheckpoint } from './v2-checkpoint.js';

/** Which version to load: the latest, a version, or the latest at or before a time. */
export interface SnapshotSelector {
  readonly version?: number;
  /** ms since the epoch, a Date, or an ISO-8601 string. */
  readonly timestamp?: number | Date | string;
}

/** The log files of a table, as a listing shows them. */
export interface LogListing {
  readonly commits: ReadonlyMap<number, string>;
  /**
   * Complete checkpoints: version → its checkpoints, each the list of its
   * files (one file, or the parts of a multi-part checkpoint in part
   * order); classic first, then UUID-named, then multi-part by part count.
   */
  readonly checkpoints: ReadonlyMap<number, readonly (readonly string[])[]>;
  readonly latestVersion: number;
}

/** List and classify the files of `_delta_log/`. Throws `TABLE_NOT_FOUND` if there is no log. */
export async function listLog(store: LogStore): Promise<LogListing> {
  const names = await store.list();
  const commits = new Map<number, string>();
  const parts = new Map<number, Map<number, { parts: number; names: string[] }>>();
  const uuidNamed = new Map<number, string[]>();
  for (const name of names) {
    const parsed = parseLogName(name);
    if (parsed.kind === 'commit') commits.set(parsed.version, name);
    else if (parsed.kind === 'v2checkpoint') {
      const list = uuidNamed.get(parsed.version) ?? [];
      uuidNamed.set(parsed.version, list);
      list.push(name);
    } else if (parsed.kind === 'checkpoint') {
      const byCount = parts.get(parsed.version) ?? new Map<number, { parts: number; names: string[] }>();
      parts.set(parsed.version, byCount);
      const set = byCount.get(parsed.parts) ?? { parts: parsed.parts, names: [] };
      byCount.set(parsed.parts, set);
      set.names.push(name);
    }
  }
  // Several complete checkpoints of one version are equivalent; the cheapest to read comes first.
  const checkpoints = new Map<number, string[][]>();
  for (const version of new Set([...parts.keys(), ...uuidNamed.keys()])) {
    const complete = [...(parts.get(version)?.values() ?? [])]
      .filter((set) => set.names.length === set.parts)
      .sort((a, b) => a.parts - b.parts)
      .map((set) => set.names.sort());
    // UUID-named after a classic one (their sidecars cost more reads), Parquet before JSON.
    const v2 = (uuidNamed.get(version) ?? [])
      .sort((a, b) => Number(a.endsWith('.json')) - Number(b.endsWith('.json')) || a.localeCompare(b))
      .map((name) => [name]);
    const classic = complete[0]?.length === 1 ? complete.splice(0, 1) : [];
    const all = [...classic, ...v2, ...complete];
    if (all.length > 0) checkpoints.set(version, all);
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
    target = await versionAtTimestamp(store, listing, toMillis(selector.timestamp), {
      timing: await latestTiming(store, listing),
    });
  }
  const earliest = earliestVersion(listing);
  if (target < earliest) {
    throw new LarderError(
      'VERSION_NOT_FOUND',
      `table ${store.root} has no version ${target} any more: the earliest version its log can rebuild is ${earliest}`,
      { table: store.root, version: target, hint: 'commits before the earliest checkpoint were cleaned up' },
    );
  }
  return replay(store, listing, target);
}

/**
 * The earliest version the log can rebuild: 0 while commit 0 exists, else
 * the earliest complete checkpoint (a log without either is corrupt, and
 * replay says which commit is missing).
 */
function earliestVersion(listing: LogListing): number {
  if (listing.commits.has(0)) return 0;
  let earliest: number | undefined;
  for (const v of listing.checkpoints.keys()) if (earliest === undefined || v < earliest) earliest = v;
  return earliest ?? 0;
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

/**
 * Commit timestamps (ms) of every listed commit (`commit-timestamps.ts`):
 * in-commit timestamps where the table records them, else file times made
 * strictly increasing. Without `timing`, it is read from the table: its
 * latest commit tells whether it records in-commit timestamps, and only then
 * is the latest version's metadata replayed.
 */
export async function commitTimestamps(
  store: LogStore,
  listing: LogListing,
  timing?: CommitTiming,
): Promise<Map<number, number>> {
  return commitTimestampsOf(store, listing, timing ?? (await latestTiming(store, listing)));
}

/** How the commits of the table are timed, from its latest version. */
export async function latestTiming(store: LogStore, listing: LogListing): Promise<CommitTiming> {
  const latest = listing.commits.get(listing.latestVersion);
  if (latest === undefined || (await readInCommitTimestamp(store, latest)) === undefined) return FILE_TIMES;
  return commitTiming((await replay(store, listing, listing.latestVersion)).metadata.configuration);
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
    const corrupt = (what: string, cause?: unknown): LarderError =>
      new LarderError('CORRUPT_LOG', `commit file ${fileName} is corrupt at line ${i + 1}: ${what}`, {
        file: fileName,
        version,
        line: i + 1,
        cause,
        hint: 'the file was truncated or edited; restore it from a backup',
      });
    let action: unknown;
    try {
      action = JSON.parse(line);
    } catch (error) {
      throw corrupt('not valid JSON', error);
    }
    if (!isObject(action)) throw corrupt('not an action object');
    if (action.add) add.push(checked(action.add, 'add', ADD_FIELDS, corrupt) as unknown as Add);
    else if (action.remove) remove.push(checked(action.remove, 'remove', PATH, corrupt) as unknown as Remove);
    else if (action.metaData)
      metaData = checked(action.metaData, 'metaData', METADATA_FIELDS, corrupt) as unknown as Metadata;
    else if (action.protocol)
      protocol = checked(action.protocol, 'protocol', PROTOCOL_FIELDS, corrupt) as unknown as Protocol;
    else if (action.commitInfo)
      commitInfo = checked(action.commitInfo, 'commitInfo', [], corrupt) as unknown as CommitInfo;
    else if (action.cdc)
      cdc.push(checked(action.cdc, 'cdc', ADD_FIELDS, corrupt) as unknown as CommitActions['cdc'][number]);
    else if (action.txn) txn.push(checked(action.txn, 'txn', TXN_FIELDS, corrupt) as unknown as Txn);
    else if (action.domainMetadata)
      domainMetadata.push(
        checked(action.domainMetadata, 'domainMetadata', DOMAIN_FIELDS, corrupt) as unknown as DomainMetadata,
      );
  }
  return { version, protocol, metaData, commitInfo, add, remove, cdc, txn, domainMetadata };
}

/** Required fields of an action and the `typeof` (or 'object') each must have. */
type FieldRules = readonly (readonly [string, 'string' | 'number' | 'object'])[];
const PATH: FieldRules = [['path', 'string']];
const ADD_FIELDS: FieldRules = [...PATH, ['partitionValues', 'object']];
// Databricks pipelines write a first metaData without schemaString: the snapshot's final metadata needs one.
const METADATA_FIELDS: FieldRules = [['id', 'string']];
const PROTOCOL_FIELDS: FieldRules = [
  ['minReaderVersion', 'number'],
  ['minWriterVersion', 'number'],
];
const TXN_FIELDS: FieldRules = [
  ['appId', 'string'],
  ['version', 'number'],
];
const DOMAIN_FIELDS: FieldRules = [
  ['domain', 'string'],
  ['configuration', 'string'],
];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The action body if it is an object with the required fields, else the `corrupt` error. */
function checked(
  body: unknown,
  kind: string,
  rules: FieldRules,
  corrupt: (what: string) => LarderError,
): Record<string, unknown> {
  if (!isObject(body)) throw corrupt(`"${kind}" is not an object`);
  for (const [field, type] of rules) {
    const value = body[field];
    if (type === 'object' ? !isObject(value) : typeof value !== type) {
      throw corrupt(`"${kind}" has no ${type} field "${field}"`);
    }
  }
  return body;
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
  const commits = new Map<number, Promise<CommitActions>>();
  const commit = (v: number): Promise<CommitActions> => {
    let read = commits.get(v);
    if (!read) {
      read = readCommit(store, v);
      // Awaited below; a rejection must not go unhandled while a checkpoint is read.
      read.catch(() => undefined);
      commits.set(v, read);
    }
    return read;
  };
  const missingCommit = (from: number): number | undefined => {
    for (let v = from; v <= target; v++) if (!listing.commits.has(v)) return v;
    return undefined;
  };
  // Newest first; `undefined` stands for replaying from version 0.
  const bases: (number | undefined)[] = [...listing.checkpoints.keys()]
    .filter((v) => v <= target)
    .sort((a, b) => b - a);
  bases.push(undefined);

  let checkpointError: unknown;
  let hint: Promise<LastCheckpointHint | undefined> | undefined;
  for (const checkpointVersion of bases) {
    const start = checkpointVersion === undefined ? 0 : checkpointVersion + 1;
    const missing = missingCommit(start);
    if (missing !== undefined) {
      // An older base needs every commit this one needs: nothing else can rebuild the version.
      if (checkpointError) throw checkpointError;
      throw new LarderError(
        'CORRUPT_LOG',
        `commit file ${commitFileName(missing)} is missing from ${store.root}/_delta_log: cannot rebuild version ${target}`,
        { table: store.root, version: missing, file: commitFileName(missing) },
      );
    }
    // Start reading the commits while the checkpoint is read.
    const versions = Array.from({ length: target - start + 1 }, (_, i) => start + i);
    for (const v of versions) commit(v);
    let base: CommitActions | undefined;
    if (checkpointVersion !== undefined) {
      let candidates = listing.checkpoints.get(checkpointVersion)!;
      if (candidates.length > 1) {
        hint ??= readLastCheckpoint(store);
        candidates = preferNamed(await hint, checkpointVersion, candidates);
      }
      for (const names of candidates) {
        try {
          base = await readCheckpoint(store, names, checkpointVersion);
          break;
        } catch (error) {
          if (!isLarderError(error, 'CORRUPT_LOG')) throw error;
          checkpointError ??= error;
        }
      }
      if (!base) continue;
    }
    const state = LogState.of(store.root, base);
    for (const c of await Promise.all(versions.map(commit))) state.apply(c);
    return state.toSnapshot({
      root: store.root,
      version: target,
      timestamp: await snapshotTimestamp(store, listing, target, state),
      checkpointVersion,
    });
  }
  // Unreachable: the last base (version 0) either returns or throws.
  throw checkpointError;
}

/** The commit timestamp of the replayed version: its in-commit timestamp when enabled, else its file time. */
async function snapshotTimestamp(
  store: LogStore,
  listing: LogListing,
  target: number,
  state: LogState,
): Promise<number> {
  const inCommit = state.lastCommitInfo?.inCommitTimestamp;
  if (inCommit !== undefined && state.inCommitTimestamps) return inCommit;
  const name = listing.commits.get(target) ?? listing.checkpoints.get(target)?.[0]?.[0];
  return (name ? await store.modificationTime(name) : undefined) ?? 0;
}
