/**
 * `larder run <pipeline> [--full] [-C dir] [--json]`: run a pipeline of
 * `larder.config.ts` (incrementally when it can, fully with `--full`),
 * showing its progress on stderr, then print what it did: a summary, or the
 * run's JSON. A failed run exits 1 with `error [PIPELINE_FAILED]: …` (its
 * failure is recorded in the metrics table too).
 */
import { Command } from 'commander';
import type { RunProgress, RunResult } from '../../pipelines/run-pipeline.js';

interface RunCommandOptions {
  readonly project?: string;
  readonly full: boolean;
  readonly json: boolean;
}

const PHASES: readonly RunProgress['phase'][] = ['read', 'compute', 'write', 'metrics'];
const PHASE_TEXT: Readonly<Record<RunProgress['phase'], string>> = {
  read: 'reading sources',
  compute: 'computing features',
  write: 'writing the table',
  metrics: 'recording metrics',
};

/**
 * The `run` command; its action writes the result to `process.stdout` and progress to `process.stderr`.
 *
 * @example
 * program.addCommand(runCommand()); // larder run customer_features --full
 */
export function runCommand(): Command {
  return new Command('run')
    .description('run a feature pipeline: incremental when possible, full with --full')
    .argument('<pipeline>', 'pipeline name (a key of `pipelines` in larder.config.ts)')
    .option('-C, --project <dir>', 'project folder, holding larder.config.ts (default: the current folder)')
    .option('--full', 'recompute the whole table', false)
    .option('--json', 'print the run as JSON', false)
    .addHelpText(
      'after',
      `
Every run, success or failure, adds a row to <catalog>.<schema>.feature_computation_metrics
(see \`larder runs\`).

Examples:
  $ larder run customer_features
  $ larder run customer_features --full -C churn-demo
  $ larder run customer_daily_features --json`,
    )
    .action(async (pipeline: string, options: RunCommandOptions) => {
      // Loaded here, not at the top, so `larder --help` does not start DuckDB.
      const { openCliProject } = await import('../open-cli-project.js');
      const { runPipeline } = await import('../../pipelines/run-pipeline.js');
      const { createProgress } = await import('../progress.js');
      const project = await openCliProject(options.project, { requireConfig: true });
      const loaded = project.loaded;
      const progress = createProgress({ label: pipeline, total: PHASES.length, unit: 'steps' });
      let result: RunResult;
      try {
        result = await runPipeline({
          featureStore: project.featureStore,
          projectDir: loaded.projectDir,
          config: loaded.config,
          pipeline,
          full: options.full,
          onProgress: (p) => {
            progress.update({
              phase: PHASE_TEXT[p.phase],
              done: PHASES.indexOf(p.phase) + (p.done ? 1 : 0),
              ...(p.rows !== undefined ? { rows: p.rows } : {}),
              ...(p.files !== undefined ? { files: p.files } : {}),
              ...(p.filesTotal !== undefined ? { filesTotal: p.filesTotal } : {}),
            });
          },
        });
        progress.stop(`${pipeline}: ${result.mode} run done in ${result.durationSeconds.toFixed(2)} s`);
      } catch (error) {
        progress.stop(`${pipeline}: failed`);
        throw error;
      } finally {
        await project.close();
      }
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatRun(result));
    });
}

/**
 * A run as `larder run` prints it.
 *
 * @example
 * process.stdout.write(formatRun(result));
 */
export function formatRun(result: RunResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `${result.pipeline}: ${result.mode} run ${result.runId} succeeded in ${result.durationSeconds.toFixed(2)} s`,
  ];
  if (result.reason !== undefined && result.mode === 'full') lines.push(`  full because ${result.reason}`);
  lines.push(
    `  table ${result.featureTable} ${
      result.committed
        ? `now at version ${result.tableVersion}`
        : `unchanged at version ${result.tableVersion} (nothing changed)`
    }${result.created ? ' (created)' : ''}`,
  );
  lines.push(
    `  ${n(result.numEntitiesProcessed)} entities, ${n(result.numFeaturesComputed)} features, ${n(result.sourceRowsRead)} source rows read, ${n(result.rowsWritten)} rows written, ${n(result.rowsDeleted)} deleted (${n(Math.round(result.rowsPerSecond))} entities/s)`,
  );
  const watermarks = Object.entries(result.watermarks);
  if (watermarks.length > 0) {
    lines.push(`  watermarks: ${watermarks.map(([s, w]) => `${s} = ${w ?? '(no rows)'}`).join(', ')}`);
  }
  if (result.metricsError !== undefined)
    lines.push(`  warning: the metrics row was not written: ${result.metricsError}`);
  else lines.push(`  recorded in ${result.metricsTable}`);
  return `${lines.join('\n')}\n`;
}
