import { describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import type { Add, CommitActions } from '../log/actions.js';
import { parseSchema } from '../log/schema.js';
import type { Predicate } from '../scan/predicate.js';
import { checkConflicts, type TransactionFootprint } from './conflict-checker.js';

const schema = parseSchema(
  JSON.stringify({
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: true, metadata: {} },
      { name: 'region', type: 'string', nullable: true, metadata: {} },
      { name: 'year', type: 'integer', nullable: true, metadata: {} },
    ],
  }),
);

function footprint(overrides: Partial<TransactionFootprint> = {}): TransactionFootprint {
  return {
    table: '/t',
    readVersion: 4,
    readPredicate: 'all',
    readFiles: new Set(),
    removedFiles: new Set(),
    appIds: new Set(),
    domains: new Set(),
    isBlindAppend: false,
    isolationLevel: 'Serializable',
    schema,
    partitionColumns: ['region', 'year'],
    ...overrides,
  };
}

function add(region: string | null, year: string | null, dataChange = true): Add {
  return {
    path: `f-${region}-${year}`,
    partitionValues: { region, year },
    size: 1,
    modificationTime: 1,
    dataChange,
  };
}

function winner(parts: Partial<CommitActions>): CommitActions {
  return { version: 5, add: [], remove: [], cdc: [], txn: [], domainMetadata: [], ...parts };
}

function conflicts(ours: TransactionFootprint, theirs: CommitActions): boolean {
  try {
    checkConflicts(ours, theirs);
    return false;
  } catch (error) {
    if (isLarderError(error, 'CONCURRENT_MODIFICATION')) return true;
    throw error;
  }
}

const filter = (partitionFilter: Predicate) => footprint({ readPredicate: { partitionFilter } });

describe('checkConflicts', () => {
  it('lets blind appends pass any concurrent data change, but not metadata changes', () => {
    const blind = footprint({ isBlindAppend: true, readPredicate: 'none' });
    expect(conflicts(blind, winner({ add: [add('eu', '2024')] }))).toBe(false);
    expect(conflicts(blind, winner({ remove: [{ path: 'x', dataChange: true }] }))).toBe(false);
    expect(conflicts(blind, winner({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }))).toBe(true);
  });

  it('ignores adds that change no data (compaction) but not removes of files read', () => {
    expect(conflicts(footprint(), winner({ add: [add('eu', '2024', false)] }))).toBe(false);
    const reader = footprint({ readPredicate: 'none', readFiles: new Set(['a.parquet']) });
    expect(conflicts(reader, winner({ remove: [{ path: 'a.parquet', dataChange: false }] }))).toBe(true);
    expect(conflicts(reader, winner({ remove: [{ path: 'b.parquet', dataChange: true }] }))).toBe(false);
  });

  it('under WriteSerializable, ignores files of blind-append winners', () => {
    const ours = footprint({ isolationLevel: 'WriteSerializable' });
    const append = winner({ add: [add('eu', '2024')], commitInfo: { isBlindAppend: true } });
    expect(conflicts(ours, append)).toBe(false);
    expect(conflicts(footprint(), append)).toBe(true);
  });

  it('evaluates partition filters on the winner partition values', () => {
    const eu = filter({ kind: 'compare', op: '=', column: 'region', value: 'eu' });
    expect(conflicts(eu, winner({ add: [add('us', '2024')] }))).toBe(false);
    expect(conflicts(eu, winner({ add: [add('eu', '2023')] }))).toBe(true);
    expect(conflicts(eu, winner({ add: [add(null, '2023')] }))).toBe(false);

    const recent = filter({
      kind: 'and',
      children: [
        { kind: 'compare', op: '>=', column: 'YEAR', value: 2023 },
        { kind: 'in', column: 'region', values: ['eu', 'apac'] },
      ],
    });
    expect(conflicts(recent, winner({ add: [add('eu', '2022')] }))).toBe(false);
    expect(conflicts(recent, winner({ add: [add('apac', '2024')] }))).toBe(true);
    expect(conflicts(recent, winner({ add: [add('us', '2024')] }))).toBe(false);

    const nulls = filter({ kind: 'isNull', column: 'region', negated: false });
    expect(conflicts(nulls, winner({ add: [add(null, '2024')] }))).toBe(true);
    expect(conflicts(nulls, winner({ add: [add('eu', '2024')] }))).toBe(false);
  });

  it('treats a filter it cannot decide as a conflict', () => {
    const onData = filter({ kind: 'compare', op: '=', column: 'id', value: 1 });
    expect(conflicts(onData, winner({ add: [add('us', '2024')] }))).toBe(true);
    const notNumber = filter({ kind: 'compare', op: '>', column: 'year', value: 'soon' });
    expect(conflicts(notNumber, winner({ add: [add('us', '2024')] }))).toBe(true);
  });

  it('reads partition values under their physical names with column mapping', () => {
    const mapped = parseSchema(
      JSON.stringify({
        type: 'struct',
        fields: [
          {
            name: 'id',
            type: 'long',
            nullable: true,
            metadata: { 'delta.columnMapping.physicalName': 'col-1' },
          },
          {
            name: 'region',
            type: 'string',
            nullable: true,
            metadata: { 'delta.columnMapping.physicalName': 'col-2' },
          },
        ],
      }),
    );
    const ours = footprint({
      schema: mapped,
      partitionColumns: ['region'],
      columnMappingMode: 'name',
      readPredicate: { partitionFilter: { kind: 'compare', op: '=', column: 'region', value: 'eu' } },
    });
    const file = (region: string): Add => ({ ...add(region, null), partitionValues: { 'col-2': region } });
    expect(conflicts(ours, winner({ add: [file('us')] }))).toBe(false);
    expect(conflicts(ours, winner({ add: [file('eu')] }))).toBe(true);
  });

  it('uses the stats of added files for a filter on a data column, as scan pruning does', () => {
    const ours = filter({ kind: 'compare', op: '=', column: 'id', value: 1 });
    const withIds = (min: number, max: number): Add => ({
      ...add('eu', '2024'),
      stats: JSON.stringify({
        numRecords: 5,
        minValues: { id: min },
        maxValues: { id: max },
        nullCount: { id: 0 },
      }),
    });
    expect(conflicts(ours, winner({ add: [withIds(5, 10)] }))).toBe(false);
    expect(conflicts(ours, winner({ add: [withIds(0, 10)] }))).toBe(true);
  });

  it('fails when the winner changed a domain this transaction also writes, and only then', () => {
    const ours = footprint({
      readPredicate: 'none',
      isBlindAppend: true,
      domains: new Set(['larder.pipeline.p']),
    });
    const domain = (name: string) => ({ domain: name, configuration: '{}', removed: false });
    expect(conflicts(ours, winner({ domainMetadata: [domain('larder.pipeline.p')] }))).toBe(true);
    expect(
      conflicts(ours, winner({ domainMetadata: [{ ...domain('larder.pipeline.p'), removed: true }] })),
    ).toBe(true);
    expect(conflicts(ours, winner({ domainMetadata: [domain('larder.pipeline.other')] }))).toBe(false);
    expect(
      conflicts(
        footprint({ readPredicate: 'none', isBlindAppend: true }),
        winner({ domainMetadata: [domain('larder.pipeline.p')] }),
      ),
    ).toBe(false);
  });

  it('names the table, the winning version and the conflicting file', () => {
    expect(() =>
      checkConflicts(footprint(), winner({ add: [add('eu', '2024')], commitInfo: { operation: 'MERGE' } })),
    ).toThrow(/table \/t: version 5 was committed concurrently \(MERGE\) and added file f-eu-2024/);
  });
});
