import { describe, expect, it } from 'vitest';
import { isLarderError, type LarderError } from '../../errors.js';
import type { Metadata, Protocol } from '../log/actions.js';
import { assertWritable, writerFeatures } from './writer-protocol.js';

function metadata(fields: unknown[]): Metadata {
  return {
    id: 'x',
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify({ type: 'struct', fields }),
    partitionColumns: [],
    configuration: {},
  };
}

const plain = metadata([{ name: 'id', type: 'long', nullable: true, metadata: {} }]);

function refusal(protocol: Protocol, meta: Metadata = plain): string | undefined {
  try {
    assertWritable(protocol, meta, '/t');
    return undefined;
  } catch (error) {
    if (!isLarderError(error, 'UNSUPPORTED_FEATURE')) throw error;
    return String((error as LarderError).context.feature);
  }
}

describe('assertWritable', () => {
  it('accepts the protocols Larder creates and legacy versions up to 6', () => {
    expect(
      refusal({
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: ['deletionVectors', 'timestampNtz'],
        writerFeatures: ['appendOnly', 'invariants', 'changeDataFeed', 'deletionVectors', 'timestampNtz'],
      }),
    ).toBeUndefined();
    for (const w of [1, 2, 3, 4, 5, 6])
      expect(refusal({ minReaderVersion: 1, minWriterVersion: w })).toBeUndefined();
  });

  it('accepts tables with V2 checkpoints, whose checkpoints Larder writes to the V2 spec', () => {
    expect(
      refusal({
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: ['deletionVectors', 'v2Checkpoint'],
        writerFeatures: ['deletionVectors', 'domainMetadata', 'v2Checkpoint'],
      }),
    ).toBeUndefined();
  });

  it('refuses unknown writer features and versions, naming them', () => {
    expect(
      refusal({
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: [],
        writerFeatures: ['inCommitTimestamp'],
      }),
    ).toBe('inCommitTimestamp');
    expect(refusal({ minReaderVersion: 1, minWriterVersion: 8 })).toBe('writerVersion8');
  });

  it('refuses tables whose columns use generated or identity values', () => {
    const generated = metadata([
      {
        name: 'd',
        type: 'date',
        nullable: true,
        metadata: { 'delta.generationExpression': 'CAST(ts AS DATE)' },
      },
    ]);
    expect(refusal({ minReaderVersion: 1, minWriterVersion: 4 }, generated)).toBe('generatedColumns');
    const identity = metadata([
      {
        name: 'id',
        type: 'long',
        nullable: true,
        metadata: { 'delta.identity.start': 1, 'delta.identity.step': 1 },
      },
    ]);
    expect(refusal({ minReaderVersion: 1, minWriterVersion: 6 }, identity)).toBe('identityColumns');
  });

  it('lists the features legacy writer versions imply', () => {
    expect(writerFeatures({ minReaderVersion: 1, minWriterVersion: 4 })).toEqual([
      'appendOnly',
      'invariants',
      'checkConstraints',
      'changeDataFeed',
      'generatedColumns',
    ]);
  });
});
