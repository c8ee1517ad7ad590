import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropTestSchema, TEST_POSTGRES_URL } from '../../test/support/postgres.js';
import { PostgresMetastore } from '../catalog/postgres/postgres-metastore.js';
import type { LarderConfig } from '../config/define-config.js';
import { DeltaTable } from '../delta/delta-table.js';
import { queryJson } from '../duckdb/duckdb.js';
import { Engine } from '../engine/engine.js';
import { isLarderError, type LarderError } from '../errors.js';
import { listRuns } from './list-runs.js';
import { readPipelineState } from './pipeline-state.js';
import { type RunProgress, runPipeline } from './run-pipeline.js';

const OUTPUT = 'ml.features.customer_features';

function config(sql?: string): LarderConfig {
  return {
    sources: {
      customers: { type: 'delta', path: 'data/customers', changeColumn: '_change_timestamp' },
      transactions: { type: 'delta', path: 'data/transactions', changeColumn: '_change_timestamp' },
    },
    entities: { customer: { keys: ['customer_id'] } },
    featureTables: {
      [OUTPUT]: {
        entity: 'customer',
        description: 'per customer',
        tags: { team: 'growth' },
        features: { total: { description: 'sum of amounts' } },
      },
    },
    pipelines: {
      customer_features: {
        output: OUTPUT,
        sources: ['customers', 'transactions'],
        sql:
          sql ??
          `SELECT c.customer_id, c.country, count(t.amount) AS n_tx, coalesce(sum(t.amount), 0) AS total
             FROM customers c LEFT JOIN transactions t USING (customer_id)
            WHERE NOT c.deleted
            GROUP BY ALL`,
        incremental: { key: 'customer_id' },
      },
    },
  };
}

describe('runPipeline', () => {
  let dir: string;
  let engine: Engine;
  let customers: DeltaTable;
  let transactions: DeltaTable;
  let clock = 0;
  const ts = () => new Date(Date.UTC(2024, 0, 1) + ++clock * 1000);

  beforeEach(async () => {
    clock = 0;
    dir = await mkdtemp(join(tmpdir(), 'larder-pipeline-'));
    engine = await Engine.open({ projectDir: dir });
    customers = await DeltaTable.create(join(dir, 'data/customers'), {
      schema: [
        { name: 'customer_id', type: 'long', nullable: false },
        { name: 'country', type: 'string' },
        { name: 'deleted', type: 'boolean' },
        { name: '_change_timestamp', type: 'timestamp' },
      ],
    });
    transactions = await DeltaTable.create(join(dir, 'data/transactions'), {
      schema: [
        { name: 'transaction_id', type: 'long', nullable: false },
        { name: 'customer_id', type: 'long' },
        { name: 'amount', type: 'double' },
        { name: '_change_timestamp', type: 'timestamp' },
      ],
    });
    await customers.append(
      [1, 2, 3].map((id) => ({ customer_id: id, country: 'FR', deleted: false, _change_timestamp: ts() })),
    );
    await transactions.append([
      { transaction_id: 1, customer_id: 1, amount: 10, _change_timestamp: ts() },
      { transaction_id: 2, customer_id: 1, amount: 5, _change_timestamp: ts() },
      { transaction_id: 3, customer_id: 2, amount: 7, _change_timestamp: ts() },
    ]);
  });
  afterEach(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function tableRows(): Promise<Record<string, unknown>[]> {
    return queryJson(
      engine.connection,
      `SELECT customer_id, country, n_tx, total FROM (${(await engine.rewrite(`SELECT * FROM ${OUTPUT}`)).sql}) ORDER BY customer_id`,
    );
  }

  it('creates the feature table from the config on the first run and fills it fully', async () => {
    const events: RunProgress[] = [];
    const result = await runPipeline({
      engine,
      config: config(),
      pipeline: 'customer_features',
      onProgress: (p) => events.push(p),
    });
    expect(result).toMatchObject({
      mode: 'full',
      created: true,
      committed: true,
      numEntitiesProcessed: 3,
      numFeaturesComputed: 3,
      sourceRowsRead: 6,
      rowsWritten: 3,
      status: 'success',
      featureTable: OUTPUT,
      metricsTable: 'ml.features.feature_computation_metrics',
    });
    expect(result.reason).toMatch(/no earlier run/);
    expect(await tableRows()).toEqual([
      { customer_id: '1', country: 'FR', n_tx: '2', total: 15 },
      { customer_id: '2', country: 'FR', n_tx: '1', total: 7 },
      { customer_id: '3', country: 'FR', n_tx: '0', total: 0 },
    ]);
    const entry = await engine.metastore.getTable(engine.parseName(OUTPUT));
    expect(entry?.feature).toMatchObject({
      primaryKeys: ['customer_id'],
      lineage: { pipeline: 'customer_features', sources: ['data/customers', 'data/transactions'] },
    });
    expect(entry?.feature?.features.find((f) => f.name === 'total')).toEqual({
      name: 'total',
      type: 'double',
      description: 'sum of amounts',
    });
    expect(entry?.tags).toEqual({ team: 'growth' });
    expect(events.map((e) => `${e.phase}${e.done ? ' done' : ''}`)).toEqual([
      'read',
      'read done',
      'compute',
      'compute done',
      'write',
      'write done',
      'metrics',
      'metrics done',
    ]);
    const { table } = await engine.resolveTable(OUTPUT);
    expect(readPipelineState(table.snapshot, 'customer_features')?.watermarks).toEqual({
      customers: '2024-01-01 00:00:03+00',
      transactions: '2024-01-01 00:00:06+00',
    });
  });

  it('recomputes only the changed customers, deletes vanished ones, and records the new watermark', async () => {
    await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    // Customer 2 gets a transaction, customer 3 is deleted (by update), customer 4 arrives.
    await transactions.append([{ transaction_id: 4, customer_id: 2, amount: 1, _change_timestamp: ts() }]);
    await customers.update({
      set: { deleted: 'true', _change_timestamp: `TIMESTAMPTZ '2024-01-02 00:00:00+00'` },
      where: 'customer_id = 3',
    });
    await customers.append([{ customer_id: 4, country: 'DE', deleted: false, _change_timestamp: ts() }]);
    const result = await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    expect(result).toMatchObject({
      mode: 'incremental',
      committed: true,
      numEntitiesProcessed: 3,
      rowsWritten: 2,
      rowsDeleted: 1,
    });
    expect(result.reason).toBeUndefined();
    expect(result.watermarks).toEqual({
      customers: '2024-01-02 00:00:00+00',
      transactions: '2024-01-01 00:00:07+00',
    });
    expect(await tableRows()).toEqual([
      { customer_id: '1', country: 'FR', n_tx: '2', total: 15 },
      { customer_id: '2', country: 'FR', n_tx: '2', total: 8 },
      { customer_id: '4', country: 'DE', n_tx: '0', total: 0 },
    ]);
    const history = await (await engine.resolveTable(OUTPUT)).table.history(1);
    expect(history[0]?.operation).toBe('MERGE');
  });

  it('starts over when a concurrent run commits first, so both runs succeed and the table equals a full run', async () => {
    await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    await transactions.append([{ transaction_id: 4, customer_id: 2, amount: 1, _change_timestamp: ts() }]);
    await customers.append([{ customer_id: 4, country: 'DE', deleted: false, _change_timestamp: ts() }]);
    // A second engine on the same project: two processes' worth of state in one test.
    const other = await Engine.open({ projectDir: dir });
    try {
      const runs = await Promise.all([
        // Without the pipeline lease, which would make the second wait for the first.
        runPipeline({ engine, config: config(), pipeline: 'customer_features', lease: false }),
        runPipeline({ engine: other, config: config(), pipeline: 'customer_features', lease: false }),
      ]);
      expect(runs.map((r) => r.status)).toEqual(['success', 'success']);
      // Both read the same version, so the one that committed second started over.
      expect(runs.map((r) => r.attempts).sort()).toEqual([1, 2]);
    } finally {
      await other.close();
    }
    expect(await tableRows()).toEqual([
      { customer_id: '1', country: 'FR', n_tx: '2', total: 15 },
      { customer_id: '2', country: 'FR', n_tx: '2', total: 8 },
      { customer_id: '3', country: 'FR', n_tx: '0', total: 0 },
      { customer_id: '4', country: 'DE', n_tx: '0', total: 0 },
    ]);
    const runs = await listRuns({ engine, pipeline: 'customer_features' });
    expect(runs.map((r) => r.status)).toEqual(['success', 'success', 'success']);
  });

  it('commits nothing when no source row changed, and still records the run', async () => {
    const first = await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    const second = await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    expect(second).toMatchObject({
      mode: 'incremental',
      committed: false,
      tableVersion: first.tableVersion,
      numEntitiesProcessed: 0,
      sourceRowsRead: 0,
    });
    const runs = await listRuns({ engine, pipeline: 'customer_features' });
    expect(runs.map((r) => [r.runId, r.mode, r.status, r.tableVersion])).toEqual([
      [second.runId, 'incremental', 'success', first.tableVersion],
      [first.runId, 'full', 'success', first.tableVersion],
    ]);
  });

  it('runs fully again when the SQL changes, or when asked to', async () => {
    await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    const forced = await runPipeline({ engine, config: config(), pipeline: 'customer_features', full: true });
    expect(forced).toMatchObject({
      mode: 'full',
      reason: 'a full run was requested',
      numEntitiesProcessed: 3,
    });
    const changed = config(
      `SELECT c.customer_id, c.country, count(t.amount) AS n_tx, coalesce(sum(t.amount), 0) * 2 AS total
         FROM customers c LEFT JOIN transactions t USING (customer_id) WHERE NOT c.deleted GROUP BY ALL`,
    );
    const again = await runPipeline({ engine, config: changed, pipeline: 'customer_features' });
    expect(again.mode).toBe('full');
    expect(again.reason).toMatch(/changed since the last run/);
    expect((await tableRows()).map((r) => r.total)).toEqual([30, 14, 0]);
  });

  it('adds new output columns to the table with a full run and records them as features', async () => {
    await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    const wider = config(
      `SELECT c.customer_id, c.country, count(t.amount) AS n_tx, coalesce(sum(t.amount), 0) AS total, max(t.amount) AS biggest
         FROM customers c LEFT JOIN transactions t USING (customer_id) WHERE NOT c.deleted GROUP BY ALL`,
    );
    const result = await runPipeline({ engine, config: wider, pipeline: 'customer_features' });
    expect(result).toMatchObject({ mode: 'full', numFeaturesComputed: 4 });
    const rows = await queryJson(
      engine.connection,
      `SELECT customer_id, biggest FROM (${(await engine.rewrite(`SELECT * FROM ${OUTPUT}`)).sql}) ORDER BY 1`,
    );
    expect(rows.map((r) => r.biggest)).toEqual([10, 7, null]);
    const entry = await engine.metastore.getTable(engine.parseName(OUTPUT));
    expect(entry?.feature?.features.map((f) => f.name)).toEqual(['country', 'n_tx', 'total', 'biggest']);
  });

  it('drops a column the SQL no longer outputs with a full run, from the table and the catalog, then runs incrementally again', async () => {
    await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    const narrower = config(
      `SELECT c.customer_id, count(t.amount) AS n_tx, coalesce(sum(t.amount), 0) AS total
         FROM customers c LEFT JOIN transactions t USING (customer_id) WHERE NOT c.deleted GROUP BY ALL`,
    );
    const full = await runPipeline({ engine, config: narrower, pipeline: 'customer_features' });
    expect(full).toMatchObject({ mode: 'full', numFeaturesComputed: 2 });
    const { table } = await engine.resolveTable(OUTPUT);
    expect(table.snapshot.schema.fields.map((f) => f.name)).toEqual(['customer_id', 'n_tx', 'total']);
    const entry = await engine.metastore.getTable(engine.parseName(OUTPUT));
    expect(entry?.feature?.features.map((f) => f.name)).toEqual(['n_tx', 'total']);
    expect(entry?.feature?.features.find((f) => f.name === 'total')?.description).toBe('sum of amounts');

    await transactions.append([{ transaction_id: 4, customer_id: 3, amount: 4, _change_timestamp: ts() }]);
    const next = await runPipeline({ engine, config: narrower, pipeline: 'customer_features' });
    expect(next).toMatchObject({ mode: 'incremental', numEntitiesProcessed: 1, rowsWritten: 1 });
    expect(next.reason).toBeUndefined();
    const rows = await queryJson(
      engine.connection,
      `SELECT * FROM (${(await engine.rewrite(`SELECT * FROM ${OUTPUT}`)).sql}) ORDER BY customer_id`,
    );
    expect(rows).toEqual([
      { customer_id: '1', n_tx: '2', total: 15 },
      { customer_id: '2', n_tx: '1', total: 7 },
      { customer_id: '3', n_tx: '1', total: 4 },
    ]);
  });

  it('refuses a full run that would change the type of a column the table has', async () => {
    const first = await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    const retyped = config(
      `SELECT c.customer_id, c.country, count(t.amount) AS n_tx, coalesce(sum(t.amount), 0)::VARCHAR AS total
         FROM customers c LEFT JOIN transactions t USING (customer_id) WHERE NOT c.deleted GROUP BY ALL`,
    );
    const error = (await runPipeline({ engine, config: retyped, pipeline: 'customer_features' }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(error.cause, 'SCHEMA_MISMATCH')).toBe(true);
    expect(error.message).toMatch(
      /outputs column "total" as VARCHAR, but it is double in ml\.features\.customer_features/,
    );
    expect((await engine.resolveTable(OUTPUT)).table.version).toBe(first.tableVersion);
  });

  it('fails a run whose output repeats a key, leaves the table and watermark as they were, and records the failure', async () => {
    const first = await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    await transactions.append([{ transaction_id: 9, customer_id: 1, amount: 1, _change_timestamp: ts() }]);
    const bad = config(`SELECT customer_id, amount AS total FROM transactions`);
    const error = (await runPipeline({ engine, config: bad, pipeline: 'customer_features' }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(error, 'PIPELINE_FAILED')).toBe(true);
    expect(error.message).toMatch(/pipeline "customer_features" failed: .*same primary key .*customer_id=1/);
    expect(isLarderError(error.cause, 'DUPLICATE_KEY')).toBe(true);
    const { table } = await engine.resolveTable(OUTPUT);
    expect(table.version).toBe(first.tableVersion);
    expect(readPipelineState(table.snapshot, 'customer_features')?.runId).toBe(first.runId);
    const [failed] = await listRuns({ engine, limit: 1 });
    expect(failed).toMatchObject({
      status: 'failed',
      tableVersion: first.tableVersion,
      pipeline: 'customer_features',
    });
    expect(failed?.errorMessage).toMatch(/same primary key/);
  });

  it('removes the table a failed first run created, leaving no catalog entry or folder', async () => {
    const bad = config(`SELECT customer_id, amount AS total FROM transactions`);
    const error = await runPipeline({ engine, config: bad, pipeline: 'customer_features' }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'PIPELINE_FAILED')).toBe(true);
    expect(await engine.metastore.getTable(engine.parseName(OUTPUT))).toBeUndefined();
    await expect(stat(engine.defaultLocation(engine.parseName(OUTPUT)))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    const [failed] = await listRuns({ engine });
    expect(failed).toMatchObject({ status: 'failed', tableVersion: null });
    const next = await runPipeline({ engine, config: config(), pipeline: 'customer_features' });
    expect(next).toMatchObject({ mode: 'full', created: true });
  });

  it('names the pipeline when its SQL does not bind, and the source when it is missing', async () => {
    const bad = config('SELECT customer_id, no_such_column FROM customers');
    const error = (await runPipeline({ engine, config: bad, pipeline: 'customer_features' }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(error, 'PIPELINE_FAILED')).toBe(true);
    expect(error.message).toMatch(/pipeline "customer_features".*no_such_column/);
    expect(await engine.metastore.getTable(engine.parseName(OUTPUT))).toBeUndefined();

    await rm(join(dir, 'data/transactions'), { recursive: true });
    const missing = (await runPipeline({ engine, config: config(), pipeline: 'customer_features' }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(missing.cause, 'SOURCE_NOT_FOUND')).toBe(true);
    expect(missing.message).toMatch(/source "transactions"/);
    expect((await listRuns({ engine })).map((r) => r.status)).toEqual(['failed', 'failed']);
  });

  it('refuses an unknown pipeline without recording a run', async () => {
    const error = await runPipeline({ engine, config: config(), pipeline: 'nope' }).catch((e: unknown) => e);
    expect(isLarderError(error, 'PIPELINE_NOT_FOUND')).toBe(true);
    expect(await listRuns({ engine })).toEqual([]);
  });
});

describe('runPipeline with the PostgreSQL catalog', () => {
  const url = TEST_POSTGRES_URL;
  const schema = `larder_runs_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  let dir: string;
  let engine: Engine;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-pipeline-pg-'));
    engine = await Engine.open({ projectDir: dir, metastore: await PostgresMetastore.open(url, { schema }) });
    const tx = await DeltaTable.create(join(dir, 'data/transactions'), {
      schema: [
        { name: 'transaction_id', type: 'long', nullable: false },
        { name: 'customer_id', type: 'long' },
        { name: 'amount', type: 'double' },
        { name: '_change_timestamp', type: 'timestamp' },
      ],
    });
    await tx.append([
      { transaction_id: 1, customer_id: 1, amount: 2, _change_timestamp: '2024-01-01T00:00:00Z' },
    ]);
  });
  afterEach(async () => {
    await engine.metastore.close();
    await engine.close();
    await dropTestSchema(schema, url);
    await rm(dir, { recursive: true, force: true });
  });

  it('registers the feature table and the metrics table in the shared catalog, and lists the runs from it', async () => {
    const pgConfig: LarderConfig = {
      sources: {
        transactions: { type: 'delta', path: 'data/transactions', changeColumn: '_change_timestamp' },
      },
      featureTables: { 'ml.shared.totals': { primaryKeys: ['customer_id'], owner: 'ml-platform' } },
      pipelines: {
        totals: {
          output: 'ml.shared.totals',
          sources: ['transactions'],
          sql: 'SELECT customer_id, sum(amount) AS total FROM transactions GROUP BY ALL',
          incremental: { key: 'customer_id' },
        },
      },
    };
    const first = await runPipeline({ engine, config: pgConfig, pipeline: 'totals' });
    const { table } = await engine.resolveTable('ml.shared.totals');
    await DeltaTable.open(join(dir, 'data/transactions')).then((t) =>
      t.append([{ transaction_id: 2, customer_id: 1, amount: 3, _change_timestamp: '2024-01-02T00:00:00Z' }]),
    );
    const second = await runPipeline({ engine, config: pgConfig, pipeline: 'totals' });
    expect([first.mode, second.mode]).toEqual(['full', 'incremental']);
    expect((await engine.query('SELECT customer_id, total FROM ml.shared.totals')).rows).toEqual([['1', 5]]);
    expect(table.path).toBe(engine.defaultLocation(engine.parseName('ml.shared.totals')));
    expect((await engine.metastore.getTable(engine.parseName('ml.shared.totals')))?.feature?.owner).toBe(
      'ml-platform',
    );
    expect((await engine.metastore.listTables()).map((t) => t.fullName)).toEqual([
      'ml.shared.feature_computation_metrics',
      'ml.shared.totals',
    ]);
    expect((await listRuns({ engine })).map((r) => r.runId)).toEqual([second.runId, first.runId]);
  });
});
