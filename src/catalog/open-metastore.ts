/**
 * Picks and opens a project's metastore: PostgreSQL when a `postgres://` or
 * `postgresql://` URL is given (as an argument, else in the environment
 * variable `LARDER_CATALOG_URL`), the embedded SQLite catalog at
 * `<project>/.larder/catalog.db` when none is.
 *
 * A PostgreSQL URL may name the schema holding the catalog with a `schema`
 * query parameter (`postgres://host/db?schema=team_a`, default `larder`), so
 * that a URL alone (`catalog.url` of a config, `LARDER_CATALOG_URL`) selects
 * one catalog among several in a database. The parameter is Larder's: it is
 * removed before the URL reaches the PostgreSQL driver.
 *
 * Invariant: each backend is imported only when chosen, so a SQLite project
 * never loads `pg` and a PostgreSQL one never loads the native SQLite module.
 */
import { existsSync } from 'node:fs';
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
  /** PostgreSQL only: the schema holding the catalog (default: the URL's `?schema=`, else `larder`). */
  readonly schema?: string;
  /**
   * SQLite only: create the catalog file when the project has none (default
   * true). False opens an empty in-memory catalog instead, so a dry run
   * writes nothing.
   */
  readonly createIfMissing?: boolean;
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
    const parsed = postgresCatalogUrl(url);
    const schema = options.schema ?? parsed.schema;
    return PostgresMetastore.open(parsed.url, schema === undefined ? {} : { schema });
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
  const file = join(resolve(options.projectDir), '.larder', SQLITE_CATALOG_FILE);
  if (options.createIfMissing === false && !existsSync(file)) return SqliteMetastore.open(':memory:');
  return SqliteMetastore.open(file);
}

/**
 * A PostgreSQL catalog URL split into the URL the driver gets and the
 * catalog schema of its `schema` query parameter (undefined without one; an
 * empty value is kept, for the metastore to refuse).
 *
 * @example
 * postgresCatalogUrl('postgres://larder@db/features?schema=team_a&sslmode=require');
 * // { url: 'postgres://larder@db/features?sslmode=require', schema: 'team_a' }
 */
export function postgresCatalogUrl(url: string): { url: string; schema?: string } {
  const q = url.indexOf('?');
  if (q < 0) return { url };
  // The other parameters are kept byte for byte (a URL round trip would re-encode them).
  let schema: string | undefined;
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((param) => {
      const eq = param.indexOf('=');
      const key = eq < 0 ? param : param.slice(0, eq);
      if (decoded(key) !== 'schema') return true;
      schema = decoded(eq < 0 ? '' : param.slice(eq + 1));
      return false;
    });
  if (schema === undefined) return { url };
  return { url: url.slice(0, q) + (kept.length > 0 ? `?${kept.join('&')}` : ''), schema };
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}
