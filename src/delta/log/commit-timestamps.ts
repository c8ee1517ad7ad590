/**
 * Commit timestamps: when each version of a table was committed, as time
 * travel by timestamp, DESCRIBE HISTORY and the change data feed see it
 * (PROTOCOL.md "In-Commit Timestamps").
 *
 * - Without in-commit timestamps, a commit's timestamp is its file's
 *   modification time, made strictly increasing (a commit whose file time is
 *   not after its predecessor's counts as 1 ms after it), as Delta does.
 * - With them (`delta.enableInCommitTimestamps = true` at the latest
 *   version), it is the `inCommitTimestamp` of the commit's `commitInfo` from
 *   `delta.inCommitTimestampEnablementVersion` on (from version 0 without
 *   that property), and the file time before it. File times then do not
 *   matter: copying or touching the log changes nothing.
 *
 * Invariants:
 * - time travel to `ts` reads the latest version committed at or before
 *   `ts`; with in-commit timestamps enabled mid-life, a `ts` before the
 *   enablement timestamp looks only at the versions before the enablement
 *   version, and any other `ts` only at those from it (the protocol's rule);
 * - a `ts` before the first commit, or after the latest commit, is
 *   `VERSION_NOT_FOUND` naming the table, `ts` and the commit it missed (as
 *   Spark refuses a timestamp after the latest version);
 * - finding a version by in-commit timestamp reads O(log n) commit files
 *   (the timestamps increase, so it is a binary search), and of each only
 *   its first line when the `commitInfo` is first, as the protocol requires.
 */
import { LarderError } from '../../errors.js';
import { commitFileName, type LogStore } from '../storage/log-store.js';

/** The commits of a table, as a listing shows them (`listLog`). */
export interface CommitListing {
  readonly commits: ReadonlyMap<number, string>;
  readonly latestVersion: number;
}

/** How a table's commits are timed, from its latest metadata (`commitTiming`). */
export interface CommitTiming {
  /** The first version whose timestamp is its in-commit timestamp; undefined without in-commit timestamps. */
  readonly inCommitFrom: number | undefined;
  /** The in-commit timestamp of `inCommitFrom` when the table had commits before it (ms). */
  readonly enablementTimestamp: number | undefined;
}

/** Commits timed by their file times only. */
export const FILE_TIMES: CommitTiming = { inCommitFrom: undefined, enablementTimestamp: undefined };

/**
 * How the commits of a table whose latest metadata has `configuration` are timed.
 *
 * @example
 * const timing = commitTiming(snapshot.metadata.configuration);
 * const times = await commitTimestampsOf(store, await listLog(store), timing);
 */
export function commitTiming(configuration: Readonly<Record<string, string>>): CommitTiming {
  if (configuration['delta.enableInCommitTimestamps'] !== 'true') return FILE_TIMES;
  const version = Number(configuration['delta.inCommitTimestampEnablementVersion'] ?? 0);
  const timestamp = configuration['delta.inCommitTimestampEnablementTimestamp'];
  return {
    inCommitFrom: Number.isSafeInteger(version) && version > 0 ? version : 0,
    enablementTimestamp:
      timestamp === undefined || Number.isNaN(Number(timestamp)) ? undefined : Number(timestamp),
  };
}

/**
 * The `inCommitTimestamp` of a commit's `commitInfo`, or undefined when it
 * has none (the table does not record them). Reads the first line when it is
 * the `commitInfo`, else the whole file.
 */
export async function readInCommitTimestamp(store: LogStore, name: string): Promise<number | undefined> {
  const bytes = await store.read(name);
  if (!bytes) return undefined;
  const text = bytes.toString('utf8');
  const firstEnd = text.indexOf('\n');
  const lines = [text.slice(0, firstEnd < 0 ? text.length : firstEnd)];
  const fromLine = (line: string): number | undefined | null => {
    if (!line.includes('"commitInfo"')) return null;
    try {
      const value = (JSON.parse(line) as { commitInfo?: { inCommitTimestamp?: unknown } }).commitInfo
        ?.inCommitTimestamp;
      return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
    } catch {
      return null;
    }
  };
  const first = fromLine(lines[0]!);
  if (first !== null) return first;
  for (const line of text.slice(firstEnd + 1).split('\n')) {
    const found = fromLine(line);
    if (found !== null) return found;
  }
  return undefined;
}

/**
 * Commit timestamps (ms) of every listed commit, timed as `timing` says.
 *
 * @example
 * for (const [version, ms] of await commitTimestampsOf(store, listing, FILE_TIMES)) console.log(version, new Date(ms));
 */
export async function commitTimestampsOf(
  store: LogStore,
  listing: CommitListing,
  timing: CommitTiming,
): Promise<Map<number, number>> {
  const versions = [...listing.commits.keys()].sort((a, b) => a - b);
  const from = timing.inCommitFrom;
  const fileTimed = versions.filter((v) => from === undefined || v < from);
  const inCommit = from === undefined ? [] : versions.filter((v) => v >= from);
  const [files, ict] = await Promise.all([
    fileTimes(store, listing, fileTimed),
    Promise.all(inCommit.map((v) => inCommitTimestamp(store, listing, v))),
  ]);
  const result = new Map(files);
  for (const [i, v] of inCommit.entries()) result.set(v, ict[i]!);
  return result;
}

/** Options of `versionAtTimestamp`. */
export interface VersionAtOptions {
  readonly timing: CommitTiming;
  /** How errors name the table (default: its folder). */
  readonly table?: string;
}

/**
 * The latest version committed at or before `ms`. Throws `VERSION_NOT_FOUND`
 * when `ms` is before the first commit or after the latest.
 *
 * @example
 * const version = await versionAtTimestamp(store, listing, Date.parse('2024-05-01T00:00:00Z'), { timing });
 */
export async function versionAtTimestamp(
  store: LogStore,
  listing: CommitListing,
  ms: number,
  options: VersionAtOptions,
): Promise<number> {
  const table = options.table ?? store.root;
  const versions = [...listing.commits.keys()].sort((a, b) => a - b);
  const from = options.timing.inCommitFrom;
  const inCommit = from === undefined ? [] : versions.filter((v) => v >= from);
  const before = from === undefined ? versions : versions.filter((v) => v < from);
  const enablement = options.timing.enablementTimestamp;
  const useInCommit =
    inCommit.length > 0 && (before.length === 0 || enablement === undefined || ms >= enablement);
  if (useInCommit) {
    const latest = inCommit.at(-1)!;
    const latestTs = await inCommitTimestamp(store, listing, latest);
    if (ms > latestTs) throw afterLatest(table, ms, latest, latestTs);
    // Binary search for the last version whose timestamp is <= ms.
    let lo = 0;
    let hi = inCommit.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((await inCommitTimestamp(store, listing, inCommit[mid]!)) <= ms) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found >= 0) return inCommit[found]!;
    // Before the first in-commit timestamp: only versions before the enablement count, and there are none.
    if (before.length === 0) {
      throw beforeFirst(table, ms, inCommit[0]!, await inCommitTimestamp(store, listing, inCommit[0]!));
    }
  }
  const times = await fileTimes(store, listing, before);
  let best = -1;
  for (const [version, ts] of times) if (ts <= ms && version > best) best = version;
  if (best < 0) {
    const first = before[0];
    throw beforeFirst(table, ms, first, first === undefined ? undefined : times.get(first));
  }
  if (!useInCommit && inCommit.length === 0 && best === before.at(-1)) {
    // After every commit: Spark refuses a timestamp after the latest version.
    const latestTs = times.get(best)!;
    if (ms > latestTs) throw afterLatest(table, ms, best, latestTs);
  }
  return best;
}

/** File modification times of `versions` (ascending), made strictly increasing. */
async function fileTimes(
  store: LogStore,
  listing: CommitListing,
  versions: readonly number[],
): Promise<Map<number, number>> {
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

async function inCommitTimestamp(store: LogStore, listing: CommitListing, version: number): Promise<number> {
  const name = listing.commits.get(version) ?? commitFileName(version);
  const ts = await readInCommitTimestamp(store, name);
  if (ts === undefined) {
    throw new LarderError(
      'CORRUPT_LOG',
      `table ${store.root} records in-commit timestamps, but commit ${name} has no commitInfo.inCommitTimestamp`,
      {
        table: store.root,
        file: name,
        version,
        hint: 'the commit was written by a writer that ignores the inCommitTimestamp feature',
      },
    );
  }
  return ts;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function afterLatest(table: string, ms: number, version: number, ts: number): LarderError {
  return new LarderError(
    'VERSION_NOT_FOUND',
    `table ${table}: the provided timestamp ${iso(ms)} is after the latest version available (version ${version}, committed ${iso(ts)})`,
    {
      table,
      version,
      hint: `use a timestamp at or before ${iso(ts)}, or read the latest version without a timestamp`,
    },
  );
}

function beforeFirst(
  table: string,
  ms: number,
  version: number | undefined,
  ts: number | undefined,
): LarderError {
  return new LarderError(
    'VERSION_NOT_FOUND',
    `table ${table} has no version at or before ${iso(ms)} (earliest commit ${ts === undefined ? 'unknown' : iso(ts)})`,
    { table, ...(version === undefined ? {} : { version }) },
  );
}
