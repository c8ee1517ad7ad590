/**
 * The schema rule of a feature table write: a df column the table lacks is a
 * mistake (a typo, `prize` for `price`) unless the caller asked for schema
 * evolution with `mergeSchema: true`. Without it the write fails before
 * anything is written, naming every unknown column and the table column it
 * most likely meant.
 */
import { didYouMeanSuffix } from '../config/did-you-mean.js';
import type { StructType } from '../delta/log/schema.js';
import { LarderError } from '../errors.js';

/**
 * Fail with `SCHEMA_MISMATCH` when `columns` (the df's, matched
 * case-insensitively as Delta does) name columns `schema` lacks.
 *
 * @example
 * assertKnownColumns(staged.columns.map((c) => c.name), snapshot.schema, 'ml.f.customers');
 * // SCHEMA_MISMATCH: the df written to ml.f.customers has a column the table lacks: "prize" (did you mean "price"?) …
 */
export function assertKnownColumns(columns: readonly string[], schema: StructType, table: string): void {
  const known = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  const unknown = columns.filter((c) => !known.has(c.toLowerCase()));
  if (unknown.length === 0) return;
  const names = schema.fields.map((f) => f.name);
  const listed = unknown.map((c) => `"${c}"${didYouMeanSuffix(c, names)}`).join(', ');
  throw new LarderError(
    'SCHEMA_MISMATCH',
    `the df written to ${table} has ${unknown.length === 1 ? 'a column' : 'columns'} the table lacks: ${listed}`,
    {
      table,
      column: unknown[0]!,
      columns: unknown,
      hint: `fix the column names, or write with mergeSchema: true to add ${unknown.length === 1 ? 'it' : 'them'} to the table as new features`,
    },
  );
}
