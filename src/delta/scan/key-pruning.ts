/**
 * Pruning a snapshot's files by a set of keys: the files that may hold a row
 * whose key columns take values of the set. Used wherever a write or a read
 * touches only some keys of a table (a pipeline source read for the
 * affected entities, the tombstones of an incremental run, the check that
 * an append brings no key the table already has).
 *
 * Each key column is summarised once (`readKeyBounds`): its distinct values
 * when there are few (`KEY_VALUES_LIMIT`), else its range. A file is kept
 * unless its statistics or partition values prove that no row's column lies
 * among the values (or in the range) — for every key column, so a composite
 * key prunes by each of its columns.
 *
 * Invariant: the files returned are a superset of the files holding a
 * matching row (pruning never drops one). A column whose values compare in
 * another order than the table column's (a number key against a string
 * column, a date against a timestamp) is not used; a column not in the
 * schema, or a type pruning does not order, keeps every file (`prune.ts`).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import type { Add } from '../log/actions.js';
import { type DataType, fromDuckDBType } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import type { Predicate } from './predicate.js';
import { filePruner, pruneContext } from './prune.js';

/** Up to this many distinct values, a key column prunes by its values; past it, by its range. */
export const KEY_VALUES_LIMIT = 2000;

/** A key column of a query, as `readKeyBounds` reads it. */
export interface KeyColumn {
  /** The column of the query. */
  readonly name: string;
  /** The table column it matches (default: `name`, matched case-insensitively). */
  readonly column?: string;
  /** Read the values as this DuckDB type (`TRY_CAST`), e.g. the table column's type. */
  readonly cast?: string;
}

/** What a set of keys holds in one column. */
export interface KeyBounds {
  /** The table column (matched case-insensitively against the schema). */
  readonly column: string;
  /** The DuckDB type of the values (decides whether they order as the table column does). */
  readonly duckType: string;
  /** Distinct non-null values as text, when at most the limit. */
  readonly values?: readonly string[];
  /** Least and greatest value as text; null when the column holds no value. */
  readonly min: string | null;
  readonly max: string | null;
}

/**
 * Summarise the key columns of `sql`: per column, its type, range and (when
 * at most `valuesLimit`) distinct values. Two queries at most.
 *
 * @example
 * const bounds = await readKeyBounds(connection, 'SELECT * FROM staged', [{ name: 'customer_id', cast: 'BIGINT' }]);
 * const files = filesForKeys(snapshot, bounds);
 */
export async function readKeyBounds(
  connection: DuckDBConnection,
  sql: string,
  columns: readonly KeyColumn[],
  valuesLimit = KEY_VALUES_LIMIT,
): Promise<KeyBounds[]> {
  if (columns.length === 0) return [];
  const expr = (c: KeyColumn) =>
    c.cast === undefined ? sqlIdent(c.name) : `TRY_CAST(${sqlIdent(c.name)} AS ${c.cast})`;
  const from = `FROM (\n${sql}\n) AS __larder_keys`;
  const [stats] = await queryJson(
    connection,
    `SELECT ${columns
      .map(
        (c, i) =>
          `count(DISTINCT ${expr(c)}) AS d${i}, min(${expr(c)})::VARCHAR AS lo${i}, max(${expr(c)})::VARCHAR AS hi${i}, typeof(min(${expr(c)})) AS t${i}`,
      )
      .join(', ')} ${from}`,
    'summarising the keys',
  );
  const few = columns.flatMap((_, i) => (Number(stats?.[`d${i}`] ?? 0) <= valuesLimit ? [i] : []));
  const [lists] =
    few.length > 0
      ? await queryJson(
          connection,
          `SELECT ${few
            .map(
              (i) =>
                `list(DISTINCT ${expr(columns[i]!)}::VARCHAR) FILTER (WHERE ${expr(columns[i]!)} IS NOT NULL) AS v${i}`,
            )
            .join(', ')} ${from}`,
          'reading the keys',
        )
      : [];
  return columns.map((c, i) => {
    const values = lists?.[`v${i}`];
    const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
    return {
      column: c.column ?? c.name,
      duckType: String(stats?.[`t${i}`] ?? ''),
      ...(few.includes(i) ? { values: Array.isArray(values) ? values.map(String) : [] } : {}),
      min: text(stats?.[`lo${i}`]),
      max: text(stats?.[`hi${i}`]),
    };
  });
}

/**
 * The files of `snapshot` that may hold a row whose key lies in `bounds`
 * (every file when no column can prune).
 *
 * @example
 * const files = filesForKeys(snapshot, await readKeyBounds(connection, keysSql, [{ name: 'customer_id' }]));
 * const { sql } = await planScan(snapshot, { files, columns: ['customer_id'] });
 */
export function filesForKeys(snapshot: Snapshot, bounds: readonly KeyBounds[]): readonly Add[] {
  const predicate = keyPredicate(snapshot, bounds);
  return predicate === undefined
    ? snapshot.files
    : snapshot.files.filter(filePruner(predicate, pruneContext(snapshot)));
}

/** The pruning predicate of `bounds` over `snapshot`'s columns, or undefined when none applies. */
export function keyPredicate(snapshot: Snapshot, bounds: readonly KeyBounds[]): Predicate | undefined {
  const children: Predicate[] = [];
  for (const b of bounds) {
    const lower = b.column.toLowerCase();
    const field = snapshot.schema.fields.find((f) => f.name.toLowerCase() === lower);
    if (!field || !sameOrder(b.duckType, field.type)) continue;
    if (b.values !== undefined) {
      children.push({ kind: 'in', column: field.name, values: b.values });
    } else if (b.min === null || b.max === null) {
      // No key has a value in this column: no row can match.
      children.push({ kind: 'in', column: field.name, values: [] });
    } else {
      children.push({ kind: 'compare', op: '>=', column: field.name, value: b.min });
      children.push({ kind: 'compare', op: '<=', column: field.name, value: b.max });
    }
  }
  if (children.length === 0) return undefined;
  return children.length === 1 ? children[0] : { kind: 'and', children };
}

/** Whether values of DuckDB type `duckType`, as text, compare as the column's values do. */
function sameOrder(duckType: string, type: DataType): boolean {
  if (duckType === '' || duckType === 'NULL') return false;
  let keyType: DataType;
  try {
    keyType = fromDuckDBType(duckType, 'key');
  } catch {
    return false;
  }
  const family = familyOf(keyType);
  return family !== undefined && family === familyOf(type);
}

function familyOf(type: DataType): string | undefined {
  if (typeof type !== 'string') return undefined;
  if (['byte', 'short', 'integer', 'long', 'float', 'double'].includes(type) || type.startsWith('decimal'))
    return 'number';
  if (['date', 'timestamp', 'timestamp_ntz', 'string', 'boolean'].includes(type)) return type;
  return undefined;
}
