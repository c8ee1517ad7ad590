/**
 * A Delta table as a pipeline source: by catalog name (resolved through the
 * engine's metastore) or by folder (relative to the project).
 *
 * Invariants: the snapshot is taken once, when the source is bound, and
 * every read of the run plans its scan over that snapshot's files, so all
 * reads see one version. Files are pruned by statistics (the change
 * column's range for changed rows; for a key set, each key column's values
 * or range, `delta/scan/key-pruning.ts`);
 * rows are then filtered exactly in SQL, so pruning never changes a result.
 */
import { resolve } from 'node:path';
import type { DeltaSource } from '../../config/define-config.js';
import { DeltaTable } from '../../delta/delta-table.js';
import type { DataType } from '../../delta/log/schema.js';
import { toDuckDBType } from '../../delta/log/schema.js';
import type { Snapshot } from '../../delta/log/snapshot.js';
import { filesForKeys, readKeyBounds } from '../../delta/scan/key-pruning.js';
import type { Literal, Predicate } from '../../delta/scan/predicate.js';
import { filePruner, pruneContext } from '../../delta/scan/prune.js';
import { planScan } from '../../delta/scan/scan.js';
import { sharedConnection, sqlIdent, sqlString } from '../../duckdb/duckdb.js';
import type { Engine } from '../../engine/engine.js';
import { isLarderError, LarderError } from '../../errors.js';
import type { BoundSource, SourceColumn, SourceRead, SourceReadOptions } from './bound-source.js';
import { keySemiJoin } from './key-semi-join.js';

/**
 * Bind a Delta source: open its latest snapshot.
 *
 * @example
 * const source = await bindDeltaSource(engine, projectDir, 'raw_transactions', { type: 'delta', path: 'data/raw_transactions' });
 */
export async function bindDeltaSource(
  engine: Engine,
  projectDir: string,
  name: string,
  config: DeltaSource,
): Promise<BoundSource> {
  let snapshot: Snapshot;
  let what: string;
  if (config.table !== undefined) {
    try {
      const { entry, table } = await engine.resolveTable(config.table);
      snapshot = table.snapshot;
      what = `delta table ${entry.fullName}`;
    } catch (error) {
      if (!isLarderError(error, 'TABLE_NOT_FOUND')) throw error;
      // The catalog's own hint (SHOW TABLES) is replaced by one about the config.
      const table = typeof error.context.table === 'string' ? error.context.table : config.table;
      throw new LarderError('SOURCE_NOT_FOUND', `source "${name}": table ${table} is not in the catalog`, {
        source: name,
        table: config.table,
        cause: error,
        hint: 'create or register the table, or fix the source in larder.config.ts',
      });
    }
  } else if (config.path !== undefined) {
    const path = resolve(projectDir, config.path);
    try {
      snapshot = (await DeltaTable.open(path)).snapshot;
    } catch (error) {
      if (!isLarderError(error, 'TABLE_NOT_FOUND')) throw error;
      throw new LarderError('SOURCE_NOT_FOUND', `source "${name}": no Delta table at ${path}`, {
        source: name,
        file: path,
        cause: error,
        hint: 'check the path; it is relative to the project folder',
      });
    }
    what = `delta table at ${path}`;
  } else {
    throw new LarderError('CONFIG_INVALID', `sources.${name}: a delta source needs "table" or "path"`, {
      source: name,
      object: `sources.${name}`,
      field: 'table',
    });
  }
  return new DeltaBoundSource(name, `${what} version ${snapshot.version}`, snapshot);
}

class DeltaBoundSource implements BoundSource {
  readonly name: string;
  readonly description: string;
  readonly columns: readonly SourceColumn[];
  readonly knownRows: number | undefined;
  readonly #snapshot: Snapshot;

  constructor(name: string, description: string, snapshot: Snapshot) {
    this.name = name;
    this.description = description;
    this.#snapshot = snapshot;
    this.columns = snapshot.schema.fields.map((f) => ({ name: f.name, duckType: toDuckDBType(f.type) }));
    this.knownRows = snapshot.numRecords;
  }

  async read(options: SourceReadOptions = {}): Promise<SourceRead> {
    const snapshot = this.#snapshot;
    const conditions: Predicate[] = [];
    const filters: string[] = [];
    const changed = options.changedAfter;
    if (changed) {
      const field = this.#field(changed.column, 'change column');
      const column = sqlIdent(field.name);
      if (changed.value === null) {
        filters.push(`${column} IS NOT NULL`);
      } else {
        filters.push(`${column} > CAST(${sqlString(changed.value)} AS ${toDuckDBType(field.type)})`);
        conditions.push({
          kind: 'compare',
          op: '>',
          column: field.name,
          value: literal(field.type, changed.value),
        });
      }
    }
    let files = snapshot.files;
    const keys = options.keys;
    if (keys) {
      for (const key of keys.columns) this.#field(key, 'key column');
      // The keys' values (or range) per column; files whose statistics exclude them are skipped.
      const bounds = await readKeyBounds(
        await sharedConnection(),
        `SELECT * FROM ${keys.table}`,
        keys.columns.map((name) => ({ name })),
      );
      files = filesForKeys(snapshot, bounds);
    }
    if (conditions.length > 0) {
      files = files.filter(
        filePruner(
          conditions.length === 1 ? conditions[0]! : { kind: 'and', children: conditions },
          pruneContext(snapshot),
        ),
      );
    }
    const plan = await planScan(snapshot, { files });
    let sql = plan.sql;
    if (filters.length > 0) sql = `SELECT * FROM (${sql}) AS __larder_s WHERE ${filters.join(' AND ')}`;
    if (keys) sql = keySemiJoin(sql, keys);
    const all = conditions.length === 0 && filters.length === 0 && !keys;
    return {
      sql,
      files: plan.files.length,
      filesTotal: snapshot.files.length,
      ...(all && this.knownRows !== undefined ? { rows: this.knownRows } : {}),
    };
  }

  async close(): Promise<void> {}

  #field(name: string, what: string) {
    const lower = name.toLowerCase();
    const field = this.#snapshot.schema.fields.find((f) => f.name.toLowerCase() === lower);
    if (!field) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `source "${this.name}" has no column "${name}" (its ${what}); columns: ${this.columns.map((c) => c.name).join(', ')}`,
        { source: this.name, column: name },
      );
    }
    return field;
  }
}

/** A value given as text, as pruning compares it with the statistics of a column of `type`. */
function literal(type: DataType, text: string): Literal {
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return /^-?\d+$/.test(text.trim()) ? BigInt(text.trim()) : text;
    case 'float':
    case 'double':
      return Number(text);
    case 'boolean':
      return text === 'true';
    default:
      return text;
  }
}
