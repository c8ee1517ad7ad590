/**
 * `read_delta(path [, version => n | timestamp => '…'])` on its own: Larder
 * SQL over Delta folders, without a catalog. The engine (`engine.ts`) does
 * the same and more (registered tables, views, time travel by name); this
 * entry point serves callers that have folders only.
 *
 * Paths are resolved against `cwd`; see `statement-rewriter.ts` for how
 * calls are found, pruned and replaced.
 */
import { resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sharedConnection } from '../duckdb/duckdb.js';
import { LarderError } from '../errors.js';
import type { ScanInfo } from './scan-info.js';
import { type DeltaSource, type RelationResolver, rewriteScript } from './statement-rewriter.js';
import { TableCache } from './table-cache.js';
import { DEFAULT_CATALOG, DEFAULT_SCHEMA } from './table-name.js';

export interface ReadDeltaOptions {
  /** Folder that relative table paths are resolved against. */
  readonly cwd: string;
  /** Connection used to parse statements; defaults to the shared connection. */
  readonly connection?: DuckDBConnection;
}

export interface ReadDeltaRewrite {
  /** The SQL with every `read_delta(…)` call replaced by a subquery. */
  readonly sql: string;
  /** One entry per rewritten call, in text order. */
  readonly scans: ScanInfo[];
}

/**
 * A resolver of `read_delta` folders (relative to `cwd`) through `cache`;
 * it knows no names.
 */
export function folderResolver(cwd: string, cache: TableCache): RelationResolver {
  return {
    relation: async () => undefined,
    folder: async (path: string): Promise<DeltaSource> => {
      const root = resolve(cwd, path);
      return cache.source({
        key: root,
        root,
        path,
        fullName: undefined,
        notFound: (cause?: unknown) =>
          new LarderError('TABLE_NOT_FOUND', `no Delta table at '${path}' (${root})`, {
            table: path,
            file: root,
            cause,
            hint: 'check the path; relative paths are resolved against the working folder',
          }),
      });
    },
  };
}

/**
 * Replace every `read_delta(…)` table-function call in `sql` (one statement
 * or several separated by `;`) with a subquery over the Delta table's files.
 *
 * Throws `TABLE_NOT_FOUND` naming the path when there is no Delta table there,
 * `INVALID_ARGUMENT` naming the argument when an argument is not a constant of
 * the right type (or both `version` and `timestamp` are given), `SQL_ERROR`
 * with DuckDB's message when a statement with a `read_delta` call does not parse.
 *
 * @example
 * const { sql, scans } = await rewriteReadDelta(
 *   "SELECT count(*) FROM read_delta('data/events', version => 3) WHERE day = '2024-05-01'",
 *   { cwd: process.cwd() },
 * );
 */
export async function rewriteReadDelta(sql: string, options: ReadDeltaOptions): Promise<ReadDeltaRewrite> {
  return rewriteScript(sql, {
    connection: options.connection ?? (await sharedConnection()),
    resolver: folderResolver(options.cwd, new TableCache()),
    defaults: { catalog: DEFAULT_CATALOG, schema: DEFAULT_SCHEMA },
  });
}
