/**
 * `larder init`: scaffold a project folder — a commented minimal
 * `larder.config.ts`, a `.gitignore` that keeps `.larder/` out of git and a
 * README — or, with `example: 'churn'`, the churn example's config and its
 * generated source data under `data/`.
 *
 * Invariants:
 * - an existing config file is never overwritten without `force`
 *   (`INVALID_ARGUMENT` naming it), and nothing is written when it refuses;
 * - `.gitignore` and `README.md` are only added to, never rewritten;
 * - the example's files are found relative to this package's root (two
 *   folders up from both `src/config/` and `dist/config/`), so `init`
 *   works from a checkout and from `node_modules`.
 */
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LarderError } from '../errors.js';
import { CONFIG_FILE_NAMES } from './load-config.js';

/** The examples `init` can copy. */
export const INIT_EXAMPLES: readonly string[] = Object.freeze(['churn']);

export interface InitProjectOptions {
  /** The project folder (created when missing). */
  readonly dir: string;
  /** Copy an example project instead of the minimal config. */
  readonly example?: string;
  /** With `example: 'churn'`: how many customers to generate (default 10 000). */
  readonly customers?: number;
  /** Seed of the generated data (default 42). */
  readonly seed?: number;
  /** Overwrite an existing config (and, for an example, its data). */
  readonly force?: boolean;
}

export interface InitProjectResult {
  /** Absolute path of the project folder. */
  readonly dir: string;
  /** Files written or added to, absolute. */
  readonly files: readonly string[];
  /** With an example: what was generated. */
  readonly data?: { readonly folder: string; readonly tables: Readonly<Record<string, number>> };
}

/** The minimal config `larder init` writes. It loads as is (everything is commented out). */
export const MINIMAL_CONFIG = `/**
 * Larder project config: where the raw data comes from, the feature tables and
 * the pipelines that compute them.
 *
 *   larder plan              what \`apply\` would change in the catalog
 *   larder apply             create and update the feature tables
 *   larder run <pipeline>    compute features (incrementally when configured)
 */
import { defineConfig } from 'larderjs/config';

export default defineConfig({
  // Delta tables (catalog name or folder), CSV or Parquet files, PostgreSQL tables.
  sources: {
    // raw_transactions: { type: 'delta', path: 'data/raw_transactions', changeColumn: '_change_timestamp' },
  },
  // What features describe, and the columns that identify it.
  entities: {
    // customer: { keys: ['customer_id'] },
  },
  // Feature tables by catalog.schema.table; their primary keys come from the entity.
  featureTables: {
    // 'ml.features.customer_features': { entity: 'customer', description: 'Activity per customer', tags: { team: 'ml' } },
  },
  // SQL over the sources (each source is a relation of that name), written to a feature table.
  pipelines: {
    // customer_features: {
    //   output: 'ml.features.customer_features',
    //   sources: ['raw_transactions'],
    //   sql: 'SELECT customer_id, count(*) AS num_transactions FROM raw_transactions GROUP BY customer_id',
    //   incremental: { key: 'customer_id' },
    // },
  },
});
`;

/**
 * Scaffold a Larder project in `dir`.
 *
 * @example
 * await initProject({ dir: 'my-features' });
 * await initProject({ dir: 'churn-demo', example: 'churn', customers: 5_000 });
 */
export async function initProject(options: InitProjectOptions): Promise<InitProjectResult> {
  const dir = resolve(options.dir);
  const example = options.example;
  if (example !== undefined && !INIT_EXAMPLES.includes(example)) {
    throw new LarderError('INVALID_ARGUMENT', `unknown example "${example}"`, {
      hint: `examples: ${INIT_EXAMPLES.join(', ')}`,
    });
  }
  const customers = options.customers ?? 10_000;
  if (!Number.isInteger(customers) || customers < 1) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `--customers must be a whole number of at least 1, got ${customers}`,
    );
  }
  const existing = CONFIG_FILE_NAMES.map((name) => join(dir, name)).filter((path) => existsSync(path));
  if (existing.length > 0 && !options.force) {
    throw new LarderError('INVALID_ARGUMENT', `${existing[0]} already exists`, {
      file: existing[0],
      hint: 'pass --force to overwrite it',
    });
  }
  const configFile = join(dir, 'larder.config.ts');
  const source = example === undefined ? undefined : packageFile(`examples/${example}/larder.config.ts`);
  if (source !== undefined && !existsSync(source)) {
    throw new LarderError(
      'IO_ERROR',
      `the ${example} example's config ${source} is missing from this installation`,
      {
        file: source,
      },
    );
  }

  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  if (source === undefined) await writeFile(configFile, MINIMAL_CONFIG);
  else await copyFile(source, configFile);
  files.push(configFile);
  if (await addLines(join(dir, '.gitignore'), ['.larder/'])) files.push(join(dir, '.gitignore'));
  const readme = join(dir, 'README.md');
  if (!existsSync(readme)) {
    await writeFile(readme, readmeText(dir, example));
    files.push(readme);
  }

  if (example !== 'churn') return Object.freeze({ dir, files: Object.freeze(files) });
  const folder = join(dir, 'data');
  const { generateChurnData } = await loadChurnGenerator();
  const generated = await generateChurnData({
    out: folder,
    customers,
    seed: options.seed ?? 42,
    replace: options.force ?? false,
  });
  return Object.freeze({
    dir,
    files: Object.freeze(files),
    data: Object.freeze({
      folder,
      tables: Object.freeze({ raw_customers: generated.customers, raw_transactions: generated.transactions }),
    }),
  });
}

/** Add the lines a file lacks (creating it); true when it changed. */
async function addLines(path: string, lines: readonly string[]): Promise<boolean> {
  const text = existsSync(path) ? await readFile(path, 'utf8') : '';
  const present = new Set(text.split(/\r?\n/).map((line) => line.trim()));
  const missing = lines.filter((line) => !present.has(line) && !present.has(line.replace(/\/$/, '')));
  if (missing.length === 0) return false;
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  await appendFile(path, `${separator}${missing.join('\n')}\n`);
  return true;
}

function readmeText(dir: string, example: string | undefined): string {
  const name = dir.split(/[\\/]/).pop() || 'features';
  const what =
    example === 'churn'
      ? "Larder's churn example: customer and transaction data in `data/`, churn feature tables and their pipelines in `larder.config.ts`."
      : 'Feature tables and the pipelines that compute them are declared in `larder.config.ts`.';
  return `# ${name}\n\nA Larder feature store project. ${what}\nRun \`larder plan\`, then \`larder apply\`, then \`larder run <pipeline>\`; \`.larder/\` holds the catalog and the tables.\n`;
}

/** A file of this package, from its root (two folders up from `src/config` and `dist/config`). */
function packageFile(path: string): string {
  return fileURLToPath(new URL(`../../${path}`, import.meta.url));
}

interface ChurnGenerator {
  generateChurnData(options: {
    out: string;
    customers: number;
    seed: number;
    replace: boolean;
  }): Promise<{ customers: number; transactions: number }>;
}

/**
 * The churn generator is TypeScript outside `src/`: imported natively when
 * Larder itself runs from source (tsx, vitest), through jiti from a build.
 */
async function loadChurnGenerator(): Promise<ChurnGenerator> {
  const file = packageFile('examples/churn/generate.ts');
  if (!existsSync(file)) {
    throw new LarderError('IO_ERROR', `the churn data generator ${file} is missing from this installation`, {
      file,
    });
  }
  if (import.meta.url.endsWith('.ts')) return (await import(pathToFileURL(file).href)) as ChurnGenerator;
  const { createJiti } = await import('jiti');
  return createJiti(import.meta.url).import<ChurnGenerator>(file);
}
