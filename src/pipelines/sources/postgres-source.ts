/**
 * A PostgreSQL table (or view) as a pipeline source, through `pg` (loaded
 * only when a pipeline has such a source). Rows are copied into a table of
 * the run's DuckDB schema, typed from the PostgreSQL column types, in
 * batches read through a cursor.
 *
 * Invariants:
 * - one connection per bound source, inside one REPEATABLE READ, READ ONLY
 *   transaction opened when the source is bound: the changed rows and the
 *   affected keys' history come from the same database snapshot;
 * - filters run in PostgreSQL (`change_col > $1` for changed rows,
 *   `key = ANY($1)` for the affected keys), so only the rows a run needs
 *   cross the network;
 * - values travel as PostgreSQL's text form and are cast by DuckDB to the
 *   column's type (exact: microseconds, numerics and 64-bit integers keep
 *   every digit); the session time zone is UTC;
 * - a missing table is `SOURCE_NOT_FOUND`, any other PostgreSQL failure
 *   `SOURCE_ERROR`, both naming the source.
 */
import type { Client, QueryResult } from 'pg';
import type { PostgresSource } from '../../config/define-config.js';
import { sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { RunScope } from '../run-scope.js';
import type { BoundSource, SourceColumn, SourceRead, SourceReadOptions } from './bound-source.js';
import { keySemiJoin } from './key-semi-join.js';

/** The environment variable with the default PostgreSQL URL of sources. */
export const SOURCE_POSTGRES_URL_ENV = 'LARDER_SOURCE_POSTGRES_URL';

/** Rows fetched from the cursor per round trip. */
const BATCH_ROWS = 10_000;

/** Past this many affected keys, the key filter runs in DuckDB on a full copy instead of in an ANY($1) array. */
const ANY_KEY_LIMIT = 200_000;

/** SQLSTATE of an undefined table, schema or column. */
const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA = '3F000';

interface PgColumn {
  readonly name: string;
  /** `format_type` of the column: `bigint`, `numeric(10,2)`, `timestamp with time zone`, … */
  readonly pgType: string;
  readonly duckType: string;
  readonly binary: boolean;
}

/** Every value as PostgreSQL's text form. */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/**
 * Bind a PostgreSQL source: connect, open the snapshot transaction, read the columns.
 *
 * @example
 * const source = await bindPostgresSource(scope, 'crm_customers', { type: 'postgres', table: 'crm.customers' });
 */
export async function bindPostgresSource(
  scope: RunScope,
  name: string,
  config: PostgresSource,
): Promise<BoundSource> {
  const url = config.url ?? process.env[SOURCE_POSTGRES_URL_ENV];
  if (!url) {
    throw new LarderError(
      'CONFIG_INVALID',
      `sources.${name}: a postgres source needs a url (or ${SOURCE_POSTGRES_URL_ENV})`,
      {
        source: name,
        object: `sources.${name}`,
        field: 'url',
      },
    );
  }
  const { schema, table } = splitTableName(config.table);
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new LarderError(
      'SOURCE_ERROR',
      `source "${name}": cannot connect to PostgreSQL: ${(error as Error).message}`,
      {
        source: name,
        cause: error,
      },
    );
  }
  const failed = async (error: unknown): Promise<never> => {
    await client.end().catch(() => undefined);
    throw pgError(name, config.table, error);
  };
  let columns: PgColumn[] = [];
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query("SET LOCAL TIME ZONE 'UTC'");
    await client.query("SET LOCAL DateStyle = 'ISO, YMD'");
    const result = await client.query<{ name: string; type: string }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
         FROM pg_attribute a
        WHERE a.attrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [schema, table],
    );
    columns = result.rows.map((r) => ({
      name: r.name,
      pgType: r.type,
      duckType: duckTypeOf(r.type),
      binary: r.type === 'bytea',
    }));
  } catch (error) {
    await failed(error);
  }
  return new PostgresBoundSource(
    name,
    `postgres table ${schema}.${table}`,
    scope,
    client,
    { schema, table },
    columns,
  );
}

class PostgresBoundSource implements BoundSource {
  readonly name: string;
  readonly description: string;
  readonly columns: readonly SourceColumn[];
  readonly #scope: RunScope;
  readonly #client: Client;
  readonly #table: { schema: string; table: string };
  readonly #pgColumns: readonly PgColumn[];
  #copies = 0;
  #closed = false;

  constructor(
    name: string,
    description: string,
    scope: RunScope,
    client: Client,
    table: { schema: string; table: string },
    columns: readonly PgColumn[],
  ) {
    this.name = name;
    this.description = description;
    this.#scope = scope;
    this.#client = client;
    this.#table = table;
    this.#pgColumns = columns;
    this.columns = columns.map((c) => ({ name: c.name, duckType: c.duckType }));
  }

  async read(options: SourceReadOptions = {}): Promise<SourceRead> {
    const where: string[] = [];
    const params: unknown[] = [];
    let keyInDuckDB = false;
    const changed = options.changedAfter;
    if (changed) {
      const column = this.#column(changed.column, 'change column');
      if (changed.value === null) where.push(`${pgIdent(column.name)} IS NOT NULL`);
      else {
        params.push(changed.value);
        where.push(`${pgIdent(column.name)} > $${params.length}::${column.pgType}`);
      }
    }
    const keys = options.keys;
    if (keys) {
      const columns = keys.columns.map((k) => this.#column(k, 'key column'));
      if (keys.count > ANY_KEY_LIMIT) keyInDuckDB = true;
      else if (keys.count === 0) where.push('false');
      else {
        const values = await keys.values();
        if (columns.length === 1) {
          params.push(values.map((v) => v[0]));
          where.push(`${pgIdent(columns[0]!.name)} = ANY($${params.length}::${columns[0]!.pgType}[])`);
        } else {
          const arrays = columns.map((c, i) => {
            params.push(values.map((v) => v[i]));
            return `$${params.length}::${c.pgType}[]`;
          });
          where.push(
            `(${columns.map((c) => pgIdent(c.name)).join(', ')}) IN (SELECT * FROM unnest(${arrays.join(', ')}))`,
          );
        }
      }
    }
    const select = `SELECT ${this.#pgColumns.map((c) => pgIdent(c.name)).join(', ')} FROM ${pgIdent(this.#table.schema)}.${pgIdent(this.#table.table)}${
      where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''
    }`;
    const target = `pg_${this.name}_${this.#copies++}`;
    const rows = await this.#copy(select, params, target);
    let sql = `SELECT * FROM ${this.#scope.table(target)}`;
    if (keys && keyInDuckDB) sql = keySemiJoin(sql, keys);
    return keyInDuckDB ? { sql } : { sql, rows };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.query('ROLLBACK').catch(() => undefined);
    await this.#client.end().catch(() => undefined);
  }

  /** Copy the rows of `select` into a new DuckDB table `target` of the run's schema; returns the row count. */
  async #copy(select: string, params: readonly unknown[], target: string): Promise<number> {
    const connection = this.#scope.connection;
    const columns = this.#pgColumns;
    await connection.run(
      `CREATE TABLE ${this.#scope.table(target)} (${columns.map((c) => `${sqlIdent(c.name)} ${c.duckType}`).join(', ')})`,
    );
    const cursor = `__larder_cursor_${this.#copies}`;
    let total = 0;
    try {
      await this.#client.query({
        text: `DECLARE ${cursor} NO SCROLL CURSOR FOR ${select}`,
        values: [...params],
      });
      const appender = await connection.createAppender(target, this.#scope.schema, 'memory');
      try {
        for (;;) {
          const batch: QueryResult<unknown[]> = await this.#client.query({
            text: `FETCH ${BATCH_ROWS} FROM ${cursor}`,
            rowMode: 'array',
            types: TEXT_TYPES,
          });
          for (const row of batch.rows) {
            for (let i = 0; i < columns.length; i++) {
              const value = row[i];
              if (value === null || value === undefined) appender.appendNull();
              else if (columns[i]!.binary) appender.appendBlob(hexBytes(String(value)));
              else appender.appendVarchar(String(value));
            }
            appender.endRow();
          }
          total += batch.rows.length;
          if (batch.rows.length < BATCH_ROWS) break;
        }
      } finally {
        appender.closeSync();
      }
      await this.#client.query(`CLOSE ${cursor}`);
    } catch (error) {
      if (error instanceof LarderError) throw error;
      throw pgError(this.name, `${this.#table.schema}.${this.#table.table}`, error);
    }
    return total;
  }

  #column(name: string, what: string): PgColumn {
    const column = this.#pgColumns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (!column) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `source "${this.name}" has no column "${name}" (its ${what}); columns: ${this.#pgColumns.map((c) => c.name).join(', ')}`,
        { source: this.name, column: name },
      );
    }
    return column;
  }
}

/** `schema.table` or `table` (schema `public`), unquoted. */
function splitTableName(name: string): { schema: string; table: string } {
  const dot = name.indexOf('.');
  return dot < 0
    ? { schema: 'public', table: name }
    : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

function pgIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The DuckDB type holding a PostgreSQL type's values (its text form where DuckDB has no match). */
export function duckTypeOf(pgType: string): string {
  const t = pgType.toLowerCase();
  if (t.endsWith('[]')) return 'VARCHAR';
  switch (t) {
    case 'smallint':
      return 'SMALLINT';
    case 'integer':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'real':
      return 'FLOAT';
    case 'double precision':
      return 'DOUBLE';
    case 'numeric':
      return 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'date':
      return 'DATE';
    case 'bytea':
      return 'BLOB';
    case 'uuid':
      return 'UUID';
  }
  const numeric = /^numeric\((\d+),(\d+)\)$/.exec(t);
  if (numeric) return Number(numeric[1]) <= 38 ? `DECIMAL(${numeric[1]},${numeric[2]})` : 'DOUBLE';
  if (/^timestamp(\(\d\))? with time zone$/.test(t)) return 'TIMESTAMPTZ';
  if (/^timestamp(\(\d\))? without time zone$/.test(t)) return 'TIMESTAMP';
  if (/^time(\(\d\))? without time zone$/.test(t)) return 'TIME';
  return 'VARCHAR';
}

/** PostgreSQL's hex text form of bytea (`\x0102`) as bytes. */
function hexBytes(text: string): Uint8Array {
  return Buffer.from(text.startsWith('\\x') ? text.slice(2) : text, 'hex');
}

function pgError(source: string, table: string, error: unknown): LarderError {
  if (error instanceof LarderError) return error;
  const code = (error as { code?: string }).code;
  if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA) {
    return new LarderError(
      'SOURCE_NOT_FOUND',
      `source "${source}": PostgreSQL table ${table} does not exist`,
      {
        source,
        table,
        cause: error,
        hint: 'check the table name, written schema.table, and the database of the url',
      },
    );
  }
  return new LarderError('SOURCE_ERROR', `source "${source}": PostgreSQL: ${(error as Error).message}`, {
    source,
    table,
    cause: error,
  });
}
