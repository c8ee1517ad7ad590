/**
 * Apache Arrow tables into DuckDB, column by column: each Arrow column's
 * buffers are copied into DuckDB data chunks (2048 rows) and appended to a
 * table of the process-wide in-memory database, with no per-row JavaScript
 * objects and no JSON. Fixed-width columns (integers, floats, dates,
 * timestamps) are one memory copy per chunk, since DuckDB's layout is
 * Arrow's; validity bitmaps are copied as bytes; strings and binaries are
 * handed over value by value as bytes (never decoded to JavaScript strings).
 *
 * This uses `@duckdb/node-bindings` (the C API binding under
 * `@duckdb/node-api`, same version): the high-level API only writes values
 * one by one through JavaScript objects, ten times slower.
 *
 * Arrow JS's slicing convention is followed: a sliced Data's `offset` applies
 * to its validity bitmap (and boolean bits) only; its value and offset
 * buffers already start at the slice.
 *
 * Invariants: the staged rows equal the Arrow table's rows, in order, with
 * the same nulls; a column type DuckDB cannot hold is `UNSUPPORTED_FEATURE`
 * naming the column, raised before anything is created.
 */
import { randomUUID } from 'node:crypto';
import { type DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import {
  type Table as ArrowTable,
  type Data,
  type DataType,
  DateUnit,
  makeVector,
  Precision,
  TimeUnit,
  Type,
} from 'apache-arrow';
import { sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';

/** Rows per appended chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/** A column of an Arrow table as staged: its raw DuckDB type, how to fill it, how to read it back. */
interface ColumnPlan {
  readonly name: string;
  /** The DuckDB type of the staging column. */
  readonly stageType: string;
  /** The SELECT expression turning the staging column into the column's value (over `raw`). */
  readonly select: string;
  /** Copy rows [start, start + count) of `data` into `vector`. */
  fill(vector: duckdb.Vector, data: Data, start: number, count: number): void;
}

/** An Arrow table staged in DuckDB. */
export interface StagedArrow {
  /** A query giving the table's rows with their DuckDB types. */
  readonly sql: string;
  /** The number of rows. */
  readonly rows: number;
  /** Drop the staging table. */
  release(): Promise<void>;
}

/**
 * Whether `value` is an Apache Arrow `Table` (checked by shape, so that a
 * table from another copy of `apache-arrow` counts).
 */
export function isArrowTable(value: unknown): value is ArrowTable {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<ArrowTable>;
  return (
    typeof candidate.getChildAt === 'function' &&
    Array.isArray(candidate.batches) &&
    typeof candidate.schema === 'object' &&
    candidate.schema !== null &&
    Array.isArray(candidate.schema.fields)
  );
}

/**
 * Copy an Arrow table into a new table of DuckDB's in-memory database
 * (visible to every connection of the process).
 *
 * @example
 * const staged = await stageArrowTable(connection, tableFromArrays({ id: BigInt64Array.from([1n, 2n]) }), 'features');
 * try { await table.append(staged.sql); } finally { await staged.release(); }
 */
export async function stageArrowTable(
  connection: DuckDBConnection,
  arrow: ArrowTable,
  what: string,
): Promise<StagedArrow> {
  const plans = arrow.schema.fields.map((field) => planColumn(field.name, field.type, what));
  const seen = new Set<string>();
  for (const plan of plans) {
    const key = plan.name.toLowerCase();
    if (seen.has(key)) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `the Arrow table for ${what} has two columns named "${plan.name}" (names are case-insensitive)`,
        { table: what, column: plan.name },
      );
    }
    seen.add(key);
  }
  if (plans.length === 0) {
    throw new LarderError('INVALID_ARGUMENT', `the Arrow table for ${what} has no columns`, { table: what });
  }
  const name = `__larder_arrow_${randomUUID().replaceAll('-', '')}`;
  const qualified = `memory.main.${name}`;
  const release = async () => {
    await connection.run(`DROP TABLE IF EXISTS ${qualified}`).catch(() => undefined);
  };
  await connection.run(
    `CREATE TABLE ${qualified} (${plans.map((p, i) => `c${i} ${p.stageType}`).join(', ')})`,
  );
  try {
    const appender = await connection.createAppender(name, 'main', 'memory');
    try {
      const types = plans.map((_, i) => appender.columnType(i));
      for (const batch of arrow.batches) {
        const columns = plans.map((_, i) => batch.getChildAt(i)?.data[0]);
        for (let start = 0; start < batch.numRows; start += CHUNK_ROWS) {
          const count = Math.min(CHUNK_ROWS, batch.numRows - start);
          const chunk = DuckDBDataChunk.create(types, count);
          plans.forEach((plan, i) => {
            const data = columns[i];
            const vector = duckdb.data_chunk_get_vector(chunk.chunk, i);
            if (!data) throw new LarderError('INVALID_ARGUMENT', `column "${plan.name}" has no data`);
            plan.fill(vector, data, start, count);
            copyValidity(vector, data, start, count);
          });
          appender.appendDataChunk(chunk);
        }
      }
    } finally {
      appender.closeSync();
    }
  } catch (error) {
    await release();
    if (error instanceof LarderError) throw error;
    throw new LarderError(
      'IO_ERROR',
      `cannot load the Arrow table for ${what}: ${(error as Error).message}`,
      {
        table: what,
        cause: error,
      },
    );
  }
  const select = plans.map((p, i) => `${p.select.replaceAll('$', `c${i}`)} AS ${sqlIdent(p.name)}`);
  return { sql: `SELECT ${select.join(', ')} FROM ${qualified}`, rows: arrow.numRows, release };
}

function planColumn(name: string, type: DataType, what: string): ColumnPlan {
  const plain = (stageType: string, width: number, select = '$'): ColumnPlan => ({
    name,
    stageType,
    select,
    fill: (vector, data, start, count) => copyFixed(vector, data, start, count, width),
  });
  switch (type.typeId) {
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: 8 | 16 | 32 | 64; isSigned: boolean };
      const names = { 8: 'TINYINT', 16: 'SMALLINT', 32: 'INTEGER', 64: 'BIGINT' } as const;
      return plain(`${isSigned ? '' : 'U'}${names[bitWidth]}`, bitWidth / 8);
    }
    case Type.Float: {
      const precision = (type as unknown as { precision: Precision }).precision;
      if (precision === Precision.SINGLE) return plain('FLOAT', 4);
      if (precision === Precision.DOUBLE) return plain('DOUBLE', 8);
      return {
        name,
        stageType: 'FLOAT',
        select: '$',
        fill: (v, d, s, c) => fillByValue(v, d, s, c, 'float'),
      };
    }
    case Type.Bool:
      return { name, stageType: 'BOOLEAN', select: '$', fill: fillBool };
    case Type.Utf8:
    case Type.LargeUtf8:
      return { name, stageType: 'VARCHAR', select: '$', fill: fillBytes };
    case Type.Binary:
    case Type.LargeBinary:
      return { name, stageType: 'BLOB', select: '$', fill: fillBytes };
    case Type.Date: {
      const unit = (type as unknown as { unit: DateUnit }).unit;
      if (unit === DateUnit.DAY) return plain('DATE', 4);
      return plain('TIMESTAMP_MS', 8, 'CAST($ AS DATE)');
    }
    case Type.Timestamp: {
      const { unit, timezone } = type as unknown as { unit: TimeUnit; timezone: string | null };
      const stage = {
        [TimeUnit.SECOND]: 'TIMESTAMP_S',
        [TimeUnit.MILLISECOND]: 'TIMESTAMP_MS',
        [TimeUnit.MICROSECOND]: 'TIMESTAMP',
        [TimeUnit.NANOSECOND]: 'TIMESTAMP_NS',
      }[unit];
      // Arrow stores instants in UTC; the session time zone is UTC, so the cast keeps the instant.
      const select = timezone
        ? 'CAST($ AS TIMESTAMPTZ)'
        : unit === TimeUnit.MICROSECOND
          ? '$'
          : 'CAST($ AS TIMESTAMP)';
      return plain(stage, 8, select);
    }
    case Type.Decimal: {
      const { precision, scale, bitWidth } = type as unknown as {
        precision: number;
        scale: number;
        bitWidth: number;
      };
      if (precision > 38 || (bitWidth !== 128 && bitWidth !== 64)) break;
      return {
        name,
        stageType: 'VARCHAR',
        select: `CAST($ AS DECIMAL(${precision},${scale}))`,
        fill: (v, d, s, c) => fillDecimal(v, d, s, c, scale, bitWidth / 32),
      };
    }
    case Type.Dictionary: {
      const valueType = (type as unknown as { dictionary: DataType }).dictionary;
      if (valueType.typeId !== Type.Utf8 && valueType.typeId !== Type.LargeUtf8) break;
      return {
        name,
        stageType: 'VARCHAR',
        select: '$',
        fill: (v, d, s, c) => fillByValue(v, d, s, c, 'string'),
      };
    }
    case Type.Null:
      return { name, stageType: 'VARCHAR', select: '$', fill: () => undefined };
    default:
      break;
  }
  throw new LarderError(
    'UNSUPPORTED_FEATURE',
    `column "${name}" of the Arrow table for ${what} has type ${String(type)}, which Larder does not load from Arrow`,
    {
      table: what,
      column: name,
      hint: 'cast it to a number, string, boolean, date, timestamp or decimal column, or pass rows or a SQL query',
    },
  );
}

function copyFixed(vector: duckdb.Vector, data: Data, start: number, count: number, width: number): void {
  const values = data.values as ArrayBufferView;
  duckdb.copy_data_to_vector(
    vector,
    0,
    values.buffer as ArrayBuffer,
    values.byteOffset + start * width,
    count * width,
  );
}

function fillBool(vector: duckdb.Vector, data: Data, start: number, count: number): void {
  const bits = data.values as Uint8Array;
  const bytes = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const bit = data.offset + start + i;
    bytes[i] = (bits[bit >> 3]! >> (bit & 7)) & 1;
  }
  duckdb.copy_data_to_vector(vector, 0, bytes.buffer, 0, count);
}

function fillBytes(vector: duckdb.Vector, data: Data, start: number, count: number): void {
  const offsets = data.valueOffsets as Int32Array | BigInt64Array;
  const values = data.values as Uint8Array;
  const valid = data.nullCount > 0 ? data.nullBitmap : undefined;
  for (let i = 0; i < count; i++) {
    if (valid && !bitSet(valid, data.offset + start + i)) continue;
    const from = Number(offsets[start + i]);
    const to = Number(offsets[start + i + 1]);
    duckdb.vector_assign_string_element_len(vector, i, values.subarray(from, to));
  }
}

/** Values that need JavaScript's help (half floats, dictionary strings): one `get` per value. */
function fillByValue(
  vector: duckdb.Vector,
  data: Data,
  start: number,
  count: number,
  kind: 'float' | 'string',
): void {
  const values = makeVector(data);
  if (kind === 'float') {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = Number(values.get(start + i) ?? 0);
    duckdb.copy_data_to_vector(vector, 0, out.buffer, 0, count * 4);
    return;
  }
  for (let i = 0; i < count; i++) {
    const value: unknown = values.get(start + i);
    if (value !== null && value !== undefined) duckdb.vector_assign_string_element(vector, i, String(value));
  }
}

function fillDecimal(
  vector: duckdb.Vector,
  data: Data,
  start: number,
  count: number,
  scale: number,
  words: number,
): void {
  const values = data.values as Uint32Array;
  const valid = data.nullCount > 0 ? data.nullBitmap : undefined;
  for (let i = 0; i < count; i++) {
    if (valid && !bitSet(valid, data.offset + start + i)) continue;
    const row = start + i;
    let unscaled = 0n;
    for (let w = words - 1; w >= 0; w--) unscaled = (unscaled << 32n) | BigInt(values[row * words + w]!);
    unscaled = BigInt.asIntN(words * 32, unscaled);
    duckdb.vector_assign_string_element(vector, i, decimalText(unscaled, scale));
  }
}

/** `12345n, 2` → `'123.45'`. */
function decimalText(unscaled: bigint, scale: number): string {
  if (scale === 0) return unscaled.toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function bitSet(bitmap: Uint8Array, bit: number): boolean {
  return ((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 1;
}

/** Copy the validity of rows [start, start + count) into the vector (nothing when there are no nulls). */
function copyValidity(vector: duckdb.Vector, data: Data, start: number, count: number): void {
  if (data.typeId === Type.Null) {
    writeValidity(vector, new Uint8Array(Math.ceil(count / 64) * 8));
    return;
  }
  if (data.nullCount === 0 || !data.nullBitmap || data.nullBitmap.length === 0) return;
  const bitmap = data.nullBitmap;
  const first = data.offset + start;
  const mask = new Uint8Array(Math.ceil(count / 64) * 8);
  if ((first & 7) === 0) {
    const from = first >> 3;
    mask.set(bitmap.subarray(from, Math.min(bitmap.length, from + Math.ceil(count / 8))));
  } else {
    for (let i = 0; i < count; i++) if (bitSet(bitmap, first + i)) mask[i >> 3]! |= 1 << (i & 7);
  }
  writeValidity(vector, mask);
}

function writeValidity(vector: duckdb.Vector, mask: Uint8Array): void {
  duckdb.vector_ensure_validity_writable(vector);
  duckdb.copy_data_to_vector_validity(
    vector,
    0,
    mask.buffer as ArrayBuffer,
    mask.byteOffset,
    mask.byteLength,
  );
}
