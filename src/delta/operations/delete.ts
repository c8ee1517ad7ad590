/**
 * DELETE: remove the rows matching a predicate (DuckDB SQL over the table's
 * columns), or every row without one.
 *
 * Files whose partition values or stats rule the predicate out are not read;
 * in the others only the matching rows' positions are found, and they leave
 * through deletion vectors (or a rewrite on tables without them); a file
 * that loses every row is simply removed.
 *
 * Invariants: the predicate is bound against the table before anything is
 * written (a bad column is a `SQL_ERROR` naming the table); with the change
 * data feed on, the deleted rows go to `_change_data/` as `delete` rows;
 * nothing is left referenced on failure.
 */
import { randomUUID } from 'node:crypto';
import { connect, queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Action } from '../log/actions.js';
import type { Snapshot } from '../log/snapshot.js';
import { filePruner, predicateFromSql, pruneContext } from '../scan/prune.js';
import { planScan } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { writeChangeFiles } from './change-files.js';
import { discardUncommitted } from './discard-uncommitted.js';
import type { OperationResult } from './operation-result.js';
import { applyRowDeletions } from './row-deletions.js';
import { removeOf } from './write.js';

export interface DeleteOptions {
  readonly userMetadata?: string;
  readonly store?: LogStore;
}

export interface DeleteMetrics {
  readonly numDeletedRows: number;
  readonly numRemovedFiles: number;
  readonly numAddedFiles: number;
  readonly numDeletionVectorsAdded: number;
  readonly numDeletionVectorsRemoved: number;
  readonly numCopiedRows: number;
  readonly numAddedChangeFiles: number;
  readonly numFilesScanned: number;
  readonly numFilesTotal: number;
  readonly executionTimeMs: number;
}

/**
 * Delete the rows of the table matching `predicate` (all rows when omitted).
 *
 * @example
 * const { metrics } = await deleteFrom(snapshot, "event_date < DATE '2024-01-01'");
 */
export async function deleteFrom(
  snapshot: Snapshot,
  predicate?: string,
  options: DeleteOptions = {},
): Promise<OperationResult<DeleteMetrics>> {
  const started = performance.now();
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  const store = options.store ?? new LocalLogStore(table);
  const where = predicate?.trim() ? predicate.trim() : undefined;
  const connection = await connect();
  const id = randomUUID().replaceAll('-', '').slice(0, 12);
  const deleted = `__larder_deleted_${id}`;
  const written: string[] = [];
  try {
    const actions: Action[] = [];
    let metrics: DeleteMetrics;
    let readFiles: string[] = [];
    if (!where) {
      const now = Date.now();
      for (const file of snapshot.files) actions.push({ remove: removeOf(file, now) });
      metrics = {
        numDeletedRows: snapshot.numRecords ?? 0,
        numRemovedFiles: snapshot.files.length,
        numAddedFiles: 0,
        numDeletionVectorsAdded: 0,
        numDeletionVectorsRemoved: snapshot.files.filter((f) => f.deletionVector).length,
        numCopiedRows: 0,
        numAddedChangeFiles: 0,
        numFilesScanned: 0,
        numFilesTotal: snapshot.files.length,
        executionTimeMs: 0,
      };
    } else {
      // Bind the predicate against the table's columns first: errors name the table.
      const empty = await planScan(snapshot, { files: [], withRowIds: true });
      try {
        await connection.run(`SELECT count(*) FROM (${empty.sql}) AS t WHERE ${where}`);
      } catch (error) {
        throw new LarderError('SQL_ERROR', `DELETE on ${table}: ${(error as Error).message}`, {
          table,
          cause: error,
        });
      }
      const parsed = await predicateFromSql(where).catch(() => undefined);
      const candidates = parsed
        ? snapshot.files.filter(filePruner(parsed, pruneContext(snapshot)))
        : [...snapshot.files];
      readFiles = candidates.map((f) => f.path);
      const scan = await planScan(snapshot, { files: candidates, withRowIds: true });
      await connection.run(`CREATE TEMP TABLE ${deleted} AS SELECT * FROM (${scan.sql}) AS t WHERE ${where}`);
      const count = Number((await queryJson(connection, `SELECT count(*) AS n FROM ${deleted}`))[0]?.n ?? 0);
      let rowDeletions: Awaited<ReturnType<typeof applyRowDeletions>> | undefined;
      let changeFiles = 0;
      if (count > 0) {
        rowDeletions = await applyRowDeletions(connection, snapshot, deleted);
        written.push(...rowDeletions.writtenFiles);
        actions.push(...rowDeletions.actions);
        if (snapshot.changeDataFeed) {
          const columns = snapshot.schema.fields.map((f) => sqlIdent(f.name)).join(', ');
          const changes = await writeChangeFiles(
            connection,
            snapshot,
            `SELECT ${columns}, 'delete' AS _change_type FROM ${deleted}`,
          );
          written.push(...changes.writtenFiles);
          for (const cdc of changes.cdc) actions.push({ cdc });
          changeFiles = changes.cdc.length;
        }
      }
      metrics = {
        numDeletedRows: count,
        numRemovedFiles: rowDeletions?.filesRemoved ?? 0,
        numAddedFiles: rowDeletions?.filesAdded ?? 0,
        numDeletionVectorsAdded: rowDeletions?.deletionVectorsAdded ?? 0,
        numDeletionVectorsRemoved: rowDeletions?.deletionVectorsRemoved ?? 0,
        numCopiedRows: rowDeletions?.rowsCopied ?? 0,
        numAddedChangeFiles: changeFiles,
        numFilesScanned: candidates.length,
        numFilesTotal: snapshot.files.length,
        executionTimeMs: 0,
      };
    }
    metrics = { ...metrics, executionTimeMs: Math.round(performance.now() - started) };
    if (actions.length === 0) return { table: snapshot, metrics };
    const result = await new Transaction(store, snapshot, {
      operation: 'DELETE',
      operationParameters: { predicate: JSON.stringify(where ? [where] : []) },
      operationMetrics: metrics as unknown as Record<string, unknown>,
      readPredicate: 'all',
      readFiles,
      isBlindAppend: false,
      isolationLevel: 'Serializable',
      userMetadata: options.userMetadata,
    })
      .addActions(...actions)
      .commit();
    return { table: result.snapshot, metrics };
  } catch (error) {
    await discardUncommitted(written, error);
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${deleted}`).catch(() => undefined);
    connection.closeSync();
  }
}
