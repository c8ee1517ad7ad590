/**
 * Spark SQL data types, as `CREATE TABLE` column lists write them, to the
 * Delta types of the log (`integer`, `long`, `decimal(10,2)`, nested array,
 * map and struct types), and back to the names Spark's `DESCRIBE` prints.
 *
 * Accepted: INT/INTEGER, BIGINT/LONG, SMALLINT/SHORT, TINYINT/BYTE,
 * STRING/VARCHAR(n)/CHAR(n)/TEXT, DOUBLE [PRECISION], FLOAT/REAL,
 * BOOLEAN/BOOL, DATE, TIMESTAMP/TIMESTAMP_LTZ, TIMESTAMP_NTZ,
 * DECIMAL/DEC/NUMERIC[(p[,s])], BINARY, ARRAY<T>, MAP<K, V> and
 * STRUCT<name[:] T [NOT NULL] [COMMENT '…'], …>. INTERVAL, VARIANT, VOID
 * and unknown names fail with UNSUPPORTED_FEATURE naming the type.
 *
 * Invariant: `sparkTypeName(parseSparkType(x))` is Spark's canonical name of
 * `x` (lower case, `int`, `bigint`, `array<int>`, `struct<a:int>`).
 */
import type { DataType, StructField } from '../../delta/log/schema.js';
import { LarderError } from '../../errors.js';
import { TokenCursor } from './token-cursor.js';

const SIMPLE_TYPES: Readonly<Record<string, DataType>> = {
  INT: 'integer',
  INTEGER: 'integer',
  BIGINT: 'long',
  LONG: 'long',
  SMALLINT: 'short',
  SHORT: 'short',
  TINYINT: 'byte',
  BYTE: 'byte',
  STRING: 'string',
  TEXT: 'string',
  FLOAT: 'float',
  REAL: 'float',
  DOUBLE: 'double',
  BOOLEAN: 'boolean',
  BOOL: 'boolean',
  DATE: 'date',
  TIMESTAMP: 'timestamp',
  TIMESTAMP_LTZ: 'timestamp',
  TIMESTAMP_NTZ: 'timestamp_ntz',
  BINARY: 'binary',
};

const UNSUPPORTED_TYPES = new Set(['INTERVAL', 'VARIANT', 'VOID', 'OBJECT', 'GEOMETRY', 'GEOGRAPHY']);

/**
 * Parse a Spark SQL type.
 *
 * @example
 * parseSparkType('DECIMAL(10, 2)'); // 'decimal(10,2)'
 * parseSparkType('ARRAY<STRUCT<id: BIGINT, tags: MAP<STRING, INT>>>');
 */
export function parseSparkType(text: string): DataType {
  const cursor = new TokenCursor(text);
  const type = readSparkType(cursor);
  cursor.expectEnd();
  return type;
}

/** Read a Spark type at the cursor (used inside column lists). */
export function readSparkType(cursor: TokenCursor): DataType {
  const token = cursor.peek();
  if (token?.kind !== 'word') throw cursor.error('expected a data type');
  const name = token.text.toUpperCase();
  cursor.next();
  switch (name) {
    case 'ARRAY': {
      cursor.expectPunct('<', 'after ARRAY');
      const elementType = readSparkType(cursor);
      closeAngle(cursor, 'ARRAY');
      return { type: 'array', elementType, containsNull: true };
    }
    case 'MAP': {
      cursor.expectPunct('<', 'after MAP');
      const keyType = readSparkType(cursor);
      cursor.expectPunct(',', 'between the key and value types of MAP');
      const valueType = readSparkType(cursor);
      closeAngle(cursor, 'MAP');
      return { type: 'map', keyType, valueType, valueContainsNull: true };
    }
    case 'STRUCT': {
      cursor.expectPunct('<', 'after STRUCT');
      const fields: StructField[] = [];
      if (!isCloseAngle(cursor)) {
        for (;;) {
          fields.push(readStructField(cursor));
          if (!cursor.acceptPunct(',')) break;
          if (isCloseAngle(cursor)) break;
        }
      }
      closeAngle(cursor, 'STRUCT');
      return { type: 'struct', fields };
    }
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC': {
      let precision = 10;
      let scale = 0;
      if (cursor.acceptPunct('(')) {
        precision = cursor.integer('the precision of DECIMAL');
        if (cursor.acceptPunct(',')) scale = cursor.integer('the scale of DECIMAL');
        cursor.expectPunct(')', 'after the DECIMAL parameters');
      }
      if (precision < 1 || precision > 38 || scale > precision) {
        throw new LarderError(
          'INVALID_ARGUMENT',
          `DECIMAL(${precision},${scale}) is not a valid type: precision is 1 to 38 and scale at most the precision`,
        );
      }
      return `decimal(${precision},${scale})`;
    }
    case 'VARCHAR':
    case 'CHAR':
    case 'CHARACTER':
      if (cursor.acceptPunct('(')) {
        cursor.integer(`the length of ${name}`);
        cursor.expectPunct(')', `after the length of ${name}`);
      }
      return 'string';
    case 'DOUBLE':
      cursor.acceptKeyword('PRECISION');
      return 'double';
    default: {
      const simple = SIMPLE_TYPES[name];
      if (simple !== undefined) return simple;
      if (UNSUPPORTED_TYPES.has(name)) {
        throw new LarderError(
          'UNSUPPORTED_FEATURE',
          `the ${name} type is not supported in Delta tables by Larder`,
          {
            feature: `${name} type`,
          },
        );
      }
      throw new LarderError('UNSUPPORTED_FEATURE', `unknown data type "${token.text}"`, {
        feature: token.text,
        hint: 'use a Spark SQL type: INT, BIGINT, STRING, DOUBLE, DATE, TIMESTAMP, DECIMAL(p,s), ARRAY<…>, MAP<…>, STRUCT<…>',
      });
    }
  }
}

function readStructField(cursor: TokenCursor): StructField {
  const name = cursor.identifier('a STRUCT field name');
  cursor.acceptPunct(':');
  const type = readSparkType(cursor);
  let nullable = true;
  const metadata: Record<string, unknown> = {};
  for (;;) {
    if (cursor.acceptKeyword('NOT', 'NULL')) nullable = false;
    else if (cursor.acceptKeyword('COMMENT')) metadata.comment = cursor.stringLiteral('the field comment');
    else break;
  }
  return { name, type, nullable, metadata };
}

/** The tokenizer reads `>>` as two `>`; `>=` cannot close a type. */
function isCloseAngle(cursor: TokenCursor): boolean {
  return cursor.isPunct('>');
}

function closeAngle(cursor: TokenCursor, what: string): void {
  cursor.expectPunct('>', `to close ${what}<…>`);
}

/**
 * The name Spark prints for a Delta type (`DESCRIBE TABLE`'s `data_type`).
 *
 * @example
 * sparkTypeName({ type: 'array', elementType: 'integer', containsNull: true }); // 'array<int>'
 */
export function sparkTypeName(type: DataType): string {
  if (typeof type === 'string') {
    switch (type) {
      case 'integer':
        return 'int';
      case 'long':
        return 'bigint';
      case 'short':
        return 'smallint';
      case 'byte':
        return 'tinyint';
      default:
        return type;
    }
  }
  switch (type.type) {
    case 'array':
      return `array<${sparkTypeName(type.elementType)}>`;
    case 'map':
      return `map<${sparkTypeName(type.keyType)},${sparkTypeName(type.valueType)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${sparkTypeName(f.type)}`).join(',')}>`;
  }
}
