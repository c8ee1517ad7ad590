/**
 * Resolving the tables statements act on, and describing the queries they
 * embed. A one-part name that is not a registered table may be a DuckDB
 * table of the session (a temporary table): `findDeltaTable` answers
 * undefined for it, and the statement goes to DuckDB as written.
 */
import type { TableEntry, TableName } from '../../catalog/metastore.js';
import type { DeltaTable } from '../../delta/delta-table.js';
import { sqlIdent } from '../../duckdb/duckdb.js';
import type { SqlColumn } from '../../engine/sql-result.js';
import { isLarderError } from '../../errors.js';
import type { QualifiedName } from './statement.js';
import type { StatementContext } from './statement-context.js';

/** A registered table and its Delta table, at its latest version. */
export interface DeltaTarget {
  readonly entry: TableEntry;
  readonly table: DeltaTable;
}

/** A dotted name as SQL text, quoting the parts that need it. */
export function nameText(name: QualifiedName): string {
  return name.map((part) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part) ? part : sqlIdent(part))).join('.');
}

/** The three-level name of `name` in the session (current catalog and schema filled in). */
export function tableName(context: StatementContext, name: QualifiedName): TableName {
  return context.engine.parseName(nameText(name));
}

/**
 * The registered table `name` refers to, at its latest version;
 * undefined for a one-part name that is not registered (it may be a DuckDB
 * table). Qualified names that are not registered fail with TABLE_NOT_FOUND.
 */
export async function findDeltaTable(
  context: StatementContext,
  name: QualifiedName,
): Promise<DeltaTarget | undefined> {
  try {
    return await context.engine.resolveTable(nameText(name));
  } catch (error) {
    if (name.length === 1 && isLarderError(error, 'TABLE_NOT_FOUND')) return undefined;
    throw error;
  }
}

/** The registered table `name` refers to (TABLE_NOT_FOUND when there is none). */
export async function requireDeltaTable(
  context: StatementContext,
  name: QualifiedName,
): Promise<DeltaTarget> {
  return context.engine.resolveTable(nameText(name));
}

/**
 * The columns of a query, as DuckDB binds it in the session (Larder names
 * resolved); reads no rows. Fails as the query would.
 */
export async function describeQuery(context: StatementContext, query: string): Promise<readonly SqlColumn[]> {
  const described = await context.engine.query(`SELECT * FROM (\n${query}\n) AS __larder_described LIMIT 0`);
  return described.columns;
}
