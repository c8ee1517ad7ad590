import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../duckdb/duckdb.js';
import { DeltaTable } from '../delta-table.js';
import type { Snapshot } from '../log/snapshot.js';
import { filesForKeys, readKeyBounds } from './key-pruning.js';

let dir: string;
let connection: DuckDBConnection;
let snapshot: Snapshot;

/** Which appends (0, 1, 2) the kept files came from, by their least id. */
function batches(files: Snapshot['files']): number[] {
  return files
    .map((f) => Number(JSON.parse(f.stats ?? '{}').minValues?.id))
    .map((min) => (min < 100 ? 0 : min < 200 ? 1 : 2))
    .sort();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-key-pruning-'));
  connection = await connect();
  const table = await DeltaTable.create(join(dir, 't'), {
    schema: [
      { name: 'id', type: 'long', nullable: false },
      { name: 'day', type: 'date', nullable: false },
      { name: 'name', type: 'string' },
    ],
  });
  // Three files: ids 1–9 in January, 100–109 in February, 200–209 in March.
  for (const [base, month] of [
    [0, '01'],
    [100, '02'],
    [200, '03'],
  ] as const) {
    await table.append(
      Array.from({ length: 10 }, (_, i) => ({
        id: base + i,
        day: `2024-${month}-1${i}`,
        name: `n${base + i}`,
      })),
    );
  }
  snapshot = (await DeltaTable.open(join(dir, 't'))).snapshot;
});

afterAll(async () => {
  connection.closeSync();
  await rm(dir, { recursive: true, force: true });
});

describe('filesForKeys', () => {
  it('keeps the files whose statistics admit one of the key values', async () => {
    const bounds = await readKeyBounds(connection, 'SELECT * FROM (VALUES (5), (205)) AS k(id)', [
      { name: 'id' },
    ]);
    expect(bounds[0]).toMatchObject({ column: 'id', values: expect.arrayContaining(['5', '205']) });
    expect(batches(filesForKeys(snapshot, bounds))).toEqual([0, 2]);
  });

  it('prunes by the range of a column with more values than the limit', async () => {
    const bounds = await readKeyBounds(
      connection,
      'SELECT * FROM range(101, 108) AS k(id)',
      [{ name: 'id' }],
      3,
    );
    expect(bounds[0]).toMatchObject({ min: '101', max: '107' });
    expect(bounds[0]?.values).toBeUndefined();
    expect(batches(filesForKeys(snapshot, bounds))).toEqual([1]);
  });

  it('prunes a composite key by each of its columns, casting the values to the table column type', async () => {
    const bounds = await readKeyBounds(
      connection,
      `SELECT * FROM (VALUES (5, '2024-02-15'), (105, '2024-02-15')) AS k(ID, d)`,
      [{ name: 'ID' }, { name: 'd', column: 'day', cast: 'DATE' }],
    );
    // id admits January and February; day only February.
    expect(batches(filesForKeys(snapshot, bounds))).toEqual([1]);
  });

  it('does not prune by values that order differently from the column, nor by an unknown column', async () => {
    const text = await readKeyBounds(connection, `SELECT '5' AS id`, [{ name: 'id' }]);
    expect(filesForKeys(snapshot, text)).toHaveLength(3);
    const unknown = await readKeyBounds(connection, 'SELECT 5 AS other', [{ name: 'other' }]);
    expect(filesForKeys(snapshot, unknown)).toHaveLength(3);
  });

  it('keeps no file for an empty key set', async () => {
    const bounds = await readKeyBounds(connection, 'SELECT 1::BIGINT AS id WHERE false', [{ name: 'id' }]);
    expect(filesForKeys(snapshot, bounds)).toHaveLength(0);
  });
});
