/**
 * The columns a pipeline would write, found by binding its SQL (DuckDB
 * `DESCRIBE`) over typed, empty stand-ins of its sources: no source row is
 * read and nothing is written. `larder plan` checks primary keys and types
 * with it before anything exists; runs create the output table from it.
 */
import type { LarderConfig } from '../config/define-config.js';
import type { DataType } from '../delta/log/schema.js';
import { fromDuckDBType } from '../delta/log/schema.js';
import { queryJson } from '../duckdb/duckdb.js';
import type { Engine } from '../engine/engine.js';
import { isLarderError, LarderError } from '../errors.js';
import { deltaTypeName } from '../features/feature-table.js';
import { type PipelineDefinition, pipelineSql, resolvePipeline } from './pipeline-definition.js';
import { emptyRelation, pipelineQuery } from './pipeline-query.js';
import { RunScope } from './run-scope.js';
import { bindSources } from './sources/bind-source.js';
import type { BoundSource } from './sources/bound-source.js';

/** A column of a pipeline's output. */
export interface OutputColumn {
  readonly name: string;
  /** DuckDB's type name (`BIGINT`, `DECIMAL(10,2)`, `TIMESTAMP WITH TIME ZONE`, …). */
  readonly duckType: string;
  /** The Delta type it is stored as (`long`, `decimal(10,2)`, `timestamp`, `array<string>`, …). */
  readonly deltaType: string;
}

/**
 * The output columns of pipeline `pipelineName`, in order. Fails with
 * `PIPELINE_NOT_FOUND`, `CONFIG_INVALID`, `SOURCE_NOT_FOUND` (a source that
 * does not exist), `SQL_ERROR` (the SQL does not bind; the message names
 * the pipeline) or `SCHEMA_MISMATCH` (a column type Delta cannot store, or
 * a duplicate column name).
 *
 * @example
 * const columns = await describePipelineOutput(engine, config, 'customer_features');
 * // [{ name: 'customer_id', duckType: 'BIGINT', deltaType: 'long' }, { name: 'num_transactions', … }]
 */
export async function describePipelineOutput(
  engine: Engine,
  config: LarderConfig,
  pipelineName: string,
  options: { readonly projectDir?: string } = {},
): Promise<OutputColumn[]> {
  const definition = resolvePipeline(config, pipelineName);
  const scope = await RunScope.create(engine.connection);
  let sources: BoundSource[] = [];
  try {
    sources = await bindSources(engine, scope, options.projectDir ?? engine.projectDir, definition.sources);
    return await describeBound(engine, definition, sources, 'full');
  } finally {
    for (const source of sources) await source.close();
    await scope.drop();
  }
}

/** The output columns of a pipeline whose sources are bound (the run uses this). */
export async function describeBound(
  engine: Engine,
  definition: PipelineDefinition,
  sources: readonly BoundSource[],
  mode: 'full' | 'incremental',
): Promise<OutputColumn[]> {
  const relations = new Map(sources.map((s) => [s.name, emptyRelation(s.columns)]));
  const sql = pipelineQuery(pipelineSql(definition, mode), relations, definition.name);
  let rows: Record<string, unknown>[];
  try {
    rows = await queryJson(engine.connection, `DESCRIBE ${sql}`);
  } catch (error) {
    const cause = isLarderError(error) && error.cause instanceof Error ? error.cause : error;
    throw new LarderError(
      'SQL_ERROR',
      `pipeline "${definition.name}": its SQL does not bind: ${(cause as Error).message}`,
      { pipeline: definition.name, cause: error, hint: 'fix pipelines.' + definition.name + '.sql' },
    );
  }
  const seen = new Set<string>();
  return rows.map((row) => {
    const name = String(row.column_name);
    const duckType = String(row.column_type);
    if (seen.has(name.toLowerCase())) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `pipeline "${definition.name}" outputs column "${name}" twice`,
        {
          pipeline: definition.name,
          column: name,
          hint: 'give each output column its own name with AS',
        },
      );
    }
    seen.add(name.toLowerCase());
    let deltaType: DataType;
    try {
      deltaType = fromDuckDBType(duckType, name);
    } catch (error) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `pipeline "${definition.name}": output column "${name}" has type ${duckType}, which a Delta table cannot store`,
        {
          pipeline: definition.name,
          column: name,
          cause: error,
          hint: 'cast the column in the SQL, e.g. with ::BIGINT or ::DOUBLE',
        },
      );
    }
    return { name, duckType, deltaType: deltaTypeName(deltaType) };
  });
}
