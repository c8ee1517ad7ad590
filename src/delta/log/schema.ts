/**
 * The table schema as the Delta log stores it (`metaData.schemaString`, Spark's
 * StructType JSON), and its mapping to DuckDB types.
 *
 * Invariants: a parsed schema serialises back to an equivalent string; every
 * Delta type Larder accepts has exactly one DuckDB type.
 */
import { LarderError } from '../../errors.js';

export type PrimitiveTypeName =
  | 'string'
  | 'long'
  | 'integer'
  | 'short'
  | 'byte'
  | 'float'
  | 'double'
  | 'boolean'
  | 'binary'
  | 'date'
  | 'timestamp'
  | 'timestamp_ntz'
  | 'void'
  /** Semi-structured (feature `variantType`); read as its JSON text. */
  | 'variant'
  | `decimal(${number},${number})`;

export interface ArrayType {
  readonly type: 'array';
  readonly elementType: DataType;
  readonly containsNull: boolean;
}

export interface MapType {
  readonly type: 'map';
  readonly keyType: DataType;
  readonly valueType: DataType;
  readonly valueContainsNull: boolean;
}

export interface StructField {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface StructType {
  readonly type: 'struct';
  readonly fields: readonly StructField[];
}

export type DataType = PrimitiveTypeName | ArrayType | MapType | StructType;

const PRIMITIVES = new Set([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'boolean',
  'binary',
  'date',
  'timestamp',
  'timestamp_ntz',
  'void',
  'variant',
]);

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;

/** Parse `metaData.schemaString`. Throws `CORRUPT_LOG` on anything not a StructType. */
export function parseSchema(schemaString: string, file?: string): StructType {
  let json: unknown;
  try {
    json = JSON.parse(schemaString);
  } catch (error) {
    throw new LarderError('CORRUPT_LOG', `schemaString is not valid JSON`, { file, cause: error });
  }
  const type = parseType(json, file);
  if (typeof type === 'string' || type.type !== 'struct') {
    throw new LarderError('CORRUPT_LOG', `schemaString is not a struct type`, { file });
  }
  return type;
}

function parseType(json: unknown, file: string | undefined): DataType {
  if (typeof json === 'string') {
    if (PRIMITIVES.has(json)) return json as PrimitiveTypeName;
    const decimal = DECIMAL.exec(json);
    if (decimal) return `decimal(${Number(decimal[1])},${Number(decimal[2])})`;
    if (json === 'decimal') return 'decimal(10,0)';
    throw new LarderError('UNSUPPORTED_FEATURE', `unknown Delta data type "${json}"`, {
      file,
      feature: json,
    });
  }
  if (json === null || typeof json !== 'object') {
    throw new LarderError('CORRUPT_LOG', `invalid type in schema: ${JSON.stringify(json)}`, { file });
  }
  const node = json as Record<string, unknown>;
  switch (node.type) {
    case 'struct':
      return {
        type: 'struct',
        fields: (node.fields as unknown[]).map((field) => {
          const f = field as Record<string, unknown>;
          return Object.freeze({
            name: String(f.name),
            type: parseType(f.type, file),
            nullable: f.nullable !== false,
            metadata: Object.freeze((f.metadata as Record<string, unknown>) ?? {}),
          });
        }),
      };
    case 'array':
      return {
        type: 'array',
        elementType: parseType(node.elementType, file),
        containsNull: node.containsNull !== false,
      };
    case 'map':
      return {
        type: 'map',
        keyType: parseType(node.keyType, file),
        valueType: parseType(node.valueType, file),
        valueContainsNull: node.valueContainsNull !== false,
      };
    default:
      throw new LarderError('CORRUPT_LOG', `invalid type in schema: ${JSON.stringify(json)}`, { file });
  }
}

/** Serialise a schema as `metaData.schemaString`. */
export function serializeSchema(schema: StructType): string {
  return JSON.stringify(schema);
}

/** The DuckDB type of a Delta type. */
export function toDuckDBType(type: DataType): string {
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return 'VARCHAR';
      case 'long':
        return 'BIGINT';
      case 'integer':
        return 'INTEGER';
      case 'short':
        return 'SMALLINT';
      case 'byte':
        return 'TINYINT';
      case 'float':
        return 'FLOAT';
      case 'double':
        return 'DOUBLE';
      case 'boolean':
        return 'BOOLEAN';
      case 'binary':
        return 'BLOB';
      case 'date':
        return 'DATE';
      case 'timestamp':
        return 'TIMESTAMPTZ';
      case 'timestamp_ntz':
        return 'TIMESTAMP';
      case 'void':
        return 'INTEGER';
      case 'variant':
        // Read as JSON text (scan/variant-decoder.ts); stored as STRUCT(metadata BLOB, value BLOB).
        return 'VARCHAR';
      default: {
        const decimal = DECIMAL.exec(type);
        if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
        throw new LarderError('UNSUPPORTED_FEATURE', `no DuckDB type for Delta type "${type}"`);
      }
    }
  }
  switch (type.type) {
    case 'array':
      return `${toDuckDBType(type.elementType)}[]`;
    case 'map':
      return `MAP(${toDuckDBType(type.keyType)}, ${toDuckDBType(type.valueType)})`;
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `"${f.name.replaceAll('"', '""')}" ${toDuckDBType(f.type)}`).join(', ')})`;
  }
}

/**
 * The Delta type of a DuckDB type (as `DESCRIBE` prints it). Throws
 * `SCHEMA_MISMATCH` for types Delta cannot store (unsigned, intervals, unions).
 */
export function fromDuckDBType(duckType: string, column?: string): DataType {
  const t = duckType.trim();
  const upper = t.toUpperCase();
  if (upper.endsWith('[]')) {
    return { type: 'array', elementType: fromDuckDBType(t.slice(0, -2), column), containsNull: true };
  }
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/i.exec(t);
  if (decimal) return `decimal(${Number(decimal[1])},${Number(decimal[2])})`;
  if (upper.startsWith('STRUCT(') && upper.endsWith(')')) {
    const fields = splitTopLevel(t.slice(7, -1)).map((part) => {
      const { name, rest } = splitFieldName(part);
      return { name, type: fromDuckDBType(rest, column), nullable: true, metadata: {} };
    });
    return { type: 'struct', fields };
  }
  if (upper.startsWith('MAP(') && upper.endsWith(')')) {
    const [key, value] = splitTopLevel(t.slice(4, -1));
    if (key === undefined || value === undefined) {
      throw new LarderError('SCHEMA_MISMATCH', `cannot read map type ${t}`, { column });
    }
    return {
      type: 'map',
      keyType: fromDuckDBType(key, column),
      valueType: fromDuckDBType(value, column),
      valueContainsNull: true,
    };
  }
  switch (upper) {
    case 'VARCHAR':
    case 'UUID':
      return 'string';
    case 'BIGINT':
    case 'HUGEINT':
      return 'long';
    case 'INTEGER':
      return 'integer';
    case 'SMALLINT':
      return 'short';
    case 'TINYINT':
      return 'byte';
    case 'FLOAT':
      return 'float';
    case 'DOUBLE':
      return 'double';
    case 'BOOLEAN':
      return 'boolean';
    case 'BLOB':
      return 'binary';
    case 'DATE':
      return 'date';
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMPTZ':
      return 'timestamp';
    case 'TIMESTAMP':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_NS':
      return 'timestamp_ntz';
    case 'UTINYINT':
      return 'short';
    case 'USMALLINT':
      return 'integer';
    case 'UINTEGER':
      return 'long';
    case '"NULL"':
    case 'NULL':
      return 'string';
    default:
      throw new LarderError('SCHEMA_MISMATCH', `DuckDB type ${t} has no Delta equivalent`, {
        column,
        hint: 'cast the column to a supported type',
      });
  }
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuote = !inQuote;
    else if (!inQuote && c === '(') depth++;
    else if (!inQuote && c === ')') depth--;
    else if (!inQuote && depth === 0 && c === ',') {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter((p) => p.length > 0);
}

function splitFieldName(part: string): { name: string; rest: string } {
  if (part.startsWith('"')) {
    let i = 1;
    let name = '';
    while (i < part.length) {
      if (part[i] === '"' && part[i + 1] === '"') {
        name += '"';
        i += 2;
      } else if (part[i] === '"') break;
      else name += part[i++];
    }
    return { name, rest: part.slice(i + 1).trim() };
  }
  const space = part.indexOf(' ');
  return { name: part.slice(0, space), rest: part.slice(space + 1).trim() };
}

/** The column mapping mode of a table (`delta.columnMapping.mode`). */
export type ColumnMappingMode = 'none' | 'name' | 'id';

/** The name under which a field is stored in data files, stats and partition values. */
export function physicalName(field: StructField, mode: ColumnMappingMode): string {
  if (mode === 'none') return field.name;
  const name = field.metadata['delta.columnMapping.physicalName'];
  if (typeof name !== 'string') {
    throw new LarderError('CORRUPT_LOG', `column "${field.name}" has no delta.columnMapping.physicalName`, {
      column: field.name,
    });
  }
  return name;
}

/** The field id of a field in `id` column-mapping mode. */
export function fieldId(field: StructField): number | undefined {
  const id = field.metadata['delta.columnMapping.id'];
  return typeof id === 'number' ? id : undefined;
}

/** Whether `type` is, or nests, the primitive type `name` (`timestamp_ntz` needs a protocol feature). */
export function schemaUsesType(type: DataType, name: string): boolean {
  if (typeof type === 'string') return type === name;
  switch (type.type) {
    case 'struct':
      return type.fields.some((f) => schemaUsesType(f.type, name));
    case 'array':
      return schemaUsesType(type.elementType, name);
    case 'map':
      return schemaUsesType(type.keyType, name) || schemaUsesType(type.valueType, name);
  }
}
