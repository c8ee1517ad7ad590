/**
 * Failed pipeline runs change nothing: after bad SQL, a source that
 * disappears between runs, or a SIGKILL of the process mid-run, the feature
 * table is at its last committed version, its watermark matches its data
 * exactly, a surviving process has recorded the failure, and the next run
 * catches up to what a full recompute gives. A kill while the table is being
 * created (by a run or by `larder apply`) leaves nothing the next command
 * cannot recover from by itself, and a Delta table someone else made at the
 * table's location is never touched.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeltaTable } from '../src/delta/delta-table.js';
import { Engine } from '../src/engine/engine.js';
import { isLarderError, type LarderError } from '../src/errors.js';
import { FeatureStore } from '../src/features/feature-store.js';
import { ensureOutputTable } from '../src/pipelines/ensure-output-table.js';
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
const CREATE_KILLS = Number(process.env.LARDER_PIPELINE_CREATE_KILLS ?? 4);

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
  }, 240_000);

  it('recovers when a create was killed before its first commit (a _delta_log with no commit)', async () => {
    await appendBatch(dir, 1);
    const { entry } = await ensureOutputTable({ engine, config: workloadConfig(), pipeline: PIPELINE });
    // What a kill between writing the commit's temporary file and linking it leaves.
    await rm(join(entry.location, '_delta_log'), { recursive: true });
    await mkdir(join(entry.location, '_delta_log'));
    await writeFile(join(entry.location, '_delta_log', '.tmp-0b1c2d3e'), '{"commitInfo":');

    const result = await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    expect(result).toMatchObject({ status: 'success', created: true, mode: 'full' });
    expect(await content()).toEqual(await expectedRows(dir));
  });

  it('adopts the table a killed drop or create left unregistered, keeping its data and watermark', async () => {
    await appendBatch(dir, 1);
    await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    const before = await tableState();
    // The catalog forgot the table (a drop killed after unregistering it), its folder is whole.
    await engine.metastore.dropTable(engine.parseName(OUTPUT));
    await appendBatch(dir, 2);

    const result = await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
    expect(result).toMatchObject({ status: 'success', created: false, mode: 'incremental' });
    expect(result.tableVersion).toBe(before.version + 1);
    expect(await content()).toEqual(await expectedRows(dir));
  });

  it('refuses, and leaves alone, a Delta table someone else made at the output location', async () => {
    await appendBatch(dir, 1);
    const location = engine.defaultLocation(engine.parseName(OUTPUT));
    const foreign = await DeltaTable.create(location, {
      schema: [
        { name: 'customer_id', type: 'long' },
        { name: 'note', type: 'string' },
      ],
    });
    await foreign.append([{ customer_id: 1n, note: 'hand made' }]);

    const error = (await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(error, 'PIPELINE_FAILED')).toBe(true);
    expect(isLarderError(error.cause, 'TABLE_ALREADY_EXISTS')).toBe(true);
    expect(error.message).toContain(location);
    expect(await engine.metastore.getTable(engine.parseName(OUTPUT))).toBeUndefined();
    const after = await DeltaTable.open(location);
    expect(after.version).toBe(1);
    expect(after.snapshot.schema.fields.map((f) => f.name)).toEqual(['customer_id', 'note']);
  });

  it(`recovers with no hand cleanup from ${CREATE_KILLS} SIGKILLs while a run or apply creates the table`, async () => {
    await appendBatch(dir, 1);
    const store = await FeatureStore.open({ engine });
    let interrupted = 0;
    for (let kill = 0; kill < CREATE_KILLS; kill++) {
      if (await engine.metastore.getTable(engine.parseName(OUTPUT))) await store.dropTable(OUTPUT);
      const mode = kill % 2 === 0 ? 'once' : 'apply';
      const worker = spawnWorker([mode, dir], PIPELINE_WORKER);
      await worker.waitFor('ready');
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      worker.child.kill('SIGKILL');
      const { signal, code } = await worker.exited;
      expect(signal === 'SIGKILL' || code === 0, `the worker failed: ${worker.stderr()}`).toBe(true);
      if (signal === 'SIGKILL' && worker.lines.at(-1) === 'ready') interrupted++;

      // The next command works by itself and gives what a full recompute gives.
      const result = await runPipeline({ engine, config: workloadConfig(), pipeline: PIPELINE });
      expect(result.status, `after kill ${kill} of ${mode}`).toBe('success');
      expect(await content(), `after kill ${kill} of ${mode}`).toEqual(await expectedRows(dir));
    }
    expect(interrupted, 'some kills landed before the worker finished').toBeGreaterThan(0);
  }, 240_000);
});
