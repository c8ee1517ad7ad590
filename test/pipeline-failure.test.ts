/**
 * Failed pipeline runs change nothing: after bad SQL, a source that
 * disappears between runs, or a SIGKILL of the process mid-run, the feature
 * table is at its last committed version, its watermark matches its data
 * exactly, a surviving process has recorded the failure, and the next run
 * catches up to what a full recompute gives.
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeltaTable } from '../src/delta/delta-table.js';
import { Engine } from '../src/engine/engine.js';
import { isLarderError, type LarderError } from '../src/errors.js';
import { listRuns } from '../src/pipelines/list-runs.js';
import { readPipelineState } from '../src/pipelines/pipeline-state.js';
import { runPipeline } from '../src/pipelines/run-pipeline.js';
import {
  appendBatch,
  createSources,
  expectedRows,
  OUTPUT,
  PIPELINE,
  workloadConfig,
} from './workers/pipeline-workload.js';
import { PIPELINE_WORKER, spawnWorker } from './workers/spawn-worker.js';

const KILLS = Number(process.env.LARDER_PIPELINE_KILLS ?? 6);

describe('failed pipeline runs', () => {
  let dir: string;
  let engine: Engine;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-pipeline-failure-'));
    await createSources(dir);
    engine = await Engine.open({ projectDir: dir });
  });
  afterEach(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function tableState() {
    const { table } = await engine.resolveTable(OUTPUT);
    await table.refresh();
    return { version: table.version, state: readPipelineState(table.snapshot, PIPELINE) };
  }

  const content = async () =>
    (await engine.query(`SELECT customer_id, segment, n_tx, total FROM ${OUTPUT} ORDER BY customer_id`)).rows;

  it('leaves table and watermark unchanged after bad SQL, records the failure, and the next run catches up', async () => {
    await appendBatch(dir, 1);
    await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    const before = await tableState();
    await appendBatch(dir, 2);

    const bad = workloadConfig(
      'SELECT customer_id, segment, count(*) AS n_tx, sum(amount) / 0 AS total FROM customer GROUP BY ALL',
    );
    const error = (await runPipeline({ engine, config: bad, pipeline: PIPELINE }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(error, 'PIPELINE_FAILED')).toBe(true);
    expect(error.message).toMatch(/^pipeline "customer_totals" failed: .*customer/);
    expect(await tableState()).toEqual(before);
    const [failed] = await listRuns({ engine, pipeline: PIPELINE, limit: 1 });
    expect(failed).toMatchObject({ status: 'failed', tableVersion: before.version });

    const next = await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    expect(next.mode).toBe('incremental');
    expect(await content()).toEqual(await expectedRows(dir));
  });

  it('fails naming a source that disappeared between runs, and catches up once it is back', async () => {
    await appendBatch(dir, 1);
    await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    const before = await tableState();
    await appendBatch(dir, 2);
    await rename(join(dir, 'data', 'transactions'), join(dir, 'data', 'moved'));

    const error = (await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(error, 'PIPELINE_FAILED')).toBe(true);
    expect(isLarderError(error.cause, 'SOURCE_NOT_FOUND')).toBe(true);
    expect(error.message).toMatch(/source "transactions"/);
    expect(await tableState()).toEqual(before);
    expect((await listRuns({ engine, pipeline: PIPELINE })).map((r) => r.status)).toEqual([
      'failed',
      'success',
    ]);

    await rename(join(dir, 'data', 'moved'), join(dir, 'data', 'transactions'));
    await appendBatch(dir, 3);
    const next = await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    expect(next).toMatchObject({ mode: 'incremental', committed: true });
    expect(await content()).toEqual(await expectedRows(dir));
  });

  it(`keeps the watermark in step with the data across ${KILLS} SIGKILLs mid-run, and the next run catches up`, async () => {
    let next = 1;
    let killedMidRun = 0;
    let lastVersion = -1;
    let checked = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const worker = spawnWorker(['run', dir, String(next)], PIPELINE_WORKER);
      await worker.waitFor('ready');
      // Let it get through a run or two, then kill it somewhere inside one.
      await worker.waitFor(`run ${next + (kill % 2)}`);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      worker.child.kill('SIGKILL');
      const { signal } = await worker.exited;
      expect(signal, `the worker died on its own: ${worker.stderr()}`).toBe('SIGKILL');
      const last = worker.lines.at(-1) ?? '';
      if (last.startsWith('run ')) killedMidRun++;
      const numbers = worker.lines.map((l) => Number(l.split(' ')[1])).filter((n) => Number.isFinite(n));
      next = Math.max(next, ...numbers) + 2;

      if (!(await engine.metastore.getTable(engine.parseName(OUTPUT)))) continue;
      const table = await DeltaTable.open(
        (await engine.metastore.getTable(engine.parseName(OUTPUT)))!.location,
      ).catch(() => undefined);
      if (!table) continue;
      expect(table.version).toBeGreaterThanOrEqual(lastVersion);
      lastVersion = table.version;
      const state = readPipelineState(table.snapshot, PIPELINE);
      if (!state) continue;
      // The table holds exactly the pipeline's output over the source rows up to its watermarks.
      const rows = (
        await engine.query(`SELECT customer_id, segment, n_tx, total FROM ${OUTPUT} ORDER BY customer_id`)
      ).rows;
      expect(rows, `after kill ${kill} at "${last}" (version ${table.version})`).toEqual(
        await expectedRows(dir, state.watermarks),
      );
      checked++;
    }
    expect(checked, 'the table was checked after kills').toBeGreaterThan(KILLS / 2);
    expect(killedMidRun, 'some kills landed inside a run').toBeGreaterThan(0);

    await appendBatch(dir, next);
    const result = await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    expect(result.status).toBe('success');
    expect(await content()).toEqual(await expectedRows(dir));
  }, 120_000);
});
