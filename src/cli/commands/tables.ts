/**
 * `larder tables`: the feature tables of the project's catalog (with
 * `--all`, every registered table) with their keys, feature count, Delta
 * version, last commit time, owner and tags; aligned text or, with
 * `--json`, a JSON array.
 *
 * A table whose Delta folder cannot be read is still listed, with no
 * version (`-` and a warning on stderr, or `null` and an `error` in JSON):
 * a listing must not fail because one table is broken.
 */
import { Command } from 'commander';
import type { TableEntry } from '../../catalog/metastore.js';
import { textTable } from '../text-table.js';

interface TablesOptions {
  readonly project?: string;
  readonly catalog?: string;
  readonly schema?: string;
  readonly all?: boolean;
  readonly json?: boolean;
}

/** One table as `larder tables --json` prints it. */
export interface TableListing {
  readonly name: string;
  readonly featureTable: boolean;
  readonly primaryKeys: readonly string[] | null;
  readonly timeseriesColumn: string | null;
  /** How many feature columns; null for a table that is not a feature table. */
  readonly features: number | null;
  readonly version: number | null;
  /** ISO time of the latest Delta commit. */
  readonly lastModified: string | null;
  readonly owner: string | null;
  readonly tags: Readonly<Record<string, string>>;
  readonly location: string;
  /** Why the Delta table could not be read, when it could not. */
  readonly error?: string;
}

/**
 * The `tables` command; its action writes to `process.stdout`.
 *
 * @example
 * program.addCommand(tablesCommand()); // larder tables --catalog ml --json
 */
export function tablesCommand(): Command {
  return new Command('tables')
    .description('list the feature tables (--all: every table) with keys, version, owner and tags')
    .option('-C, --project <dir>', 'project folder (default: the current folder)')
    .option('--catalog <catalog>', 'only tables of this catalog')
    .option('--schema <schema>', 'only tables of this schema')
    .option('--all', 'list every registered table, not only feature tables')
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      `
Examples:
  $ larder tables
  $ larder tables --catalog ml --schema churn_features --json
  $ larder tables --all`,
    )
    .action(async (options: TablesOptions) => {
      // Loaded here, not at the top, so `larder --help` does not start DuckDB.
      const { openCliProject } = await import('../open-cli-project.js');
      const project = await openCliProject(options.project);
      const engine = project.engine;
      try {
        const entries = await engine.metastore.listTables({
          ...(options.catalog === undefined ? {} : { catalog: options.catalog }),
          ...(options.schema === undefined ? {} : { schema: options.schema }),
        });
        const shown = options.all ? entries : entries.filter((e) => e.feature !== undefined);
        const listings = await Promise.all(shown.map(listing));
        if (options.json) {
          process.stdout.write(`${JSON.stringify(listings, null, 2)}\n`);
          return;
        }
        process.stdout.write(formatListings(listings, options.all === true));
        for (const t of listings) {
          if (t.error !== undefined) process.stderr.write(`warning: ${t.name}: ${t.error}\n`);
        }
      } finally {
        await project.close();
      }
    });
}

async function listing(entry: TableEntry): Promise<TableListing> {
  const { DeltaTable } = await import('../../delta/delta-table.js');
  let delta: { version: number; lastModified: string } | { error: string };
  try {
    const table = await DeltaTable.open(entry.location);
    delta = { version: table.version, lastModified: isoTime(table.snapshot.timestamp) };
  } catch (error) {
    delta = { error: (error as Error).message };
  }
  const feature = entry.feature;
  return {
    name: entry.fullName,
    featureTable: feature !== undefined,
    primaryKeys: feature ? [...feature.primaryKeys] : null,
    timeseriesColumn: feature?.timeseriesColumn ?? null,
    features: feature ? feature.features.length : null,
    version: 'version' in delta ? delta.version : null,
    lastModified: 'version' in delta ? delta.lastModified : null,
    owner: feature?.owner ?? null,
    tags: entry.tags,
    location: entry.location,
    ...('error' in delta ? { error: delta.error } : {}),
  };
}

function formatListings(listings: readonly TableListing[], all: boolean): string {
  if (listings.length === 0) {
    return all
      ? 'No tables are registered.\n'
      : 'No feature tables are registered (larder tables --all lists every table).\n';
  }
  const header = [
    'NAME',
    'PRIMARY KEYS',
    'TIMESERIES',
    'FEATURES',
    'VERSION',
    'LAST MODIFIED',
    'OWNER',
    'TAGS',
  ];
  const rows = listings.map((t) => [
    t.name,
    t.primaryKeys?.join(', ') ?? '-',
    t.timeseriesColumn ?? '-',
    t.features === null ? '-' : String(t.features),
    t.version === null ? '-' : String(t.version),
    t.lastModified ?? '-',
    t.owner ?? '-',
    formatTags(t.tags),
  ]);
  return `${textTable([header, ...rows]).join('\n')}\n`;
}

/** `k=v, k2=v2`, or `-` for none. */
function formatTags(tags: Readonly<Record<string, string>>): string {
  const entries = Object.entries(tags);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(', ');
}

/** `2024-05-01T12:00:00Z`: ISO time to the second. */
function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
