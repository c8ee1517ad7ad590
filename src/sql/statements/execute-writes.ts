/**
 * Executors of the statements that change a table's rows: INSERT INTO,
 * INSERT OVERWRITE, MERGE INTO, UPDATE, DELETE FROM and TRUNCATE TABLE on
 * Delta tables. Each is one Delta operation (one commit) and returns one
 * row of metrics, named as Databricks names them (`num_affected_rows`, …).
 *
 * Statements about a one-part name that is not a registered table go to
 * DuckDB unchanged (they may be about a DuckDB temporary table).
 *
 * Invariants: embedded queries, and the subqueries of conditions and
 * values, are rewritten once per statement with one rewriter (Larder names
 * become scans of the snapshots it takes, the same for every part) and
 * bound before the operation starts; MERGE conditions and expressions are
 * translated from the user's aliases to `t` (target) and `s` (source) with
 * the tokenizer, never by text search; UPDATE and DELETE conditions lose the
 * table's own qualifier, except inside subqueries, where it becomes `t` (the
 * operations read the table as `t`) so that correlated columns stay outer.
 */
import type { DataType } from '../../delta/log/schema.js';
import { toDuckDBType } from '../../delta/log/schema.js';
import type { MergeDelete, MergeInsert, MergeMetrics, MergeUpdate } from '../../delta/operations/merge.js';
import { updateTable } from '../../delta/operations/update.js';
import { sqlIdent } from '../../duckdb/duckdb.js';
import type { SqlResult } from '../../engine/sql-result.js';
import type { StatementRewriter } from '../../engine/statement-rewriter.js';
import { LarderError } from '../../errors.js';
import { portableSource } from './portable-source.js';
import { type QualifierRule, qualifiersOf, requalify, splitKeyEqualities } from './qualified-references.js';
import type {
  Assignment,
  DeleteStatement,
  InsertStatement,
  MergeStatement,
  QualifiedName,
  TruncateStatement,
  UpdateStatement,
} from './statement.js';
import type { StatementContext } from './statement-context.js';
import { metricsResult } from './statement-result.js';
import { type DeltaTarget, describeQuery, findDeltaTable } from './statement-targets.js';

/** The table column named `name` (case-insensitively), or a SCHEMA_MISMATCH naming it. */
function tableColumn(target: DeltaTarget, name: string): { name: string; type: DataType } {
  const field = target.table.snapshot.schema.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
  if (!field) {
    throw new LarderError(
      'SCHEMA_MISMATCH',
      `column "${name}" is not a column of table ${target.entry.fullName}`,
      {
        table: target.entry.fullName,
        column: name,
      },
    );
  }
  return field;
}

/** INSERT INTO|OVERWRITE t [(cols)] [BY NAME] query. Columns go by position unless BY NAME. */
export async function executeInsert(
  statement: InsertStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  const table = target.entry.fullName;
  let columns: readonly { name: string; type: DataType }[] | undefined;
  if (!statement.byName) {
    const described = await describeQuery(context, statement.query);
    columns = statement.columns
      ? statement.columns.map((c) => tableColumn(target, c))
      : target.table.snapshot.schema.fields.filter((f) => f.type !== 'void');
    if (new Set(columns.map((c) => c.name)).size !== columns.length) {
      throw new LarderError('INVALID_ARGUMENT', `INSERT INTO ${table} lists a column twice`, { table });
    }
    if (described.length !== columns.length) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `INSERT INTO ${table}: the query gives ${described.length} columns, the ${statement.columns ? 'column list names' : 'table has'} ${columns.length}`,
        { table, hint: 'list the columns to insert: INSERT INTO t (a, b) SELECT …, or use BY NAME' },
      );
    }
  }
  const portable = await portableSource(context, statement.query);
  try {
    let source = portable.sql;
    if (columns) {
      // By position, with the table's types (as Spark's store assignment casts them).
      const positional = columns.map((_, i) => sqlIdent(`__larder_c${i}`));
      source = `SELECT ${columns
        .map((c, i) => `CAST(${positional[i]} AS ${toDuckDBType(c.type)}) AS ${sqlIdent(c.name)}`)
        .join(', ')} FROM (\n${source}\n) AS __larder_insert(${positional.join(', ')})`;
    }
    const options = context.settings.writeFlags;
    const { metrics } = statement.overwrite
      ? await target.table.overwrite(source, options)
      : await target.table.append(source, options);
    return metricsResult('INSERT', {
      num_affected_rows: metrics.numOutputRows,
      num_inserted_rows: metrics.numOutputRows,
    });
  } finally {
    await portable.release();
  }
}

/** The column an assignment sets: its qualifier, if any, must name the target. */
function assignedColumn(
  target: DeltaTarget,
  column: QualifiedName,
  qualifiers: readonly (readonly string[])[],
  what: string,
): string {
  const name = column.at(-1)!;
  if (column.length > 1) {
    const qualifier = column.slice(0, -1).map((p) => p.toLowerCase());
    const ok = qualifiers.some(
      (q) => q.length === qualifier.length && q.every((part, i) => part.toLowerCase() === qualifier[i]),
    );
    if (!ok) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${what}: ${column.join('.')} does not name a column of the target table ${target.entry.fullName}`,
        { table: target.entry.fullName, column: column.join('.') },
      );
    }
  }
  return tableColumn(target, name).name;
}

function assignments(
  target: DeltaTarget,
  set: readonly Assignment[],
  qualifiers: readonly (readonly string[])[],
  rules: readonly QualifierRule[],
  what: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const assignment of set) {
    const column = assignedColumn(target, assignment.column, qualifiers, what);
    if (column in out) {
      throw new LarderError('INVALID_ARGUMENT', `${what} sets column "${column}" twice`, {
        table: target.entry.fullName,
        column,
      });
    }
    out[column] = requalify(assignment.expression, rules);
  }
  return out;
}

/** `expression` with the Larder names of its subqueries rewritten to scans. */
async function rewritten(rewriter: StatementRewriter, expression: string): Promise<string> {
  return (await rewriter.rewriteExpression(expression)).sql;
}

/** Every value of `values` rewritten (see `rewritten`). */
async function rewrittenValues(
  rewriter: StatementRewriter,
  values: Record<string, string>,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [column, expression] of Object.entries(values))
    out[column] = await rewritten(rewriter, expression);
  return out;
}

/** MERGE INTO t [AS a] USING src [AS b] ON … WHEN [NOT] MATCHED … */
export async function executeMerge(statement: MergeStatement, context: StatementContext): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.target);
  if (!target) return context.engine.query(statement);
  const targetQualifiers = qualifiersOf(statement.target, statement.targetAlias);
  const sourceQualifiers =
    statement.source.kind === 'table'
      ? qualifiersOf(statement.source.name, statement.sourceAlias)
      : statement.sourceAlias !== undefined
        ? [[statement.sourceAlias]]
        : [];
  const rules: QualifierRule[] = [
    { qualifiers: targetQualifiers, replacement: 't' },
    { qualifiers: sourceQualifiers, replacement: 's' },
  ];
  const sourceQuery =
    statement.source.kind === 'table' ? `SELECT * FROM ${statement.source.text}` : statement.source.query;
  const rewriter = context.engine.statementRewriter();
  const split = splitKeyEqualities(requalify(statement.on, rules));
  const keys = split.keys;
  const rest = split.rest === undefined ? undefined : await rewritten(rewriter, split.rest);
  const whenMatched: (MergeUpdate | MergeDelete)[] = [];
  const whenNotMatched: MergeInsert[] = [];
  for (const clause of statement.clauses) {
    const condition =
      clause.condition !== undefined
        ? { condition: await rewritten(rewriter, requalify(clause.condition, rules)) }
        : {};
    if (clause.when === 'matched' && clause.action === 'delete')
      whenMatched.push({ action: 'delete', ...condition });
    else if (clause.when === 'matched' && clause.action === 'update') {
      whenMatched.push({
        action: 'update',
        ...condition,
        ...(clause.set
          ? {
              set: await rewrittenValues(
                rewriter,
                assignments(target, clause.set, targetQualifiers, rules, 'MERGE … UPDATE SET'),
              ),
            }
          : {}),
      });
    } else if (clause.when === 'notMatched') {
      let values: Record<string, string> | undefined;
      if (clause.columns && clause.values) {
        values = await rewrittenValues(
          rewriter,
          assignments(
            target,
            clause.columns.map((column, i) => ({ column, expression: clause.values![i]! })),
            targetQualifiers,
            rules,
            'MERGE … INSERT',
          ),
        );
      }
      whenNotMatched.push({ action: 'insert', ...condition, ...(values ? { values } : {}) });
    }
  }
  const source = await portableSource(context, sourceQuery, rewriter);
  let metrics: MergeMetrics;
  try {
    ({ metrics } = await target.table.merge({
      source: source.sql,
      on: keys,
      ...(rest !== undefined ? { onCondition: rest } : {}),
      whenMatched,
      whenNotMatched,
    }));
  } finally {
    await source.release();
  }
  return metricsResult('MERGE', {
    num_affected_rows:
      metrics.numTargetRowsUpdated + metrics.numTargetRowsDeleted + metrics.numTargetRowsInserted,
    num_updated_rows: metrics.numTargetRowsUpdated,
    num_deleted_rows: metrics.numTargetRowsDeleted,
    num_inserted_rows: metrics.numTargetRowsInserted,
  });
}

/**
 * Rules that drop the table's own qualifiers (alias or name) from column
 * references, and make them `t` inside subqueries (UPDATE and DELETE read
 * the table as `t`), where an unqualified name would bind to the subquery.
 */
function ownQualifierRules(name: QualifiedName, alias: string | undefined): QualifierRule[] {
  return [{ qualifiers: qualifiersOf(name, alias), replacement: '', nested: 't' }];
}

/** UPDATE t [AS a] SET c = expr, … [WHERE …]. */
export async function executeUpdate(
  statement: UpdateStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  const rules = ownQualifierRules(statement.name, statement.alias);
  const rewriter = context.engine.statementRewriter();
  const set = await rewrittenValues(
    rewriter,
    assignments(target, statement.set, qualifiersOf(statement.name, statement.alias), rules, 'UPDATE … SET'),
  );
  const where =
    statement.where !== undefined ? await rewritten(rewriter, requalify(statement.where, rules)) : undefined;
  const { metrics } = await updateTable(target.table.snapshot, {
    set,
    ...(where !== undefined ? { where } : {}),
    store: target.table.store,
  });
  return metricsResult('UPDATE', { num_affected_rows: metrics.numUpdatedRows });
}

/** DELETE FROM t [AS a] [WHERE …]. */
export async function executeDelete(
  statement: DeleteStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  const where =
    statement.where !== undefined
      ? await rewritten(
          context.engine.statementRewriter(),
          requalify(statement.where, ownQualifierRules(statement.name, statement.alias)),
        )
      : undefined;
  const { metrics } = await target.table.delete(where);
  return metricsResult('DELETE', { num_affected_rows: metrics.numDeletedRows });
}

/** TRUNCATE TABLE t: every row removed, history kept. */
export async function executeTruncate(
  statement: TruncateStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  const { metrics } = await target.table.delete();
  return metricsResult('TRUNCATE', { num_affected_rows: metrics.numDeletedRows });
}
