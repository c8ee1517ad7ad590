/**
 * `FeatureTable`: what Larder knows of a feature table, from its catalog
 * entry (keys, tags, owner, lineage, feature descriptions) and its Delta
 * table (version, schema). It is also a typed handle: a table created with a
 * literal schema carries its row type, which `readTable` and `writeTable`
 * pick up.
 *
 * Invariant: a `FeatureTable` is a frozen value describing one moment; it is
 * never updated in place (ask `getTable` again for a newer one).
 */
import type { FeatureColumn, FeatureLineage, TableEntry, TableName } from '../catalog/metastore.js';
import type { DataType, StructType } from '../delta/log/schema.js';

declare const featureRow: unique symbol;

/** A column of a feature table's Delta schema. */
export interface FeatureTableColumn {
  readonly name: string;
  /** The Delta type (`long`, `double`, `decimal(10,2)`, `array<string>`, …). */
  readonly type: string;
  readonly nullable: boolean;
  readonly description?: string;
  /** Whether the column is one of the primary keys. */
  readonly primaryKey: boolean;
}

/**
 * A feature table. `R` is its row type when it was created with a literal
 * schema (else a loose record).
 *
 * @example
 * const table = await fs.getTable('ml.churn_features.customer_features');
 * console.log(table.primaryKeys, table.version, table.features.map((f) => `${f.name}: ${f.type}`));
 */
export interface FeatureTable<R extends object = Record<string, unknown>> {
  /** The full name, `catalog.schema.table`. */
  readonly name: string;
  /** The full name, `catalog.schema.table` (as `name`). */
  readonly fullName: string;
  readonly tableName: TableName;
  readonly primaryKeys: readonly string[];
  readonly timeseriesColumn: string | undefined;
  readonly partitionColumns: readonly string[];
  readonly clusterBy: readonly string[];
  readonly description: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly owner: string | undefined;
  /** The non-key columns, with their Delta types and descriptions. */
  readonly features: readonly FeatureColumn[];
  readonly lineage: FeatureLineage;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Absolute path of the Delta table folder. */
  readonly location: string;
  /** Whether Larder owns the folder (dropTable deletes it). */
  readonly managed: boolean;
  /** The Delta table's latest version when this value was read. */
  readonly version: number;
  /** Every column of the Delta schema, in order. */
  readonly schema: readonly FeatureTableColumn[];
  /** Type-level only: the row type of the table. */
  readonly [featureRow]?: R;
}

/** The row type a `FeatureTable` handle carries. */
export type RowOf<T> = T extends FeatureTable<infer R> ? R : Record<string, unknown>;

/**
 * A Delta type as Spark's `simpleString` writes it: `long`, `decimal(10,2)`,
 * `array<string>`, `map<string,long>`, `struct<a:long,b:string>`.
 *
 * @example
 * deltaTypeName({ type: 'array', elementType: 'long', containsNull: true }); // 'array<long>'
 */
export function deltaTypeName(type: DataType): string {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'array':
      return `array<${deltaTypeName(type.elementType)}>`;
    case 'map':
      return `map<${deltaTypeName(type.keyType)},${deltaTypeName(type.valueType)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${deltaTypeName(f.type)}`).join(',')}>`;
  }
}

/** The Spark column comment of a field, if any. */
export function fieldComment(metadata: Readonly<Record<string, unknown>>): string | undefined {
  const comment = metadata.comment;
  return typeof comment === 'string' ? comment : undefined;
}

/**
 * The feature columns of a schema: every column but the primary keys, with
 * the description the catalog holds (else the column comment).
 *
 * @example
 * featureColumns(snapshot.schema, ['customer_id'], entry.feature?.features ?? []);
 */
export function featureColumns(
  schema: StructType,
  primaryKeys: readonly string[],
  known: readonly FeatureColumn[],
): FeatureColumn[] {
  const keys = new Set(primaryKeys.map((k) => k.toLowerCase()));
  const descriptions = new Map(known.map((f) => [f.name.toLowerCase(), f.description]));
  return schema.fields
    .filter((f) => !keys.has(f.name.toLowerCase()))
    .map((f) => {
      const description = descriptions.get(f.name.toLowerCase()) ?? fieldComment(f.metadata);
      return {
        name: f.name,
        type: deltaTypeName(f.type),
        ...(description !== undefined ? { description } : {}),
      };
    });
}

/**
 * The `FeatureTable` of a catalog entry registered as a feature table and the
 * schema and version of its Delta table.
 *
 * @example
 * const { entry, table } = await engine.resolveTable(name);
 * const info = toFeatureTable(entry, table.snapshot.schema, table.version);
 */
export function toFeatureTable<R extends object = Record<string, unknown>>(
  entry: TableEntry,
  schema: StructType,
  version: number,
): FeatureTable<R> {
  const feature = entry.feature;
  const primaryKeys = feature?.primaryKeys ?? [];
  const keys = new Set(primaryKeys.map((k) => k.toLowerCase()));
  const descriptions = new Map((feature?.features ?? []).map((f) => [f.name.toLowerCase(), f.description]));
  const columns: FeatureTableColumn[] = schema.fields.map((f) => {
    const description = descriptions.get(f.name.toLowerCase()) ?? fieldComment(f.metadata);
    return Object.freeze({
      name: f.name,
      type: deltaTypeName(f.type),
      nullable: f.nullable,
      ...(description !== undefined ? { description } : {}),
      primaryKey: keys.has(f.name.toLowerCase()),
    });
  });
  return Object.freeze({
    name: entry.fullName,
    fullName: entry.fullName,
    tableName: Object.freeze({ ...entry.name }),
    primaryKeys: Object.freeze([...primaryKeys]),
    timeseriesColumn: feature?.timeseriesColumn,
    partitionColumns: Object.freeze([...(feature?.partitionColumns ?? [])]),
    clusterBy: Object.freeze([...(feature?.clusterBy ?? [])]),
    description: entry.description,
    tags: Object.freeze({ ...(entry.tags ?? {}) }),
    owner: feature?.owner,
    features: Object.freeze(featureColumns(schema, primaryKeys, feature?.features ?? [])),
    lineage: Object.freeze({
      ...(feature?.lineage.pipeline !== undefined ? { pipeline: feature.lineage.pipeline } : {}),
      sources: Object.freeze([...(feature?.lineage.sources ?? [])]),
    }),
    createdAt: new Date(entry.createdAt),
    updatedAt: new Date(entry.updatedAt ?? entry.createdAt),
    location: entry.location,
    managed: entry.managed,
    version,
    schema: Object.freeze(columns),
  }) as FeatureTable<R>;
}
