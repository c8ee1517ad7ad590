/**
 * Type widening (PROTOCOL.md "Type Widening", reader-writer feature
 * `typeWidening`, `typeWidening-preview` before Delta 4.0): a column's type
 * may change to a wider one without rewriting data files, so files written
 * before the change hold the narrower type. Each change is recorded in the
 * `delta.typeChanges` metadata of the nearest ancestor struct field, with a
 * `fieldPath` (`element`, `key`, `value`, dotted) for array elements and map
 * keys and values.
 *
 * Invariants:
 * - `isSupportedTypeChange` is the protocol's list exactly: integers
 *   byte → short → int → long; float → double; byte/short/int → double;
 *   date → timestamp_ntz; decimal(p, s) → decimal(p + k1, s + k2) with
 *   k1 ≥ k2 ≥ 0; byte/short/int → decimal(10 + k1, k2) and long →
 *   decimal(20 + k1, k2) with k1 ≥ k2 ≥ 0.
 * - A reader refuses a table whose schema records a change outside that list
 *   (`assertTypeChangesReadable`), as the protocol requires.
 */
import { LarderError } from '../../errors.js';
import type { DataType, StructField, StructType } from './schema.js';

/** The names of the feature, current and preview. */
export const TYPE_WIDENING_FEATURES: readonly string[] = ['typeWidening', 'typeWidening-preview'];

/** The table property that allows writers to widen types. */
export const ENABLE_TYPE_WIDENING = 'delta.enableTypeWidening';

/** The field metadata key holding a field's type changes. */
export const TYPE_CHANGES_KEY = 'delta.typeChanges';

/** One recorded type change (PROTOCOL.md "Type Change Metadata"). */
export interface TypeChange {
  readonly fromType: string;
  readonly toType: string;
  readonly fieldPath?: string;
  /** Spark records the version of the change; readers ignore it. */
  readonly tableVersion?: number;
}

const INTEGER_RANK: Readonly<Record<string, number>> = { byte: 1, short: 2, integer: 3, long: 4 };
const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;

function decimalOf(type: string): { precision: number; scale: number } | undefined {
  const m = DECIMAL.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

/**
 * Whether Delta allows widening `from` to `to` (both primitive type names as
 * the schema writes them). Equal types are no change and answer false.
 *
 * @example
 * isSupportedTypeChange('integer', 'long'); // true
 * isSupportedTypeChange('long', 'integer'); // false
 */
export function isSupportedTypeChange(from: string, to: string): boolean {
  const fromRank = INTEGER_RANK[from];
  const toRank = INTEGER_RANK[to];
  if (fromRank !== undefined && toRank !== undefined) return toRank > fromRank;
  if (to === 'double') return from === 'float' || (fromRank !== undefined && fromRank <= 3);
  if (from === 'date') return to === 'timestamp_ntz';
  const target = decimalOf(to);
  if (!target) return false;
  const source =
    decimalOf(from) ??
    (fromRank !== undefined ? { precision: fromRank <= 3 ? 10 : 20, scale: 0 } : undefined);
  if (!source) return false;
  const k1 = target.precision - source.precision;
  const k2 = target.scale - source.scale;
  return k1 >= k2 && k2 >= 0 && (k1 > 0 || k2 > 0 || from !== to);
}

/** The type changes recorded on a field (an empty list when none). Throws `CORRUPT_LOG` on a malformed list. */
export function typeChangesOf(field: StructField, table?: string): readonly TypeChange[] {
  const raw = field.metadata[TYPE_CHANGES_KEY];
  if (raw === undefined) return [];
  const valid =
    Array.isArray(raw) &&
    raw.every(
      (c: unknown) =>
        typeof c === 'object' &&
        c !== null &&
        typeof (c as TypeChange).fromType === 'string' &&
        typeof (c as TypeChange).toType === 'string',
    );
  if (!valid) {
    throw new LarderError('CORRUPT_LOG', `column "${field.name}" has a malformed ${TYPE_CHANGES_KEY}`, {
      table,
      column: field.name,
      hint: `${TYPE_CHANGES_KEY} must be a list of {fromType, toType[, fieldPath]} objects`,
    });
  }
  return raw as TypeChange[];
}

/** Every struct field of a type, nested ones included (through arrays and maps). */
function* fieldsOf(type: DataType): Generator<StructField> {
  if (typeof type === 'string') return;
  switch (type.type) {
    case 'struct':
      for (const f of type.fields) {
        yield f;
        yield* fieldsOf(f.type);
      }
      return;
    case 'array':
      yield* fieldsOf(type.elementType);
      return;
    case 'map':
      yield* fieldsOf(type.keyType);
      yield* fieldsOf(type.valueType);
  }
}

/** Whether a field, or a field nested in it, records a type change: its files may hold older types. */
export function hasTypeChanges(field: StructField): boolean {
  if (field.metadata[TYPE_CHANGES_KEY] !== undefined) return true;
  for (const f of fieldsOf(field.type)) if (f.metadata[TYPE_CHANGES_KEY] !== undefined) return true;
  return false;
}

/**
 * Throw `UNSUPPORTED_FEATURE` naming the column if the schema records a type
 * change Delta does not allow: Larder would read such files wrongly.
 */
export function assertTypeChangesReadable(schema: StructType, table: string): void {
  for (const field of fieldsOf(schema)) {
    for (const change of typeChangesOf(field, table)) {
      if (!isSupportedTypeChange(change.fromType, change.toType)) {
        const where = change.fieldPath ? `${field.name}.${change.fieldPath}` : field.name;
        throw new LarderError(
          'UNSUPPORTED_FEATURE',
          `column "${where}" of ${table} changed type from ${change.fromType} to ${change.toType}, which is not a type widening Delta supports`,
          { table, column: where, feature: 'typeWidening', hint: 'rewrite the table with the new type' },
        );
      }
    }
  }
}
