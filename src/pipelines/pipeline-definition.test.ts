import { describe, expect, it } from 'vitest';
import type { LarderConfig, PipelineConfig } from '../config/define-config.js';
import { isLarderError, type LarderError } from '../errors.js';
import { pipelineFingerprint, pipelineSql, resolvePipeline } from './pipeline-definition.js';

function config(
  pipeline: Partial<PipelineConfig> = {},
  table: LarderConfig['featureTables'] = {},
): LarderConfig {
  return {
    sources: {
      tx: { type: 'delta', path: 'data/tx', changeColumn: '_change_timestamp' },
      customers: { type: 'delta', path: 'data/customers' },
    },
    entities: { customer: { keys: ['customer_id'] } },
    featureTables: { 'ml.f.daily': { entity: 'customer', timeseriesColumn: 'day' }, ...table },
    pipelines: {
      daily: {
        output: 'ml.f.daily',
        sources: ['tx', 'customers'],
        sql: 'SELECT 1',
        incremental: { key: 'customer_id' },
        ...pipeline,
      },
    },
  };
}

function failure(f: () => unknown): LarderError {
  try {
    f();
  } catch (error) {
    return error as LarderError;
  }
  throw new Error('expected a failure');
}

describe('resolvePipeline', () => {
  it('takes the entity keys plus the timeseries column as primary keys, and the tracked sources by change column', () => {
    const p = resolvePipeline(config(), 'daily');
    expect(p.primaryKeys).toEqual(['customer_id', 'day']);
    expect(p.entityKeys).toEqual(['customer_id']);
    expect(p.tracked).toEqual([{ source: 'tx', changeColumn: '_change_timestamp' }]);
    expect(p.incremental).toBe(true);
  });

  it('uses the change columns incremental.sources gives', () => {
    const p = resolvePipeline(
      config({ incremental: { key: 'customer_id', sources: { customers: { changeColumn: 'updated_at' } } } }),
      'daily',
    );
    expect(p.tracked).toEqual([{ source: 'customers', changeColumn: 'updated_at' }]);
  });

  it('without incremental, recomputes by the primary keys minus the timeseries column and tracks nothing', () => {
    const p = resolvePipeline(config({ incremental: undefined }), 'daily');
    expect(p.entityKeys).toEqual(['customer_id']);
    expect(p.tracked).toEqual([]);
    expect(p.incremental).toBe(false);
  });

  it('fails with PIPELINE_NOT_FOUND listing the declared pipelines', () => {
    const error = failure(() => resolvePipeline(config(), 'weekly'));
    expect(isLarderError(error, 'PIPELINE_NOT_FOUND')).toBe(true);
    expect(error.message).toMatch(/pipeline "weekly".*declared pipelines: daily/);
  });

  it('fails with CONFIG_INVALID naming the field for an unknown source, a key outside the primary keys, an untracked source', () => {
    const cases: [Partial<PipelineConfig>, string][] = [
      [{ sources: ['tx', 'txn'] }, 'sources[1]'],
      [{ incremental: { key: 'region' } }, 'incremental.key'],
      [{ incremental: { key: 'customer_id', sources: ['customers'] } }, 'incremental.sources'],
      [{ output: 'ml.f.nope' }, 'output'],
    ];
    for (const [pipeline, field] of cases) {
      const error = failure(() => resolvePipeline(config(pipeline), 'daily'));
      expect(isLarderError(error, 'CONFIG_INVALID'), field).toBe(true);
      expect(error.context.field).toBe(field);
      expect(error.message).toContain(`pipelines.daily › ${field}`);
    }
  });
});

describe('pipelineSql and pipelineFingerprint', () => {
  it('calls a SQL function with the mode and params', () => {
    const p = resolvePipeline(
      config({
        sql: ({ mode, params }) => `SELECT '${mode}' AS m, ${params.days} AS d`,
        params: { days: 30 },
      }),
      'daily',
    );
    expect(pipelineSql(p, 'incremental')).toBe("SELECT 'incremental' AS m, 30 AS d");
  });

  it('changes with the SQL and the sources, not with descriptions', () => {
    const base = pipelineFingerprint(resolvePipeline(config(), 'daily'));
    expect(pipelineFingerprint(resolvePipeline(config({ description: 'x' }), 'daily'))).toBe(base);
    expect(pipelineFingerprint(resolvePipeline(config({ sql: 'SELECT 2' }), 'daily'))).not.toBe(base);
    const moved = config();
    const sources = { ...moved.sources, customers: { type: 'delta' as const, path: 'data/customers_v2' } };
    expect(pipelineFingerprint(resolvePipeline({ ...moved, sources }, 'daily'))).not.toBe(base);
  });

  it('fails with CONFIG_INVALID when the SQL function throws', () => {
    const p = resolvePipeline(
      config({
        sql: () => {
          throw new Error('boom');
        },
      }),
      'daily',
    );
    const error = failure(() => pipelineSql(p, 'full'));
    expect(isLarderError(error, 'CONFIG_INVALID')).toBe(true);
    expect(error.message).toMatch(/the SQL function threw: boom/);
  });
});
