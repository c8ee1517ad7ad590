/**
 * CSV and Parquet files as a pipeline source: a path or glob relative to
 * the project folder, read by DuckDB's `read_csv` / `read_parquet` (CSV
 * options passed through).
 *
 * Invariants: the glob is expanded once, when the source is bound, and
 * every read of the run lists exactly those files, so a file that lands
 * mid-run is read by the next run, not by half of this one. No file
 * matching is `SOURCE_NOT_FOUND` naming the source and the path.
 */
import { resolve } from 'node:path';
import type { FileSource } from '../../config/define-config.js';
import { queryJson, sqlIdent, sqlString, sqlStringList } from '../../duckdb/duckdb.js';
import type { Engine } from '../../engine/engine.js';
import { LarderError } from '../../errors.js';
import type { BoundSource, SourceColumn, SourceRead, SourceReadOptions } from './bound-source.js';
import { keySemiJoin } from './key-semi-join.js';

/**
 * Bind a CSV or Parquet source: list its files and read its columns.
 *
 * @example
 * const source = await bindFileSource(engine, projectDir, 'events', { type: 'csv', path: 'data/events-*.csv', options: { delim: ';' } });
 */
export async function bindFileSource(
  engine: Engine,
  projectDir: string,
  name: string,
  config: FileSource,
): Promise<BoundSource> {
  const path = resolve(projectDir, config.path);
  const connection = engine.connection;
  const found = await queryJson(
    connection,
    `SELECT file FROM glob(${sqlString(path)}) ORDER BY file`,
    `listing the files of source "${name}"`,
  );
  const files = found.map((r) => String(r.file));
  if (files.length === 0) {
    throw new LarderError(
      'SOURCE_NOT_FOUND',
      `source "${name}": no ${config.type.toUpperCase()} file matches ${path}`,
      {
        source: name,
        file: path,
        hint: 'check the path; it is relative to the project folder',
      },
    );
  }
  const reader = readerSql(name, config, files);
  let described: Record<string, unknown>[];
  try {
    described = await queryJson(connection, `DESCRIBE ${reader}`);
  } catch (error) {
    throw new LarderError(
      'SOURCE_ERROR',
      `source "${name}": cannot read ${path}: ${(error as Error).message}`,
      {
        source: name,
        file: path,
        cause: error,
      },
    );
  }
  const columns = described.map((r) => ({ name: String(r.column_name), duckType: String(r.column_type) }));
  return new FileBoundSource(
    name,
    `${config.type} ${path} (${files.length} file${files.length === 1 ? '' : 's'})`,
    reader,
    columns,
    files.length,
  );
}

/** `SELECT * FROM read_csv([...], options)` or `read_parquet([...])`. */
function readerSql(name: string, config: FileSource, files: readonly string[]): string {
  if (config.type === 'parquet') return `SELECT * FROM read_parquet(${sqlStringList(files)})`;
  const options = Object.entries(config.options ?? {}).map(([key, value]) => {
    if (!/^[a-z_][a-z0-9_]*$/i.test(key)) {
      throw new LarderError(
        'CONFIG_INVALID',
        `sources.${name} › options: "${key}" is not a read_csv option name`,
        {
          source: name,
          object: `sources.${name}`,
          field: 'options',
        },
      );
    }
    const text =
      typeof value === 'string'
        ? sqlString(value)
        : typeof value === 'boolean'
          ? String(value)
          : String(Number(value));
    return `, ${key} = ${text}`;
  });
  return `SELECT * FROM read_csv(${sqlStringList(files)}${options.join('')})`;
}

class FileBoundSource implements BoundSource {
  readonly name: string;
  readonly description: string;
  readonly columns: readonly SourceColumn[];
  readonly #sql: string;
  readonly #files: number;

  constructor(
    name: string,
    description: string,
    sql: string,
    columns: readonly SourceColumn[],
    files: number,
  ) {
    this.name = name;
    this.description = description;
    this.#sql = sql;
    this.columns = columns;
    this.#files = files;
  }

  async read(options: SourceReadOptions = {}): Promise<SourceRead> {
    let sql = this.#sql;
    const changed = options.changedAfter;
    if (changed) {
      const column = this.#column(changed.column, 'change column');
      sql = `SELECT * FROM (${sql}) AS __larder_s WHERE ${
        changed.value === null
          ? `${sqlIdent(column.name)} IS NOT NULL`
          : `${sqlIdent(column.name)} > CAST(${sqlString(changed.value)} AS ${column.duckType})`
      }`;
    }
    if (options.keys) {
      for (const key of options.keys.columns) this.#column(key, 'key column');
      sql = keySemiJoin(sql, options.keys);
    }
    return { sql, files: this.#files, filesTotal: this.#files };
  }

  async close(): Promise<void> {}

  #column(name: string, what: string): SourceColumn {
    const column = this.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (!column) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `source "${this.name}" has no column "${name}" (its ${what}); columns: ${this.columns.map((c) => c.name).join(', ')}`,
        { source: this.name, column: name },
      );
    }
    return column;
  }
}
