/**
 * `larder runs [--pipeline p] [--since 7d|24h|2026-11-01] [--limit n] [-C dir] [--json]`:
 * the pipeline runs recorded in the catalog's computation-metrics tables,
 * newest first, as an aligned table or JSON.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { PipelineRun } from '../../pipelines/list-runs.js';
import { textTable } from '../text-table.js';

interface RunsCommandOptions {
  readonly project?: string;
  readonly pipeline?: string;
  readonly since?: Date;
  readonly limit?: number;
  readonly json: boolean;
}

/**
 * The `runs` command; its action writes to `process.stdout`.
 *
 * @example
 * program.addCommand(runsCommand()); // larder runs --pipeline customer_features --since 24h
 */
export function runsCommand(): Command {
  return new Command('runs')
    .description('list pipeline runs, newest first')
    .option('-C, --project <dir>', 'project folder (default: the current folder)')
    .option('-p, --pipeline <name>', 'only runs of this pipeline')
    .option(
      '--since <when>',
      'only runs since: a duration back from now (30m, 24h, 7d, 2w) or a date/time',
      (value: string) => since(value),
    )
    .option('-n, --limit <n>', 'show at most this many runs (default 20)', positiveInteger)
    .option('--json', 'print a JSON array', false)
    .addHelpText(
      'after',
      `
Examples:
  $ larder runs
  $ larder runs --pipeline customer_features --since 7d
  $ larder runs --since 2026-11-01 --limit 100 --json`,
    )
    .action(async (options: RunsCommandOptions) => {
      const { listRuns } = await import('../../pipelines/list-runs.js');
      const { openCliProject } = await import('../open-cli-project.js');
      const project = await openCliProject(options.project);
      const engine = project.engine;
      try {
        const runs = await listRuns({
          engine,
          ...(options.pipeline !== undefined ? { pipeline: options.pipeline } : {}),
          ...(options.since !== undefined ? { since: options.since } : {}),
          limit: options.limit ?? 20,
        });
        process.stdout.write(options.json ? `${JSON.stringify(runs, null, 2)}\n` : formatRuns(runs));
      } finally {
        await project.close();
      }
    });
}

/**
 * Runs as an aligned table (or a line saying there are none).
 *
 * @example
 * process.stdout.write(formatRuns(await listRuns({ engine })));
 */
export function formatRuns(runs: readonly PipelineRun[]): string {
  if (runs.length === 0) return 'no pipeline runs recorded\n';
  const rows = [
    ['started (UTC)', 'pipeline', 'mode', 'status', 'entities', 'source rows', 'seconds', 'version', 'error'],
    ...runs.map((r) => [
      r.runTimestamp.toISOString().replace('T', ' ').slice(0, 19),
      r.pipeline,
      r.mode,
      r.status,
      r.numEntitiesProcessed.toLocaleString('en-US'),
      r.sourceRowsRead.toLocaleString('en-US'),
      r.durationSeconds.toFixed(2),
      r.tableVersion === null ? '-' : String(r.tableVersion),
      r.errorMessage === null ? '' : oneLine(r.errorMessage, 80),
    ]),
  ];
  return `${textTable(rows).join('\n')}\n`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/**
 * `--since`: `30m`, `24h`, `7d`, `2w` back from now, or a date (`2026-11-01`, midnight UTC) or time.
 *
 * @example
 * since('24h'); // 24 hours ago
 */
export function since(value: string, now = Date.now()): Date {
  const duration = /^(\d+)\s*(m|h|d|w)$/i.exec(value.trim());
  if (duration) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
      duration[2]!.toLowerCase() as 'm' | 'h' | 'd' | 'w'
    ];
    return new Date(now - Number(duration[1]) * unit);
  }
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value.trim()) ? `${value.trim()}T00:00:00Z` : value.trim();
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim()) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('expected a duration (30m, 24h, 7d, 2w) or a date (2026-11-01) or time');
  }
  return date;
}
