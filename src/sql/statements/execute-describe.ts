/**
 * Executors of the statements that look at tables and the catalog without
 * changing them: DESCRIBE [TABLE] [EXTENDED], DESCRIBE DETAIL, DESCRIBE
 * HISTORY, SHOW TBLPROPERTIES, SHOW CATALOGS|SCHEMAS|TABLES|VIEWS. Columns
 * and their order follow Databricks, so scripts and eyes used to it read
 * the output unchanged.
 */
import type { ListFilter } from '../../catalog/metastore.js';
import { fromDuckDBType } from '../../delta/log/schema.js';
import { clusteringColumns } from '../../delta/operations/clustering.js';
import { describeDetail } from '../../delta/operations/describe-detail.js';
import type { SqlResult } from '../../engine/sql-result.js';
import { LarderError } from '../../errors.js';
import { sparkTypeName } from './spark-types.js';
import type {
  DescribeDetailStatement,
  DescribeHistoryStatement,
  DescribeTableStatement,
  QualifiedName,
  ShowCatalogsStatement,
  ShowSchemasStatement,
  ShowTablesStatement,
  ShowTblPropertiesStatement,
  ShowViewsStatement,
} from './statement.js';
import type { StatementContext } from './statement-context.js';
import { bigint, result, stringMap, timestamptz } from './statement-result.js';
import { describeQuery, findDeltaTable, requireDeltaTable, tableName } from './statement-targets.js';

const DESCRIBE_COLUMNS = [
  ['col_name', 'VARCHAR'],
  ['data_type', 'VARCHAR'],
  ['comment', 'VARCHAR'],
] as const;

/** DESCRIBE [TABLE] [EXTENDED] t: columns, then partitioning and clustering (and details when EXTENDED). */
export async function executeDescribeTable(
  statement: DescribeTableStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const view = await context.engine.metastore.getView(tableName(context, statement.name));
  if (view) {
    const columns = await describeQuery(context, `SELECT * FROM ${view.fullName}`);
    return result(
      'DESCRIBE',
      DESCRIBE_COLUMNS,
      columns.map((c) => [c.name, sparkTypeOrDuckDB(c.type), null]),
    );
  }
  const target = await findDeltaTable(context, statement.name);
  if (!target) return context.engine.query(statement);
  const snapshot = target.table.snapshot;
  const rows: (string | null)[][] = snapshot.schema.fields.map((f) => [
    f.name,
    sparkTypeName(f.type),
    typeof f.metadata.comment === 'string' ? f.metadata.comment : null,
  ]);
  const typeOf = (name: string) => {
    const field = snapshot.schema.fields.find((f) => f.name === name);
    return field ? sparkTypeName(field.type) : null;
  };
  const section = (title: string, names: readonly string[]) => {
    if (names.length === 0) return;
    rows.push([title, '', ''], ['# col_name', 'data_type', 'comment']);
    for (const name of names) rows.push([name, typeOf(name.split('.')[0]!), null]);
  };
  section('# Partition Information', snapshot.partitionColumns);
  section('# Clustering Information', clusteringColumns(snapshot));
  if (statement.extended) {
    const entry = target.entry;
    rows.push(
      ['', '', ''],
      ['# Detailed Table Information', '', ''],
      ['Catalog', entry.name.catalog, ''],
      ['Database', entry.name.schema, ''],
      ['Table', entry.name.table, ''],
      ['Type', entry.managed ? 'MANAGED' : 'EXTERNAL', ''],
      ['Location', entry.location, ''],
      ['Provider', 'delta', ''],
      ['Version', String(snapshot.version), ''],
      ['Comment', entry.description ?? snapshot.metadata.description ?? '', ''],
      [
        'Table Properties',
        `[${Object.entries(snapshot.properties)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}]`,
        '',
      ],
    );
  }
  return result('DESCRIBE', DESCRIBE_COLUMNS, rows);
}

function sparkTypeOrDuckDB(duckType: string): string {
  try {
    return sparkTypeName(fromDuckDBType(duckType));
  } catch {
    return duckType.toLowerCase();
  }
}

/** DESCRIBE DETAIL t: one row about the table's current version (and the version it is). */
export async function executeDescribeDetail(
  statement: DescribeDetailStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await requireDeltaTable(context, statement.name);
  const snapshot = target.table.snapshot;
  const detail = describeDetail(snapshot);
  return result(
    'DESCRIBE',
    [
      ['format', 'VARCHAR'],
      ['id', 'VARCHAR'],
      ['name', 'VARCHAR'],
      ['description', 'VARCHAR'],
      ['location', 'VARCHAR'],
      ['createdAt', 'TIMESTAMP WITH TIME ZONE'],
      ['lastModified', 'TIMESTAMP WITH TIME ZONE'],
      ['partitionColumns', 'VARCHAR[]'],
      ['clusteringColumns', 'VARCHAR[]'],
      ['numFiles', 'BIGINT'],
      ['sizeInBytes', 'BIGINT'],
      ['properties', 'MAP(VARCHAR, VARCHAR)'],
      ['minReaderVersion', 'INTEGER'],
      ['minWriterVersion', 'INTEGER'],
      ['tableFeatures', 'VARCHAR[]'],
      ['version', 'BIGINT'],
    ],
    [
      [
        detail.format,
        detail.id,
        target.entry.fullName,
        target.entry.description ?? detail.description,
        detail.location,
        timestamptz(detail.createdAt?.getTime() ?? target.entry.createdAt),
        timestamptz(detail.lastModified.getTime()),
        detail.partitionColumns,
        detail.clusteringColumns,
        bigint(detail.numFiles),
        bigint(detail.sizeInBytes),
        stringMap(detail.properties),
        detail.minReaderVersion,
        detail.minWriterVersion,
        detail.tableFeatures,
        bigint(snapshot.version),
      ],
    ],
  );
}

/** DESCRIBE HISTORY t [LIMIT n]: newest first. */
export async function executeDescribeHistory(
  statement: DescribeHistoryStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await requireDeltaTable(context, statement.name);
  const history = await target.table.history(statement.limit);
  return result(
    'DESCRIBE',
    [
      ['version', 'BIGINT'],
      ['timestamp', 'TIMESTAMP WITH TIME ZONE'],
      ['operation', 'VARCHAR'],
      ['operationParameters', 'MAP(VARCHAR, VARCHAR)'],
      ['readVersion', 'BIGINT'],
      ['isolationLevel', 'VARCHAR'],
      ['isBlindAppend', 'BOOLEAN'],
      ['operationMetrics', 'MAP(VARCHAR, VARCHAR)'],
      ['userMetadata', 'VARCHAR'],
      ['engineInfo', 'VARCHAR'],
    ],
    history.map((h) => [
      bigint(h.version),
      timestamptz(h.timestamp),
      h.operation ?? null,
      stringMap(h.operationParameters),
      bigint(h.readVersion),
      h.isolationLevel ?? null,
      h.isBlindAppend ?? null,
      stringMap(h.operationMetrics),
      h.userMetadata ?? null,
      h.engineInfo ?? null,
    ]),
  );
}

/** SHOW TBLPROPERTIES t [(key)]: the table's properties, with its protocol as Databricks shows it. */
export async function executeShowTblProperties(
  statement: ShowTblPropertiesStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const target = await requireDeltaTable(context, statement.name);
  const snapshot = target.table.snapshot;
  const properties: Record<string, string> = { ...snapshot.properties };
  properties['delta.minReaderVersion'] = String(snapshot.protocol.minReaderVersion);
  properties['delta.minWriterVersion'] = String(snapshot.protocol.minWriterVersion);
  if (snapshot.protocol.minWriterVersion >= 7) {
    for (const feature of describeDetail(snapshot).tableFeatures)
      properties[`delta.feature.${feature}`] = 'supported';
  }
  const columns = [
    ['key', 'VARCHAR'],
    ['value', 'VARCHAR'],
  ] as const;
  if (statement.key !== undefined) {
    const key = Object.keys(properties).find((k) => k.toLowerCase() === statement.key!.toLowerCase());
    return result('SHOW', columns, [
      [
        statement.key,
        key !== undefined
          ? properties[key]!
          : `Table ${target.entry.fullName} does not have property: ${statement.key}`,
      ],
    ]);
  }
  return result(
    'SHOW',
    columns,
    Object.keys(properties)
      .sort()
      .map((k) => [k, properties[k]!]),
  );
}

/** A Spark `LIKE` pattern of SHOW: `*` any characters, `|` alternatives, case-insensitive. */
function likeMatcher(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined) return () => true;
  const alternatives = pattern.split('|').map(
    (p) =>
      new RegExp(
        `^${p
          .trim()
          .replace(/[.+?^${}()[\]\\]/g, '\\$&')
          .replaceAll('*', '.*')}$`,
        'i',
      ),
  );
  return (name) => alternatives.some((re) => re.test(name));
}

/** The catalog and schema a SHOW … IN names (or the current ones). */
function schemaFilter(context: StatementContext, name: QualifiedName | undefined): Required<ListFilter> {
  if (name === undefined)
    return { catalog: context.engine.currentCatalog, schema: context.engine.currentSchema };
  if (name.length === 1) return { catalog: context.engine.currentCatalog, schema: name[0]!.toLowerCase() };
  if (name.length === 2) return { catalog: name[0]!.toLowerCase(), schema: name[1]!.toLowerCase() };
  throw new LarderError('INVALID_ARGUMENT', `${name.join('.')} is not a schema name (catalog.schema)`);
}

/** SHOW TABLES [IN [catalog.]schema] [LIKE '…']: tables and views of a schema. */
export async function executeShowTables(
  statement: ShowTablesStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const filter = schemaFilter(context, statement.schema);
  const matches = likeMatcher(statement.like);
  const tables = await context.engine.metastore.listTables(filter);
  const views = await context.engine.metastore.listViews(filter);
  const names = [...tables.map((t) => t.name.table), ...views.map((v) => v.name.table)]
    .filter(matches)
    .sort();
  return result(
    'SHOW',
    [
      ['database', 'VARCHAR'],
      ['tableName', 'VARCHAR'],
      ['isTemporary', 'BOOLEAN'],
    ],
    names.map((n) => [filter.schema, n, false]),
  );
}

/** SHOW VIEWS [IN [catalog.]schema] [LIKE '…']. */
export async function executeShowViews(
  statement: ShowViewsStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const filter = schemaFilter(context, statement.schema);
  const matches = likeMatcher(statement.like);
  const views = await context.engine.metastore.listViews(filter);
  return result(
    'SHOW',
    [
      ['namespace', 'VARCHAR'],
      ['viewName', 'VARCHAR'],
      ['isTemporary', 'BOOLEAN'],
    ],
    views.filter((v) => matches(v.name.table)).map((v) => [filter.schema, v.name.table, false]),
  );
}

/** SHOW SCHEMAS|DATABASES [IN catalog] [LIKE '…']. */
export async function executeShowSchemas(
  statement: ShowSchemasStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const catalog = (statement.catalog ?? context.engine.currentCatalog).toLowerCase();
  const matches = likeMatcher(statement.like);
  const schemas = await context.engine.metastore.listSchemas(catalog);
  return result(
    'SHOW',
    [['databaseName', 'VARCHAR']],
    schemas.filter((s) => matches(s.schema)).map((s) => [s.schema]),
  );
}

/** SHOW CATALOGS: the catalogs that hold schemas. */
export async function executeShowCatalogs(
  _statement: ShowCatalogsStatement,
  context: StatementContext,
): Promise<SqlResult> {
  const schemas = await context.engine.metastore.listSchemas();
  const catalogs = [...new Set([context.engine.currentCatalog, ...schemas.map((s) => s.catalog)])].sort();
  return result(
    'SHOW',
    [['catalog', 'VARCHAR']],
    catalogs.map((c) => [c]),
  );
}
