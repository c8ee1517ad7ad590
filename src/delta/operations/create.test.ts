import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError, type LarderError } from '../../errors.js';
import { loadSnapshot } from '../log/replay.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { type ColumnSpec, createTable } from './create.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('createTable', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-create-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes version 0 with commitInfo, protocol and metadata, and Larder defaults', async () => {
    const path = join(dir, 'features');
    const { table } = await createTable(path, {
      schema: [
        { name: 'id', type: 'long', nullable: false },
        { name: 'price', type: 'decimal(10,2)' },
        { name: 'day', type: 'date' },
      ],
      partitionColumns: ['day'],
      description: 'daily prices',
      name: 'prices',
      properties: { owner: 'ml', 'delta.checkpointInterval': 5 },
    });
    expect(table.version).toBe(0);
    expect(table.protocol).toEqual({
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['deletionVectors'],
      writerFeatures: ['appendOnly', 'invariants', 'changeDataFeed', 'deletionVectors'],
    });
    expect(table.properties).toEqual({
      'delta.enableChangeDataFeed': 'true',
      'delta.enableDeletionVectors': 'true',
      'delta.checkpointInterval': '5',
      owner: 'ml',
    });
    expect(table.metadata).toMatchObject({
      name: 'prices',
      description: 'daily prices',
      partitionColumns: ['day'],
    });
    expect(table.schema.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ['id', 'long', false],
      ['price', 'decimal(10,2)', true],
      ['day', 'date', true],
    ]);
    const lines = (await readFile(join(path, '_delta_log', commitFileName(0)), 'utf8')).trim().split('\n');
    expect(lines.map((l) => Object.keys(JSON.parse(l))[0])).toEqual(['commitInfo', 'protocol', 'metaData']);
    expect(JSON.parse(lines[0]!).commitInfo).toMatchObject({
      operation: 'CREATE TABLE',
      operationParameters: { isManaged: 'false', partitionBy: '["day"]', description: 'daily prices' },
      isBlindAppend: true,
    });
  });

  it('uses the legacy protocol when deletion vectors are off, and table features for timestamp_ntz', async () => {
    const legacy = await createTable(join(dir, 'a'), {
      schema: [{ name: 'x', type: 'integer' }],
      properties: { 'delta.enableDeletionVectors': false },
    });
    expect(legacy.table.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 4 });
    const ntz = await createTable(join(dir, 'b'), {
      schema: [{ name: 'at', type: 'timestamp_ntz' }],
      properties: { 'delta.enableDeletionVectors': 'false' },
    });
    expect(ntz.table.protocol).toEqual({
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['timestampNtz'],
      writerFeatures: ['appendOnly', 'invariants', 'changeDataFeed', 'timestampNtz'],
    });
  });

  it('assigns physical names and ids under column mapping', async () => {
    const { table } = await createTable(join(dir, 'mapped'), {
      schema: [
        { name: 'id', type: 'long' },
        {
          name: 's',
          type: { type: 'struct', fields: [{ name: 'x', type: 'integer', nullable: true, metadata: {} }] },
        },
      ],
      properties: { 'delta.columnMapping.mode': 'name' },
    });
    expect(table.columnMappingMode).toBe('name');
    expect(table.properties['delta.columnMapping.maxColumnId']).toBe('3');
    expect(table.protocol.readerFeatures).toContain('columnMapping');
    const [id, s] = table.schema.fields;
    expect(id!.metadata['delta.columnMapping.id']).toBe(1);
    expect(id!.metadata['delta.columnMapping.physicalName']).toMatch(/^col-/);
    expect(s!.metadata['delta.columnMapping.id']).toBe(2);
  });

  it('fails with TABLE_ALREADY_EXISTS when a log is there', async () => {
    const path = join(dir, 't');
    await createTable(path, { schema: [{ name: 'x', type: 'integer' }] });
    const error = await createTable(path, { schema: [{ name: 'y', type: 'integer' }] }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'TABLE_ALREADY_EXISTS')).toBe(true);
    expect((error as Error).message).toContain(path);
    expect((await loadSnapshot(new LocalLogStore(path))).schema.fields[0]!.name).toBe('x');
  });

  it('rejects invalid schemas and partition columns', async () => {
    const cases = [
      { schema: [] },
      {
        schema: [
          { name: 'a', type: 'integer' },
          { name: 'A', type: 'long' },
        ],
      },
      { schema: [{ name: 'a', type: 'varchar' }] },
      { schema: [{ name: 'a', type: 'integer' }], partitionColumns: ['b'] },
      { schema: [{ name: 'a', type: 'integer' }], partitionColumns: ['a'] },
      {
        schema: [
          { name: 'a', type: 'integer' },
          { name: 'b', type: 'binary' },
        ],
        partitionColumns: ['b'],
      },
    ];
    for (const [i, options] of cases.entries()) {
      const error = await createTable(join(dir, `bad${i}`), options).catch((e: unknown) => e);
      expect(isLarderError(error), JSON.stringify(options)).toBe(true);
      expect(['INVALID_ARGUMENT', 'UNSUPPORTED_FEATURE']).toContain((error as { code: string }).code);
    }
  });

  it.each([
    ['a precision above 38', [{ name: 'amount', type: 'decimal(39,2)' }], 'amount'],
    ['a scale above the precision', [{ name: 'amount', type: 'decimal(5,6)' }], 'amount'],
    ['a precision of 0', [{ name: 'amount', type: 'decimal(0,0)' }], 'amount'],
    [
      'a nested decimal out of range',
      [
        {
          name: 's',
          type: {
            type: 'struct',
            fields: [{ name: 'x', type: 'decimal(40,0)', nullable: true, metadata: {} }],
          },
        },
      ],
      's.x',
    ],
    [
      'a decimal array element out of range',
      [{ name: 'xs', type: { type: 'array', elementType: 'decimal(50,1)', containsNull: true } }],
      'xs.element',
    ],
  ] as const)(
    'refuses a decimal with %s, naming the column, and creates nothing',
    async (_, columns, column) => {
      const path = join(dir, 'dec');
      const error = await createTable(path, {
        schema: [{ name: 'id', type: 'long' }, ...(columns as unknown as ColumnSpec[])],
      }).catch((e: unknown) => e);
      expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect((error as LarderError).context.column).toBe(column);
      expect((error as Error).message).toContain(`"${column}"`);
      expect(await exists(join(path, '_delta_log'))).toBe(false);
    },
  );

  it('accepts decimals at the limits', async () => {
    const { table } = await createTable(join(dir, 'limits'), {
      schema: [
        { name: 'a', type: 'decimal(38,38)' },
        { name: 'b', type: 'decimal(1,0)' },
      ],
    });
    expect(table.schema.fields.map((f) => f.type)).toEqual(['decimal(38,38)', 'decimal(1,0)']);
  });

  it('names the table by its name, with the folder in the context, when a name is given', async () => {
    const path = join(dir, 'named');
    const bad = await createTable(path, {
      name: 'ml.f.prices',
      schema: [{ name: 'price', type: 'decimal(39,2)' }],
    }).catch((e: unknown) => e);
    expect(isLarderError(bad, 'INVALID_ARGUMENT')).toBe(true);
    expect((bad as Error).message).toContain('ml.f.prices');
    expect((bad as Error).message).not.toContain(path);
    expect((bad as LarderError).context).toMatchObject({ table: 'ml.f.prices', file: path, column: 'price' });

    const partition = await createTable(path, {
      name: 'ml.f.prices',
      schema: [{ name: 'price', type: 'double' }],
      partitionColumns: ['day'],
    }).catch((e: unknown) => e);
    expect((partition as Error).message).toContain('ml.f.prices');
    expect((partition as LarderError).context).toMatchObject({
      table: 'ml.f.prices',
      file: path,
      column: 'day',
    });

    await createTable(path, { name: 'ml.f.prices', schema: [{ name: 'price', type: 'double' }] });
    const again = await createTable(path, {
      name: 'ml.f.other',
      schema: [{ name: 'price', type: 'double' }],
    }).catch((e: unknown) => e);
    expect(isLarderError(again, 'TABLE_ALREADY_EXISTS')).toBe(true);
    expect((again as Error).message).toContain('ml.f.other');
    expect((again as Error).message).toContain(path);
    expect((again as LarderError).context).toMatchObject({ table: 'ml.f.other', file: path });
  });
});
