/**
 * Picks and opens a project's metastore: PostgreSQL when a `postgres://` or
 * `postgresql://` URL is given (as an argument, else in the environment
 * variable `LARDER_CATALOG_URL`), the embedded SQLite catalog at
 * `<project>/.larder/catalog.db` when none is.
 *
 * Invariant: each backend is imported only when chosen, so a SQLite project
 * never loads `pg` and a PostgreSQL one never loads the native SQLite module.
 */
import { join, resolve } from 'node:path';
import { LarderError } from '../errors.js';
import type { Metastore } from './metastore.js';

/** The environment variable naming the catalog's URL. */
export const CATALOG_URL_ENV = 'LARDER_CATALOG_URL';

/** Options of `openMetastore`. */
export interface OpenMetastoreOptions {
  /** The project folder; the SQLite catalog is `<projectDir>/.larder/catalog.db`. */
  readonly projectDir: string;
  /** The catalog's URL; default `process.env.LARDER_CATALOG_URL`; unset or empty means SQLite. */
  readonly url?: string;
  /** PostgreSQL only: the schema holding the catalog (default `larder`). */
  readonly schema?: string;
}

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Open the metastore a project uses.
 *
 * @example
 * const metastore = await openMetastore({ projectDir: '.', url: 'postgres://larder@db.internal/features' });
 * console.log((await metastore.listTables()).map((t) => t.fullName));
 * await metastore.close();
 */
export async function openMetastore(options: OpenMetastoreOptions): Promise<Metastore> {
  const url = options.url ?? process.env[CATALOG_URL_ENV] ?? '';
  if (isPostgresUrl(url)) {
    const { PostgresMetastore } = await import('./postgres/postgres-metastore.js');
    return PostgresMetastore.open(url, options.schema === undefined ? {} : { schema: options.schema });
  }
  if (url !== '') {
    // Falling back to SQLite here would split a team's catalog without a word.
    throw new LarderError(
      'INVALID_ARGUMENT',
      `unsupported catalog URL "${url.replace(/\/\/[^@/]*@/, '//***@')}"`,
      {
        hint: `use a postgres:// URL, or leave ${CATALOG_URL_ENV} unset for the project's SQLite catalog`,
      },
    );
  }
  const { SqliteMetastore, SQLITE_CATALOG_FILE } = await import('./sqlite/sqlite-metastore.js');
  // `.larder` is the project's data folder (the engine's LARDER_DIR); the catalog must not import the engine.
  return SqliteMetastore.open(join(resolve(options.projectDir), '.larder', SQLITE_CATALOG_FILE));
}
