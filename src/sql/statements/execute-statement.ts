/**
 * Running one parsed Larder SQL statement in a session: one executor per
 * statement kind (grouped in `execute-definition.ts`, `execute-writes.ts`,
 * `execute-maintenance.ts`, `execute-describe.ts`), and the small ones here
 * (USE, SET/RESET, EXPLAIN, CREATE CATALOG, and DuckDB SQL handed to the
 * engine).
 *
 * Invariant: every statement answers a `SqlResult`; a statement whose
 * parsing was deferred (a one-part name that might be a DuckDB table) fails
 * with its parse error when the name turns out to be a Delta table, and
 * runs as DuckDB SQL otherwise.
 */

import type { SqlResult } from '../../engine/sql-result.js';
import { LarderError } from '../../errors.js';
import {
  executeAlterClusterBy,
  executeAlterColumnType,
  executeAlterProperties,
  executeClone,
  executeCreateSchema,
  executeCreateTable,
  executeCreateView,
  executeDropTable,
  executeDropView,
} from './execute-definition.js';
import {
  executeDescribeDetail,
  executeDescribeHistory,
  executeDescribeTable,
  executeShowCatalogs,
  executeShowSchemas,
  executeShowTables,
  executeShowTblProperties,
  executeShowViews,
} from './execute-describe.js';
import { executeOptimize, executeRestore, executeVacuum } from './execute-maintenance.js';
import {
  executeDelete,
  executeInsert,
  executeMerge,
  executeTruncate,
  executeUpdate,
} from './execute-writes.js';
import type { Statement, UseStatement } from './statement.js';
import type { StatementContext } from './statement-context.js';
import { emptyResult, result } from './statement-result.js';
import { findDeltaTable } from './statement-targets.js';

/**
 * Run `statement` in the session `context`.
 *
 * @example
 * for (const statement of parseScript(sql)) results.push(await executeStatement(statement, context));
 */
export async function executeStatement(statement: Statement, context: StatementContext): Promise<SqlResult> {
  switch (statement.kind) {
    case 'query':
      if (statement.deferredError && (await findDeltaTable(context, statement.deferredError.name))) {
        throw statement.deferredError.error;
      }
      return context.engine.query(statement.query);
    case 'explain':
      return context.engine.explain(statement.query, statement.mode);
    case 'set':
    case 'reset':
      return context.settings.execute(statement, (sql) => context.engine.query(sql));
    case 'use':
      return executeUse(statement, context);
    case 'createCatalog':
      return result(
        'CREATE',
        [['note', 'VARCHAR']],
        [
          [
            `catalog ${statement.name.toLowerCase()} is created with its first schema (CREATE SCHEMA ${statement.name.toLowerCase()}.<schema>)`,
          ],
        ],
      );
    case 'createSchema':
      return executeCreateSchema(statement, context);
    case 'showCatalogs':
      return executeShowCatalogs(statement, context);
    case 'showSchemas':
      return executeShowSchemas(statement, context);
    case 'showTables':
      return executeShowTables(statement, context);
    case 'showViews':
      return executeShowViews(statement, context);
    case 'createTable':
      return executeCreateTable(statement, context);
    case 'cloneTable':
      return executeClone(statement, context);
    case 'createView':
      return executeCreateView(statement, context);
    case 'dropTable':
      return executeDropTable(statement, context);
    case 'dropView':
      return executeDropView(statement, context);
    case 'truncate':
      return executeTruncate(statement, context);
    case 'insert':
      return executeInsert(statement, context);
    case 'merge':
      return executeMerge(statement, context);
    case 'update':
      return executeUpdate(statement, context);
    case 'delete':
      return executeDelete(statement, context);
    case 'describeTable':
      return executeDescribeTable(statement, context);
    case 'describeDetail':
      return executeDescribeDetail(statement, context);
    case 'describeHistory':
      return executeDescribeHistory(statement, context);
    case 'showTblProperties':
      return executeShowTblProperties(statement, context);
    case 'alterSetProperties':
    case 'alterUnsetProperties':
      return executeAlterProperties(statement, context);
    case 'alterClusterBy':
      return executeAlterClusterBy(statement, context);
    case 'alterColumnType':
      return executeAlterColumnType(statement, context);
    case 'restore':
      return executeRestore(statement, context);
    case 'optimize':
      return executeOptimize(statement, context);
    case 'vacuum':
      return executeVacuum(statement, context);
  }
}

/** USE CATALOG c / USE SCHEMA [c.]s / USE x (a schema of the current catalog, else a catalog). */
async function executeUse(statement: UseStatement, context: StatementContext): Promise<SqlResult> {
  const engine = context.engine;
  const [first, second] = statement.name.map((p) => p.toLowerCase()) as [string, string | undefined];
  const schemasOf = async (catalog: string) =>
    (await engine.metastore.listSchemas(catalog)).map((s) => s.schema);
  if (statement.target === 'catalog') {
    engine.useCatalog(first);
    return emptyResult('USE');
  }
  if (second !== undefined) {
    engine.useSchema(first, second);
    return emptyResult('USE');
  }
  if (statement.target === 'schema' || (await schemasOf(engine.currentCatalog)).includes(first)) {
    engine.useSchema(engine.currentCatalog, first);
    return emptyResult('USE');
  }
  if ((await schemasOf(first)).length > 0) {
    engine.useCatalog(first);
    return emptyResult('USE');
  }
  throw new LarderError(
    'SCHEMA_NOT_FOUND',
    `there is no schema ${engine.currentCatalog}.${first} and no catalog ${first}`,
    {
      hint: 'create it with CREATE SCHEMA',
    },
  );
}
