/**
 * `larder plan`: compare a validated config with the catalog and say what
 * `larder apply` would do to each feature table — create it, update its
 * catalog entry (listing each field with its old and new value), leave it
 * unchanged, or remove it (a table the config created and no longer
 * declares; only with `--prune`) — and every problem that stops it.
 *
 * What it checks beyond validation (it needs files, the catalog and DuckDB):
 * sources exist; each pipeline's SQL binds over its sources (its output
 * columns, found without reading a row, by `describePipelineOutput`); the
 * primary keys, timeseries, partition and cluster columns are output
 * columns; declared feature types equal the output's ("type clash");
 * existing tables keep their primary keys, timeseries and partition
 * columns (those need a new table) and their column types. Columns the
 * output adds or no longer has are warnings: the next run of the pipeline
 * adds or drops them (a full run makes the table's columns the output's).
 *
 * Invariants: planning writes nothing (no catalog entry, no table, no file
 * beyond the catalog database the engine opens); the plan is plain data
 * (JSON-serialisable), in the config's order, removals last.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TableEntry, TableName } from '../catalog/metastore.js';
import { queryJson, sqlString } from '../duckdb/duckdb.js';
import type { Engine } from '../engine/engine.js';
import { isLarderError } from '../errors.js';
import { deltaTypeName } from '../features/feature-table.js';
import { describePipelineOutput, type OutputColumn } from '../pipelines/describe-pipeline-output.js';
import { pipelineLineage } from '../pipelines/ensure-output-table.js';
import type { FeatureTableConfig, LarderConfig, PipelineConfig, SourceConfig } from './define-config.js';
import type { LoadedConfig } from './load-config.js';
import { isManagedByProject, projectName } from './managed-by.js';
import { type ConfigProblem, configObjectName } from './validate-config.js';

/** A column of a planned table. */
export interface PlannedColumn {
  readonly name: string;
  /** Delta type name (`long`, `decimal(10,2)`, …). */
  readonly type: string;
  readonly description?: string;
}

/** A feature table as the config wants it, everything resolved. */
export interface PlannedTable {
  /** Where the table's folder goes when it is created (the engine's warehouse). */
  readonly location: string;
  /** `catalog.schema.table`. */
  readonly name: string;
  readonly primaryKeys: readonly string[];
  readonly timeseriesColumn?: string;
  readonly partitionColumns: readonly string[];
  readonly clusterBy: readonly string[];
  readonly description?: string;
  readonly owner?: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Delta table properties the config sets. */
  readonly properties: Readonly<Record<string, string>>;
  /** The columns: the writing pipeline's output, else the declared ones (or the existing table's). */
  readonly columns: readonly PlannedColumn[];
  /** The pipeline writing the table and the sources it reads; absent when no pipeline writes it. */
  readonly lineage?: { readonly pipeline: string; readonly sources: readonly string[] };
}

/** One field of a catalog entry that apply changes. Values are JSON; `null` means "none". */
export interface FieldChange {
  /** `description`, `owner`, `tags.<key>`, `clusterBy`, `features.<column>.description`, `lineage.pipeline`, `lineage.sources`, `properties.<key>`. */
  readonly field: string;
  readonly from: unknown;
  readonly to: unknown;
}

export type PlanAction =
  | { readonly kind: 'create'; readonly table: string; readonly spec: PlannedTable }
  | {
      readonly kind: 'update';
      readonly table: string;
      readonly spec: PlannedTable;
      readonly changes: readonly FieldChange[];
    }
  | { readonly kind: 'unchanged'; readonly table: string }
  | { readonly kind: 'remove'; readonly table: string; readonly location: string; readonly managed: boolean };

/** What apply would do, and what stops it. */
export interface Plan {
  /** The config file (absolute). */
  readonly file: string;
  readonly projectDir: string;
  /** The project's name (`project` in the config, else the folder's): the mark of the tables it creates. */
  readonly project: string;
  readonly actions: readonly PlanAction[];
  /** Problems that stop apply (apply writes nothing while there is one). */
  readonly errors: readonly ConfigProblem[];
  /** Things worth knowing that do not stop apply. */
  readonly warnings: readonly ConfigProblem[];
}

export interface PlanConfigOptions {
  /** The engine (its catalog is compared); or give `featureStore`. */
  readonly engine?: Engine;
  readonly featureStore?: { readonly engine: Engine };
  readonly loaded: LoadedConfig;
}

/** Counts of a plan's actions and errors. */
export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly unchanged: number;
  readonly remove: number;
  readonly errors: number;
}

const TIMESERIES_TYPES = new Set(['date', 'timestamp', 'timestamp_ntz']);

/**
 * Plan what `larder apply` would change.
 *
 * @example
 * const loaded = await loadConfig({ projectDir });
 * const fs = await FeatureStore.open({ projectDir });
 * const plan = await planConfig({ featureStore: fs, loaded });
 * console.log(formatPlan(plan));
 */
export async function planConfig(options: PlanConfigOptions): Promise<Plan> {
  const engine = options.engine ?? options.featureStore?.engine;
  if (!engine) throw new TypeError('planConfig needs an engine or a featureStore');
  const { config, file, projectDir } = options.loaded;
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const error = (object: string, field: string, problem: string, hint?: string) =>
    errors.push(Object.freeze({ object, field, problem, ...(hint ? { hint } : {}) }));
  const warn = (object: string, field: string, problem: string) =>
    warnings.push(Object.freeze({ object, field, problem }));

  const badSources = new Set<string>();
  for (const [name, source] of Object.entries(config.sources ?? {})) {
    const problem = await sourceProblem(engine, projectDir, source);
    if (problem) {
      badSources.add(name);
      error(configObjectName('sources', name), problem.field, problem.problem, problem.hint);
    }
  }

  const writers = new Map<string, string>();
  const outputs = new Map<string, OutputColumn[]>();
  for (const [name, pipeline] of Object.entries(config.pipelines ?? {})) {
    writers.set(pipeline.output, name);
    if (pipeline.sources.some((source) => badSources.has(source))) continue;
    try {
      outputs.set(name, await describePipelineOutput(engine, config, name, { projectDir }));
    } catch (caught) {
      if (!isLarderError(caught)) throw caught;
      const at = describeFailure(name, pipeline, caught.code, caught.context);
      error(at.object, at.field, caught.message);
    }
  }

  const actions: PlanAction[] = [];
  for (const [name, table] of Object.entries(config.featureTables ?? {})) {
    const object = configObjectName('featureTables', name);
    const writer = writers.get(name);
    const output = writer === undefined ? undefined : outputs.get(writer);
    // The pipeline's failure is already reported; without its columns there is nothing to compare.
    if (writer !== undefined && output === undefined) continue;
    const before = errors.length;
    const tableName = splitName(name);
    const entry = await engine.metastore.getTable(tableName);
    const existing = entry ? await existingTable(engine, entry, object, error) : undefined;
    if (entry && !existing) continue;
    if (entry && existing) checkFixedFields(table, entry, existing, object, error);
    if (errors.length > before) continue;
    const entityKeys = table.entity === undefined ? [] : (config.entities?.[table.entity]?.keys ?? []);
    const columns = plannedColumns({ name, table, entityKeys, writer, output, existing, object, error });
    if (errors.length > before || columns === undefined) continue;
    const spec = plannedTable(config, engine.defaultLocation(splitName(name)), name, table, writer, columns);
    if (!entry || !existing) {
      actions.push(Object.freeze({ kind: 'create', table: name, spec }));
      continue;
    }
    const changes = compareWithCatalog({ spec, table, entry, existing, object, error, warn, writer, output });
    if (errors.length > before) continue;
    actions.push(
      Object.freeze(
        changes.length === 0
          ? { kind: 'unchanged' as const, table: name }
          : { kind: 'update' as const, table: name, spec, changes: Object.freeze(changes) },
      ),
    );
  }

  const declared = new Set(Object.keys(config.featureTables ?? {}));
  const project = projectName(config, projectDir);
  for (const entry of await engine.metastore.listTables()) {
    if (isManagedByProject(entry, project) && !declared.has(entry.fullName)) {
      actions.push(
        Object.freeze({
          kind: 'remove',
          table: entry.fullName,
          location: entry.location,
          managed: entry.managed,
        }),
      );
    }
  }
  return Object.freeze({
    file,
    projectDir,
    project,
    actions: Object.freeze(actions),
    errors: Object.freeze(errors),
    warnings: Object.freeze(warnings),
  });
}

/**
 * How many of each action a plan holds.
 *
 * @example
 * const { create, update, errors } = planSummary(plan);
 */
export function planSummary(plan: Plan): PlanSummary {
  const count = (kind: PlanAction['kind']) => plan.actions.filter((a) => a.kind === kind).length;
  return {
    create: count('create'),
    update: count('update'),
    unchanged: count('unchanged'),
    remove: count('remove'),
    errors: plan.errors.length,
  };
}

/** A validated feature table name as a `TableName`. */
export function splitName(name: string): TableName {
  const [catalog, schema, table] = name.split('.') as [string, string, string];
  return { catalog, schema, table };
}

interface SourceProblem {
  readonly field: string;
  readonly problem: string;
  readonly hint?: string;
}

/** Whether a source is there (PostgreSQL sources are checked when a pipeline binds them). */
async function sourceProblem(
  engine: Engine,
  projectDir: string,
  source: SourceConfig,
): Promise<SourceProblem | undefined> {
  if (source.type === 'delta') {
    if (source.path !== undefined) {
      const path = resolve(projectDir, source.path);
      if (!existsSync(join(path, '_delta_log'))) {
        return {
          field: 'path',
          problem: `no Delta table at ${path}: it has no _delta_log folder`,
          hint: 'paths are relative to the project folder',
        };
      }
      return undefined;
    }
    const parts = source.table!.split('.');
    const [catalog, schema, table] =
      parts.length === 3
        ? parts
        : parts.length === 2
          ? [engine.currentCatalog, ...parts]
          : [engine.currentCatalog, engine.currentSchema, ...parts];
    const name = {
      catalog: catalog!.toLowerCase(),
      schema: schema!.toLowerCase(),
      table: table!.toLowerCase(),
    };
    if (!(await engine.metastore.getTable(name))) {
      return {
        field: 'table',
        problem: `table ${name.catalog}.${name.schema}.${name.table} is not in the catalog`,
        hint: 'register it with CREATE TABLE … LOCATION …, or give the folder as path',
      };
    }
    return undefined;
  }
  if (source.type === 'csv' || source.type === 'parquet') {
    const path = resolve(projectDir, source.path);
    if (existsSync(path)) return undefined;
    const found = await queryJson(engine.connection, `SELECT count(*) AS n FROM glob(${sqlString(path)})`);
    if (Number(found[0]?.n ?? 0) > 0) return undefined;
    return {
      field: 'path',
      problem: `no ${source.type.toUpperCase()} file matches ${path}`,
      hint: 'paths and globs are relative to the project folder',
    };
  }
  return undefined;
}

/** Which config object a failure of `describePipelineOutput` is about. */
function describeFailure(
  name: string,
  pipeline: PipelineConfig,
  code: string,
  context: Readonly<Record<string, unknown>>,
): { object: string; field: string } {
  if ((code === 'SOURCE_NOT_FOUND' || code === 'SOURCE_ERROR') && typeof context.source === 'string') {
    const index = pipeline.sources.indexOf(context.source);
    return {
      object: configObjectName('pipelines', name),
      field: index < 0 ? 'sources' : `sources[${index}]`,
    };
  }
  if (typeof context.object === 'string' && typeof context.field === 'string') {
    return { object: context.object, field: context.field };
  }
  return { object: configObjectName('pipelines', name), field: 'sql' };
}

/** The Delta side of a registered table: its columns, clustering and properties. */
interface ExistingTable {
  readonly columns: readonly PlannedColumn[];
  readonly clusterBy: readonly string[];
  readonly partitionColumns: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
}

async function existingTable(
  engine: Engine,
  entry: TableEntry,
  object: string,
  error: (object: string, field: string, problem: string, hint?: string) => void,
): Promise<ExistingTable | undefined> {
  if (!entry.feature) {
    error(
      object,
      'name',
      `${entry.fullName} is in the catalog and is not a feature table`,
      'drop it, or declare the feature table under another name',
    );
    return undefined;
  }
  try {
    const { table } = await engine.resolveTable(entry.name);
    const detail = table.describeDetail();
    return {
      columns: table.snapshot.schema.fields.map((f) => ({ name: f.name, type: deltaTypeName(f.type) })),
      clusterBy: detail.clusteringColumns,
      partitionColumns: detail.partitionColumns,
      properties: detail.properties,
    };
  } catch (caught) {
    if (!isLarderError(caught)) throw caught;
    error(
      object,
      'name',
      `${entry.fullName} is in the catalog but its Delta table cannot be read: ${caught.message}`,
    );
    return undefined;
  }
}

interface ColumnInput {
  readonly name: string;
  readonly table: FeatureTableConfig;
  /** The keys the table's entity gives (empty without an entity). */
  readonly entityKeys: readonly string[];
  readonly writer: string | undefined;
  readonly output: readonly OutputColumn[] | undefined;
  readonly existing: ExistingTable | undefined;
  readonly object: string;
  readonly error: (object: string, field: string, problem: string, hint?: string) => void;
}

/** The table's columns with declared descriptions, after checking keys and declared types against them. */
function plannedColumns(input: ColumnInput): PlannedColumn[] | undefined {
  const { table, writer, output, existing, object, error } = input;
  const features = table.features ?? {};
  const keys = table.primaryKeys ?? [];
  let columns: PlannedColumn[];
  let from: string;
  if (output) {
    columns = output.map((c) => ({ name: c.name, type: c.deltaType }));
    from = `the output of pipeline "${writer}"`;
  } else if (existing) {
    columns = [...existing.columns];
    from = `table ${input.name}`;
  } else {
    // No pipeline writes it and it does not exist: the declared columns are all there is.
    columns = [];
    for (const key of keys) {
      const type = features[key]?.type;
      if (type === undefined) {
        error(
          object,
          'primaryKeys',
          `no pipeline writes this table, so its columns come from features: primary key "${key}" has no declared type`,
          `declare features.${key}: { type: '…' }, or write the table with a pipeline`,
        );
      } else columns.push({ name: key, type: normalType(type) });
    }
    for (const [column, feature] of Object.entries(features)) {
      if (keys.includes(column)) continue;
      if (feature.type === undefined) {
        error(
          object,
          `features.${column}.type`,
          'no pipeline writes this table, so every column needs a type',
        );
      } else columns.push({ name: column, type: normalType(feature.type) });
    }
    return columns.map((c) => withDescription(c, features[c.name]?.description));
  }

  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const list = columns.map((c) => c.name).join(', ');
  keys.forEach((key, i) => {
    if (!byName.has(key.toLowerCase())) {
      const field =
        key === table.timeseriesColumn
          ? 'timeseriesColumn'
          : input.entityKeys.includes(key)
            ? 'entity'
            : `primaryKeys[${i}]`;
      error(object, field, `primary key "${key}" is not a column of ${from} (columns: ${list})`);
    }
  });
  const timeseries =
    table.timeseriesColumn === undefined ? undefined : byName.get(table.timeseriesColumn.toLowerCase());
  if (timeseries && !TIMESERIES_TYPES.has(timeseries.type)) {
    error(
      object,
      'timeseriesColumn',
      `"${timeseries.name}" is ${timeseries.type} in ${from}; a timeseries column is a date or timestamp`,
    );
  }
  for (const field of ['partitionColumns', 'clusterBy'] as const) {
    (table[field] ?? []).forEach((column, i) => {
      // A missing primary key is reported once, above.
      if (!byName.has(column.toLowerCase()) && !keys.includes(column)) {
        error(object, `${field}[${i}]`, `"${column}" is not a column of ${from} (columns: ${list})`);
      }
    });
  }
  for (const [column, feature] of Object.entries(features)) {
    const actual = byName.get(column.toLowerCase());
    if (!actual) {
      error(object, `features.${column}`, `"${column}" is not a column of ${from} (columns: ${list})`);
    } else if (feature.type !== undefined && normalType(feature.type) !== actual.type) {
      const duck = output?.find((c) => c.name.toLowerCase() === column.toLowerCase())?.duckType;
      error(
        object,
        `features.${column}.type`,
        `type clash in ${input.name}: column "${column}" is declared ${feature.type}, ${from} gives ${actual.type}${duck ? ` (DuckDB ${duck})` : ''}`,
        output
          ? `cast the column in the SQL with ::${duckTypeOf(feature.type)}, or change the declared type`
          : 'change the declared type',
      );
    }
  }
  return columns.map((c) => withDescription(c, features[c.name]?.description));
}

function withDescription(column: PlannedColumn, description: string | undefined): PlannedColumn {
  return Object.freeze(description === undefined ? { ...column } : { ...column, description });
}

/** `decimal(12, 2)` → `decimal(12,2)`. */
function normalType(type: string): string {
  return type.replace(/\s+/g, '');
}

/** The DuckDB type to cast to for a declared type (for hints). */
function duckTypeOf(type: string): string {
  const names: Record<string, string> = {
    boolean: 'BOOLEAN',
    byte: 'TINYINT',
    short: 'SMALLINT',
    integer: 'INTEGER',
    long: 'BIGINT',
    float: 'FLOAT',
    double: 'DOUBLE',
    string: 'VARCHAR',
    binary: 'BLOB',
    date: 'DATE',
    timestamp: 'TIMESTAMPTZ',
    timestamp_ntz: 'TIMESTAMP',
  };
  return names[type] ?? type.toUpperCase();
}

function plannedTable(
  config: LarderConfig,
  location: string,
  name: string,
  table: FeatureTableConfig,
  writer: string | undefined,
  columns: readonly PlannedColumn[],
): PlannedTable {
  // The lineage a run records when it creates the table, so that plan and run agree.
  const lineage = writer === undefined ? undefined : pipelineLineage(config, writer);
  return Object.freeze({
    name,
    location,
    primaryKeys: table.primaryKeys ?? [],
    ...(table.timeseriesColumn !== undefined ? { timeseriesColumn: table.timeseriesColumn } : {}),
    partitionColumns: table.partitionColumns ?? [],
    clusterBy: table.clusterBy ?? [],
    ...(table.description !== undefined ? { description: table.description } : {}),
    ...(table.owner !== undefined ? { owner: table.owner } : {}),
    tags: table.tags ?? {},
    properties: table.properties ?? {},
    columns: Object.freeze([...columns]),
    ...(lineage
      ? { lineage: Object.freeze({ pipeline: lineage.pipeline, sources: Object.freeze(lineage.sources) }) }
      : {}),
  });
}

interface CompareInput {
  readonly spec: PlannedTable;
  readonly table: FeatureTableConfig;
  readonly entry: TableEntry;
  readonly existing: ExistingTable;
  readonly object: string;
  readonly error: (object: string, field: string, problem: string, hint?: string) => void;
  readonly warn: (object: string, field: string, problem: string) => void;
  readonly writer: string | undefined;
  readonly output: readonly OutputColumn[] | undefined;
}

const NEW_TABLE_HINT =
  'drop the table first with larder sql "DROP TABLE …", losing its data, or declare it under a new name';

/** The catalog fields apply would change; errors for the changes a table cannot take. */
function compareWithCatalog(input: CompareInput): FieldChange[] {
  const { spec, table, entry, existing, object, error, warn, writer, output } = input;
  const feature = entry.feature!;
  if (output) {
    const tableTypes = new Map(existing.columns.map((c) => [c.name.toLowerCase(), c]));
    const added: string[] = [];
    for (const column of output) {
      const current = tableTypes.get(column.name.toLowerCase());
      if (!current) added.push(column.name);
      else if (current.type !== column.deltaType) {
        error(
          object,
          `columns.${column.name}`,
          `type clash in ${spec.name}: column "${column.name}" is ${current.type} in the table, the output of pipeline "${writer}" gives ${column.deltaType} (DuckDB ${column.duckType})`,
          `cast it in the SQL with ::${duckTypeOf(current.type)}, or drop and recreate the table`,
        );
      }
    }
    if (added.length > 0) {
      warn(
        object,
        'columns',
        `the next run of pipeline "${writer}" adds column${added.length > 1 ? 's' : ''} ${list(added)}`,
      );
    }
    const produced = new Set(output.map((c) => c.name.toLowerCase()));
    const dropped = existing.columns.filter((c) => !produced.has(c.name.toLowerCase())).map((c) => c.name);
    if (dropped.length > 0) {
      // The run is full (the columns differ) and overwrites the schema with the output's.
      warn(
        object,
        'columns',
        `the next run of pipeline "${writer}" drops column${dropped.length > 1 ? 's' : ''} ${list(dropped)} from the table (the SQL no longer outputs ${dropped.length > 1 ? 'them' : 'it'}; ${dropped.length > 1 ? 'their' : 'its'} data is lost)`,
      );
    }
  }

  const changes: FieldChange[] = [];
  const change = (field: string, from: unknown, to: unknown) =>
    changes.push(Object.freeze({ field, from, to }));
  if ((spec.description ?? null) !== (entry.description ?? null)) {
    change('description', entry.description ?? null, spec.description ?? null);
  }
  if ((spec.owner ?? null) !== (feature.owner ?? null))
    change('owner', feature.owner ?? null, spec.owner ?? null);
  const tagKeys = new Set([...Object.keys(entry.tags), ...Object.keys(spec.tags)]);
  for (const key of tagKeys) {
    const from = entry.tags[key] ?? null;
    const to = spec.tags[key] ?? null;
    if (from !== to) change(`tags.${key}`, from, to);
  }
  if (!sameList(spec.clusterBy, existing.clusterBy))
    change('clusterBy', [...existing.clusterBy], [...spec.clusterBy]);
  const descriptions = new Map(feature.features.map((f) => [f.name.toLowerCase(), f.description ?? null]));
  for (const [column, declared] of Object.entries(table.features ?? {})) {
    if (declared.description === undefined || spec.primaryKeys.includes(column)) continue;
    const current = descriptions.get(column.toLowerCase()) ?? null;
    if (current !== declared.description)
      change(`features.${column}.description`, current, declared.description);
  }
  if (spec.lineage) {
    if ((feature.lineage.pipeline ?? null) !== spec.lineage.pipeline) {
      change('lineage.pipeline', feature.lineage.pipeline ?? null, spec.lineage.pipeline);
    }
    if (!sameList(feature.lineage.sources, spec.lineage.sources)) {
      change('lineage.sources', [...feature.lineage.sources], [...spec.lineage.sources]);
    }
  }
  for (const [key, value] of Object.entries(spec.properties)) {
    const current = existing.properties[key] ?? null;
    if (current !== value) change(`properties.${key}`, current, value);
  }
  return changes;
}

/** Errors for the changes an existing table cannot take: primary keys, timeseries and partition columns. */
function checkFixedFields(
  table: FeatureTableConfig,
  entry: TableEntry,
  existing: ExistingTable,
  object: string,
  error: (object: string, field: string, problem: string, hint?: string) => void,
): void {
  const feature = entry.feature!;
  const keys = table.primaryKeys ?? [];
  const sameSet = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((x) => b.some((y) => y.toLowerCase() === x.toLowerCase()));
  if (!sameSet(keys, feature.primaryKeys)) {
    error(
      object,
      table.entity === undefined ? 'primaryKeys' : 'entity',
      `the primary keys of an existing table cannot change: ${list(feature.primaryKeys)} → ${list(keys)}`,
      NEW_TABLE_HINT,
    );
  }
  if ((table.timeseriesColumn ?? null) !== (feature.timeseriesColumn ?? null)) {
    error(
      object,
      'timeseriesColumn',
      `the timeseries column of an existing table cannot change: ${feature.timeseriesColumn ?? '(none)'} → ${table.timeseriesColumn ?? '(none)'}`,
      NEW_TABLE_HINT,
    );
  }
  if (!sameList(table.partitionColumns ?? [], existing.partitionColumns)) {
    error(
      object,
      'partitionColumns',
      `the partition columns of an existing table cannot change: ${list(existing.partitionColumns)} → ${list(table.partitionColumns ?? [])}`,
      NEW_TABLE_HINT,
    );
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x.toLowerCase() === b[i]!.toLowerCase());
}

function list(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.join(', ');
}
