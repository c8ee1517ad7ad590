/**
 * Open the feature store of a loaded project, on the catalog its config
 * names: `LARDER_CATALOG_URL` when set, else the config's `catalog.url`,
 * else the project's SQLite catalog (`.larder/catalog.db`).
 *
 * A dry run (`larder plan`) writes nothing to the project folder: no
 * `.larder/`, no warehouse folder, and, while the project has no SQLite
 * catalog yet, an empty in-memory one stands in for it.
 *
 * Invariant: `close()` closes everything `openProject` opened (the store,
 * its engine and the metastore), once, whatever failed in between.
 */
import type { Metastore } from '../catalog/metastore.js';
import { CATALOG_URL_ENV, openMetastore } from '../catalog/open-metastore.js';
import { FeatureStore } from '../features/feature-store.js';
import type { LoadedConfig } from './load-config.js';

export interface OpenProjectOptions {
  /** Write nothing to the project folder (see the module comment). */
  readonly dryRun?: boolean;
}

/** An open project: its feature store (and through it, its engine and catalog). */
export interface OpenProject {
  readonly featureStore: FeatureStore;
  close(): Promise<void>;
}

/**
 * @example
 * const loaded = await loadConfig({ projectDir });
 * const project = await openProject(loaded);
 * try {
 *   console.log(formatPlan(await planConfig({ featureStore: project.featureStore, loaded })));
 * } finally {
 *   await project.close();
 * }
 */
export async function openProject(
  loaded: LoadedConfig,
  options: OpenProjectOptions = {},
): Promise<OpenProject> {
  const envUrl = process.env[CATALOG_URL_ENV];
  const url = envUrl !== undefined && envUrl !== '' ? envUrl : loaded.config.catalog?.url;
  const dryRun = options.dryRun === true;
  let metastore: Metastore | undefined;
  if ((url !== undefined && url !== '') || dryRun) {
    metastore = await openMetastore({
      projectDir: loaded.projectDir,
      ...(url !== undefined && url !== '' ? { url } : {}),
      ...(dryRun ? { createIfMissing: false } : {}),
    });
  }
  let featureStore: FeatureStore;
  try {
    featureStore = await FeatureStore.open({
      projectDir: loaded.projectDir,
      ...(metastore ? { metastore } : {}),
      ...(loaded.config.warehouse !== undefined ? { warehouse: loaded.config.warehouse } : {}),
      ...(dryRun ? { createFolders: false } : {}),
    });
  } catch (error) {
    await metastore?.close();
    throw error;
  }
  let closed = false;
  return {
    featureStore,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await featureStore.close();
      } finally {
        // A metastore passed to the engine is the caller's to close.
        await metastore?.close();
      }
    },
  };
}
