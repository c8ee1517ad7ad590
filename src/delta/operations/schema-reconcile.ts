/**
 * Schema enforcement on write: matching the columns of an input query
 * (DuckDB `DESCRIBE`) against the table schema before anything is written.
 *
 * Rules:
 * - Input columns match table columns by name, exactly or else
 *   case-insensitively (Delta names are case-insensitive).
 * - A value type must convert to the table type without loss: integer
 *   widening (byte → short → integer → long, and to decimals and doubles that
 *   hold them), float → double, decimal → wider decimal or double, date →
 *   timestamp, timestamp ↔ timestamp_ntz (the session time zone is UTC),
 *   and nested types field by field. Anything else (string → long, long →
 *   integer, …) is `SCHEMA_MISMATCH` naming the column and both types.
 * - A column the table lacks is `SCHEMA_MISMATCH` unless `mergeSchema`, which
 *   appends it (nullable) to the schema; a nullable table column the input
 *   lacks is filled with NULL; a missing NOT NULL column is `SCHEMA_MISMATCH`.
 * - A schema that gained columns may need a protocol upgrade
 *   (`schemaChangeProtocol`: `timestamp_ntz` columns need the feature); the
 *   protocol is never downgraded.
 */
import { randomUUID } from 'node:crypto';
import { sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Protocol } from '../log/actions.js';
import {
  type ColumnMappingMode,
  type DataType,
  fromDuckDBType,
  type StructField,
  type StructType,
  schemaUsesType,
  toDuckDBType,
} from '../log/schema.js';
import { upgradedProtocol } from './protocol-upgrade.js';

/** A column of the input, as DuckDB's `DESCRIBE` reports it. */
export interface InputColumn {
  readonly name: string;
  readonly duckType: string;
}

export interface ReconcileOptions {
  readonly table: string;
  readonly mergeSchema?: boolean;
  readonly columnMappingMode?: ColumnMappingMode;
  /** `delta.columnMapping.maxColumnId` of the table (for new columns under column mapping). */
  readonly maxColumnId?: number;
}

export interface ReconciledSchema {
  /** The table schema after the write (with new columns when `mergeSchema` added some). */
  readonly schema: StructType;
  /** Names of the columns `mergeSchema` added. */
  readonly addedColumns: readonly string[];
  /** The new `delta.columnMapping.maxColumnId` when columns were added under column mapping. */
  readonly maxColumnId?: number;
  /** A SELECT list over the input naming every table column by its table name (NULL for missing ones). */
  readonly projection: string;
}

/**
 * Check `input` against `schema`; throw `SCHEMA_MISMATCH` or return the
 * schema to write with and the projection that renames and fills columns.
 *
 * @example
 * const input = await describeColumns(connection, sourceSql);
 * const { schema, projection } = reconcileSchema(snapshot.schema, input, { table: snapshot.root });
 * const sql = `SELECT ${projection} FROM (${sourceSql})`;
 */
export function reconcileSchema(
  schema: StructType,
  input: readonly InputColumn[],
  options: ReconcileOptions,
): ReconciledSchema {
  const table = options.table;
  const matched = new Map<StructField, InputColumn>();
  const added: StructField[] = [];
  let maxColumnId = options.maxColumnId ?? 0;
  const mode = options.columnMappingMode ?? 'none';
  for (const column of input) {
    const field =
      schema.fields.find((f) => f.name === column.name) ??
      schema.fields.find((f) => f.name.toLowerCase() === column.name.toLowerCase());
    const inputType = fromDuckDBType(column.duckType, column.name);
    if (!field) {
      if (!options.mergeSchema) {
        throw new LarderError(
          'SCHEMA_MISMATCH',
          `column "${column.name}" (${column.duckType}) is not in table ${table}`,
          { table, column: column.name, hint: 'drop the column, or write with mergeSchema: true to add it' },
        );
      }
      if (added.some((f) => f.name.toLowerCase() === column.name.toLowerCase()))
        throw duplicate(column.name, table);
      const metadata: Record<string, unknown> = {};
      if (mode !== 'none') {
        maxColumnId++;
        metadata['delta.columnMapping.id'] = maxColumnId;
        metadata['delta.columnMapping.physicalName'] = `col-${randomUUID()}`;
      }
      if (typeof inputType !== 'string' && mode !== 'none') {
        throw new LarderError(
          'UNSUPPORTED_FEATURE',
          `column "${column.name}" is nested; Larder adds only primitive columns to column-mapped tables`,
          { table, column: column.name, feature: 'columnMapping' },
        );
      }
      added.push({ name: column.name, type: inputType, nullable: true, metadata });
      continue;
    }
    if (matched.has(field)) throw duplicate(column.name, table);
    if (!canWrite(inputType, field.type)) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `column "${field.name}" of table ${table} has type ${typeName(field.type)} (${toDuckDBType(field.type)}), but the input has ${column.duckType} (${typeName(inputType)}), which does not convert safely`,
        { table, column: field.name, hint: `cast the column to ${toDuckDBType(field.type)} in the query` },
      );
    }
    matched.set(field, column);
  }
  const projection: string[] = [];
  for (const field of schema.fields) {
    if (field.type === 'void') continue;
    const column = matched.get(field);
    if (column) projection.push(`${sqlIdent(column.name)} AS ${sqlIdent(field.name)}`);
    else if (field.nullable) projection.push(`NULL AS ${sqlIdent(field.name)}`);
    else {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `column "${field.name}" of table ${table} is NOT NULL but missing from the input`,
        {
          table,
          column: field.name,
          hint: 'add the column to the query',
        },
      );
    }
  }
  for (const field of added) projection.push(`${sqlIdent(field.name)} AS ${sqlIdent(field.name)}`);
  return {
    schema: added.length === 0 ? schema : { type: 'struct', fields: [...schema.fields, ...added] },
    addedColumns: added.map((f) => f.name),
    ...(added.length > 0 && mode !== 'none' ? { maxColumnId } : {}),
    projection: projection.join(', '),
  };
}

/**
 * The protocol a table needs once its schema is `schema` (columns added by
 * `mergeSchema`): `protocol` with the `timestampNtz` feature when a column
 * uses `timestamp_ntz`, or undefined when `protocol` already covers it.
 *
 * @example
 * const protocol = schemaChangeProtocol(snapshot.protocol, reconciled.schema);
 * if (protocol) actions.push({ protocol });
 */
export function schemaChangeProtocol(protocol: Protocol, schema: StructType): Protocol | undefined {
  if (!schema.fields.some((f) => schemaUsesType(f.type, 'timestamp_ntz'))) return undefined;
  return upgradedProtocol(protocol, {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: ['timestampNtz'],
    writerFeatures: ['timestampNtz'],
  });
}

function duplicate(name: string, table: string): LarderError {
  return new LarderError(
    'SCHEMA_MISMATCH',
    `the input names column "${name}" twice (table ${table}; names are case-insensitive)`,
    {
      table,
      column: name,
    },
  );
}

function typeName(type: DataType): string {
  return typeof type === 'string' ? type : JSON.stringify(type);
}

const INTEGRAL = ['byte', 'short', 'integer', 'long'] as const;
const INTEGRAL_DIGITS: Readonly<Record<string, number>> = { byte: 3, short: 5, integer: 10, long: 19 };

function decimalParts(type: string): { precision: number; scale: number } | undefined {
  const m = /^decimal\((\d+),(\d+)\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

/**
 * Whether values of `from` convert to `to` without loss (or with a DuckDB error instead of loss).
 *
 * @example
 * canWrite('integer', 'long'); // true
 * canWrite('string', 'long'); // false
 */
export function canWrite(from: DataType, to: DataType): boolean {
  if (typeof from === 'string' && typeof to === 'string') {
    if (from === to) return true;
    const fromIntegral = INTEGRAL.indexOf(from as (typeof INTEGRAL)[number]);
    const toIntegral = INTEGRAL.indexOf(to as (typeof INTEGRAL)[number]);
    if (fromIntegral >= 0 && toIntegral >= 0) return fromIntegral <= toIntegral;
    const toDecimal = decimalParts(to);
    const fromDecimal = decimalParts(from);
    if (fromIntegral >= 0) {
      if (to === 'double') return from !== 'long';
      if (to === 'float') return from === 'byte' || from === 'short';
      if (toDecimal) return toDecimal.precision - toDecimal.scale >= INTEGRAL_DIGITS[from]!;
      return false;
    }
    if (from === 'float') return to === 'double';
    if (fromDecimal) {
      if (to === 'double') return true;
      return (
        !!toDecimal &&
        toDecimal.scale >= fromDecimal.scale &&
        toDecimal.precision - toDecimal.scale >= fromDecimal.precision - fromDecimal.scale
      );
    }
    if (from === 'date') return to === 'timestamp' || to === 'timestamp_ntz';
    if (from === 'timestamp' || from === 'timestamp_ntz') return to === 'timestamp' || to === 'timestamp_ntz';
    return false;
  }
  if (typeof from === 'string' || typeof to === 'string') return false;
  if (from.type === 'array' && to.type === 'array') return canWrite(from.elementType, to.elementType);
  if (from.type === 'map' && to.type === 'map')
    return canWrite(from.keyType, to.keyType) && canWrite(from.valueType, to.valueType);
  if (from.type === 'struct' && to.type === 'struct') {
    if (from.fields.length !== to.fields.length) return false;
    return to.fields.every((target) => {
      const source = from.fields.find((f) => f.name.toLowerCase() === target.name.toLowerCase());
      return source !== undefined && canWrite(source.type, target.type);
    });
  }
  return false;
}
