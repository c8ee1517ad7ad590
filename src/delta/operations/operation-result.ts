/**
 * What every table operation returns: the table right after its commit and
 * the metrics that went into the commit's `commitInfo.operationMetrics`.
 */
import type { Snapshot } from '../log/snapshot.js';

/**
 * @example
 * const { table, metrics } = await writeTable(snapshot, rows, { mode: 'append' });
 * console.log(table.version, metrics.numOutputRows);
 */
export interface OperationResult<M> {
  /** The table after the operation. */
  readonly table: Snapshot;
  readonly metrics: M;
}
