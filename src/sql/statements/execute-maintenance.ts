/**
 * Executors of Delta's maintenance statements: OPTIMIZE [WHERE] [ZORDER BY],
 * VACUUM [RETAIN n HOURS] [DRY RUN] and RESTORE TABLE … TO VERSION|TIMESTAMP
 * AS OF. Results follow Databricks: OPTIMIZE answers the table path and a
 * struct of metrics, VACUUM the table path (or, for a dry run, the files it
 * would delete), RESTORE one row of metrics.
 *
 * Invariant: VACUUM honours the session's
 * `spark.databricks.delta.retentionDurationCheck.enabled` (a retention under
 * the table's minimum is refused while it is true).
 */
import { join } from 'node:path';
import { optimizeTable } from '../../delta/operations/optimize.js';
import { vacuumTable } from '../../delta/operations/vacuum.js';
import type { SqlResult } from '../../engine/sql-result.js';
import type { OptimizeStatement, RestoreStatement, VacuumStatement } from './statement.js';
import type { StatementContext } from './statement-context.js';
import { bigint, metricsResult, result, structOf } from './statement-result.js';
import { findDeltaTable, requireDeltaTable } from './statement-targets.js';

/** OPTIMIZE t [WHERE partition predicate] [ZORDER BY (cols)]. */
export async function executeOptimize(
  statement: OptimizeStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await requireDeltaTable(context, statement.name);
  const { metrics } = await optimizeTable(target.table.snapshot, {
    ...(statement.where !== undefined ? { where: statement.where } : {}),
    ...(statement.zorderBy ? { zorderBy: statement.zorderBy } : {}),
    store: target.table.store,
  });
  const { numAddedFiles, numRemovedFiles, ...rest } = metrics;
  const struct = structOf({ numFilesAdded: numAddedFiles, numFilesRemoved: numRemovedFiles, ...rest });
  return result(
    'OPTIMIZE',
    [
      ['path', 'VARCHAR'],
      ['metrics', struct.type],
    ],
    [[target.table.path, struct.value]],
  );
}

/** VACUUM t [RETAIN n HOURS] [DRY RUN]. */
export async function executeVacuum(
  statement: VacuumStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  const { metrics } = await vacuumTable(target.table.snapshot, {
    ...(statement.retainHours !== undefined ? { retentionHours: statement.retainHours } : {}),
    dryRun: statement.dryRun,
    enforceRetentionDuration: context.settings.retentionDurationCheck,
    store: target.table.store,
  });
  if (statement.dryRun) {
    return result(
      'VACUUM',
      [['path', 'VARCHAR']],
      metrics.filesDeleted.map((f) => [join(target.table.path, ...f.split('/'))]),
    );
  }
  return result(
    'VACUUM',
    [
      ['path', 'VARCHAR'],
      ['num_deleted_files', 'BIGINT'],
      ['size_of_deleted_files', 'BIGINT'],
    ],
    [[target.table.path, bigint(metrics.numDeletedFiles), bigint(metrics.sizeOfDeletedFiles)]],
  );
}

/** RESTORE [TABLE] t [TO] VERSION AS OF n | TIMESTAMP AS OF '…'. */
export async function executeRestore(
  statement: RestoreStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await requireDeltaTable(context, statement.name);
  const { metrics } = await target.table.restore(
    statement.to.version !== undefined
      ? { version: statement.to.version }
      : { timestamp: statement.to.timestamp! },
  );
  return metricsResult('RESTORE', {
    table_size_after_restore: metrics.tableSizeAfterRestore,
    num_of_files_after_restore: metrics.numOfFilesAfterRestore,
    num_removed_files: metrics.numRemovedFiles,
    num_restored_files: metrics.numRestoredFiles,
    removed_files_size: metrics.removedFilesSize,
    restored_files_size: metrics.restoredFilesSize,
  });
}
