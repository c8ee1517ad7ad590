/**
 * Declared schemas of feature tables: the `schema` option of
 * `FeatureStore.createTable` (`{ customer_id: 'long', n_tx: { type: 'integer',
 * description: '…' } }`), its conversion to Delta columns, and the TypeScript
 * row types a literal schema gives (what `readTable` returns and `writeTable`
 * accepts).
 *
 * Invariants: primary key columns are NOT NULL (in the Delta schema and in the
 * row types); every other column is nullable unless declared
 * `nullable: false`; a column description becomes the Delta field's
 * `comment` metadata, as Spark stores column comments.
 */
import type { FeatureType } from '../config/define-config.js';
import type { ColumnSpec } from '../delta/operations/create.js';

/** A declared column: its Delta type, or the type with a description and nullability. */
export type FeatureColumnSpec =
  | FeatureType
  | {
      readonly type: FeatureType;
      readonly description?: string;
      /** Default true (primary key columns are always NOT NULL). */
      readonly nullable?: boolean;
    };

/** Column name → declared column, in column order. */
export type SchemaSpec = Readonly<Record<string, FeatureColumnSpec>>;

/** The Delta type of a declared column. */
export type SpecType<C> = C extends FeatureType ? C : C extends { readonly type: infer T } ? T : never;

/**
 * The value Apache Arrow gives for a Delta type when `readTable` reads it:
 * `long` → `bigint`; the other numbers, dates and timestamps (milliseconds
 * since the epoch, as Arrow's `DateDay` and `TimestampMicrosecond` give them)
 * and decimals (read as `Float64`) → `number`.
 */
export type FeatureValue<T> = T extends 'long'
  ? bigint
  : T extends 'integer' | 'short' | 'byte' | 'float' | 'double' | 'date' | 'timestamp' | 'timestamp_ntz'
    ? number
    : T extends `decimal(${number},${number})`
      ? number
      : T extends 'string'
        ? string
        : T extends 'boolean'
          ? boolean
          : T extends 'binary'
            ? Uint8Array
            : unknown;

type NotNullColumn<C, Name, Keys> = Name extends Keys
  ? true
  : C extends { readonly nullable: false }
    ? true
    : false;

/**
 * The row type of a declared schema, with `Keys` (primary key and timeseries
 * columns) never null.
 *
 * @example
 * type Row = FeatureRow<{ customer_id: 'long'; n_tx: 'integer' }, 'customer_id'>;
 * // { customer_id: bigint; n_tx: number | null }
 */
export type FeatureRow<S extends SchemaSpec, Keys extends string = never> = {
  -readonly [Name in keyof S & string]: NotNullColumn<S[Name], Name, Keys> extends true
    ? FeatureValue<SpecType<S[Name]>>
    : FeatureValue<SpecType<S[Name]>> | null;
};

/** What a write accepts for a column whose read value is `V`. */
export type FeatureInputValue<V> = V extends bigint
  ? bigint | number
  : V extends number
    ? number | bigint | Date | string
    : V extends null
      ? null | undefined
      : V;

/**
 * A row of a write: any subset of the table's columns (merge updates the
 * columns given and keeps the others), values as JavaScript gives them
 * (`bigint` or `number` for `long`; `Date`, ISO strings or epoch
 * milliseconds for dates and timestamps). Through a typed handle, a column
 * the table lacks is a compile error (a row literal's excess property);
 * for a loose row type (`Record<string, unknown>`) any column is accepted.
 */
export type FeatureInputRow<R> = { readonly [C in keyof R]?: FeatureInputValue<R[C]> };

/**
 * A row of a write with `mergeSchema: true`: the table's columns typed as in
 * `FeatureInputRow`, and any other column (added as a new feature).
 */
export type FeatureEvolvingRow<R> = FeatureInputRow<R> & Readonly<Record<string, unknown>>;

/** The declared type and description of a column spec. */
export function columnSpecParts(spec: FeatureColumnSpec): {
  type: FeatureType;
  description?: string;
  nullable: boolean;
} {
  if (typeof spec === 'string') return { type: spec, nullable: true };
  return {
    type: spec.type,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    nullable: spec.nullable ?? true,
  };
}

/**
 * Delta columns of a declared schema: `notNull` columns (the primary keys)
 * NOT NULL, descriptions (from the spec or `descriptions`) as `comment`.
 *
 * @example
 * schemaSpecColumns({ id: 'long', score: { type: 'double', description: 'model score' } }, ['id'], {});
 * // [{ name: 'id', type: 'long', nullable: false, metadata: {} }, { name: 'score', …, metadata: { comment: 'model score' } }]
 */
export function schemaSpecColumns(
  schema: SchemaSpec,
  notNull: readonly string[],
  descriptions: Readonly<Record<string, string>>,
): ColumnSpec[] {
  const keys = new Set(notNull.map((k) => k.toLowerCase()));
  return Object.entries(schema).map(([name, spec]) => {
    const { type, description, nullable } = columnSpecParts(spec);
    const comment = descriptions[name] ?? description;
    return {
      name,
      type,
      nullable: nullable && !keys.has(name.toLowerCase()),
      metadata: comment !== undefined ? { comment } : {},
    };
  });
}
