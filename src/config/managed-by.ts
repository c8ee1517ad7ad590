/**
 * The catalog property that marks a table as created from
 * `larder.config.ts` (by `larder apply`, or by a pipeline run creating its
 * output table). `larder apply --prune` removes only tables carrying it, so
 * tables made by hand, by SQL or by `FeatureStore.createTable` are never
 * pruned.
 */
import type { TableEntry } from '../catalog/metastore.js';

/** Catalog property key (not a Delta table property). */
export const MANAGED_BY_PROPERTY = 'larder.managedBy';

/** Its value for tables the config manages. */
export const MANAGED_BY_CONFIG = 'config';

/**
 * True when the config manages the table.
 *
 * @example
 * const prunable = (await metastore.listTables()).filter(isManagedByConfig);
 */
export function isManagedByConfig(entry: TableEntry): boolean {
  return entry.properties[MANAGED_BY_PROPERTY] === MANAGED_BY_CONFIG;
}
