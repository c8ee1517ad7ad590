/**
 * UPDATE: set columns of the rows matching a predicate (all rows without
 * one) to DuckDB SQL expressions over the row.
 *
 * As DELETE does, files whose partition values or stats rule the predicate
 * out are not read; in the others the matching rows are found by position,
 * leave their files through deletion vectors (or a rewrite, on tables
 * without them), and their new versions are written as new files. With the
 * change data feed on, the commit carries `update_preimage` and
 * `update_postimage` rows.
 *
 * Invariants: nothing is written before the expressions are bound against
 * the table; a value that does not convert to its column's type fails with
 * `SCHEMA_MISMATCH` naming the column, a NULL in a NOT NULL column (or a
 * broken CHECK constraint) with `CONSTRAINT_VIOLATION`; on any failure no
 * file written is left behind and the table is unchanged.
 */
import { randomUUID } from 'node:crypto';
import { connect, queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Action } from '../log/actions.js';
import { type StructField, toDuckDBType } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { filePruner, predicateFromSql, pruneContext } from '../scan/prune.js';
import { planScan } from '../scan/scan.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { writeChangeFiles } from './change-files.js';
import { discardUncommitted } from './discard-uncommitted.js';
import type { OperationResult } from './operation-result.js';
import { applyRowDeletions, FILE_COLUMN, ROW_COLUMN } from './row-deletions.js';
import { tableFileOptions, writeDataFiles } from './write-files.js';

export interface UpdateOptions {
  /** Column → DuckDB SQL expression over the row's (current) columns. */
  readonly set: Readonly<Record<string, string>>;
  /** DuckDB SQL predicate over the row: the rows to update (default: all). */
  readonly where?: string;
  readonly userMetadata?: string;
  readonly store?: LogStore;
}

/** The metrics of an update, named as Spark names them. */
export interface UpdateMetrics {
  readonly numUpdatedRows: number;
  readonly numCopiedRows: number;
  readonly numAddedFiles: number;
  readonly numRemovedFiles: number;
  readonly numAddedBytes: number;
  readonly numRemovedBytes: number;
  readonly numDeletionVectorsAdded: number;
  readonly numDeletionVectorsRemoved: number;
  readonly numAddedChangeFiles: number;
  readonly numFilesScanned: number;
  readonly numFilesTotal: number;
  readonly executionTimeMs: number;
}

/**
 * Update the rows of the table matching `options.where`.
 *
 * @example
 * const { metrics } = await updateTable(snapshot, {
 *   set: { churn_risk: "CASE WHEN days_since_last_transaction > 60 THEN 'high' ELSE churn_risk END" },
 *   where: "segment = 'retail'",
 * });
 */
export async function updateTable(
  snapshot: Snapshot,
  options: UpdateOptions,
): Promise<OperationResult<UpdateMetrics>> {
  const started = performance.now();
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  if (snapshot.properties['delta.appendOnly'] === 'true') {
    throw new LarderError(
      'CONSTRAINT_VIOLATION',
      `table ${table} is append-only (delta.appendOnly=true); its rows cannot be updated`,
      { table, feature: 'appendOnly' },
    );
  }
  const store = options.store ?? new LocalLogStore(table);
  const where = options.where?.trim() ? options.where.trim() : undefined;
  const assignments = resolveAssignments(snapshot, options.set);
  const fields = snapshot.schema.fields;
  const expressionFor = (f: StructField) => assignments.get(f.name);

  const connection = await connect();
  const id = randomUUID().replaceAll('-', '').slice(0, 12);
  const matched = `__larder_updated_${id}`;
  const written: string[] = [];
  try {
    // Bind the predicate and the expressions against the table first: errors name the table.
    const empty = await planScan(snapshot, { files: [], withRowIds: true });
    try {
      const exprs = [...assignments.values()].map((e) => `(${e})`).join(', ');
      await connection.run(`SELECT ${exprs} FROM (${empty.sql}) AS t${where ? ` WHERE ${where}` : ''}`);
    } catch (error) {
      throw new LarderError('SQL_ERROR', `UPDATE of ${table}: ${(error as Error).message}`, {
        table,
        cause: error,
      });
    }
    for (const [column, expression] of assignments) {
      const type = toDuckDBType(fields.find((f) => f.name === column)!.type);
      try {
        await connection.run(`SELECT CAST((${expression}) AS ${type}) FROM (${empty.sql}) AS t`);
      } catch (error) {
        throw mismatch(table, column, expression, type, (error as Error).message, error);
      }
    }

    const parsed = where ? await predicateFromSql(where).catch(() => undefined) : undefined;
    const candidates = parsed
      ? snapshot.files.filter(filePruner(parsed, pruneContext(snapshot)))
      : [...snapshot.files];
    const scan = await planScan(snapshot, { files: candidates, withRowIds: true });
    const columns = fields.map((f, i) => {
      const pre = `t.${sqlIdent(f.name)} AS ${sqlIdent(`__pre_${i}`)}`;
      const expression = expressionFor(f);
      const post =
        expression === undefined
          ? `t.${sqlIdent(f.name)}`
          : `TRY_CAST((${expression}) AS ${toDuckDBType(f.type)})`;
      const bad =
        expression === undefined
          ? ''
          : `, ((${expression}) IS NOT NULL AND ${post} IS NULL) AS ${sqlIdent(`__bad_${i}`)}`;
      return `${pre}, ${post} AS ${sqlIdent(`__post_${i}`)}${bad}`;
    });
    try {
      await connection.run(
        `CREATE TEMP TABLE ${matched} AS SELECT t.${FILE_COLUMN}, t.${ROW_COLUMN}, ${columns.join(', ')}
         FROM (${scan.sql}) AS t${where ? ` WHERE ${where}` : ''}`,
      );
    } catch (error) {
      throw new LarderError('SQL_ERROR', `UPDATE of ${table}: ${(error as Error).message}`, {
        table,
        cause: error,
      });
    }
    const checked = fields.flatMap((f, i) => (expressionFor(f) === undefined ? [] : [i]));
    const [counts] = await queryJson(
      connection,
      `SELECT count(*) AS n${checked.map((i) => `, count(*) FILTER (WHERE ${sqlIdent(`__bad_${i}`)}) AS ${sqlIdent(`bad${i}`)}`).join('')} FROM ${matched}`,
      `checking the updated values of ${table}`,
    );
    for (const i of checked) {
      const bad = Number(counts?.[`bad${i}`] ?? 0);
      if (bad > 0) {
        const f = fields[i]!;
        throw mismatch(
          table,
          f.name,
          expressionFor(f)!,
          toDuckDBType(f.type),
          `${bad} row(s) hold a value that does not convert`,
        );
      }
    }
    const updated = Number(counts?.n ?? 0);
    const zero: UpdateMetrics = {
      numUpdatedRows: 0,
      numCopiedRows: 0,
      numAddedFiles: 0,
      numRemovedFiles: 0,
      numAddedBytes: 0,
      numRemovedBytes: 0,
      numDeletionVectorsAdded: 0,
      numDeletionVectorsRemoved: 0,
      numAddedChangeFiles: 0,
      numFilesScanned: candidates.length,
      numFilesTotal: snapshot.files.length,
      executionTimeMs: Math.round(performance.now() - started),
    };
    if (updated === 0) return { table: snapshot, metrics: zero };

    const postImages = `SELECT ${fields.map((f, i) => `${sqlIdent(`__post_${i}`)} AS ${sqlIdent(f.name)}`).join(', ')} FROM ${matched}`;
    const preImages = `SELECT ${fields.map((f, i) => `${sqlIdent(`__pre_${i}`)} AS ${sqlIdent(f.name)}`).join(', ')} FROM ${matched}`;
    const actions: Action[] = [];
    // New rows first: NOT NULL and CHECK constraints are enforced on them before anything else is written.
    const data = await writeDataFiles({
      ...tableFileOptions(snapshot),
      connection,
      sourceSql: postImages,
    });
    for (const add of data.adds) {
      actions.push({ add });
      const local = dataFileLocalPath(table, add.path);
      if (local) written.push(local);
    }
    const deletions = await applyRowDeletions(connection, snapshot, matched);
    written.push(...deletions.writtenFiles);
    actions.push(...deletions.actions);
    let changeFiles = 0;
    if (snapshot.changeDataFeed) {
      const changes = await writeChangeFiles(
        connection,
        snapshot,
        `SELECT *, 'update_preimage' AS _change_type FROM (${preImages}) UNION ALL SELECT *, 'update_postimage' AS _change_type FROM (${postImages})`,
      );
      written.push(...changes.writtenFiles);
      for (const cdc of changes.cdc) actions.push({ cdc });
      changeFiles = changes.cdc.length;
    }
    let addedBytes = 0;
    let removedBytes = 0;
    for (const action of actions) {
      if ('add' in action) addedBytes += action.add.size;
      else if ('remove' in action) removedBytes += action.remove.size ?? 0;
    }
    const metrics: UpdateMetrics = {
      ...zero,
      numUpdatedRows: updated,
      numCopiedRows: deletions.rowsCopied,
      numAddedFiles: data.adds.length + deletions.filesAdded,
      numRemovedFiles: deletions.filesRemoved,
      numAddedBytes: addedBytes,
      numRemovedBytes: removedBytes,
      numDeletionVectorsAdded: deletions.deletionVectorsAdded,
      numDeletionVectorsRemoved: deletions.deletionVectorsRemoved,
      numAddedChangeFiles: changeFiles,
      executionTimeMs: Math.round(performance.now() - started),
    };
    const result = await new Transaction(store, snapshot, {
      operation: 'UPDATE',
      operationParameters: { predicate: JSON.stringify(where ? [where] : []) },
      operationMetrics: { ...metrics },
      readPredicate: 'all',
      readFiles: candidates.map((f) => f.path),
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
    await connection.run(`DROP TABLE IF EXISTS ${matched}`).catch(() => undefined);
    connection.closeSync();
  }
}

/** `set` keys resolved to the table's column names (case-insensitive), in schema order. */
function resolveAssignments(snapshot: Snapshot, set: Readonly<Record<string, string>>): Map<string, string> {
  const table = snapshot.root;
  const result = new Map<string, string>();
  for (const [name, expression] of Object.entries(set)) {
    const field =
      snapshot.schema.fields.find((f) => f.name === name) ??
      snapshot.schema.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
    if (!field) {
      throw new LarderError('SCHEMA_MISMATCH', `UPDATE of ${table}: the table has no column "${name}"`, {
        table,
        column: name,
        hint: `columns: ${snapshot.schema.fields.map((f) => f.name).join(', ')}`,
      });
    }
    if (result.has(field.name)) {
      throw new LarderError('INVALID_ARGUMENT', `UPDATE of ${table} sets column "${field.name}" twice`, {
        table,
        column: field.name,
      });
    }
    if (typeof expression !== 'string' || expression.trim() === '') {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `UPDATE of ${table}: no expression for column "${field.name}"`,
        {
          table,
          column: field.name,
        },
      );
    }
    result.set(field.name, expression);
  }
  if (result.size === 0) {
    throw new LarderError('INVALID_ARGUMENT', `UPDATE of ${table} needs at least one column to set`, {
      table,
    });
  }
  return result;
}

function mismatch(
  table: string,
  column: string,
  expression: string,
  type: string,
  detail: string,
  cause?: unknown,
): LarderError {
  return new LarderError(
    'SCHEMA_MISMATCH',
    `UPDATE of ${table}: the value for column "${column}" (${expression}) does not convert to ${type}: ${detail}`,
    { table, column, cause, hint: 'cast the expression to the column type' },
  );
}
