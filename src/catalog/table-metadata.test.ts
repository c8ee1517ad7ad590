import { describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import type { FeatureTableInfo } from './metastore.js';
import { checkFeatureTableInfo, checkTags, tableNotFound } from './table-metadata.js';

const table = 'ml.churn.customer_features';

describe('checkFeatureTableInfo', () => {
  it('returns a frozen copy holding only the fields of FeatureTableInfo', () => {
    const input = {
      primaryKeys: ['customer_id'],
      timeseriesColumn: undefined,
      partitionColumns: [],
      clusterBy: ['customer_id'],
      features: [{ name: 'n', type: 'long', description: undefined, extra: 1 }],
      lineage: { sources: ['raw'], extra: true },
      extra: 'dropped',
    } as unknown as FeatureTableInfo;
    const info = checkFeatureTableInfo(table, input);
    expect(info).toEqual({
      primaryKeys: ['customer_id'],
      partitionColumns: [],
      clusterBy: ['customer_id'],
      features: [{ name: 'n', type: 'long' }],
      lineage: { sources: ['raw'] },
    });
    expect(Object.keys(info)).not.toContain('timeseriesColumn');
    expect(Object.isFrozen(info.features[0])).toBe(true);
    expect(info.primaryKeys).not.toBe(input.primaryKeys);
  });

  it('names the table and the field in its error context', () => {
    const error = (() => {
      try {
        checkFeatureTableInfo(table, {
          primaryKeys: ['id'],
          timeseriesColumn: 'ts',
          partitionColumns: [],
          clusterBy: [],
          features: [],
          lineage: { sources: [] },
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as { context: unknown }).context).toEqual({ table, field: 'timeseriesColumn' });
  });
});

describe('checkTags', () => {
  it('returns the tags as pairs in insertion order and refuses a non-string value', () => {
    expect(checkTags(table, { b: '1', a: '2' })).toEqual([
      ['b', '1'],
      ['a', '2'],
    ]);
    expect(checkTags(table, undefined)).toEqual([]);
    expect(() => checkTags(table, { a: 1 as unknown as string })).toThrow(/tag "a"/);
  });
});

describe('tableNotFound', () => {
  it('is a TABLE_NOT_FOUND error naming the table', () => {
    const error = tableNotFound(table);
    expect(error.code).toBe('TABLE_NOT_FOUND');
    expect(error.message).toContain(table);
    expect(error.context.table).toBe(table);
  });
});
