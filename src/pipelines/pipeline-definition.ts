/**
 * A pipeline of `larder.config.ts`, resolved for a run: its output table's
 * keys, the change-tracked sources with their change columns, and the SQL
 * text for a mode. Every other pipeline module starts here, so a pipeline
 * means the same thing to `larder plan`, `larder apply` and `larder run`.
 *
 * Invariants:
 * - the primary keys are the feature table's `primaryKeys`, else its
 *   entity's `keys`, with the timeseries column appended when not listed;
 * - the entity key (the incremental `key`, else the primary keys without the
 *   timeseries column) is a non-empty subset of the primary keys;
 * - a change-tracked source is one of the pipeline's sources and has a
 *   change column (`incremental.sources`, default: every source of the
 *   pipeline that declares a `changeColumn`).
 * Violations throw `PIPELINE_NOT_FOUND` or `CONFIG_INVALID` naming the
 * pipeline, object and field.
 */
import { createHash } from 'node:crypto';
import type {
  FeatureTableConfig,
  LarderConfig,
  PipelineConfig,
  SourceConfig,
} from '../config/define-config.js';
import { LarderError } from '../errors.js';

/** A source a pipeline tracks changes of, and its change column. */
export interface TrackedSource {
  readonly source: string;
  readonly changeColumn: string;
}

/** A pipeline with everything a run needs resolved from the config. */
export interface PipelineDefinition {
  readonly name: string;
  readonly config: PipelineConfig;
  /** The output table's name as the config keys it (`catalog.schema.table`). */
  readonly output: string;
  readonly table: FeatureTableConfig;
  readonly primaryKeys: readonly string[];
  readonly timeseriesColumn?: string;
  /** The columns identifying an entity: what incremental runs recompute by. */
  readonly entityKeys: readonly string[];
  /** The pipeline's sources with their config, in the order the pipeline lists them. */
  readonly sources: readonly { readonly name: string; readonly config: SourceConfig }[];
  /** Change-tracked sources (empty when the pipeline has no `incremental`). */
  readonly tracked: readonly TrackedSource[];
  readonly incremental: boolean;
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

/**
 * Resolve pipeline `name` of `config`.
 *
 * @example
 * const p = resolvePipeline(config, 'customer_features');
 * console.log(p.output, p.primaryKeys, p.tracked.map((t) => t.source));
 */
export function resolvePipeline(config: LarderConfig, name: string): PipelineDefinition {
  const pipeline = config.pipelines?.[name];
  if (!pipeline) {
    const known = Object.keys(config.pipelines ?? {});
    throw new LarderError('PIPELINE_NOT_FOUND', `pipeline "${name}" is not declared in the config`, {
      pipeline: name,
      hint: known.length > 0 ? `declared pipelines: ${known.join(', ')}` : 'declare it under `pipelines`',
    });
  }
  const object = `pipelines.${name}`;
  const invalid = (field: string, problem: string, hint?: string): never => {
    throw new LarderError('CONFIG_INVALID', `${object} › ${field}: ${problem}`, {
      pipeline: name,
      object,
      field,
      ...(hint ? { hint } : {}),
    });
  };
  const table = config.featureTables?.[pipeline.output];
  if (!table) invalid('output', `"${pipeline.output}" is not a declared feature table`);
  const tableConfig = table as FeatureTableConfig;
  const entity = tableConfig.entity !== undefined ? config.entities?.[tableConfig.entity] : undefined;
  let primaryKeys = [...(tableConfig.primaryKeys ?? entity?.keys ?? [])];
  if (primaryKeys.length === 0) {
    invalid(
      'output',
      `feature table "${pipeline.output}" has no primary keys (give primaryKeys or an entity)`,
    );
  }
  const timeseriesColumn = tableConfig.timeseriesColumn;
  if (timeseriesColumn !== undefined && !primaryKeys.includes(timeseriesColumn)) {
    primaryKeys = [...primaryKeys, timeseriesColumn];
  }
  const incrementalKey = pipeline.incremental?.key;
  const entityKeys =
    incrementalKey === undefined
      ? primaryKeys.filter((k) => k !== timeseriesColumn)
      : typeof incrementalKey === 'string'
        ? [incrementalKey]
        : [...incrementalKey];
  if (pipeline.incremental) {
    if (entityKeys.length === 0) invalid('incremental.key', 'needs at least one key column');
    for (const key of entityKeys) {
      if (!primaryKeys.includes(key)) {
        invalid(
          'incremental.key',
          `"${key}" is not a primary key of "${pipeline.output}" (${primaryKeys.join(', ')})`,
        );
      }
    }
  }

  const sources = pipeline.sources.map((source, i) => {
    const sourceConfig = config.sources?.[source];
    if (!sourceConfig) {
      invalid(
        `sources[${i}]`,
        `unknown source "${source}" (known: ${Object.keys(config.sources ?? {}).join(', ') || 'none'})`,
      );
    }
    return { name: source, config: sourceConfig as SourceConfig };
  });

  const tracked: TrackedSource[] = [];
  if (pipeline.incremental) {
    const declared = pipeline.incremental.sources;
    const entries: [string, string | undefined][] =
      declared === undefined
        ? sources.filter((s) => s.config.changeColumn !== undefined).map((s) => [s.name, undefined])
        : Array.isArray(declared)
          ? (declared as readonly string[]).map((s) => [s, undefined])
          : Object.entries(declared as Record<string, { changeColumn?: string }>).map(([s, v]) => [
              s,
              v.changeColumn,
            ]);
    for (const [source, column] of entries) {
      const bound = sources.find((s) => s.name === source);
      if (!bound) {
        invalid('incremental.sources', `"${source}" is not one of the pipeline's sources`);
      }
      const changeColumn = column ?? bound?.config.changeColumn;
      if (changeColumn === undefined) {
        invalid(
          'incremental.sources',
          `source "${source}" has no change column`,
          'set changeColumn on the source or in incremental.sources',
        );
      }
      tracked.push({ source, changeColumn: changeColumn as string });
    }
    if (tracked.length === 0) {
      invalid(
        'incremental.sources',
        'an incremental pipeline needs at least one change-tracked source',
        'give a source a changeColumn',
      );
    }
  }

  return {
    name,
    config: pipeline,
    output: pipeline.output,
    table: tableConfig,
    primaryKeys,
    ...(timeseriesColumn !== undefined ? { timeseriesColumn } : {}),
    entityKeys,
    sources,
    tracked,
    incremental: pipeline.incremental !== undefined,
    params: pipeline.params ?? {},
  };
}

/**
 * The pipeline's SQL for a mode: the string, or what its function returns.
 * Throws `CONFIG_INVALID` when the function throws or returns no SQL.
 *
 * @example
 * const sql = pipelineSql(resolvePipeline(config, 'customer_features'), 'incremental');
 */
export function pipelineSql(definition: PipelineDefinition, mode: 'full' | 'incremental'): string {
  const { sql } = definition.config;
  let text: unknown;
  try {
    text =
      typeof sql === 'function' ? sql({ pipeline: definition.name, mode, params: definition.params }) : sql;
  } catch (error) {
    throw new LarderError(
      'CONFIG_INVALID',
      `pipelines.${definition.name} › sql: the SQL function threw: ${(error as Error).message}`,
      { pipeline: definition.name, object: `pipelines.${definition.name}`, field: 'sql', cause: error },
    );
  }
  if (typeof text !== 'string' || text.trim() === '') {
    throw new LarderError('CONFIG_INVALID', `pipelines.${definition.name} › sql: no SQL query`, {
      pipeline: definition.name,
      object: `pipelines.${definition.name}`,
      field: 'sql',
    });
  }
  return text;
}

/**
 * A digest of what decides a pipeline's output (its SQL in both modes, its
 * sources' definitions, keys and tracking). A run whose fingerprint differs
 * from the one of the last run recomputes the whole table.
 *
 * @example
 * if (pipelineFingerprint(definition) !== state.fingerprint) mode = 'full';
 */
export function pipelineFingerprint(definition: PipelineDefinition): string {
  const sources = definition.sources.map(({ name, config }) => {
    const { description: _description, ...rest } = config;
    return [name, rest];
  });
  const digest = createHash('sha256')
    .update(
      JSON.stringify({
        full: pipelineSql(definition, 'full'),
        incremental: definition.incremental ? pipelineSql(definition, 'incremental') : null,
        sources,
        primaryKeys: definition.primaryKeys,
        entityKeys: definition.entityKeys,
        tracked: definition.tracked,
      }),
    )
    .digest('hex');
  return digest.slice(0, 32);
}
