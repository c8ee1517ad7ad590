/**
 * Executors of the statements that define tables, views and schemas:
 * CREATE SCHEMA, CREATE TABLE (column list, AS SELECT, an existing
 * LOCATION, OR REPLACE), CREATE TABLE … SHALLOW CLONE, DROP TABLE,
 * CREATE VIEW, DROP VIEW, ALTER TABLE (properties, clustering).
 *
 * Invariants: everything a statement can check is checked before its first
 * write (names, types, partition and clustering columns, the query of a
 * CTAS, the clone source); when a later step fails, the steps before it are
 * undone: a table registered in the metastore is unregistered and a folder
 * the statement created is removed, so nothing is half-applied.
 */
import { access, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TableName, tableFullName } from '../../catalog/metastore.js';
import { DeltaTable } from '../../delta/delta-table.js';
import { fromDuckDBType } from '../../delta/log/schema.js';
import { changeColumnType } from '../../delta/operations/change-column-type.js';
import { type CloneMetrics, cloneTable } from '../../delta/operations/clone.js';
import { setClusteringColumns } from '../../delta/operations/clustering.js';
import { type ColumnSpec, createTable } from '../../delta/operations/create.js';
import { createOrReplaceTable } from '../../delta/operations/create-or-replace.js';
import { setTableProperties } from '../../delta/operations/set-properties.js';
import { sqlIdent } from '../../duckdb/duckdb.js';
import type { SqlResult } from '../../engine/sql-result.js';
import { LarderError } from '../../errors.js';
import { portableSource } from './portable-source.js';
import type {
  AlterClusterByStatement,
  AlterColumnTypeStatement,
  AlterSetPropertiesStatement,
  AlterUnsetPropertiesStatement,
  CloneTableStatement,
  CreateSchemaStatement,
  CreateTableStatement,
  CreateViewStatement,
  DropTableStatement,
  DropViewStatement,
} from './statement.js';
import type { StatementContext } from './statement-context.js';
import { emptyResult, metricsResult } from './statement-result.js';
import { describeQuery, findDeltaTable, requireDeltaTable, tableName } from './statement-targets.js';

/** CREATE SCHEMA|DATABASE [IF NOT EXISTS] [catalog.]schema [COMMENT '…']. */
export async function executeCreateSchema(
  statement: CreateSchemaStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const [catalog, schema] =
    statement.name.length === 2
      ? [statement.name[0]!, statement.name[1]!]
      : [context.engine.currentCatalog, statement.name[0]!];
  await context.engine.metastore.createSchema(catalog, schema, {
    ifNotExists: statement.ifNotExists,
    ...(statement.comment !== undefined ? { comment: statement.comment } : {}),
  });
  return emptyResult('CREATE');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function isDeltaTable(path: string): Promise<boolean> {
  return exists(join(path, '_delta_log'));
}

/** Canonical column names for a list of names (case-insensitive), failing on unknown ones. */
function resolveColumns(
  names: readonly string[] | undefined,
  columns: readonly { name: string }[],
  what: string,
  table: string,
): string[] {
  return (names ?? []).map((name) => {
    const column = columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (!column) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${what} column "${name}" is not a column of table ${table}`,
        {
          table,
          column: name,
        },
      );
    }
    return column.name;
  });
}

/** A LOCATION as an absolute path (relative ones are relative to the project root). */
function absoluteLocation(context: StatementContext, location: string): string {
  const path = location.startsWith('file:') ? fileURLToPath(location) : location;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new LarderError('UNSUPPORTED_FEATURE', `LOCATION ${location}: only local folders are supported`, {
      feature: 'remote LOCATION',
    });
  }
  return isAbsolute(path) ? path : resolve(context.cwd, path);
}

/** Undo a table registration and (when this statement made it) its folder. */
async function rollback(context: StatementContext, name: TableName, location: string, removeFolder: boolean) {
  await context.engine.metastore.dropTable(name).catch(() => undefined);
  if (removeFolder) await rm(location, { recursive: true, force: true }).catch(() => undefined);
}

/** CREATE [OR REPLACE] [EXTERNAL] TABLE … (all forms but CLONE). */
export async function executeCreateTable(
  statement: CreateTableStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const metastore = context.engine.metastore;
  const name = tableName(context, statement.name);
  const table = tableFullName(name);
  const existing = await metastore.getTable(name);
  if (existing && statement.ifNotExists) return emptyResult('CREATE');
  if (existing && !statement.orReplace) {
    throw new LarderError('TABLE_ALREADY_EXISTS', `table ${table} already exists`, {
      table,
      hint: 'use CREATE OR REPLACE TABLE or CREATE TABLE IF NOT EXISTS',
    });
  }
  if (!existing && (await metastore.getView(name))) {
    throw new LarderError('TABLE_ALREADY_EXISTS', `${table} is a view`, {
      table,
      hint: 'DROP VIEW it first',
    });
  }

  // Everything is validated before the first write.
  let columns: ColumnSpec[] | undefined;
  if (statement.asQuery !== undefined) {
    const described = await describeQuery(context, statement.asQuery);
    columns = described.map((c) => ({ name: c.name, type: fromDuckDBType(c.type, c.name) }));
  } else if (statement.columns) {
    columns = statement.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      ...(c.comment !== undefined ? { metadata: { comment: c.comment } } : {}),
    }));
  }
  const location =
    statement.location !== undefined
      ? absoluteLocation(context, statement.location)
      : context.engine.defaultLocation(name);
  const managed = statement.location === undefined;
  const description = statement.comment;
  const catalogProperties: Record<string, string> = {};
  if (statement.primaryKey) {
    catalogProperties['larder.primaryKey'] = JSON.stringify(statement.primaryKey.columns);
    if (statement.primaryKey.timeseries !== undefined) {
      catalogProperties['larder.timeseriesKey'] = statement.primaryKey.timeseries;
    }
  }

  if (columns === undefined) {
    // CREATE TABLE t LOCATION '…': register the Delta table already there.
    if (statement.partitionedBy || statement.clusterBy || statement.properties) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `CREATE TABLE ${table} LOCATION '${statement.location}' registers the table there as it is; PARTITIONED BY, CLUSTER BY and TBLPROPERTIES cannot change it`,
        { table, hint: 'alter the table after registering it' },
      );
    }
    if (existing) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `CREATE OR REPLACE TABLE ${table} needs a column list or AS <query>`,
        {
          table,
        },
      );
    }
    if (!(await isDeltaTable(location))) {
      throw new LarderError(
        'TABLE_NOT_FOUND',
        `there is no Delta table at ${location} to register as ${table}`,
        {
          table,
          file: location,
          hint: 'give the table a column list or AS <query> to create it',
        },
      );
    }
    await DeltaTable.open(location);
    await metastore.createTable({
      name,
      location,
      managed: false,
      ...(description !== undefined ? { description } : {}),
      properties: catalogProperties,
    });
    return emptyResult('CREATE');
  }

  const partitionColumns = resolveColumns(statement.partitionedBy, columns, 'PARTITIONED BY', table);
  const clusterColumns = resolveColumns(statement.clusterBy, columns, 'CLUSTER BY', table);
  if (!existing && (await isDeltaTable(location))) {
    throw new LarderError('TABLE_ALREADY_EXISTS', `a Delta table already exists at ${location}`, {
      table,
      file: location,
      hint: 'register it with CREATE TABLE … LOCATION and no column list, or choose another location',
    });
  }
  const portable =
    statement.asQuery !== undefined ? await portableSource(context, statement.asQuery) : undefined;
  try {
    const definition = { columns, source: portable?.sql, partitionColumns, clusterColumns };
    if (existing) return await replaceTable(context, statement, existing.location, definition);
    return await createNewTable(context, name, location, managed, catalogProperties, definition, statement);
  } finally {
    await portable?.release();
  }
}

interface TableDefinition {
  readonly columns: ColumnSpec[];
  readonly source: string | undefined;
  readonly partitionColumns: string[];
  readonly clusterColumns: string[];
}

/** Register and create a new table (with its rows for CTAS); undone entirely on failure. */
async function createNewTable(
  context: StatementContext,
  name: TableName,
  location: string,
  managed: boolean,
  catalogProperties: Record<string, string>,
  definition: TableDefinition,
  statement: CreateTableStatement,
): Promise<SqlResult> {
  const table = tableFullName(name);
  const { columns, source, partitionColumns, clusterColumns } = definition;
  const properties = { ...(statement.properties ?? {}) };
  const description = statement.comment;
  const folderExisted = await exists(location);
  await context.engine.metastore.createTable({
    name,
    location,
    managed,
    ...(description !== undefined ? { description } : {}),
    properties: catalogProperties,
  });
  try {
    let rows = 0;
    if (source !== undefined) {
      const created = await createOrReplaceTable(location, {
        schema: columns,
        partitionColumns,
        properties,
        name: table,
        ...(description !== undefined ? { description } : {}),
        source,
        clusterBy: clusterColumns,
        managed,
      });
      rows = created.metrics.numOutputRows;
    } else {
      // One commit: protocol, metadata and clustering together.
      await createTable(location, {
        schema: columns,
        partitionColumns,
        properties,
        name: table,
        ...(description !== undefined ? { description } : {}),
        clusterBy: clusterColumns,
        managed,
      });
    }
    if (source !== undefined)
      return metricsResult('CREATE', { num_affected_rows: rows, num_inserted_rows: rows });
    return emptyResult('CREATE');
  } catch (error) {
    await rollback(context, name, location, !folderExisted);
    throw error;
  }
}

/** CREATE OR REPLACE TABLE over an existing registered table: one commit, history kept. */
async function replaceTable(
  context: StatementContext,
  statement: CreateTableStatement,
  location: string,
  definition: TableDefinition,
): Promise<SqlResult> {
  const target = await requireDeltaTable(context, statement.name);
  if (statement.location !== undefined && absoluteLocation(context, statement.location) !== location) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `CREATE OR REPLACE TABLE ${target.entry.fullName}: the table lives at ${location}, not at ${statement.location}`,
      { table: target.entry.fullName },
    );
  }
  const { metrics } = await createOrReplaceTable(location, {
    schema: definition.columns,
    partitionColumns: definition.partitionColumns,
    properties: statement.properties ?? {},
    name: target.entry.fullName,
    ...(statement.comment !== undefined ? { description: statement.comment } : {}),
    ...(definition.source !== undefined ? { source: definition.source } : {}),
    replacing: target.table.snapshot,
    clusterBy: definition.clusterColumns,
    managed: target.entry.managed,
    store: target.table.store,
  });
  if (definition.source !== undefined) {
    return metricsResult('CREATE', {
      num_affected_rows: metrics.numOutputRows,
      num_inserted_rows: metrics.numOutputRows,
    });
  }
  return emptyResult('CREATE');
}

/** CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t SHALLOW CLONE src [VERSION|TIMESTAMP AS OF …] [LOCATION …]. */
export async function executeClone(
  statement: CloneTableStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const metastore = context.engine.metastore;
  const name = tableName(context, statement.name);
  const table = tableFullName(name);
  const source = await requireDeltaTable(context, statement.source);
  const existing = await metastore.getTable(name);
  if (existing && statement.ifNotExists) return emptyResult('CREATE');
  if (existing && !statement.orReplace) {
    throw new LarderError('TABLE_ALREADY_EXISTS', `table ${table} already exists`, {
      table,
      hint: 'use CREATE OR REPLACE TABLE … SHALLOW CLONE',
    });
  }
  const at = statement.at;
  const sourceSnapshot = at
    ? (await DeltaTable.open(source.table.path, { ...at, store: source.table.store })).snapshot
    : source.table.snapshot;
  const location = existing
    ? existing.location
    : statement.location !== undefined
      ? absoluteLocation(context, statement.location)
      : context.engine.defaultLocation(name);
  if (location === source.table.path) {
    throw new LarderError('INVALID_ARGUMENT', `a table cannot be cloned onto itself (${location})`, {
      table,
    });
  }
  if (!existing && (await isDeltaTable(location))) {
    throw new LarderError('TABLE_ALREADY_EXISTS', `a Delta table already exists at ${location}`, {
      table,
      file: location,
    });
  }
  const folderExisted = await exists(location);
  if (!existing) {
    await metastore.createTable({
      name,
      location,
      managed: statement.location === undefined,
      ...(statement.comment !== undefined ? { description: statement.comment } : {}),
    });
  }
  try {
    const { metrics } = await cloneTable(sourceSnapshot, location, {
      ...(statement.properties ? { properties: statement.properties } : {}),
      replace: existing !== undefined,
    });
    return metricsResult('CREATE', cloneMetrics(metrics));
  } catch (error) {
    if (!existing) await rollback(context, name, location, !folderExisted);
    throw error;
  }
}

/** Databricks' CLONE result columns, from the operation's metrics. */
function cloneMetrics(metrics: CloneMetrics): Record<string, number> {
  return {
    source_table_size: metrics.sourceTableSize,
    source_num_of_files: metrics.sourceNumOfFiles,
    num_removed_files: metrics.numRemovedFiles,
    num_copied_files: metrics.numCopiedFiles,
    removed_files_size: metrics.removedFilesSize,
    copied_files_size: metrics.copiedFilesSize,
  };
}

/** DROP TABLE [IF EXISTS] t: a managed table's folder is deleted; an external one is only unregistered. */
export async function executeDropTable(
  statement: DropTableStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const metastore = context.engine.metastore;
  const name = tableName(context, statement.name);
  const entry = await metastore.getTable(name);
  if (!entry) {
    if (statement.name.length === 1) return context.engine.query(statement);
    if (statement.ifExists) return emptyResult('DROP');
    if (await metastore.getView(name)) {
      throw new LarderError('TABLE_NOT_FOUND', `${tableFullName(name)} is a view`, {
        table: tableFullName(name),
        hint: 'use DROP VIEW',
      });
    }
    throw new LarderError('TABLE_NOT_FOUND', `table ${tableFullName(name)} does not exist`, {
      table: tableFullName(name),
    });
  }
  await metastore.dropTable(name);
  if (entry.managed) {
    try {
      await rm(entry.location, { recursive: true, force: true });
    } catch (error) {
      throw new LarderError(
        'IO_ERROR',
        `table ${entry.fullName} was dropped, but its folder ${entry.location} could not be deleted: ${(error as Error).message}`,
        {
          table: entry.fullName,
          file: entry.location,
          cause: error,
        },
      );
    }
  }
  return emptyResult('DROP');
}

/**
 * CREATE [OR REPLACE] [TEMP] VIEW v [(cols)] AS query: validated, then stored
 * in the metastore. A temporary view is stored the same way (so every
 * statement of the session reads it like any view) and dropped when the
 * session closes; it never replaces a permanent view.
 */
export async function executeCreateView(
  statement: CreateViewStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const metastore = context.engine.metastore;
  const name = tableName(context, statement.name);
  const existing = await metastore.getView(name);
  if (statement.ifNotExists && existing) return emptyResult('CREATE');
  const ours = context.temporaryViews.has(tableFullName(name));
  if (statement.temporary && existing && !ours) {
    throw new LarderError(
      'VIEW_ALREADY_EXISTS',
      `a permanent view ${tableFullName(name)} exists; a temporary view cannot replace it`,
      {
        table: tableFullName(name),
        hint: 'give the temporary view another name',
      },
    );
  }
  const sql = statement.columns
    ? `SELECT * FROM (\n${statement.query}\n) AS __larder_view(${statement.columns.map(sqlIdent).join(', ')})`
    : statement.query;
  const columns = await describeQuery(context, sql);
  if (statement.columns && statement.columns.length !== columns.length) {
    throw new LarderError(
      'SCHEMA_MISMATCH',
      `view ${tableFullName(name)} names ${statement.columns.length} columns but its query has ${columns.length}`,
      { table: tableFullName(name) },
    );
  }
  await metastore.createView({ name, sql, orReplace: statement.orReplace || (statement.temporary && ours) });
  if (statement.temporary) context.temporaryViews.set(tableFullName(name), name);
  else context.temporaryViews.delete(tableFullName(name));
  return emptyResult('CREATE');
}

/** DROP VIEW [IF EXISTS] v. */
export async function executeDropView(
  statement: DropViewStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const name = tableName(context, statement.name);
  const dropped = await context.engine.metastore.dropView(name);
  context.temporaryViews.delete(tableFullName(name));
  if (dropped) return emptyResult('DROP');
  if (statement.name.length === 1) return context.engine.query(statement);
  if (statement.ifExists) return emptyResult('DROP');
  throw new LarderError('VIEW_NOT_FOUND', `view ${tableFullName(name)} does not exist`, {
    table: tableFullName(name),
  });
}

/** ALTER TABLE t SET TBLPROPERTIES (…) / UNSET TBLPROPERTIES [IF EXISTS] (…). */
export async function executeAlterProperties(
  statement: AlterSetPropertiesStatement | AlterUnsetPropertiesStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  await setTableProperties(
    target.table.snapshot,
    statement.kind === 'alterSetProperties'
      ? { set: statement.properties, store: target.table.store }
      : { unset: statement.keys, ifExists: statement.ifExists, store: target.table.store },
  );
  return emptyResult('ALTER');
}

/** ALTER TABLE t ALTER COLUMN c TYPE t: type widening, a metadata-only commit. */
export async function executeAlterColumnType(
  statement: AlterColumnTypeStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement.text);
  await changeColumnType(target.table.snapshot, statement.column, statement.type, {
    store: target.table.store,
  });
  return emptyResult('ALTER');
}

/** ALTER TABLE t CLUSTER BY (cols) | CLUSTER BY NONE. */
export async function executeAlterClusterBy(
  statement: AlterClusterByStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  await setClusteringColumns(target.table.snapshot, statement.columns, { store: target.table.store });
  return emptyResult('ALTER');
}
