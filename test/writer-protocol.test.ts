/**
 * The writer follows the Delta protocol: create → appends → overwrite →
 * restore → checkpoints, on a partitioned and an unpartitioned table; every
 * commit passes the protocol validator, and every version reads back
 * (by version and by timestamp) with exactly the rows it should hold.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../src/delta/delta-table.js';
import { readTableRows } from '../src/delta/scan/scan.js';
import { readSnapshotRows, validateTableLog } from './protocol-validator.js';

type Row = { id: number; p: string | null; v: number | null };

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

function normalize(rows: Record<string, unknown>[]): Row[] {
  return rows
    .map((r) => ({
      id: Number(r.id),
      p: (r.p as string | null) ?? null,
      v: r.v === null ? null : Number(r.v),
    }))
    .sort((a, b) => a.id - b.id);
}

for (const partitioned of [true, false]) {
  describe(`writing a ${partitioned ? 'partitioned' : 'unpartitioned'} table`, () => {
    let dir: string;
    let path: string;
    const expected = new Map<number, Row[]>();

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'larder-writer-protocol-'));
      path = join(dir, 'table');
      const table = await DeltaTable.create(path, {
        schema: [
          { name: 'id', type: 'long', nullable: false },
          { name: 'p', type: 'string' },
          { name: 'v', type: 'double' },
        ],
        partitionColumns: partitioned ? ['p'] : [],
        properties: { 'delta.checkpointInterval': 3 },
      });
      let rows: Row[] = [];
      expected.set(table.version, rows);
      const step = async (next: Row[], action: () => Promise<unknown>) => {
        await pause();
        await action();
        rows = next;
        expected.set(table.version, rows);
      };
      const first: Row[] = [
        { id: 1, p: 'a/b', v: 1.5 },
        { id: 2, p: '50%', v: null },
        { id: 3, p: 'x y=z', v: 3 },
        { id: 4, p: null, v: 4 },
      ];
      await step([...rows, ...first], () => table.append(first));
      await step([...first, { id: 5, p: 'a/b', v: 5 }, { id: 6, p: 'c', v: 6 }], () =>
        table.append("SELECT * FROM (VALUES (5, 'a/b', 5.0), (6, 'c', 6.0)) t(id, p, v)"),
      );
      const third = [...expected.get(2)!, { id: 7, p: null, v: null }];
      await step(third, () => table.append([{ id: 7n }]));
      await step([{ id: 10, p: 'z', v: 10 }], () => table.overwrite([{ id: 10, p: 'z', v: 10 }]));
      await step(expected.get(2)!, () => table.restore(2));
      await step([...expected.get(2)!, { id: 11, p: 'a/b', v: 11 }], () =>
        table.append([{ id: 11, p: 'a/b', v: 11 }]),
      );
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('passes the protocol validator on every commit', async () => {
      expect(await validateTableLog(path)).toEqual([]);
    });

    it('writes checkpoints at the interval and reads the latest version through them', async () => {
      const log = await readdir(join(path, '_delta_log'));
      expect(log).toContain('00000000000000000003.checkpoint.parquet');
      expect(log).toContain('00000000000000000006.checkpoint.parquet');
      const latest = await DeltaTable.open(path);
      expect(latest.version).toBe(6);
      expect(latest.snapshot.checkpointVersion).toBe(6);
      expect(normalize(await readTableRows(latest.snapshot))).toEqual(expected.get(6));
    });

    it('reads every version with exactly its rows, by version and by timestamp', async () => {
      for (const [version, rows] of expected) {
        const byVersion = await DeltaTable.open(path, { version });
        expect(normalize(await readTableRows(byVersion.snapshot)), `version ${version}`).toEqual(rows);
        expect(
          normalize(await readSnapshotRows(byVersion.snapshot)),
          `version ${version} from files`,
        ).toEqual(rows);
        const byTime = await DeltaTable.open(path, { timestamp: byVersion.snapshot.timestamp });
        expect(byTime.version, `timestamp of version ${version}`).toBe(version);
      }
    });

    it('records each operation in the history', async () => {
      const table = await DeltaTable.open(path);
      expect((await table.history()).map((h) => h.operation)).toEqual([
        'WRITE',
        'RESTORE',
        'WRITE',
        'WRITE',
        'WRITE',
        'WRITE',
        'CREATE TABLE',
      ]);
    });
  });
}

describe('the protocol validator', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-validator-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports commits that break the rules', async () => {
    const path = join(dir, 'broken');
    const table = await DeltaTable.create(path, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'p', type: 'string' },
      ],
      partitionColumns: ['p'],
    });
    await table.append([{ id: 1, p: 'a' }]);
    const good = table.snapshot.files[0]!;
    const lines = [
      JSON.stringify({
        add: { ...good, size: good.size + 1, partitionValues: {}, stats: '{"numRecords":5}' },
      }),
      JSON.stringify({ add: { ...good, path: '../escape.parquet' } }),
      JSON.stringify({ metaData: table.snapshot.metadata }),
      JSON.stringify({ metaData: table.snapshot.metadata }),
      JSON.stringify({ remove: { path: good.path } }),
      JSON.stringify({ add: { path: 'x' }, remove: { path: 'y' } }),
    ];
    await writeFile(join(path, '_delta_log', '00000000000000000002.json'), `${lines.join('\n')}\n`);
    const problems = (await validateTableLog(path)).join('\n');
    for (const expectedProblem of [
      'no commitInfo',
      '2 metaData actions',
      'partition values  do not match',
      `says ${good.size + 1} bytes`,
      'says 5 rows',
      'path has . or .. segments',
      'without dataChange',
      'without deletionTimestamp',
      'exactly one action',
    ]) {
      expect(problems).toContain(expectedProblem);
    }
  });
});
