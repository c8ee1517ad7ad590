/**
 * The definition of a new feature table, checked: its Delta schema, primary
 * keys (the timeseries column among them), partition and clustering
 * columns, all resolved to the columns' own spelling.
 *
 * Rules (each broken one is a `LarderError` naming the column):
 * - at least one primary key; keys, the timeseries column, partition and
 *   clustering columns are columns of the schema (`SCHEMA_MISMATCH`),
 *   each listed once (`INVALID_ARGUMENT`);
 * - key columns have primitive, non-binary, non-floating types and are NOT
 *   NULL in the schema;
 * - the timeseries column is a `date`, `timestamp` or `timestamp_ntz`, and is
 *   added to the primary keys when not listed;
 * - partition columns have primitive, non-binary types and leave at least one
 *   column that is not a partition column.
 *
 * Column types themselves (decimals within Delta's limits, …) are checked
 * where the schema is built, by `normalizeSchema` of Delta's create.
 */
import type { StructField, StructType } from '../delta/log/schema.js';
import { LarderError } from '../errors.js';

export interface DefinitionInput {
  /** The table's full name, for messages. */
  readonly table: string;
  readonly schema: StructType;
  readonly primaryKeys: unknown;
  readonly timeseriesColumn?: unknown;
  readonly partitionColumns?: unknown;
  readonly clusterBy?: unknown;
}

export interface TableDefinition {
  /** The schema with key columns NOT NULL. */
  readonly schema: StructType;
  /** Primary keys, the timeseries column last when it was not listed. */
  readonly primaryKeys: string[];
  readonly timeseriesColumn: string | undefined;
  readonly partitionColumns: string[];
  readonly clusterBy: string[];
}

const TIME_TYPES = new Set(['date', 'timestamp', 'timestamp_ntz']);
const KEY_TYPES = new Set(['string', 'long', 'integer', 'short', 'byte', 'boolean', ...TIME_TYPES]);

/**
 * @example
 * const definition = resolveDefinition({ table: 'ml.f.t', schema, primaryKeys: 'customer_id', timeseriesColumn: 'day' });
 * definition.primaryKeys; // ['customer_id', 'day']
 */
export function resolveDefinition(input: DefinitionInput): TableDefinition {
  const { table, schema } = input;
  const byName = new Map(schema.fields.map((f) => [f.name.toLowerCase(), f]));
  const column = (name: string, role: string): StructField => {
    const field = byName.get(name.toLowerCase());
    if (!field) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `${role} "${name}" is not a column of feature table ${table}`,
        {
          table,
          column: name,
          hint: `columns: ${schema.fields.map((f) => f.name).join(', ')}`,
        },
      );
    }
    return field;
  };
  const keyNames = nameList(input.primaryKeys, 'primaryKeys', table);
  if (keyNames.length === 0) {
    throw new LarderError('INVALID_ARGUMENT', `feature table ${table} needs at least one primary key`, {
      table,
      field: 'primaryKeys',
    });
  }
  const primaryKeys = keyNames.map((k) => column(k, 'primary key').name);
  let timeseriesColumn: string | undefined;
  if (input.timeseriesColumn !== undefined && input.timeseriesColumn !== null) {
    const [name] = nameList(input.timeseriesColumn, 'timeseriesColumn', table);
    if (name === undefined) {
      throw new LarderError('INVALID_ARGUMENT', `timeseriesColumn of feature table ${table} is empty`, {
        table,
        field: 'timeseriesColumn',
      });
    }
    const field = column(name, 'timeseries column');
    if (typeof field.type !== 'string' || !TIME_TYPES.has(field.type)) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `timeseries column "${field.name}" of feature table ${table} has type ${typeof field.type === 'string' ? field.type : field.type.type}; it must be a date or timestamp`,
        { table, column: field.name, hint: 'cast the column to DATE or TIMESTAMP' },
      );
    }
    timeseriesColumn = field.name;
    if (!primaryKeys.includes(field.name)) primaryKeys.push(field.name);
  }
  assertUnique(primaryKeys, 'primary key', table);
  for (const key of primaryKeys) {
    const field = column(key, 'primary key');
    const type = field.type;
    if (typeof type !== 'string' || !(KEY_TYPES.has(type) || type.startsWith('decimal('))) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `primary key "${key}" of feature table ${table} has type ${typeof type === 'string' ? type : type.type}; keys are strings, integers, decimals, booleans, dates or timestamps`,
        { table, column: key },
      );
    }
  }
  const partitionColumns = nameList(input.partitionColumns ?? [], 'partitionColumns', table).map(
    (c) => column(c, 'partition column').name,
  );
  assertUnique(partitionColumns, 'partition column', table);
  for (const name of partitionColumns) {
    const type = column(name, 'partition column').type;
    if (typeof type !== 'string' || type === 'binary') {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `partition column "${name}" of feature table ${table} must have a primitive, non-binary type`,
        { table, column: name },
      );
    }
  }
  if (partitionColumns.length > 0 && partitionColumns.length >= schema.fields.length) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `feature table ${table} must keep at least one column that is not a partition column`,
      { table, field: 'partitionColumns' },
    );
  }
  const clusterBy = nameList(input.clusterBy ?? [], 'clusterBy', table).map(
    (c) => column(c, 'clustering column').name,
  );
  assertUnique(clusterBy, 'clustering column', table);
  const keys = new Set(primaryKeys);
  return {
    schema: {
      type: 'struct',
      fields: schema.fields.map((f) => (keys.has(f.name) ? { ...f, nullable: false } : f)),
    },
    primaryKeys,
    timeseriesColumn,
    partitionColumns,
    clusterBy,
  };
}

/** A column name or list of names given by the user, checked to be non-empty strings. */
function nameList(value: unknown, field: string, table: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || v.trim() === '')) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `${field} of feature table ${table} must be a column name or a list of column names`,
      { table, field },
    );
  }
  return list as string[];
}

function assertUnique(names: readonly string[], role: string, table: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${role} "${name}" is listed twice for feature table ${table}`,
        {
          table,
          column: name,
        },
      );
    }
    seen.add(name);
  }
}
