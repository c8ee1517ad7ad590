/**
 * The feature table a pipeline writes: created from the config's
 * `featureTables[output]` (keys, timeseries column, partitioning,
 * clustering, description, tags, owner, properties, feature descriptions,
 * lineage) with the pipeline's output columns, when the catalog does not
 * have it yet. `larder run` calls it before the first run; `larder apply`
 * calls it to create the tables a config declares.
 *
 * Invariants: creation goes through `FeatureStore.createTable` (all or
 * nothing: no catalog entry or folder is left behind by a failure); a
 * managed entry whose folder holds no Delta table (a process killed between
 * registering the table and creating it) is dropped and created again; a
 * table of this project at the location that the catalog does not know (a
 * create or drop killed half-way) is adopted, and a foreign one refused; a
 * declared feature type must equal the output's type, and every primary
 * key must be an output column, else `SCHEMA_MISMATCH` naming the table and
 * column, before anything is created.
 */
import type { TableEntry } from '../catalog/metastore.js';
import type { FeatureType, LarderConfig, SourceConfig } from '../config/define-config.js';
import { managedMark, projectName } from '../config/managed-by.js';
import { DeltaTable } from '../delta/delta-table.js';
import type { Engine } from '../engine/engine.js';
import { isLarderError, LarderError } from '../errors.js';
import { FeatureStore } from '../features/feature-store.js';
import type { SchemaSpec } from '../features/schema-spec.js';
import { describePipelineOutput, type OutputColumn } from './describe-pipeline-output.js';
import { type PipelineDefinition, resolvePipeline } from './pipeline-definition.js';

export interface EnsureOutputTableOptions {
  /** The feature store to create through (or give `engine`). */
  readonly featureStore?: FeatureStore;
  readonly engine?: Engine;
  readonly config: LarderConfig;
  /** The pipeline whose output table it is. */
  readonly pipeline: string;
  /** The pipeline's output columns, when already known (default: `describePipelineOutput`). */
  readonly columns?: readonly OutputColumn[];
  /** The project folder, whose name is the table's project mark when the config names none (default: the engine's). */
  readonly projectDir?: string;
}

export interface EnsuredOutputTable {
  readonly entry: TableEntry;
  /** True when this call created the table (or adopted an empty one). */
  readonly created: boolean;
}

/**
 * Create the output table of `pipeline` unless the catalog has it.
 *
 * @example
 * const { entry, created } = await ensureOutputTable({ engine, config, pipeline: 'customer_features' });
 * if (created) console.log(`created ${entry.fullName}`);
 */
export async function ensureOutputTable(options: EnsureOutputTableOptions): Promise<EnsuredOutputTable> {
  const store = options.featureStore ?? (await featureStoreOf(options.engine));
  const engine = store.engine;
  const definition = resolvePipeline(options.config, options.pipeline);
  const name = engine.parseName(definition.output);
  const existing = await engine.metastore.getTable(name);
  if (existing && !(await isHalfCreated(existing))) return { entry: existing, created: false };
  if (existing) await engine.metastore.dropTable(name);
  const columns = options.columns ?? (await describePipelineOutput(engine, options.config, options.pipeline));
  const schema = outputSchema(definition, columns);
  const table = definition.table;
  const made = await store.createTable({
    name: definition.output,
    primaryKeys: definition.primaryKeys,
    ...(definition.timeseriesColumn !== undefined ? { timeseriesColumn: definition.timeseriesColumn } : {}),
    ...(table.partitionColumns ? { partitionColumns: table.partitionColumns } : {}),
    ...(table.clusterBy ? { clusterBy: table.clusterBy } : {}),
    schema,
    ...(table.description !== undefined ? { description: table.description } : {}),
    ...(table.tags ? { tags: table.tags } : {}),
    ...(table.owner !== undefined ? { owner: table.owner } : {}),
    ...(table.properties ? { properties: table.properties } : {}),
    lineage: pipelineLineage(options.config, options.pipeline),
    // Declared by the config, so `larder apply --prune` may drop it once the config no longer does,
    // and a later create may adopt it if this one is killed before it registers the table.
    ownership: managedMark(projectName(options.config, options.projectDir ?? engine.projectDir)),
  });
  const entry = await engine.metastore.getTable(name);
  if (!entry) {
    throw new LarderError(
      'TABLE_NOT_FOUND',
      `table ${definition.output} vanished right after it was created`,
      {
        table: definition.output,
      },
    );
  }
  // An adopted table (one a killed create or drop left unregistered) that holds commits of data
  // was not made by this call: a run that fails after this must not drop it.
  return { entry, created: made.version === 0 };
}

/**
 * The lineage a pipeline's output table records: the pipeline, and for each
 * source what it reads (a Delta table's name or folder, a file path or glob,
 * `postgres:<schema.table>`).
 *
 * @example
 * pipelineLineage(config, 'customer_features'); // { pipeline: 'customer_features', sources: ['data/raw_transactions'] }
 */
export function pipelineLineage(
  config: LarderConfig,
  pipeline: string,
): { readonly pipeline: string; readonly sources: string[] } {
  const definition = resolvePipeline(config, pipeline);
  return { pipeline, sources: definition.sources.map((s) => sourceLineage(s.config)) };
}

function sourceLineage(source: SourceConfig): string {
  switch (source.type) {
    case 'delta':
      return source.table ?? source.path ?? '';
    case 'csv':
    case 'parquet':
      return source.path;
    case 'postgres':
      return `postgres:${source.table.includes('.') ? source.table : `public.${source.table}`}`;
  }
}

/** The declared schema of the table: the output's columns with the config's descriptions, types checked. */
function outputSchema(definition: PipelineDefinition, columns: readonly OutputColumn[]): SchemaSpec {
  const table = definition.output;
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  for (const key of definition.primaryKeys) {
    if (!byName.has(key.toLowerCase())) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `primary key "${key}" of ${table} is not a column of pipeline "${definition.name}"'s output (${columns.map((c) => c.name).join(', ')})`,
        { table, column: key, pipeline: definition.name, hint: 'select the key column in the pipeline SQL' },
      );
    }
  }
  const declared = definition.table.features ?? {};
  for (const [feature, spec] of Object.entries(declared)) {
    const column = byName.get(feature.toLowerCase());
    if (column && spec.type !== undefined && spec.type !== column.deltaType) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `type clash in ${table}: feature "${feature}" is declared ${spec.type} but pipeline "${definition.name}" outputs ${column.deltaType} (${column.duckType})`,
        {
          table,
          column: feature,
          pipeline: definition.name,
          hint: `cast it in the SQL with ::${spec.type}, or declare ${column.deltaType}`,
        },
      );
    }
  }
  const schema: Record<string, { type: FeatureType; description?: string }> = {};
  for (const column of columns) {
    const spec = Object.entries(declared).find(([n]) => n.toLowerCase() === column.name.toLowerCase())?.[1];
    schema[column.name] = {
      type: column.deltaType as FeatureType,
      ...(spec?.description !== undefined ? { description: spec.description } : {}),
    };
  }
  return schema;
}

/** A managed table registered in the catalog without a Delta table at its location. */
async function isHalfCreated(entry: TableEntry): Promise<boolean> {
  if (!entry.managed) return false;
  try {
    await DeltaTable.open(entry.location);
    return false;
  } catch (error) {
    if (isLarderError(error, 'TABLE_NOT_FOUND')) return true;
    throw error;
  }
}

async function featureStoreOf(engine: Engine | undefined): Promise<FeatureStore> {
  if (!engine) {
    throw new LarderError('INVALID_ARGUMENT', 'ensureOutputTable needs a featureStore or an engine');
  }
  return FeatureStore.open({ engine });
}
