/**
 * The checks every metastore backend applies to a table's metadata before it
 * writes it: feature-table info and tags. Keeping them in one place means
 * SQLite and PostgreSQL refuse exactly the same inputs with the same codes.
 *
 * Invariants of a stored `FeatureTableInfo`:
 * - `primaryKeys` is non-empty;
 * - `timeseriesColumn`, when set, is one of `primaryKeys` (exact spelling);
 * - no column name appears twice across `primaryKeys` and `features`
 *   (compared case-insensitively, as Delta compares column names), nor twice
 *   in `partitionColumns` or `clusterBy`;
 * - every partition and clustering column is a primary key or a feature;
 * - every name and feature type is a non-empty string.
 *
 * Tags follow Unity Catalog's limits: keys non-empty and at most 255
 * characters, values at most 1000 characters.
 *
 * It also turns the stored feature-table columns, once a backend has decoded
 * them, back into a frozen `FeatureTableInfo` (`storedFeatureInfo`).
 */
import { LarderError } from '../errors.js';
import type { FeatureColumn, FeatureTableInfo } from './metastore.js';

/** Longest tag key, in characters (Unity Catalog's limit). */
export const MAX_TAG_KEY_LENGTH = 255;
/** Longest tag value, in characters (Unity Catalog's limit). */
export const MAX_TAG_VALUE_LENGTH = 1000;

/**
 * `info` checked and copied into a frozen value holding only the fields of
 * `FeatureTableInfo` (absent optional fields are left out). Throws
 * `INVALID_ARGUMENT` naming the table and the field at fault.
 *
 * @example
 * const info = checkFeatureTableInfo('ml.churn.customer_features', {
 *   primaryKeys: ['customer_id', 'feature_date'], timeseriesColumn: 'feature_date',
 *   partitionColumns: [], clusterBy: ['customer_id'],
 *   features: [{ name: 'n_tx', type: 'long' }], lineage: { sources: ['raw_transactions'] },
 * });
 */
export function checkFeatureTableInfo(table: string, info: FeatureTableInfo): FeatureTableInfo {
  function fail(field: string, problem: string): never {
    throw new LarderError('INVALID_ARGUMENT', `feature table ${table}: ${field} ${problem}`, {
      table,
      field,
    });
  }
  const names = (field: string, list: unknown): string[] => {
    if (!Array.isArray(list)) return fail(field, 'is not a list of column names');
    for (const item of list) {
      if (typeof item !== 'string' || item === '')
        fail(field, `holds an invalid name ${JSON.stringify(item)}`);
    }
    return [...(list as string[])];
  };
  const noDuplicates = (field: string, list: readonly string[]): void => {
    const seen = new Set<string>();
    for (const n of list) {
      const key = n.toLowerCase();
      if (seen.has(key)) fail(field, `names column "${n}" twice`);
      seen.add(key);
    }
  };

  const primaryKeys = names('primaryKeys', info.primaryKeys);
  if (primaryKeys.length === 0) fail('primaryKeys', 'is empty; a feature table needs at least one key');
  noDuplicates('primaryKeys', primaryKeys);

  const timeseriesColumn = info.timeseriesColumn;
  if (timeseriesColumn !== undefined && !primaryKeys.includes(timeseriesColumn)) {
    fail(
      'timeseriesColumn',
      `"${timeseriesColumn}" is not one of the primary keys (${primaryKeys.join(', ')})`,
    );
  }

  if (!Array.isArray(info.features)) fail('features', 'is not a list');
  const features: FeatureColumn[] = info.features.map((f, i) => {
    if (typeof f?.name !== 'string' || f.name === '') fail('features', `[${i}] has no name`);
    if (typeof f.type !== 'string' || f.type === '') fail('features', `"${f.name}" has no type`);
    if (f.description !== undefined && typeof f.description !== 'string') {
      fail('features', `"${f.name}" has a description that is not a string`);
    }
    return Object.freeze({
      name: f.name,
      type: f.type,
      ...(f.description === undefined ? {} : { description: f.description }),
    });
  });
  const keySet = new Set(primaryKeys.map((k) => k.toLowerCase()));
  for (const f of features) {
    if (keySet.has(f.name.toLowerCase())) fail('features', `"${f.name}" is also a primary key`);
  }
  noDuplicates(
    'features',
    features.map((f) => f.name),
  );

  const columns = new Set([...primaryKeys, ...features.map((f) => f.name)]);
  const tableColumns = (field: 'partitionColumns' | 'clusterBy'): string[] => {
    const list = names(field, info[field]);
    noDuplicates(field, list);
    for (const c of list) {
      if (!columns.has(c)) fail(field, `"${c}" is neither a primary key nor a feature`);
    }
    return list;
  };
  const partitionColumns = tableColumns('partitionColumns');
  const clusterBy = tableColumns('clusterBy');

  if (info.owner !== undefined && typeof info.owner !== 'string') fail('owner', 'is not a string');
  const lineage = info.lineage;
  if (typeof lineage !== 'object' || lineage === null) fail('lineage', 'is not an object');
  if (lineage.pipeline !== undefined && (typeof lineage.pipeline !== 'string' || lineage.pipeline === '')) {
    fail('lineage.pipeline', 'is not a non-empty string');
  }
  const sources = names('lineage.sources', lineage.sources);

  return Object.freeze({
    primaryKeys: Object.freeze(primaryKeys),
    ...(timeseriesColumn === undefined ? {} : { timeseriesColumn }),
    partitionColumns: Object.freeze(partitionColumns),
    clusterBy: Object.freeze(clusterBy),
    ...(info.owner === undefined ? {} : { owner: info.owner }),
    features: Object.freeze(features),
    lineage: Object.freeze({
      ...(lineage.pipeline === undefined ? {} : { pipeline: lineage.pipeline }),
      sources: Object.freeze(sources),
    }),
  });
}

/**
 * Throws `INVALID_ARGUMENT` naming the key unless `key` is a valid tag key
 * and `value` (when given) a valid tag value.
 *
 * @example
 * checkTag('ml.churn.customer_features', 'team', 'growth');
 */
export function checkTag(table: string, key: string, value?: string): void {
  const length = (s: string): number => [...s].length;
  if (typeof key !== 'string' || key === '') {
    throw new LarderError('INVALID_ARGUMENT', `table ${table}: a tag key is empty`, {
      table,
      field: 'tags',
      hint: 'tag keys are non-empty strings',
    });
  }
  if (length(key) > MAX_TAG_KEY_LENGTH) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `table ${table}: tag key "${key.slice(0, 40)}…" is longer than ${MAX_TAG_KEY_LENGTH} characters`,
      { table, field: 'tags', hint: `shorten the key to at most ${MAX_TAG_KEY_LENGTH} characters` },
    );
  }
  if (value === undefined) return;
  if (typeof value !== 'string') {
    throw new LarderError('INVALID_ARGUMENT', `table ${table}: the value of tag "${key}" is not a string`, {
      table,
      field: 'tags',
    });
  }
  if (length(value) > MAX_TAG_VALUE_LENGTH) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `table ${table}: the value of tag "${key}" is longer than ${MAX_TAG_VALUE_LENGTH} characters`,
      { table, field: 'tags', hint: `shorten the value to at most ${MAX_TAG_VALUE_LENGTH} characters` },
    );
  }
}

/**
 * `tags` checked (see `checkTag`), as `[key, value]` pairs in insertion order.
 *
 * @example
 * checkTags('ml.churn.customer_features', { team: 'growth', pii: 'false' }); // [['team','growth'],['pii','false']]
 */
export function checkTags(
  table: string,
  tags: Readonly<Record<string, string>> | undefined,
): [string, string][] {
  if (tags === undefined) return [];
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    throw new LarderError('INVALID_ARGUMENT', `table ${table}: tags is not an object of strings`, {
      table,
      field: 'tags',
    });
  }
  const entries = Object.entries(tags);
  for (const [key, value] of entries) checkTag(table, key, value);
  return entries;
}

/**
 * The `TABLE_NOT_FOUND` error every metastore backend throws for a change to
 * a table that is not registered.
 *
 * @example
 * throw tableNotFound('ml.churn.customer_features');
 */
export function tableNotFound(fullName: string): LarderError {
  return new LarderError('TABLE_NOT_FOUND', `table ${fullName} does not exist`, {
    table: fullName,
    hint: 'check the name; listTables() shows the registered tables',
  });
}

/** The `feature_tables` and `table_features` columns of one table, decoded by its backend. */
export interface StoredFeatureRow {
  readonly primaryKeys: readonly string[];
  readonly timeseriesColumn: string | null;
  readonly partitionColumns: readonly string[] | null;
  readonly clusterColumns: readonly string[] | null;
  readonly owner: string | null;
  readonly lineagePipeline: string | null;
  readonly lineageSources: readonly string[] | null;
  /** In column order. */
  readonly features: readonly { name: string; type: string; description: string | null }[];
}

/**
 * The `FeatureTableInfo` a backend's stored row describes, frozen; nulls
 * become absent fields.
 *
 * @example
 * const feature = row.primary_keys === null ? undefined : storedFeatureInfo({ primaryKeys: row.primary_keys, … });
 */
export function storedFeatureInfo(row: StoredFeatureRow): FeatureTableInfo {
  const list = (items: readonly string[] | null): readonly string[] => Object.freeze([...(items ?? [])]);
  return Object.freeze({
    primaryKeys: list(row.primaryKeys),
    ...(row.timeseriesColumn === null ? {} : { timeseriesColumn: row.timeseriesColumn }),
    partitionColumns: list(row.partitionColumns),
    clusterBy: list(row.clusterColumns),
    ...(row.owner === null ? {} : { owner: row.owner }),
    features: Object.freeze(
      row.features.map(
        (c): FeatureColumn =>
          Object.freeze({
            name: c.name,
            type: c.type,
            ...(c.description === null ? {} : { description: c.description }),
          }),
      ),
    ),
    lineage: Object.freeze({
      ...(row.lineagePipeline === null ? {} : { pipeline: row.lineagePipeline }),
      sources: list(row.lineageSources),
    }),
  });
}
