import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LarderConfig } from '../config/define-config.js';
import { DeltaTable } from '../delta/delta-table.js';
import { Engine } from '../engine/engine.js';
import { isLarderError } from '../errors.js';
import { describePipelineOutput } from './describe-pipeline-output.js';

function config(sql: string): LarderConfig {
  return {
    sources: {
      tx: { type: 'delta', path: 'data/tx', changeColumn: 'changed' },
      regions: { type: 'csv', path: 'data/regions.csv' },
    },
    featureTables: { 'ml.f.t': { primaryKeys: ['customer_id'] } },
    pipelines: { p: { output: 'ml.f.t', sources: ['tx', 'regions'], sql } },
  };
}

describe('describePipelineOutput', () => {
  let dir: string;
  let engine: Engine;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-describe-'));
    engine = await Engine.open({ projectDir: dir });
    const tx = await DeltaTable.create(join(dir, 'data', 'tx'), {
      schema: [
        { name: 'customer_id', type: 'long', nullable: false },
        { name: 'amount', type: 'decimal(10,2)' },
        { name: 'qty', type: 'integer' },
        { name: 'changed', type: 'timestamp' },
      ],
    });
    await tx.append([{ customer_id: 1, amount: '2.50', qty: 3, changed: '2024-01-01T00:00:00Z' }]);
    await mkdir(join(dir, 'data'), { recursive: true });
    await writeFile(join(dir, 'data', 'regions.csv'), 'customer_id,region\n1,eu\n');
  });
  afterEach(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the output columns with DuckDB and Delta types, reading no data file', async () => {
    // Without its data files the table can still be described: only the log is read.
    for (const f of await readdir(join(dir, 'data', 'tx'))) {
      if (f.endsWith('.parquet')) await rm(join(dir, 'data', 'tx', f));
    }
    const columns = await describePipelineOutput(
      engine,
      config(`WITH per AS (SELECT customer_id, sum(qty) AS qty, sum(amount) AS spend, max(changed) AS last_change,
                                  list(DISTINCT qty) AS qtys, count(*) AS n
                             FROM tx GROUP BY customer_id)
              SELECT per.*, r.region FROM per LEFT JOIN regions r USING (customer_id);`),
      'p',
    );
    expect(columns).toEqual([
      { name: 'customer_id', duckType: 'BIGINT', deltaType: 'long' },
      { name: 'qty', duckType: 'HUGEINT', deltaType: 'long' },
      { name: 'spend', duckType: 'DECIMAL(38,2)', deltaType: 'decimal(38,2)' },
      { name: 'last_change', duckType: 'TIMESTAMP WITH TIME ZONE', deltaType: 'timestamp' },
      { name: 'qtys', duckType: 'INTEGER[]', deltaType: 'array<integer>' },
      { name: 'n', duckType: 'BIGINT', deltaType: 'long' },
      { name: 'region', duckType: 'VARCHAR', deltaType: 'string' },
    ]);
  });

  it('fails with SQL_ERROR naming the pipeline when the SQL does not bind', async () => {
    const error = await describePipelineOutput(engine, config('SELECT nope FROM tx'), 'p').catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(/pipeline "p": its SQL does not bind: .*nope/);
  });

  it('fails with SCHEMA_MISMATCH naming the column for a type Delta cannot store or a repeated name', async () => {
    for (const [sql, column] of [
      ["SELECT customer_id, INTERVAL '1 day' AS gap FROM tx", 'gap'],
      ['SELECT customer_id, qty AS a, amount AS a FROM tx', 'a'],
    ] as const) {
      const error = await describePipelineOutput(engine, config(sql), 'p').catch((e: unknown) => e);
      expect(isLarderError(error, 'SCHEMA_MISMATCH')).toBe(true);
      expect((error as Error).message).toContain(`"${column}"`);
    }
  });

  it('fails with PIPELINE_NOT_FOUND or SOURCE_NOT_FOUND naming what is missing', async () => {
    const unknown = await describePipelineOutput(engine, config('SELECT 1'), 'q').catch((e: unknown) => e);
    expect(isLarderError(unknown, 'PIPELINE_NOT_FOUND')).toBe(true);
    await rm(join(dir, 'data', 'regions.csv'));
    const missing = await describePipelineOutput(engine, config('SELECT 1'), 'p').catch((e: unknown) => e);
    expect(isLarderError(missing, 'SOURCE_NOT_FOUND')).toBe(true);
    expect((missing as Error).message).toMatch(/source "regions"/);
  });
});
