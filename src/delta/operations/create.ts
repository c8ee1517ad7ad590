/**
 * CREATE TABLE: version 0 of a new Delta table, holding its protocol and
 * metadata (and no data).
 *
 * Invariants:
 * - Fails with `TABLE_ALREADY_EXISTS` if the folder has a log (checked
 *   first, and again by the put-if-absent of version 0 against a race).
 * - New tables get `delta.enableChangeDataFeed=true`,
 *   `delta.enableDeletionVectors=true` and `delta.checkpointInterval=10`
 *   unless the caller sets them; the protocol enables exactly the features
 *   the properties and column types need (reader 3 / writer 7 with
 *   deletion vectors or timestamp_ntz, the legacy versions otherwise).
 * - Column mapping (`delta.columnMapping.mode` = name | id) assigns every
 *   field a physical name and an id.
 * - Decimals are within Delta's limits: precision 1 to 38, scale 0 to the
 *   precision (`INVALID_ARGUMENT` naming the column, nested ones by path).
 * - Errors name the table by its `name` when one is given (the folder is in
 *   the error's context as `file`), by its folder otherwise.
 * - Clustering columns (`clusterBy`) go into version 0 with the rest
 *   (the clustering protocol features and the `delta.clustering` domain
 *   metadata, `clustering.ts`): a new clustered table is one commit.
 */

import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { isLarderError, LarderError } from '../../errors.js';
import type { Action, Metadata, Protocol } from '../log/actions.js';
import {
  type DataType,
  parseSchema,
  type StructField,
  type StructType,
  schemaUsesType,
  serializeSchema,
} from '../log/schema.js';
import { ENABLE_TYPE_WIDENING, hasTypeChanges } from '../log/type-widening.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { type LogStore, parseLogName } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { clusteringChange } from './clustering.js';
import type { OperationResult } from './operation-result.js';

/** A column as users declare it: a Delta type string (`long`, `decimal(10,2)`, …) or a nested type. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: string | DataType;
  /** Default true. */
  readonly nullable?: boolean;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface CreateTableOptions {
  readonly schema: StructType | readonly ColumnSpec[];
  readonly partitionColumns?: readonly string[];
  /** Table properties (`delta.*` and free-form); values are stored as strings, undefined ones skipped. */
  readonly properties?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly name?: string;
  readonly description?: string;
  /** Clustering columns (CLUSTER BY), set in the creating commit (default none). */
  readonly clusterBy?: readonly string[];
  /** Whether a catalog manages the table's folder (recorded as `isManaged` in the commit; default false). */
  readonly managed?: boolean;
  /** The store to write through (default: a `LocalLogStore` at the path). */
  readonly store?: LogStore;
}

export interface CreateTableMetrics {
  readonly numFiles: number;
}

/** Properties Larder sets on the tables it creates, unless the caller says otherwise. */
export const DEFAULT_TABLE_PROPERTIES: Readonly<Record<string, string>> = Object.freeze({
  'delta.enableChangeDataFeed': 'true',
  'delta.enableDeletionVectors': 'true',
  'delta.checkpointInterval': '10',
});

/**
 * Create a Delta table at `path`.
 *
 * @example
 * const { table } = await createTable('/data/customers', {
 *   schema: [
 *     { name: 'customer_id', type: 'long', nullable: false },
 *     { name: 'country', type: 'string' },
 *     { name: 'spend_30d', type: 'double' },
 *   ],
 *   partitionColumns: ['country'],
 *   description: 'customer features',
 * });
 */
export async function createTable(
  path: string,
  options: CreateTableOptions,
): Promise<OperationResult<CreateTableMetrics>> {
  const store = options.store ?? new LocalLogStore(path);
  const root = store.root;
  const named = options.name !== undefined && options.name.trim() !== '';
  // Messages name the table; the folder goes into the context when it is not the name.
  const table = named ? options.name! : root;
  const where = named ? { table, file: root } : { table };
  const existing = (await store.list()).some((name) => parseLogName(name).kind !== 'other');
  if (existing) {
    throw new LarderError(
      'TABLE_ALREADY_EXISTS',
      named
        ? `cannot create table ${table}: a Delta table already exists at ${root}`
        : `a Delta table already exists at ${root}`,
      { ...where, hint: 'open it instead, or choose another path' },
    );
  }
  const properties: Record<string, string> = { ...DEFAULT_TABLE_PROPERTIES };
  for (const [k, v] of Object.entries(options.properties ?? {}))
    if (v !== undefined) properties[k] = String(v);

  let schema = normalizeSchema(options.schema, table, named ? root : undefined);
  const partitionColumns = [...(options.partitionColumns ?? [])];
  validate(schema, partitionColumns, where);
  const mappingMode = properties['delta.columnMapping.mode'];
  if (mappingMode !== undefined && mappingMode !== 'none') {
    if (mappingMode !== 'name' && mappingMode !== 'id') {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `delta.columnMapping.mode of table ${table} must be none, name or id, not "${mappingMode}"`,
        where,
      );
    }
    const counter = { next: 1 };
    schema = { type: 'struct', fields: schema.fields.map((f) => assignColumnMapping(f, counter)) };
    properties['delta.columnMapping.maxColumnId'] = String(counter.next - 1);
  }

  let protocol = protocolFor(schema, properties);
  const clusterBy = options.clusterBy ?? [];
  const clustering =
    clusterBy.length === 0
      ? undefined
      : clusteringChange(
          {
            table,
            schema,
            partitionColumns,
            columnMappingMode: mappingMode === 'name' || mappingMode === 'id' ? mappingMode : 'none',
            protocol,
            configuration: properties,
          },
          clusterBy,
        );
  if (clustering?.protocol) protocol = clustering.protocol;
  if (clustering?.configuration) Object.assign(properties, clustering.configuration);
  const metadata: Metadata = {
    id: randomUUID(),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    format: { provider: 'parquet', options: {} },
    schemaString: serializeSchema(schema),
    partitionColumns,
    configuration: properties,
    createdTime: Date.now(),
  };
  await mkdir(root, { recursive: true });
  const tx = new Transaction(store, undefined, {
    operation: 'CREATE TABLE',
    operationParameters: {
      isManaged: String(options.managed ?? false),
      description: options.description ?? null,
      partitionBy: JSON.stringify(partitionColumns),
      ...(clustering ? { clusterBy: JSON.stringify(clustering.columns) } : {}),
      properties: JSON.stringify(properties),
    },
    operationMetrics: {},
    isBlindAppend: true,
  });
  const actions: Action[] = [{ protocol }, { metaData: metadata }];
  if (clustering?.domainMetadata) actions.push({ domainMetadata: clustering.domainMetadata });
  tx.addActions(...actions);
  let result: Awaited<ReturnType<Transaction['commit']>>;
  try {
    result = await tx.commit();
  } catch (error) {
    // Another writer created the table between our check and our commit.
    if (named && isLarderError(error, 'TABLE_ALREADY_EXISTS')) {
      throw new LarderError(
        'TABLE_ALREADY_EXISTS',
        `cannot create table ${table}: a Delta table already exists at ${root}`,
        { ...where, cause: error, hint: 'open it instead, or choose another path' },
      );
    }
    throw error;
  }
  return { table: result.snapshot, metrics: { numFiles: 0 } };
}

/**
 * The schema of a create call as a StructType (type strings parsed and
 * checked, decimals within Delta's limits). Throws `INVALID_ARGUMENT` naming
 * `table` (and the column); `location`, when given, goes into the context.
 *
 * @example
 * const schema = normalizeSchema([{ name: 'id', type: 'long', nullable: false }, { name: 'price', type: 'decimal(10,2)' }], 'ml.f.prices');
 */
export function normalizeSchema(
  schema: StructType | readonly ColumnSpec[],
  table: string,
  location?: string,
): StructType {
  const where = location !== undefined ? { table, file: location } : { table };
  const fields = 'fields' in schema ? schema.fields : (schema as readonly ColumnSpec[]);
  const raw = {
    type: 'struct',
    fields: fields.map((f) => ({
      name: f.name,
      type: f.type,
      nullable: f.nullable ?? true,
      metadata: f.metadata ?? {},
    })),
  };
  let parsed: StructType;
  try {
    parsed = parseSchema(JSON.stringify(raw));
  } catch (error) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `invalid schema for table ${table}: ${(error as Error).message}`,
      {
        ...where,
        cause: error,
      },
    );
  }
  for (const field of parsed.fields) assertDecimals(field.type, field.name, where);
  return parsed;
}

/** Delta's decimal limits: the most digits a decimal holds, and the scale within the precision. */
const MAX_DECIMAL_PRECISION = 38;

/** Throw `INVALID_ARGUMENT` for a decimal in `type` outside Delta's limits; `column` is its path. */
function assertDecimals(type: DataType, column: string, where: { table: string; file?: string }): void {
  if (typeof type === 'string') {
    const match = /^decimal\((\d+),(\d+)\)$/.exec(type);
    if (!match) return;
    const precision = Number(match[1]);
    const scale = Number(match[2]);
    if (precision >= 1 && precision <= MAX_DECIMAL_PRECISION && scale <= precision) return;
    throw new LarderError(
      'INVALID_ARGUMENT',
      `column "${column}" of table ${where.table} has type ${type}; decimals have a precision of 1 to ${MAX_DECIMAL_PRECISION} and a scale of at most the precision`,
      { ...where, column, hint: `use decimal(p,s) with 1 <= p <= ${MAX_DECIMAL_PRECISION} and s <= p` },
    );
  }
  switch (type.type) {
    case 'struct':
      for (const f of type.fields) assertDecimals(f.type, `${column}.${f.name}`, where);
      return;
    case 'array':
      assertDecimals(type.elementType, `${column}.element`, where);
      return;
    case 'map':
      assertDecimals(type.keyType, `${column}.key`, where);
      assertDecimals(type.valueType, `${column}.value`, where);
      return;
  }
}

function validate(
  schema: StructType,
  partitionColumns: readonly string[],
  where: { readonly table: string; readonly file?: string },
): void {
  const table = where.table;
  if (schema.fields.length === 0) {
    throw new LarderError('INVALID_ARGUMENT', `table ${table} needs at least one column`, where);
  }
  const seen = new Set<string>();
  for (const f of schema.fields) {
    if (f.name.length === 0)
      throw new LarderError('INVALID_ARGUMENT', `table ${table} has a column without a name`, where);
    const key = f.name.toLowerCase();
    if (seen.has(key)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `column "${f.name}" appears twice in table ${table} (names are case-insensitive)`,
        {
          ...where,
          column: f.name,
        },
      );
    }
    seen.add(key);
    for (const k of Object.keys(f.metadata)) {
      if (k === 'delta.generationExpression' || k.startsWith('delta.identity.')) {
        throw new LarderError(
          'UNSUPPORTED_FEATURE',
          `column "${f.name}" of table ${table}: Larder does not create generated or identity columns`,
          {
            ...where,
            column: f.name,
            feature: k === 'delta.generationExpression' ? 'generatedColumns' : 'identityColumns',
          },
        );
      }
    }
  }
  for (const p of partitionColumns) {
    const field = schema.fields.find((f) => f.name === p);
    if (!field) {
      throw new LarderError('INVALID_ARGUMENT', `partition column "${p}" is not a column of table ${table}`, {
        ...where,
        column: p,
      });
    }
    if (typeof field.type !== 'string' || field.type === 'binary' || field.type === 'void') {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `partition column "${p}" of table ${table} must have a primitive, non-binary type`,
        {
          ...where,
          column: p,
        },
      );
    }
  }
  if (new Set(partitionColumns).size !== partitionColumns.length) {
    throw new LarderError('INVALID_ARGUMENT', `table ${table} lists a partition column twice`, where);
  }
  if (partitionColumns.length >= schema.fields.length) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `table ${table} must keep at least one column that is not a partition column`,
      where,
    );
  }
}

function assignColumnMapping(field: StructField, counter: { next: number }): StructField {
  const id = counter.next++;
  return {
    ...field,
    type: mapType(field.type, counter),
    metadata: {
      ...field.metadata,
      'delta.columnMapping.id': id,
      'delta.columnMapping.physicalName': `col-${randomUUID()}`,
    },
  };
}

function mapType(type: DataType, counter: { next: number }): DataType {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct':
      return { type: 'struct', fields: type.fields.map((f) => assignColumnMapping(f, counter)) };
    case 'array':
      return { ...type, elementType: mapType(type.elementType, counter) };
    case 'map':
      return {
        ...type,
        keyType: mapType(type.keyType, counter),
        valueType: mapType(type.valueType, counter),
      };
  }
}

/** The protocol a new table needs for its properties and column types. */
export function protocolFor(schema: StructType, properties: Readonly<Record<string, string>>): Protocol {
  const deletionVectors = properties['delta.enableDeletionVectors'] === 'true';
  const timestampNtz = schema.fields.some((f) => schemaUsesType(f.type, 'timestamp_ntz'));
  const mode = properties['delta.columnMapping.mode'];
  const columnMapping = mode === 'name' || mode === 'id';
  const constraints = Object.keys(properties).some((k) => k.toLowerCase().startsWith('delta.constraints.'));
  // Databricks adds the feature when the property is set; a schema recording changes needs it too.
  const typeWidening =
    properties[ENABLE_TYPE_WIDENING] === 'true' || schema.fields.some((f) => hasTypeChanges(f));
  if (deletionVectors || timestampNtz || typeWidening) {
    const readerFeatures: string[] = [];
    const writerFeatures = ['appendOnly', 'invariants'];
    if (constraints) writerFeatures.push('checkConstraints');
    writerFeatures.push('changeDataFeed');
    if (columnMapping) {
      readerFeatures.push('columnMapping');
      writerFeatures.push('columnMapping');
    }
    if (deletionVectors) {
      readerFeatures.push('deletionVectors');
      writerFeatures.push('deletionVectors');
    }
    if (timestampNtz) {
      readerFeatures.push('timestampNtz');
      writerFeatures.push('timestampNtz');
    }
    if (typeWidening) {
      readerFeatures.push('typeWidening');
      writerFeatures.push('typeWidening');
    }
    return { minReaderVersion: 3, minWriterVersion: 7, readerFeatures, writerFeatures };
  }
  if (columnMapping) return { minReaderVersion: 2, minWriterVersion: 5 };
  const changeDataFeed = properties['delta.enableChangeDataFeed'] === 'true';
  return { minReaderVersion: 1, minWriterVersion: changeDataFeed ? 4 : constraints ? 3 : 2 };
}
