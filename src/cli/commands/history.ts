/**
 * `larder history <table>`: the Delta history of a registered table, newest
 * first: version, commit time, operation, its parameters and a summary of
 * its metrics (rows written/inserted/updated/deleted, files added/removed).
 * Aligned text, or with `--json` the full entries.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { HistoryEntry } from '../../delta/operations/history.js';
import { textTable } from '../text-table.js';

interface HistoryOptions {
  readonly project?: string;
  readonly limit?: number;
  readonly json?: boolean;
}

/** One commit as `larder history --json` prints it. */
export interface HistoryListing {
  readonly version: number;
  /** ISO time of the commit. */
  readonly timestamp: string;
  readonly operation: string | null;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly readVersion: number | null;
  readonly isBlindAppend: boolean | null;
  readonly engineInfo: string | null;
  readonly userMetadata: string | null;
}

/** Metrics worth a glance, in the order shown, with their short names. */
const METRIC_SUMMARY: readonly (readonly [string, string])[] = [
  ['numOutputRows', 'rows'],
  ['numSourceRows', 'source rows'],
  ['numTargetRowsInserted', 'inserted'],
  ['numTargetRowsUpdated', 'updated'],
  ['numTargetRowsDeleted', 'deleted'],
  ['numUpdatedRows', 'updated'],
  ['numDeletedRows', 'deleted'],
  ['numAddedFiles', 'files added'],
  ['numRemovedFiles', 'files removed'],
  ['numTargetFilesAdded', 'files added'],
  ['numTargetFilesRemoved', 'files removed'],
];

/** Longest parameter text shown in the table (the JSON has all of it). */
const MAX_PARAMETERS_WIDTH = 60;

/**
 * The `history` command; its action writes to `process.stdout`.
 *
 * @example
 * program.addCommand(historyCommand()); // larder history ml.churn_features.customer_features --limit 5
 */
export function historyCommand(): Command {
  return new Command('history')
    .description("show a table's Delta history, newest first")
    .argument('<table>', 'table name: catalog.schema.table (or schema.table, table in main.default)')
    .option('-C, --project <dir>', 'project folder (default: the current folder)')
    .option('-n, --limit <n>', 'show at most this many commits', positiveInteger)
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      `
Examples:
  $ larder history ml.churn_features.customer_features
  $ larder history ml.churn_features.customer_features --limit 3 --json`,
    )
    .action(async (name: string, options: HistoryOptions) => {
      // Loaded here, not at the top, so `larder --help` does not start DuckDB.
      const { openCliProject } = await import('../open-cli-project.js');
      const project = await openCliProject(options.project);
      const engine = project.engine;
      try {
        const { table } = await engine.resolveTable(name);
        const listings = (await table.history(options.limit)).map(historyListing);
        process.stdout.write(
          options.json ? `${JSON.stringify(listings, null, 2)}\n` : formatHistory(listings),
        );
      } finally {
        await project.close();
      }
    });
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return n;
}

function historyListing(h: HistoryEntry): HistoryListing {
  return {
    version: h.version,
    timestamp: new Date(h.timestamp).toISOString(),
    operation: h.operation ?? null,
    parameters: h.operationParameters,
    metrics: h.operationMetrics,
    readVersion: h.readVersion ?? null,
    isBlindAppend: h.isBlindAppend ?? null,
    engineInfo: h.engineInfo ?? null,
    userMetadata: h.userMetadata ?? null,
  };
}

function formatHistory(listings: readonly HistoryListing[]): string {
  const rows = listings.map((h) => [
    String(h.version),
    h.timestamp.replace(/\.\d{3}Z$/, 'Z'),
    h.operation ?? '-',
    truncate(formatParameters(h.parameters), MAX_PARAMETERS_WIDTH),
    formatMetrics(h.metrics),
  ]);
  return `${textTable([['VERSION', 'TIMESTAMP', 'OPERATION', 'PARAMETERS', 'METRICS'], ...rows]).join('\n')}\n`;
}

/** `mode=Append, partitionBy=[]`: strings as they are, anything else as JSON. */
function formatParameters(parameters: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(parameters);
  if (entries.length === 0) return '-';
  return entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

/** The metrics of `METRIC_SUMMARY` present (`rows=1,000, files added=2`); else the first three of any. */
function formatMetrics(metrics: Readonly<Record<string, unknown>>): string {
  const shown = METRIC_SUMMARY.filter(([key]) => metrics[key] !== undefined).map(
    ([key, label]) => `${label}=${formatMetric(metrics[key])}`,
  );
  if (shown.length > 0) return shown.join(', ');
  const any = Object.entries(metrics).slice(0, 3);
  return any.length === 0 ? '-' : any.map(([k, v]) => `${k}=${formatMetric(v)}`).join(', ');
}

/** Delta writes metric values as strings of digits; show them grouped. */
function formatMetric(value: unknown): string {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isFinite(n)
    ? n.toLocaleString('en-US')
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
