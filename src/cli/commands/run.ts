/**
 * `larder run <pipeline> [--full] [--no-wait] [-C dir] [--json]`: run a
 * pipeline of `larder.config.ts` (incrementally when it can, fully with
 * `--full`), showing its progress on stderr, then print what it did: a
 * summary, or the run's JSON. A failed run exits 1 with
 * `error [PIPELINE_FAILED]: …` (its failure is recorded in the metrics table
 * too). While another run of the pipeline holds its lease, the command waits
 * for it, saying who holds it (`--no-wait`: exits 1 with `PIPELINE_BUSY`).
 * Ctrl-C (SIGINT) or SIGTERM cancels the run between steps: it prints
 * `cancelled: table … unchanged at version N`, records a `cancelled` row and
 * exits 130; a second Ctrl-C stops the process at once.
 */
import { Command } from 'commander';
import type { RunProgress, RunResult } from '../../pipelines/run-pipeline.js';

interface RunCommandOptions {
  readonly project?: string;
  readonly full: boolean;
  readonly json: boolean;
  readonly wait: boolean;
}

/** Environment variable: the lease TTL in ms (default 30 s); short TTLs serve tests. */
const LEASE_TTL_ENV = 'LARDER_LEASE_TTL_MS';

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
    .option(
      '--no-wait',
      'fail with PIPELINE_BUSY instead of waiting when another run of the pipeline is running',
    )
    .addHelpText(
      'after',
      `
Every run, success or failure, adds a row to <catalog>.<schema>.feature_computation_metrics
(see \`larder runs\`). Ctrl-C cancels a run cleanly (exit 130). ${LEASE_TTL_ENV} sets how long a
killed run's lease blocks the next run (ms, default 30000).

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
      const ttl = process.env[LEASE_TTL_ENV];
      const cancel = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        if (cancel.signal.aborted) {
          // A second Ctrl-C: the user wants out now; the default action ends the process.
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
          process.kill(process.pid, signal);
          return;
        }
        progress.log(`${pipeline}: cancelling (${signal}); press Ctrl-C again to stop at once`);
        cancel.abort(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let result: RunResult;
      try {
        result = await runPipeline({
          signal: cancel.signal,
          lease: {
            wait: options.wait,
            ...(ttl !== undefined && Number(ttl) > 0 ? { ttlMs: Number(ttl) } : {}),
            onWait: (holder) =>
              progress.log(
                `${pipeline}: waiting for the run held by ${holder.owner} (since ${holder.acquiredAt.toISOString()})`,
              ),
          },
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
        progress.stop(`${pipeline}: ${cancel.signal.aborted ? 'cancelled' : 'failed'}`);
        throw error;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
        await project.close();
      }
      if (cancel.signal.aborted) {
        progress.log(`${pipeline}: the run had already committed when it was cancelled`);
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
