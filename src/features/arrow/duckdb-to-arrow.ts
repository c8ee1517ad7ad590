/**
 * DuckDB query results as Apache Arrow tables, built from DuckDB's vectors
 * with typed arrays: fixed-width columns are memory copies (DuckDB stores
 * BIGINT, DOUBLE, DATE days and TIMESTAMP microseconds exactly as Arrow
 * does), validity masks are copied bitwise, and strings are copied as bytes
 * into Arrow's offsets and data buffers without being decoded. Decimals and
 * 128-bit integers are read as `Float64`; UUIDs, enums, intervals and times
 * with zones as `Utf8`. Nested columns (lists, structs, maps) go through
 * JavaScript values and Arrow's builders, the one slow path.
 *
 * This uses `@duckdb/node-bindings` (the C API binding under
 * `@duckdb/node-api`, same version) to reach the vectors' memory: the
 * high-level API reads values one by one as JavaScript objects, about thirty
 * times slower.
 *
 * Invariant: the Arrow table has the query's columns in order, its rows in
 * order, and the same nulls; the result owns its buffers (nothing points into
 * DuckDB's memory once the function returns).
 */
import {
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBMaterializedResult,
  DuckDBTypeId,
  JSDuckDBValueConverter,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import {
  Binary,
  Bool,
  type Data,
  type DataType,
  DateDay,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimeMicrosecond,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';

/** A fixed-width DuckDB type and its Arrow type. */
interface FixedKind {
  readonly width: number;
  readonly arrow: () => DataType;
}

const FIXED: Partial<Record<DuckDBTypeId, FixedKind>> = {
  [DuckDBTypeId.TINYINT]: { width: 1, arrow: () => new Int8() },
  [DuckDBTypeId.SMALLINT]: { width: 2, arrow: () => new Int16() },
  [DuckDBTypeId.INTEGER]: { width: 4, arrow: () => new Int32() },
  [DuckDBTypeId.BIGINT]: { width: 8, arrow: () => new Int64() },
  [DuckDBTypeId.UTINYINT]: { width: 1, arrow: () => new Uint8() },
  [DuckDBTypeId.USMALLINT]: { width: 2, arrow: () => new Uint16() },
  [DuckDBTypeId.UINTEGER]: { width: 4, arrow: () => new Uint32() },
  [DuckDBTypeId.UBIGINT]: { width: 8, arrow: () => new Uint64() },
  [DuckDBTypeId.FLOAT]: { width: 4, arrow: () => new Float32() },
  [DuckDBTypeId.DOUBLE]: { width: 8, arrow: () => new Float64() },
  [DuckDBTypeId.DATE]: { width: 4, arrow: () => new DateDay() },
  [DuckDBTypeId.TIME]: { width: 8, arrow: () => new TimeMicrosecond() },
  [DuckDBTypeId.TIMESTAMP]: { width: 8, arrow: () => new TimestampMicrosecond() },
  [DuckDBTypeId.TIMESTAMP_TZ]: { width: 8, arrow: () => new TimestampMicrosecond('UTC') },
  [DuckDBTypeId.TIMESTAMP_S]: { width: 8, arrow: () => new TimestampSecond() },
  [DuckDBTypeId.TIMESTAMP_MS]: { width: 8, arrow: () => new TimestampMillisecond() },
  [DuckDBTypeId.TIMESTAMP_NS]: { width: 8, arrow: () => new TimestampNanosecond() },
};

/** DuckDB types read through a cast: to DOUBLE (exact enough for features) or to VARCHAR. */
const AS_DOUBLE = /^(DECIMAL\b|HUGEINT$|UHUGEINT$|BIGNUM$|VARINT$)/i;
const AS_VARCHAR =
  /^(UUID$|ENUM\(|BIT$|INTERVAL$|TIME WITH TIME ZONE$|TIME_NS$|GEOMETRY|VARIANT$|"?NULL"?$)/i;

/**
 * Run a DuckDB query and return its result as an Arrow table.
 *
 * @example
 * const table = await queryArrow(connection, 'SELECT 1::BIGINT AS id, 2.5 AS score', 'example');
 * table.getChild('id')?.get(0); // 1n
 */
export async function queryArrow(connection: DuckDBConnection, sql: string, what: string): Promise<Table> {
  const described = await queryJson(
    connection,
    `DESCRIBE SELECT * FROM (\n${sql}\n) AS __larder_q`,
    `reading ${what}`,
  );
  const names = described.map((r) => String(r.column_name));
  const types = described.map((r) => String(r.column_type));
  const casts = types.map((t) => (AS_DOUBLE.test(t) ? 'DOUBLE' : AS_VARCHAR.test(t) ? 'VARCHAR' : undefined));
  const query = casts.some((c) => c !== undefined)
    ? `SELECT ${names
        .map((n, i) => (casts[i] ? `CAST(${sqlIdent(n)} AS ${casts[i]}) AS ${sqlIdent(n)}` : sqlIdent(n)))
        .join(', ')} FROM (\n${sql}\n) AS __larder_q`
    : sql;
  let result: DuckDBMaterializedResult;
  try {
    result = await connection.run(query);
  } catch (error) {
    throw new LarderError('SQL_ERROR', `reading ${what} failed: ${(error as Error).message}`, {
      table: what,
      cause: error,
    });
  }
  const chunks: DuckDBDataChunk[] = [];
  for (let i = 0; i < result.chunkCount; i++) chunks.push(result.getChunk(i));
  const rows = chunks.reduce((sum, c) => sum + c.rowCount, 0);
  const fields: Field[] = [];
  const children: Data[] = [];
  for (let column = 0; column < result.columnCount; column++) {
    const typeId = result.columnTypeId(column);
    const name = result.columnName(column);
    const data = readColumn(chunks, column, typeId, rows);
    fields.push(new Field(name, data.type, true));
    children.push(data);
  }
  const schema = new Schema(fields);
  const struct = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children });
  return new Table([new RecordBatch(schema, struct)]);
}

function readColumn(
  chunks: readonly DuckDBDataChunk[],
  column: number,
  typeId: DuckDBTypeId,
  rows: number,
): Data {
  const fixed = FIXED[typeId];
  if (fixed) return readFixed(chunks, column, rows, fixed);
  switch (typeId) {
    case DuckDBTypeId.BOOLEAN:
      return readBool(chunks, column, rows);
    case DuckDBTypeId.VARCHAR:
      return readBytes(chunks, column, rows, new Utf8());
    case DuckDBTypeId.BLOB:
      return readBytes(chunks, column, rows, new Binary());
    default:
      return readValues(chunks, column);
  }
}

/** The validity of a column: an Arrow bitmap (undefined when no row is null) and the null count. */
class ValidityBuilder {
  readonly #bitmap: Uint8Array;
  #anyNull = false;

  constructor(rows: number) {
    this.#bitmap = new Uint8Array(Math.ceil(rows / 8)).fill(0xff);
  }

  /** Copy the validity of a chunk's vector (rows [offset, offset + count)). */
  add(vector: duckdb.Vector, offset: number, count: number): void {
    const mask = duckdb.vector_get_validity(vector, Math.ceil(count / 64) * 8);
    if (!mask || mask.byteLength === 0) return;
    let i = 0;
    if ((offset & 7) === 0) {
      const whole = count >> 3;
      this.#bitmap.set(mask.subarray(0, whole), offset >> 3);
      for (let b = 0; b < whole; b++) if (mask[b] !== 0xff) this.#anyNull = true;
      i = whole << 3;
    }
    for (; i < count; i++) {
      const valid = (mask[i >> 3]! >> (i & 7)) & 1;
      const bit = offset + i;
      if (valid) this.#bitmap[bit >> 3]! |= 1 << (bit & 7);
      else {
        this.#bitmap[bit >> 3]! &= ~(1 << (bit & 7));
        this.#anyNull = true;
      }
    }
  }

  /** Whether row `offset + i` of a chunk whose mask is `mask` is valid. */
  static valid(mask: Uint8Array | null, i: number): boolean {
    return !mask || mask.byteLength === 0 || ((mask[i >> 3]! >> (i & 7)) & 1) === 1;
  }

  finish(rows: number): { nullBitmap?: Uint8Array; nullCount: number } {
    if (!this.#anyNull) return { nullCount: 0 };
    let valid = 0;
    const whole = rows >> 3;
    for (let b = 0; b < whole; b++) valid += POPCOUNT[this.#bitmap[b]!]!;
    for (let bit = whole << 3; bit < rows; bit++) valid += (this.#bitmap[bit >> 3]! >> (bit & 7)) & 1;
    return { nullBitmap: this.#bitmap, nullCount: rows - valid };
  }
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, n) => {
  let count = 0;
  for (let v = n; v > 0; v >>= 1) count += v & 1;
  return count;
});

function readFixed(chunks: readonly DuckDBDataChunk[], column: number, rows: number, kind: FixedKind): Data {
  const bytes = new Uint8Array(rows * kind.width);
  const validity = new ValidityBuilder(rows);
  let offset = 0;
  for (const chunk of chunks) {
    const count = chunk.rowCount;
    if (count === 0) continue;
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
    bytes.set(duckdb.vector_get_data(vector, count * kind.width), offset * kind.width);
    validity.add(vector, offset, count);
    offset += count;
  }
  const type = kind.arrow();
  // The Arrow value array of each fixed type has elements of the DuckDB type's width.
  const ArrayType = (
    type as unknown as { ArrayType: new (buffer: ArrayBuffer, offset: number, length: number) => unknown }
  ).ArrayType;
  const values = new ArrayType(bytes.buffer, 0, rows);
  return makeData({ type, length: rows, data: values, ...validity.finish(rows) } as never);
}

function readBool(chunks: readonly DuckDBDataChunk[], column: number, rows: number): Data {
  const bits = new Uint8Array(Math.ceil(rows / 8));
  const validity = new ValidityBuilder(rows);
  let offset = 0;
  for (const chunk of chunks) {
    const count = chunk.rowCount;
    if (count === 0) continue;
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
    const values = duckdb.vector_get_data(vector, count);
    for (let i = 0; i < count; i++) {
      if (values[i] !== 0) {
        const bit = offset + i;
        bits[bit >> 3]! |= 1 << (bit & 7);
      }
    }
    validity.add(vector, offset, count);
    offset += count;
  }
  return makeData({ type: new Bool(), length: rows, data: bits, ...validity.finish(rows) });
}

/** VARCHAR and BLOB: DuckDB's 16-byte string headers (length, then inline bytes or a pointer) → offsets + bytes. */
function readBytes(
  chunks: readonly DuckDBDataChunk[],
  column: number,
  rows: number,
  type: Utf8 | Binary,
): Data {
  const parts: { data: Uint8Array; mask: Uint8Array | null; count: number }[] = [];
  const offsets = new Int32Array(rows + 1);
  const validity = new ValidityBuilder(rows);
  let total = 0;
  let row = 0;
  for (const chunk of chunks) {
    const count = chunk.rowCount;
    if (count === 0) continue;
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
    const data = duckdb.vector_get_data(vector, count * 16);
    const mask = duckdb.vector_get_validity(vector, Math.ceil(count / 64) * 8);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < count; i++) {
      if (ValidityBuilder.valid(mask, i)) total += view.getUint32(i * 16, true);
      if (total > 0x7fffffff) {
        throw new LarderError(
          'UNSUPPORTED_FEATURE',
          'a string column holds more than 2 GB; read fewer rows',
          {
            feature: 'largeStrings',
          },
        );
      }
      offsets[++row] = total;
    }
    validity.add(vector, row - count, count);
    parts.push({ data, mask, count });
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const { data, mask, count } of parts) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < count; i++) {
      if (!ValidityBuilder.valid(mask, i)) continue;
      const length = view.getUint32(i * 16, true);
      if (length <= 12) {
        bytes.set(data.subarray(i * 16 + 4, i * 16 + 4 + length), at);
      } else {
        bytes.set(
          duckdb.get_data_from_pointer(data.buffer as ArrayBuffer, data.byteOffset + i * 16 + 8, length),
          at,
        );
      }
      at += length;
    }
  }
  return makeData({
    type,
    length: rows,
    valueOffsets: offsets,
    data: bytes,
    ...validity.finish(rows),
  } as never);
}

/** Nested and other columns: JavaScript values, typed by Arrow's inference. */
function readValues(chunks: readonly DuckDBDataChunk[], column: number): Data {
  const values: unknown[] = [];
  for (const chunk of chunks) {
    if (chunk.rowCount === 0) continue;
    for (const value of chunk.convertColumnValues(column, JSDuckDBValueConverter)) values.push(value);
  }
  const data = vectorFromArray(values).data;
  if (data.length !== 1 || !data[0]) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `column ${column + 1} of the result cannot be read into Arrow`,
      {
        feature: 'nestedColumns',
        hint: 'cast it to a string in the query',
      },
    );
  }
  return data[0];
}
