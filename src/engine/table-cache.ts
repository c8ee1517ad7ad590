/**
 * The engine's memory of Delta tables, so that reading a table costs a
 * directory listing, not a log replay: one `DeltaTable` per table, moved
 * forward by the commits made since it was last read (`latestSnapshot`
 * reads only those), and the snapshots of older versions that time travel
 * asked for, kept in a small least-recently-used cache (they never change).
 *
 * A table's identity (`key`) is its folder plus, for a registered table, its
 * registration time: a table dropped and registered again at the same folder
 * is a new table, never served from the old one's snapshot.
 *
 * Invariant: `latest()` is at least as new as every commit that completed
 * before it was called (it lists the log each time).
 */
import { stat } from 'node:fs/promises';
import { DeltaTable } from '../delta/delta-table.js';
import { commitTiming, versionAtTimestamp } from '../delta/log/commit-timestamps.js';
import { listLog, loadSnapshot } from '../delta/log/replay.js';
import type { Snapshot } from '../delta/log/snapshot.js';
import { LocalLogStore } from '../delta/storage/local-log-store.js';
import { isLarderError, type LarderError } from '../errors.js';
import type { DeltaSource, SnapshotChoice } from './statement-rewriter.js';

/** What identifies a table to the cache. */
export interface CachedTableSpec {
  readonly key: string;
  /** Absolute path of the table folder. */
  readonly root: string;
  /** The path as the user wrote it (`read_delta`), or the location. */
  readonly path: string;
  /** The registered table's full name, if registered. */
  readonly fullName: string | undefined;
  /** The error to throw when there is no Delta table in the folder. */
  readonly notFound: (cause?: unknown) => LarderError;
}

/** Versions of old snapshots kept per cache. */
const OLD_SNAPSHOTS = 16;

/**
 * @example
 * const cache = new TableCache();
 * const source = cache.source({ key: root, root, path: root, fullName: undefined, notFound: () => error });
 * const snapshot = await source.latest();
 */
export class TableCache {
  readonly #tables = new Map<string, Promise<DeltaTable>>();
  readonly #old = new Map<string, Promise<Snapshot>>();

  /** The table as a source the statement rewriter reads. */
  source(spec: CachedTableSpec): DeltaSource {
    return {
      kind: 'table',
      fullName: spec.fullName,
      path: spec.path,
      key: spec.key,
      store: new LocalLogStore(spec.root),
      latest: async () => (await this.table(spec)).snapshot,
      at: (choice) => this.#at(spec, choice),
    };
  }

  /** The table, at its latest version. */
  async table(spec: CachedTableSpec): Promise<DeltaTable> {
    let table = this.#tables.get(spec.key);
    if (table) {
      const cached = await table;
      try {
        return await cached.refresh();
      } catch (error) {
        if (!isLarderError(error, 'TABLE_NOT_FOUND')) throw error;
        this.forget(spec.key);
        throw spec.notFound(error);
      }
    }
    table = open(spec);
    this.#tables.set(spec.key, table);
    try {
      return await table;
    } catch (error) {
      this.#tables.delete(spec.key);
      throw error;
    }
  }

  /** Forget a table (after it is dropped). */
  forget(key: string): void {
    this.#tables.delete(key);
    for (const k of this.#old.keys()) if (k.startsWith(`${key}@`)) this.#old.delete(k);
  }

  async #at(spec: CachedTableSpec, choice: SnapshotChoice): Promise<Snapshot> {
    const store = new LocalLogStore(spec.root);
    const version =
      'version' in choice
        ? choice.version
        : await versionAt(spec, store, (await this.table(spec)).snapshot, choice.timestamp);
    const key = `${spec.key}@${version}`;
    let snapshot = this.#old.get(key);
    if (snapshot) {
      // Most recently used last.
      this.#old.delete(key);
      this.#old.set(key, snapshot);
      return snapshot;
    }
    snapshot = (async () => {
      await assertFolder(spec);
      try {
        return await loadSnapshot(store, { version });
      } catch (error) {
        if (isLarderError(error, 'TABLE_NOT_FOUND')) throw spec.notFound(error);
        throw error;
      }
    })();
    this.#old.set(key, snapshot);
    while (this.#old.size > OLD_SNAPSHOTS) this.#old.delete(this.#old.keys().next().value!);
    try {
      return await snapshot;
    } catch (error) {
      this.#old.delete(key);
      throw error;
    }
  }
}

async function open(spec: CachedTableSpec): Promise<DeltaTable> {
  await assertFolder(spec);
  try {
    return await DeltaTable.open(spec.root);
  } catch (error) {
    if (isLarderError(error, 'TABLE_NOT_FOUND')) throw spec.notFound(error);
    throw error;
  }
}

async function assertFolder(spec: CachedTableSpec): Promise<void> {
  const info = await stat(spec.root).catch(() => undefined);
  if (!info?.isDirectory()) throw spec.notFound();
}

/**
 * The latest version committed at or before `ms`, by the commit timestamps
 * the table records (in-commit timestamps when its latest metadata enables
 * them, else file times). VERSION_NOT_FOUND before the first commit or after
 * the latest, naming the table.
 */
async function versionAt(
  spec: CachedTableSpec,
  store: LocalLogStore,
  latest: Snapshot,
  ms: number,
): Promise<number> {
  let listing: Awaited<ReturnType<typeof listLog>>;
  try {
    listing = await listLog(store);
  } catch (error) {
    if (isLarderError(error, 'TABLE_NOT_FOUND')) throw spec.notFound(error);
    throw error;
  }
  return versionAtTimestamp(store, listing, ms, {
    timing: commitTiming(latest.metadata.configuration),
    table: spec.fullName ?? spec.path,
  });
}
