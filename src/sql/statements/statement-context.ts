/**
 * What executing a Larder SQL statement needs from its session: the engine
 * (metastore, name resolution, query rewriting and DuckDB), the session's
 * settings and temporary views, and the project folder that relative
 * locations resolve against.
 */
import type { TableName } from '../../catalog/metastore.js';
import type { Engine } from '../../engine/engine.js';
import type { SessionSettings } from './session-settings.js';

export interface StatementContext {
  readonly engine: Engine;
  readonly settings: SessionSettings;
  /** Absolute path of the project root: a relative `LOCATION` resolves against it. */
  readonly cwd: string;
  /** Full names of the temporary views this session created (dropped when it closes). */
  readonly temporaryViews: Map<string, TableName>;
}
