/**
 * `DeltaTable`: the public face of a Delta table folder. It holds the
 * snapshot it last saw; every operation first moves to the latest version
 * (reading only the commits since), writes, commits through the one
 * transaction path, and keeps the snapshot its commit produced.
 *
 * Invariant: `table.snapshot` is immutable; operations replace it, they
 * never change it.
 */
import { connect } from '../duckdb/duckdb.js';
import { latestSnapshot } from './log/advance-snapshot.js';
import { loadSnapshot, type SnapshotSelector } from './log/replay.js';
import type { Snapshot } from './log/snapshot.js';
import { type ChangesOptions, planChanges } from './operations/change-data-feed.js';
import { type CloneOptions, cloneTable } from './operations/clone.js';
import { type ClusteringMetrics, setClusteringColumns } from './operations/clustering.js';
import { type CreateTableOptions, createTable } from './operations/create.js';
import { type DeleteMetrics, type DeleteOptions, deleteFrom } from './operations/delete.js';
import { describeDetail, type TableDetail } from './operations/describe-detail.js';
import { type HistoryEntry, tableHistory } from './operations/history.js';
import { type MergeMetrics, type MergeOptions, mergeTable } from './operations/merge.js';
import type { OperationResult } from './operations/operation-result.js';
import { type OptimizeMetrics, type OptimizeOptions, optimizeTable } from './operations/optimize.js';
import { type RestoreMetrics, type RestoreOptions, restoreTable } from './operations/restore.js';
import { type UpdateMetrics, type UpdateOptions, updateTable } from './operations/update.js';
import { type VacuumMetrics, type VacuumOptions, vacuumTable } from './operations/vacuum.js';
import { type WriteMetrics, type WriteOptions, writeTable } from './operations/write.js';
import type { WriteSource } from './operations/write-source.js';
import { readTableRows, type ScanOptions } from './scan/scan.js';
import { LocalLogStore } from './storage/local-log-store.js';
import type { LogStore } from './storage/log-store.js';

/** Options of `append` and `overwrite` (the mode is implied). */
export type TableWriteOptions = Omit<WriteOptions, 'mode' | 'store'>;

/**
 * A Delta table.
 *
 * @example
 * const table = await DeltaTable.create('/data/tx', {
 *   schema: [
 *     { name: 'id', type: 'long', nullable: false },
 *     { name: 'amount', type: 'double' },
 *     { name: 'day', type: 'date' },
 *   ],
 *   partitionColumns: ['day'],
 * });
 * await table.append([{ id: 1n, amount: 9.5, day: '2024-05-01' }]);
 * await table.append("SELECT * FROM read_csv('more.csv')");
 * const v1 = await DeltaTable.open('/data/tx', { version: 1 });
 * console.log(v1.snapshot.files.length, (await table.history(1))[0]?.operation);
 */
export class DeltaTable {
  readonly #store: LogStore;
  #snapshot: Snapshot;

  private constructor(store: LogStore, snapshot: Snapshot) {
    this.#store = store;
    this.#snapshot = snapshot;
  }

  /** Create a new table at `path` (fails with `TABLE_ALREADY_EXISTS` if one is there). */
  static async create(path: string, options: CreateTableOptions): Promise<DeltaTable> {
    const store = options.store ?? new LocalLogStore(path);
    const { table } = await createTable(path, { ...options, store });
    return new DeltaTable(store, table);
  }

  /** Open the table at `path`: its latest version, or the one `selector` names (time travel). */
  static async open(
    path: string,
    selector: SnapshotSelector & { readonly store?: LogStore } = {},
  ): Promise<DeltaTable> {
    const store = selector.store ?? new LocalLogStore(path);
    const snapshot = await loadSnapshot(store, { version: selector.version, timestamp: selector.timestamp });
    return new DeltaTable(store, snapshot);
  }

  /** Absolute path of the table folder. */
  get path(): string {
    return this.#store.root;
  }

  /** The store the table commits through. */
  get store(): LogStore {
    return this.#store;
  }

  /** The version this object currently shows. */
  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  get version(): number {
    return this.#snapshot.version;
  }

  /** Move to the latest version. */
  async refresh(): Promise<this> {
    this.#snapshot = await latestSnapshot(this.#store, this.#snapshot);
    return this;
  }

  /**
   * Append rows: a DuckDB query, or row objects.
   *
   * @example
   * await table.append([{ id: 7n, amount: 12.5, day: new Date('2024-05-02') }]);
   */
  async append(source: WriteSource, options: TableWriteOptions = {}): Promise<OperationResult<WriteMetrics>> {
    return this.#apply(
      writeTable(await this.#latest(), source, { ...options, mode: 'append', store: this.#store }),
    );
  }

  /**
   * Replace all rows of the table.
   *
   * @example
   * await table.overwrite('SELECT * FROM staging_tx');
   */
  async overwrite(
    source: WriteSource,
    options: TableWriteOptions = {},
  ): Promise<OperationResult<WriteMetrics>> {
    return this.#apply(
      writeTable(await this.#latest(), source, { ...options, mode: 'overwrite', store: this.#store }),
    );
  }

  /**
   * Restore the table to an earlier version (a new commit; history is kept).
   *
   * @example
   * await table.restore(3);
   * await table.restore({ timestamp: '2024-05-01 00:00:00' });
   */
  async restore(target: number | Omit<RestoreOptions, 'store'>): Promise<OperationResult<RestoreMetrics>> {
    const options = typeof target === 'number' ? { version: target } : target;
    return this.#apply(restoreTable(await this.#latest(), { ...options, store: this.#store }));
  }

  /**
   * Upsert a source by key columns (default: update matched rows from the
   * source, insert the others); clauses as in Delta's MERGE. With
   * `mergeSchema`, source columns the table lacks are added in the same commit.
   *
   * @example
   * await table.merge({ source: changedRows, on: ['customer_id'] });
   * await table.merge({ source: 'SELECT customer_id, churn_score FROM scores', on: ['customer_id'], mergeSchema: true });
   * await table.merge({
   *   source: 'SELECT * FROM cdc_feed', on: ['id'],
   *   whenMatched: [{ action: 'delete', condition: 's.op = \'D\'' }, { action: 'update' }],
   *   whenNotMatched: [{ action: 'insert', condition: 's.op <> \'D\'' }],
   * });
   */
  async merge(options: Omit<MergeOptions, 'store'>): Promise<OperationResult<MergeMetrics>> {
    return this.#apply(mergeTable(await this.#latest(), { ...options, store: this.#store }));
  }

  /**
   * Delete the rows matching a DuckDB SQL predicate (every row without one).
   *
   * @example
   * await table.delete("ts < TIMESTAMPTZ '2023-01-01 00:00:00+00'");
   */
  async delete(
    predicate?: string,
    options: Omit<DeleteOptions, 'store'> = {},
  ): Promise<OperationResult<DeleteMetrics>> {
    return this.#apply(deleteFrom(await this.#latest(), predicate, { ...options, store: this.#store }));
  }

  /**
   * Set columns of the rows matching a DuckDB SQL predicate (every row without one).
   *
   * @example
   * await table.update({ set: { score: 'score + 1' }, where: "segment = 'retail'" });
   */
  async update(options: Omit<UpdateOptions, 'store'>): Promise<OperationResult<UpdateMetrics>> {
    return this.#apply(updateTable(await this.#latest(), { ...options, store: this.#store }));
  }

  /**
   * OPTIMIZE: compact small files (optionally only in the partitions `where`
   * selects), Z-ordered by `zorderBy` or the clustering columns.
   *
   * @example
   * await table.optimize({ zorderBy: ['customer_id', 'days_since_last_transaction'] });
   */
  async optimize(options: Omit<OptimizeOptions, 'store'> = {}): Promise<OperationResult<OptimizeMetrics>> {
    return this.#apply(optimizeTable(await this.#latest(), { ...options, store: this.#store }));
  }

  /**
   * VACUUM: delete the files no version within the retention needs.
   *
   * @example
   * const { metrics } = await table.vacuum({ retentionHours: 168, dryRun: true });
   */
  async vacuum(options: Omit<VacuumOptions, 'store'> = {}): Promise<OperationResult<VacuumMetrics>> {
    return this.#apply(vacuumTable(await this.#latest(), { ...options, store: this.#store }));
  }

  /**
   * ALTER TABLE … CLUSTER BY: the columns OPTIMIZE and optimized writes sort by (`[]` for none).
   *
   * @example
   * await table.clusterBy(['customer_id']);
   */
  async clusterBy(columns: readonly string[]): Promise<OperationResult<ClusteringMetrics>> {
    return this.#apply(setClusteringColumns(await this.#latest(), columns, { store: this.#store }));
  }

  /**
   * Shallow-clone the version `source` shows to a new table at `targetPath`.
   *
   * @example
   * const dev = await DeltaTable.clone(await DeltaTable.open('/data/prod/features'), '/data/dev/features');
   */
  static async clone(
    source: DeltaTable,
    targetPath: string,
    options: CloneOptions = {},
  ): Promise<DeltaTable> {
    const store = options.store ?? new LocalLogStore(targetPath);
    const { table } = await cloneTable(source.snapshot, targetPath, { ...options, store });
    return new DeltaTable(store, table);
  }

  /**
   * DESCRIBE DETAIL of the version this object shows.
   *
   * @example
   * const { numFiles, sizeInBytes } = table.describeDetail();
   */
  describeDetail(): TableDetail {
    return describeDetail(this.#snapshot);
  }

  /**
   * The rows of the version this object shows (optionally pruned and filtered).
   *
   * @example
   * const rows = await table.toRows({ predicate: { kind: 'compare', op: '=', column: 'id', value: 7 } });
   */
  toRows(options: ScanOptions = {}): Promise<Record<string, unknown>[]> {
    return readTableRows(this.#snapshot, options);
  }

  /**
   * The change data feed between two versions: the table's columns plus
   * `_change_type`, `_commit_version` and `_commit_timestamp`, in commit order.
   *
   * @example
   * const changes = await table.changes({ startVersion: 5 });
   */
  async changes(options: ChangesOptions): Promise<Record<string, unknown>[]> {
    const { sql } = await planChanges(this.#store, options);
    const connection = await connect();
    try {
      const result = await connection.runAndReadAll(`SELECT * FROM (${sql}) ORDER BY _commit_version`);
      return result.getRowObjectsJson() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
    }
  }

  /**
   * The table's history, newest first.
   *
   * @example
   * for (const h of await table.history(5)) console.log(h.version, h.operation, h.operationMetrics);
   */
  history(limit?: number): Promise<HistoryEntry[]> {
    return tableHistory(this.#store, limit);
  }

  async #latest(): Promise<Snapshot> {
    await this.refresh();
    return this.#snapshot;
  }

  async #apply<M>(operation: Promise<OperationResult<M>>): Promise<OperationResult<M>> {
    const result = await operation;
    this.#snapshot = result.table;
    return result;
  }
}
