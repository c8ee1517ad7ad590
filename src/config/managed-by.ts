/**
 * The catalog properties that mark a table as created from a project's
 * `larder.config.ts` (by `larder apply`, or by a pipeline run creating its
 * output table), and which project's. `larder apply --prune` removes only
 * tables carrying the mark of its own project, so tables made by hand, by
 * SQL or by `FeatureStore.createTable`, and the tables of other projects
 * sharing a PostgreSQL catalog, are never pruned.
 */
import { basename } from 'node:path';
import type { TableEntry } from '../catalog/metastore.js';
import type { LarderConfig } from './define-config.js';

/** Catalog property key (not a Delta table property). */
export const MANAGED_BY_PROPERTY = 'larder.managedBy';

/** Its value for tables the config manages. */
export const MANAGED_BY_CONFIG = 'config';

/** Catalog property key naming the project whose config manages the table. */
export const PROJECT_PROPERTY = 'larder.project';

/**
 * A project's name: the config's `project`, else its folder's name.
 *
 * @example
 * projectName({}, 'projects/churn'); // 'churn'
 */
export function projectName(config: Pick<LarderConfig, 'project'>, projectDir: string): string {
  return config.project ?? basename(projectDir);
}

/**
 * The catalog properties of a table `project`'s config creates.
 *
 * @example
 * await store.createTable({ ...options, catalogProperties: managedMark('churn') });
 */
export function managedMark(project: string): Record<string, string> {
  return { [MANAGED_BY_PROPERTY]: MANAGED_BY_CONFIG, [PROJECT_PROPERTY]: project };
}

/**
 * True when `project`'s config manages the table. A table marked before
 * tables carried their project counts as every project's.
 *
 * @example
 * const prunable = (await metastore.listTables()).filter((t) => isManagedByProject(t, 'churn'));
 */
export function isManagedByProject(entry: TableEntry, project: string): boolean {
  return isManagedByConfig(entry) && (entry.properties[PROJECT_PROPERTY] ?? project) === project;
}

/**
 * True when the config manages the table.
 *
 * @example
 * const prunable = (await metastore.listTables()).filter(isManagedByConfig);
 */
export function isManagedByConfig(entry: TableEntry): boolean {
  return entry.properties[MANAGED_BY_PROPERTY] === MANAGED_BY_CONFIG;
}
