/**
 * Binds a source of `larder.config.ts` for one run, by its `type`: Delta
 * tables, CSV/Parquet files, PostgreSQL tables. Each kind lives in its own
 * file and implements `BoundSource`; PostgreSQL's driver is imported only
 * when a pipeline reads such a source.
 */
import type { SourceConfig } from '../../config/define-config.js';
import type { Engine } from '../../engine/engine.js';
import { LarderError } from '../../errors.js';
import type { RunScope } from '../run-scope.js';
import type { BoundSource } from './bound-source.js';
import { bindDeltaSource } from './delta-source.js';
import { bindFileSource } from './file-source.js';

export interface BindSourceOptions {
  readonly engine: Engine;
  /** The run's DuckDB schema (where PostgreSQL rows are copied). */
  readonly scope: RunScope;
  /** Relative paths resolve against this folder. */
  readonly projectDir: string;
  readonly name: string;
  readonly config: SourceConfig;
}

/**
 * @example
 * const source = await bindSource({ engine, scope, projectDir, name: 'raw_customers', config: config.sources.raw_customers });
 */
export async function bindSource(options: BindSourceOptions): Promise<BoundSource> {
  const { engine, scope, projectDir, name, config } = options;
  switch (config.type) {
    case 'delta':
      return bindDeltaSource(engine, projectDir, name, config);
    case 'csv':
    case 'parquet':
      return bindFileSource(engine, projectDir, name, config);
    case 'postgres': {
      const { bindPostgresSource } = await import('./postgres-source.js');
      return bindPostgresSource(scope, name, config);
    }
    default:
      throw new LarderError(
        'CONFIG_INVALID',
        `sources.${name} › type: unknown source type "${(config as { type?: unknown }).type}" (delta, csv, parquet, postgres)`,
        { source: name, object: `sources.${name}`, field: 'type' },
      );
  }
}

/**
 * Bind every source of a list; on a failure the ones already bound are closed.
 *
 * @example
 * const sources = await bindSources(engine, scope, projectDir, definition.sources);
 */
export async function bindSources(
  engine: Engine,
  scope: RunScope,
  projectDir: string,
  sources: readonly { readonly name: string; readonly config: SourceConfig }[],
): Promise<BoundSource[]> {
  const bound: BoundSource[] = [];
  try {
    for (const { name, config } of sources)
      bound.push(await bindSource({ engine, scope, projectDir, name, config }));
    return bound;
  } catch (error) {
    for (const source of bound) await source.close();
    throw error;
  }
}
