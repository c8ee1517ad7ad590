/**
 * Loading `larder.config.ts`: find the file in a project folder, import it
 * with jiti (TypeScript without a build step, ESM or CommonJS), take its
 * default export (or a named `config`), validate it and return it with the
 * absolute file path and project folder.
 *
 * Invariants:
 * - `larderjs/config` always resolves to this package's own `define-config`
 *   module (source `.ts` in a checkout, compiled `.js` once built), so a
 *   project's config works whether Larder runs from this repository or from
 *   `node_modules`, and loading a config never loads DuckDB or a catalog.
 * - The config is imported afresh on every call (no module cache), so a
 *   process that loads, edits and reloads a config sees the edit.
 * - Every failure is a `LarderError`: `CONFIG_NOT_FOUND` naming the folder
 *   and the file names tried, `CONFIG_INVALID` naming the file (a file that
 *   throws or does not parse, with the cause's message; or the problems that
 *   validation found, see `validate-config.ts`).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import { LarderError } from '../errors.js';
import type { LarderConfig } from './define-config.js';
import { validateConfig } from './validate-config.js';

/** The file names looked for in the project folder, in this order. */
export const CONFIG_FILE_NAMES: readonly string[] = Object.freeze([
  'larder.config.ts',
  'larder.config.mts',
  'larder.config.js',
  'larder.config.mjs',
]);

export interface LoadConfigOptions {
  /** The project folder (where `.larder/` lives). Default: the folder of `file` when given, else the current directory. */
  readonly projectDir?: string;
  /** An explicit config file (relative to `projectDir`, else to the current directory). Default: the first of `CONFIG_FILE_NAMES` found in `projectDir`. */
  readonly file?: string;
}

/** A validated config and where it came from. */
export interface LoadedConfig {
  /**
   * The validated config, deep-frozen. Normalised: every feature table has
   * `primaryKeys` (its entity's keys when it gave none, with the timeseries
   * column appended when it was not listed).
   */
  readonly config: LarderConfig;
  /** Absolute path of the config file. */
  readonly file: string;
  /** Absolute path of the project folder. */
  readonly projectDir: string;
}

/**
 * Find, import and validate a project's `larder.config.ts`.
 *
 * @example
 * const { config, file, projectDir } = await loadConfig({ projectDir: 'examples/churn' });
 * Object.keys(config.pipelines ?? {}); // ['customer_features', …]
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const explicit = options.file;
  const projectDir = resolve(
    options.projectDir ?? (explicit === undefined ? process.cwd() : dirname(resolve(explicit))),
  );
  const file = explicit === undefined ? findConfigFile(projectDir) : explicitFile(projectDir, explicit);
  const exported = await importConfigFile(file);
  const config = validateConfig(exported, { file, projectDir });
  return Object.freeze({ config, file, projectDir });
}

/** The first config file of `CONFIG_FILE_NAMES` in `projectDir`; `CONFIG_NOT_FOUND` when none is there. */
export function findConfigFile(projectDir: string): string {
  const dir = resolve(projectDir);
  if (!isDirectory(dir)) {
    throw new LarderError('CONFIG_NOT_FOUND', `project folder ${dir} does not exist`, {
      file: dir,
      hint: 'pass an existing folder with -C, or create one with `larder init <dir>`',
    });
  }
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = resolve(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new LarderError(
    'CONFIG_NOT_FOUND',
    `no config file in ${dir} (looked for ${CONFIG_FILE_NAMES.join(', ')})`,
    { file: dir, hint: 'run `larder init` to create one, or pass the project folder with -C' },
  );
}

function explicitFile(projectDir: string, file: string): string {
  const path = isAbsolute(file) ? file : resolve(projectDir, file);
  if (!existsSync(path) || isDirectory(path)) {
    throw new LarderError('CONFIG_NOT_FOUND', `config file ${path} does not exist`, {
      file: path,
      hint: `the default is one of ${CONFIG_FILE_NAMES.join(', ')} in the project folder`,
    });
  }
  return path;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** This package's `define-config` module: the compiled `.js` next to this file once built, else the `.ts` source. */
function defineConfigModule(): string {
  const compiled = fileURLToPath(new URL('./define-config.js', import.meta.url));
  return existsSync(compiled) ? compiled : fileURLToPath(new URL('./define-config.ts', import.meta.url));
}

/** Import `file` and return its default export, else its `config` export. */
async function importConfigFile(file: string): Promise<unknown> {
  const jiti = createJiti(import.meta.url, {
    // 'larder/config' is what projects made before the package took its npm name import.
    alias: { 'larderjs/config': defineConfigModule(), 'larder/config': defineConfigModule() },
    moduleCache: false,
    // Without this, jiti answers `default` with the whole module when there is no default export.
    interopDefault: false,
  });
  let mod: unknown;
  try {
    mod = await jiti.import(file);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new LarderError('CONFIG_INVALID', `${file} failed to load: ${message}`, {
      file,
      cause: error,
      hint: 'fix the error in the config file; run it with `npx tsx <file>` to see the stack',
    });
  }
  const exports = (mod ?? {}) as Record<string, unknown>;
  const value = exports.default ?? exports.config;
  if (value === undefined) {
    throw new LarderError('CONFIG_INVALID', `${file} exports no config`, {
      file,
      hint: "write `export default defineConfig({ … })` with defineConfig from 'larderjs/config'",
    });
  }
  return value;
}
