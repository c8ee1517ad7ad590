/**
 * The one way a `larder` command opens the project folder it works on
 * (`-C/--project`, default the current folder): every command that reads or
 * writes tables (`sql`, `tables`, `describe`, `history`, `plan`, `apply`,
 * `run`, `runs`) sees the same catalog and warehouse.
 *
 * - When the folder holds a `larder.config.*`, it is loaded (`loadConfig`)
 *   and the store opens on the catalog and warehouse it names
 *   (`openProject`): `catalog.url`, `warehouse`.
 * - Without one, the engine opens on the folder as a bare project: its
 *   SQLite catalog `.larder/catalog.db` and warehouse `.larder/warehouse`
 *   (created on first use), so `larder sql` needs no config. Commands built
 *   on the config (`plan`, `apply`, `run`) ask for it with `requireConfig`
 *   and fail with `CONFIG_NOT_FOUND`.
 * - `LARDER_CATALOG_URL`, when set, wins over the config's `catalog.url`
 *   (and over the SQLite catalog of a bare project).
 *
 * Decision: a config that does not load or validate fails every command
 * with its `CONFIG_INVALID` message naming the file (exit 1) — `larder sql`
 * and the listing commands included. Falling back to the folder's SQLite
 * catalog would be quietly wrong: the broken config may name another
 * catalog (a team's PostgreSQL) or warehouse, and a query, a `CREATE TABLE`
 * or a listing would then read or write a different catalog than the one
 * the project uses, with nothing to say so. Fix the config, or point `-C`
 * elsewhere.
 *
 * Invariant: `close()` closes everything opened (store, engine, metastore),
 * once; a failure while opening leaves nothing open.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_FILE_NAMES, type LoadedConfig, loadConfig } from '../config/load-config.js';
import { openProject } from '../config/open-project.js';
import type { Engine } from '../engine/engine.js';
import { FeatureStore } from '../features/feature-store.js';

export interface OpenCliProjectOptions {
  /** Fail with `CONFIG_NOT_FOUND` when the folder has no config (commands built on it). */
  readonly requireConfig?: boolean;
  /** Write nothing to the project folder (`larder plan`; see `openProject`). */
  readonly dryRun?: boolean;
}

/** An open project folder. */
export interface CliProject {
  /** The project folder, absolute. */
  readonly projectDir: string;
  /** The loaded config, when the folder has one. */
  readonly loaded: LoadedConfig | undefined;
  readonly featureStore: FeatureStore;
  /** The store's engine (its catalog and warehouse). */
  readonly engine: Engine;
  close(): Promise<void>;
}

/** A project folder whose config is known to be there. */
export interface ConfiguredCliProject extends CliProject {
  readonly loaded: LoadedConfig;
}

/**
 * Open the project folder `project` (default: the current folder).
 *
 * @example
 * const { openCliProject } = await import('../open-cli-project.js');
 * const project = await openCliProject(options.project);
 * try {
 *   console.log(await project.engine.metastore.listTables());
 * } finally {
 *   await project.close();
 * }
 */
export function openCliProject(
  project: string | undefined,
  options: OpenCliProjectOptions & { readonly requireConfig: true },
): Promise<ConfiguredCliProject>;
export function openCliProject(
  project: string | undefined,
  options?: OpenCliProjectOptions,
): Promise<CliProject>;
export async function openCliProject(
  project: string | undefined,
  options: OpenCliProjectOptions = {},
): Promise<CliProject> {
  const projectDir = resolve(project ?? process.cwd());
  if (options.requireConfig || hasConfigFile(projectDir)) {
    const loaded = await loadConfig({ projectDir });
    const opened = await openProject(loaded, { dryRun: options.dryRun === true });
    return {
      projectDir: loaded.projectDir,
      loaded,
      featureStore: opened.featureStore,
      engine: opened.featureStore.engine,
      close: () => opened.close(),
    };
  }
  const featureStore = await FeatureStore.open({ projectDir });
  let closed = false;
  return {
    projectDir,
    loaded: undefined,
    featureStore,
    engine: featureStore.engine,
    async close() {
      if (closed) return;
      closed = true;
      await featureStore.close();
    },
  };
}

/** Whether `dir` holds one of the config files `loadConfig` looks for. */
function hasConfigFile(dir: string): boolean {
  return CONFIG_FILE_NAMES.some((name) => existsSync(join(dir, name)));
}
