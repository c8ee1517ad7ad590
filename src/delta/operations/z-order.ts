/**
 * Z-order (Morton) keys: one unsigned 64-bit integer per row whose bits
 * interleave the bits of several columns, so that sorting by it keeps rows
 * close in every one of those columns at once. Files written in key order
 * then have narrow min/max ranges on each column, and stats prune on each.
 *
 * How a row's key is computed, entirely in one DuckDB SQL expression:
 * - each of the n columns becomes an unsigned integer of B = floor(62 / n)
 *   bits: numbers, dates and timestamps by min/max scaling (the bounds come
 *   from the files' stats, so no extra pass over the data); strings by their
 *   first characters after the prefix every value shares (taken from the
 *   min/max stats), since hashing would destroy ranges;
 * - each integer's bits are spread n apart with shifts and masks (log2(B)
 *   steps, not one term per bit) and the spread values are OR-ed together.
 * A single column needs no key: rows are sorted by the column itself.
 *
 * Invariants: the key only orders rows, it never filters or changes them:
 * out-of-range values are clamped, nulls and NaNs get a valid key, and
 * wrong bounds only make the clustering worse, never the data wrong.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import { type ColumnMappingMode, physicalName, type StructType } from '../log/schema.js';
import { fileStats } from '../log/stats.js';

/** A column rows are ordered by. */
export interface ZOrderColumn {
  /** Logical name, as in the schema. */
  readonly name: string;
  /** Name in stats (column mapping). */
  readonly physical: string;
  /** Delta primitive type. */
  readonly type: string;
}

/** What a column of the table looks like to the key builder. */
export interface ZOrderTable {
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  readonly columnMappingMode: ColumnMappingMode;
  /** For messages. */
  readonly table: string;
}

const NUMERIC = new Set(['byte', 'short', 'integer', 'long', 'float', 'double']);

/**
 * Resolve column names (case-insensitive) to the columns a key can be built
 * from. Throws `INVALID_ARGUMENT` naming the column when it does not exist,
 * is a partition column, or has a type without min/max statistics.
 *
 * @example
 * const columns = resolveZOrderColumns(tableOf(snapshot), ['customer_id', 'day'], 'ZORDER BY');
 */
export function resolveZOrderColumns(
  table: ZOrderTable,
  names: readonly string[],
  purpose: string,
): ZOrderColumn[] {
  const result: ZOrderColumn[] = [];
  const partitions = new Set(table.partitionColumns.map((c) => c.toLowerCase()));
  for (const name of names) {
    const field =
      table.schema.fields.find((f) => f.name === name) ??
      table.schema.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
    if (!field) {
      throw new LarderError('INVALID_ARGUMENT', `${purpose}: table ${table.table} has no column "${name}"`, {
        table: table.table,
        column: name,
        hint: `columns: ${table.schema.fields.map((f) => f.name).join(', ')}`,
      });
    }
    if (partitions.has(field.name.toLowerCase())) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${purpose}: "${field.name}" is a partition column of ${table.table}; files are already split by it`,
        { table: table.table, column: field.name, hint: 'order by non-partition columns' },
      );
    }
    const type = field.type;
    const supported =
      typeof type === 'string' &&
      (NUMERIC.has(type) ||
        type.startsWith('decimal') ||
        type === 'string' ||
        type === 'date' ||
        type === 'timestamp' ||
        type === 'timestamp_ntz');
    if (!supported) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${purpose}: column "${field.name}" of ${table.table} has type ${typeof type === 'string' ? type : type.type}, which has no min/max statistics to prune with`,
        { table: table.table, column: field.name, hint: 'use numeric, string, date or timestamp columns' },
      );
    }
    if (result.some((c) => c.name === field.name)) continue;
    result.push({ name: field.name, physical: physicalName(field, table.columnMappingMode), type });
  }
  return result;
}

/** The range of a column's values: numbers (days for dates, ms for timestamps), or strings. */
export type ZOrderBounds =
  | { readonly kind: 'number'; readonly min: number; readonly max: number }
  | { readonly kind: 'string'; readonly min: string; readonly max: string };

/** Bounds of a column without values (all null): every row gets the same coordinate. */
const NO_RANGE: ZOrderBounds = { kind: 'number', min: 0, max: 0 };

/**
 * The bounds of each column over `files`, from their stats; `undefined` for
 * a column whose bounds some file's stats do not give.
 */
export function boundsFromStats(
  columns: readonly ZOrderColumn[],
  files: readonly Add[],
): (ZOrderBounds | undefined)[] {
  return columns.map((column) => {
    let min: unknown;
    let max: unknown;
    for (const file of files) {
      const stats = fileStats(file);
      const lo = stats?.minValues?.[column.physical];
      const hi = stats?.maxValues?.[column.physical];
      if (lo === undefined || lo === null || hi === undefined || hi === null) {
        // A file of nulls only has no bounds and needs none.
        const rows = stats?.numRecords;
        const nulls = stats?.nullCount?.[column.physical];
        if (rows !== undefined && nulls === rows) continue;
        return undefined;
      }
      if (min === undefined || compareStat(lo, min, column.type) < 0) min = lo;
      if (max === undefined || compareStat(hi, max, column.type) > 0) max = hi;
    }
    if (min === undefined || max === undefined) return NO_RANGE;
    return column.type === 'string'
      ? { kind: 'string', min: String(min), max: String(max) }
      : numericBounds(statNumber(min, column.type), statNumber(max, column.type));
  });
}

/**
 * The bounds of each column over the rows of `sql`, with one aggregate query
 * (for rows that have no stats yet, such as the input of a write).
 */
export async function boundsFromQuery(
  connection: DuckDBConnection,
  sql: string,
  columns: readonly ZOrderColumn[],
): Promise<ZOrderBounds[]> {
  if (columns.length === 0) return [];
  const aggregates = columns.flatMap((c, i) => {
    if (c.type === 'string') {
      return [
        `min(${sqlIdent(c.name)}) AS ${sqlIdent(`lo${i}`)}`,
        `max(${sqlIdent(c.name)}) AS ${sqlIdent(`hi${i}`)}`,
      ];
    }
    const v = numericExpr(sqlIdent(c.name), c.type);
    return [
      `min(${v}) FILTER (WHERE isfinite(${v})) AS ${sqlIdent(`lo${i}`)}`,
      `max(${v}) FILTER (WHERE isfinite(${v})) AS ${sqlIdent(`hi${i}`)}`,
    ];
  });
  const [row] = await queryJson(
    connection,
    `SELECT ${aggregates.join(', ')} FROM (${sql}) AS __larder_bounds`,
    'computing the ranges of the clustering columns',
  );
  return columns.map((c, i) => {
    const lo = row?.[`lo${i}`];
    const hi = row?.[`hi${i}`];
    if (lo === null || lo === undefined || hi === null || hi === undefined) return NO_RANGE;
    return c.type === 'string'
      ? { kind: 'string', min: String(lo), max: String(hi) }
      : numericBounds(Number(lo), Number(hi));
  });
}

/**
 * `sql` with its rows sorted by the Z-order key of `columns` (same columns
 * as `sql`).
 * Missing bounds are computed with `boundsFromQuery`.
 *
 * @example
 * const columns = resolveZOrderColumns(table, ['x', 'y'], 'ZORDER BY');
 * const sorted = await zOrderedSql(connection, scan.sql, columns, boundsFromStats(columns, files));
 */
export async function zOrderedSql(
  connection: DuckDBConnection,
  sql: string,
  columns: readonly ZOrderColumn[],
  bounds: readonly (ZOrderBounds | undefined)[] = [],
): Promise<string> {
  if (columns.length === 0) return sql;
  const keyed = await zOrderKeyedSql(connection, sql, columns, bounds);
  // Only the key is carried to the sort, not the coordinates; the output has the input's columns.
  return `SELECT * EXCLUDE (${Z_KEY}) FROM (${keyed}) AS __larder_z ORDER BY ${Z_KEY} NULLS FIRST`;
}

/** The name of the key column `zOrderKeyedSql` adds. */
export const Z_KEY = '__larder_zkey';

/**
 * `sql` with one more column, `__larder_zkey`: the Z-order key of `columns`
 * (the column itself when there is one). Missing bounds are computed with
 * `boundsFromQuery`.
 *
 * @example
 * const keyed = await zOrderKeyedSql(connection, scan.sql, columns, boundsFromStats(columns, files));
 */
export async function zOrderKeyedSql(
  connection: DuckDBConnection,
  sql: string,
  columns: readonly ZOrderColumn[],
  bounds: readonly (ZOrderBounds | undefined)[] = [],
): Promise<string> {
  if (columns.length === 1) {
    return `SELECT *, ${sqlIdent(columns[0]!.name)} AS ${Z_KEY} FROM (${sql}) AS __larder_zsrc`;
  }
  const missing = columns.filter((_, i) => bounds[i] === undefined);
  const computed = await boundsFromQuery(connection, sql, missing);
  const all = columns.map((c, i) => bounds[i] ?? computed[missing.indexOf(c)]!);
  const bits = Math.floor(62 / columns.length);
  const names = columns.map((_, i) => sqlIdent(`__larder_z${i}`));
  const scaled = columns.map((c, i) => `${scaledExpr(c, all[i]!, bits)} AS ${names[i]}`);
  return (
    `SELECT * EXCLUDE (${names.join(', ')}), ${mortonKey(names, bits)} AS ${Z_KEY} FROM (` +
    `SELECT *, ${scaled.join(', ')} FROM (${sql}) AS __larder_zsrc) AS __larder_zs`
  );
}

/** Whether DuckDB can take approximate quantiles of the key of `columns` (numbers, dates, times, Morton keys). */
export function keyHasQuantiles(columns: readonly ZOrderColumn[]): boolean {
  if (columns.length !== 1) return columns.length > 1;
  const type = columns[0]!.type;
  return NUMERIC.has(type) || type === 'date' || type === 'timestamp' || type === 'timestamp_ntz';
}

/**
 * The Morton key of n unsigned integers of `bits` bits each (SQL UBIGINT
 * expressions): bit b of value i lands at position b·n + (n − 1 − i).
 */
export function mortonKey(values: readonly string[], bits: number): string {
  const n = values.length;
  if (n * bits > 64) throw new LarderError('INVALID_ARGUMENT', `a Z-order key holds at most 64 bits`);
  if (n === 1) return values[0]!;
  return values.map((v, i) => `(${spreadBits(v, n, bits)} << ${n - 1 - i})`).join(' | ');
}

/** Spread the low `bits` bits of `value` so that consecutive bits land `stride` apart. */
function spreadBits(value: string, stride: number, bits: number): string {
  let levels = 0;
  while (1 << levels < bits) levels++;
  let x = value;
  // Highest bit `x` can hold before each step: the inputs are `bits` wide.
  let high = bits - 1;
  for (let k = levels - 1; k >= 0; k--) {
    const shift = (stride - 1) << k;
    let mask = 0n;
    for (let p = 0; p < stride * bits; p++) {
      if (p % (stride << k) < 1 << k) mask |= 1n << BigInt(p);
    }
    // DuckDB refuses shifts that overflow: drop the bits the mask would drop anyway.
    const shifted =
      high + shift > 63
        ? `((${x} & ${((1n << BigInt(64 - shift)) - 1n).toString()}::UBIGINT) << ${shift})`
        : `(${x} << ${shift})`;
    x = `((${x} | ${shifted}) & ${mask.toString()}::UBIGINT)`;
    high = mask.toString(2).length - 1;
  }
  return x;
}

/** A column as an unsigned integer of `bits` bits, scaled from its bounds. */
function scaledExpr(column: ZOrderColumn, bounds: ZOrderBounds, bits: number): string {
  const top = 2 ** bits - 1;
  const ref = sqlIdent(column.name);
  let value: string;
  let min: number;
  let max: number;
  if (bounds.kind === 'string') {
    // Every value between min and max starts with their common prefix: skip it.
    const a = [...bounds.min];
    const b = [...bounds.max];
    let shared = 0;
    while (shared < a.length && shared < b.length && a[shared] === b[shared]) shared++;
    const chars = stringChars(bits);
    value = stringNumberExpr(ref, shared, chars);
    min = stringNumber(a, shared, chars);
    max = stringNumber(b, shared, chars);
  } else {
    min = bounds.min;
    max = bounds.max;
    const integral = integerExpr(ref, column.type);
    if (integral && Number.isSafeInteger(min) && Number.isSafeInteger(max) && max > min) {
      // Integers: offset and shift to the top of the `bits` bits (cheaper than floating point).
      const width = (max - min).toString(2).length;
      const offset = `CAST(least(greatest(${integral}, ${min}), ${max}) - ${min} AS UBIGINT)`;
      const aligned = width <= bits ? `(${offset} << ${bits - width})` : `(${offset} >> ${width - bits})`;
      return `coalesce(${aligned}, 0::UBIGINT)`;
    }
    value = numericExpr(ref, column.type);
  }
  const span = max - min;
  if (!(span > 0) || !Number.isFinite(span)) return '0::UBIGINT';
  const factor = top / span;
  return `coalesce(CAST(greatest(0, least(${top}, (${value} - (${min})) * ${factor})) AS UBIGINT), 0::UBIGINT)`;
}

/** An integer-valued column as BIGINT (days for dates, ms for timestamps), or undefined. */
function integerExpr(ref: string, type: string): string | undefined {
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return `CAST(${ref} AS BIGINT)`;
    case 'date':
      return `(${ref} - DATE '1970-01-01')`;
    case 'timestamp':
    case 'timestamp_ntz':
      return `epoch_ms(${ref})`;
    default:
      return undefined;
  }
}

/** Characters of a string that fill `bits` bits (8 per character; at most 6, exact in a double). */
function stringChars(bits: number): number {
  return Math.min(6, Math.max(1, Math.ceil(bits / 8)));
}

/** A number, date or timestamp as a DOUBLE (days for dates, ms for timestamps). */
function numericExpr(ref: string, type: string): string {
  if (type === 'date') return `CAST((${ref} - DATE '1970-01-01') AS DOUBLE)`;
  if (type === 'timestamp' || type === 'timestamp_ntz') return `CAST(epoch_ms(${ref}) AS DOUBLE)`;
  return `CAST(${ref} AS DOUBLE)`;
}

/** The `chars` characters after the first `skip`, base 256 (code points capped at 255), as a DOUBLE. */
function stringNumberExpr(ref: string, skip: number, chars: number): string {
  const parts: string[] = [];
  for (let j = 0; j < chars; j++) {
    parts.push(
      `CAST(least(ascii(substr(${ref}, ${skip + j + 1}, 1)), 255) AS DOUBLE) * ${256 ** (chars - 1 - j)}`,
    );
  }
  return `(${parts.join(' + ')})`;
}

/** The same number as `stringNumberExpr`, in JavaScript (`points`: the string's code points). */
function stringNumber(points: readonly string[], skip: number, chars: number): number {
  let n = 0;
  for (let j = 0; j < chars; j++) {
    const c = points[skip + j];
    n = n * 256 + (c === undefined ? 0 : Math.min(c.codePointAt(0)!, 255));
  }
  return n;
}

function numericBounds(min: number, max: number): ZOrderBounds {
  return Number.isFinite(min) && Number.isFinite(max) ? { kind: 'number', min, max } : NO_RANGE;
}

/** A stats bound as the number `numericExpr` gives for it. */
function statNumber(value: unknown, type: string): number {
  if (typeof value === 'number') return value;
  const text = String(value);
  if (type === 'date') return Date.parse(`${text}T00:00:00Z`) / 86_400_000;
  if (type === 'timestamp' || type === 'timestamp_ntz') {
    return Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`);
  }
  return Number(text);
}

function compareStat(a: unknown, b: unknown, type: string): number {
  if (type === 'string') {
    const x = String(a);
    const y = String(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return statNumber(a, type) - statNumber(b, type);
}
