/**
 * ALTER TABLE … ALTER COLUMN c TYPE t (and Spark's CHANGE COLUMN c c t):
 * type widening (PROTOCOL.md "Type Widening"). A metadata-only commit: the
 * column gets the wider type and a `delta.typeChanges` entry; data files
 * keep the type they were written with and readers widen their values.
 *
 * Invariants:
 * - Only the widenings Delta allows (`isSupportedTypeChange`), and only when
 *   the table property `delta.enableTypeWidening` is `true`, as Databricks
 *   requires; anything else is refused naming the column and both types,
 *   and nothing is committed.
 * - The protocol gains `typeWidening` as a reader and writer feature (unless
 *   the table already has `typeWidening-preview`), and `timestampNtz` when a
 *   date becomes a timestamp_ntz; it is never downgraded.
 * - No data file is rewritten; changing a column to its own type commits
 *   nothing.
 */
import { LarderError } from '../../errors.js';
import type { Action } from '../log/actions.js';
import {
  type DataType,
  type PrimitiveTypeName,
  parseSchema,
  type StructField,
  serializeSchema,
} from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import {
  ENABLE_TYPE_WIDENING,
  isSupportedTypeChange,
  TYPE_CHANGES_KEY,
  type TypeChange,
  typeChangesOf,
} from '../log/type-widening.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { protocolFor } from './create.js';
import type { OperationResult } from './operation-result.js';
import { upgradedProtocol } from './protocol-upgrade.js';

export interface ChangeColumnTypeOptions {
  readonly userMetadata?: string;
  readonly store?: LogStore;
}

export interface ChangeColumnTypeMetrics {
  /** 1 when the type changed, 0 when the column already had it. */
  readonly numColumnsChanged: number;
}

/** A type as SQL users write it, for messages (`INT`, `BIGINT`, `DECIMAL(10,2)`). */
function sqlTypeName(type: DataType): string {
  if (typeof type !== 'string') return type.type.toUpperCase();
  const names: Partial<Record<string, string>> = {
    byte: 'TINYINT',
    short: 'SMALLINT',
    integer: 'INT',
    long: 'BIGINT',
    timestamp_ntz: 'TIMESTAMP_NTZ',
  };
  return names[type] ?? type.toUpperCase();
}

/**
 * Widen the type of a top-level column.
 *
 * @example
 * await setTableProperties(snapshot, { set: { 'delta.enableTypeWidening': 'true' } });
 * await changeColumnType(table.snapshot, 'quantity', 'long');
 */
export async function changeColumnType(
  snapshot: Snapshot,
  column: string,
  newType: DataType,
  options: ChangeColumnTypeOptions = {},
): Promise<OperationResult<ChangeColumnTypeMetrics>> {
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  const schema = parseSchema(snapshot.metadata.schemaString);
  const index = schema.fields.findIndex((f) => f.name.toLowerCase() === column.toLowerCase());
  const field = schema.fields[index];
  if (!field) {
    throw new LarderError('INVALID_ARGUMENT', `table ${table} has no column "${column}"`, {
      table,
      column,
      hint: `columns: ${schema.fields.map((f) => f.name).join(', ')}`,
    });
  }
  const from = field.type;
  if (JSON.stringify(from) === JSON.stringify(newType)) {
    return { table: snapshot, metrics: { numColumnsChanged: 0 } };
  }
  const change = `column "${field.name}" of ${table} from ${sqlTypeName(from)} to ${sqlTypeName(newType)}`;
  if (typeof from !== 'string' || typeof newType !== 'string' || !isSupportedTypeChange(from, newType)) {
    throw new LarderError('SCHEMA_MISMATCH', `cannot change the type of ${change}: not a type widening`, {
      table,
      column: field.name,
      hint:
        'Delta widens byte → short → int → long, float → double, byte/short/int → double, date → timestamp_ntz, ' +
        'and decimal precision and scale increases (ints to decimal(10+k, s), bigint to decimal(20+k, s)); ' +
        'other changes need the table rewritten (CREATE OR REPLACE TABLE … AS SELECT with a CAST)',
    });
  }
  if (snapshot.metadata.configuration[ENABLE_TYPE_WIDENING] !== 'true') {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `cannot change the type of ${change}: type widening is not enabled on the table`,
      {
        table,
        column: field.name,
        feature: 'typeWidening',
        hint: `enable it first: ALTER TABLE … SET TBLPROPERTIES ('${ENABLE_TYPE_WIDENING}' = 'true')`,
      },
    );
  }
  const changes: TypeChange[] = [...typeChangesOf(field, table), { fromType: from, toType: newType }];
  const widened: StructField = {
    ...field,
    type: newType as PrimitiveTypeName,
    metadata: { ...field.metadata, [TYPE_CHANGES_KEY]: changes },
  };
  const fields = schema.fields.map((f, i) => (i === index ? widened : f));
  const newSchema = { type: 'struct' as const, fields };
  const actions: Action[] = [];
  const protocol = upgradedProtocol(
    snapshot.protocol,
    protocolFor(newSchema, snapshot.metadata.configuration),
  );
  if (protocol) actions.push({ protocol });
  actions.push({ metaData: { ...snapshot.metadata, schemaString: serializeSchema(newSchema) } });
  const result = await new Transaction(options.store ?? new LocalLogStore(table), snapshot, {
    operation: 'CHANGE COLUMN',
    operationParameters: {
      column: JSON.stringify({
        name: field.name,
        type: newType,
        nullable: field.nullable,
        metadata: widened.metadata,
      }),
    },
    operationMetrics: {},
    readPredicate: 'none',
    isBlindAppend: false,
    userMetadata: options.userMetadata,
  })
    .addActions(...actions)
    .commit();
  return { table: result.snapshot, metrics: { numColumnsChanged: 1 } };
}
