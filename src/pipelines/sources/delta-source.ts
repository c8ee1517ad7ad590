/**
 * A Delta table as a pipeline source: by catalog name (resolved through the
 * engine's metastore) or by folder (relative to the project).
 *
 * Invariants: the snapshot is taken once, when the source is bound, and
 * every read of the run plans its scan over that snapshot's files, so all
 * reads see one version. Files are pruned by statistics (the change
 * column's range for changed rows, the key values for a small key set);
 * rows are then filtered exactly in SQL, so pruning never changes a result.
 */
import { resolve } from 'node:path';
import type { DeltaSource } from '../../config/define-config.js';
import { DeltaTable } from '../../delta/delta-table.js';
import type { DataType } from '../../delta/log/schema.js';
import { toDuckDBType } from '../../delta/log/schema.js';
import type { Snapshot } from '../../delta/log/snapshot.js';
import type { Literal, Predicate } from '../../delta/scan/predicate.js';
import { filePruner, pruneContext } from '../../delta/scan/prune.js';
import { planScan } from '../../delta/scan/scan.js';
import { sqlIdent, sqlString } from '../../duckdb/duckdb.js';
import type { Engine } from '../../engine/engine.js';
import { isLarderError, LarderError } from '../../errors.js';
import type { BoundSource, SourceColumn, SourceRead, SourceReadOptions } from './bound-source.js';
import { keySemiJoin } from './key-semi-join.js';

/** Up to this many keys, a single-column key set prunes files by value. */
const PRUNE_KEY_LIMIT = 2000;

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
      throw new LarderError('SOURCE_NOT_FOUND', `source "${name}": ${error.message}`, {
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
        hint: 'check the path (relative to the project folder)',
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
    const keys = options.keys;
    if (keys) {
      for (const key of keys.columns) this.#field(key, 'key column');
      if (keys.columns.length === 1 && keys.count <= PRUNE_KEY_LIMIT && keys.count > 0) {
        const field = this.#field(keys.columns[0]!, 'key column');
        const values = (await keys.values()).map((v) => literal(field.type, v[0]!));
        conditions.push({ kind: 'in', column: field.name, values });
      }
    }
    const files =
      conditions.length === 0
        ? snapshot.files
        : snapshot.files.filter(
            filePruner(
              conditions.length === 1 ? conditions[0]! : { kind: 'and', children: conditions },
              pruneContext(snapshot),
            ),
          );
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
