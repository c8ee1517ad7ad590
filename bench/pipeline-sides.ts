/**
 * The sides of the pipeline benchmarks (pipeline-bench.ts), each built in
 * its own child process by side-runner.ts, so each has its own peak RSS:
 * - `duckdb-pipeline`: DuckDB alone runs the pipeline's SQL over Parquet
 *   files of the sources (views named as the sources) and writes the result
 *   to Parquet;
 * - `larder-pipeline`: `runPipeline` on the project, full or incremental
 *   (read the Delta sources, compute, write and commit the feature table,
 *   write the metrics row). Setup runs it once in full, untimed, so that the
 *   feature table exists.
 */
import { join } from 'node:path';
import type { PipelineContext } from '../src/config/define-config.js';
import { loadConfig } from '../src/config/load-config.js';
import { openProject } from '../src/config/open-project.js';
import { connect, run, sqlIdent, sqlString, sqlStringList } from '../src/duckdb/duckdb.js';
import { type RunProgress, runPipeline } from '../src/pipelines/run-pipeline.js';
import type { SideFactory } from './bench-utils.js';

/** The SQL of `pipeline` in the project at `dir`, for a full run. */
export async function pipelineSql(
  dir: string,
  pipeline: string,
): Promise<{ sql: string; sources: string[] }> {
  const loaded = await loadConfig({ projectDir: dir });
  const definition = loaded.config.pipelines?.[pipeline];
  if (!definition || typeof definition.sql !== 'function') throw new Error(`no SQL pipeline ${pipeline}`);
  const context: PipelineContext = { pipeline, mode: 'full', params: definition.params ?? {} };
  return { sql: definition.sql(context), sources: [...definition.sources] };
}

export const sides: Record<string, SideFactory> = {
  async 'duckdb-pipeline'(args) {
    const { dir, pipeline, sources, out } = args as {
      dir: string;
      pipeline: string;
      /** Parquet files of each source. */
      sources: Record<string, string[]>;
      out: string;
    };
    const { sql } = await pipelineSql(dir, pipeline);
    const connection = await connect();
    for (const [name, files] of Object.entries(sources)) {
      await run(
        connection,
        `CREATE TEMP VIEW ${sqlIdent(name)} AS SELECT * FROM read_parquet(${sqlStringList(files)})`,
        'a reference view',
      );
    }
    return {
      async run(run_) {
        await run(
          connection,
          `COPY (${sql}) TO ${sqlString(join(out, `out-${run_}.parquet`))} (FORMAT parquet)`,
          'the reference computation',
        );
      },
      async close() {
        connection.closeSync();
      },
    };
  },

  async 'larder-pipeline'(args) {
    const { dir, pipeline, full } = args as { dir: string; pipeline: string; full: boolean };
    const loaded = await loadConfig({ projectDir: dir });
    const project = await openProject(loaded);
    const featureStore = project.featureStore;
    let phases: Record<string, number> = {};
    const started: Record<string, number> = {};
    // Where a run's time goes: each phase from its first report to its `done` one.
    const onProgress = (p: RunProgress) => {
      if (p.done) phases[p.phase] = Math.round(performance.now() - (started[p.phase] ?? performance.now()));
      else started[p.phase] ??= performance.now();
    };
    const once = (fullRun: boolean) => {
      phases = {};
      for (const key of Object.keys(started)) delete started[key];
      return runPipeline({ featureStore, config: loaded.config, pipeline, full: fullRun, onProgress });
    };
    await once(false); // creates the table, or brings it up to date; not timed
    return {
      async run() {
        const result = await once(full);
        return { mode: result.mode, entities: result.numEntitiesProcessed, phases };
      },
      async close() {
        await project.close();
      },
    };
  },
};
