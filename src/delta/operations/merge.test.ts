import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { loadSnapshot } from '../log/replay.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { createTable } from './create.js';
import { mergeTable } from './merge.js';
import { writeTable } from './write.js';

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'value', type: 'string' },
  { name: 'region', type: 'string' },
];

async function rows(path: string, version?: number) {
  const snapshot = await loadSnapshot(new LocalLogStore(path), version === undefined ? {} : { version });
  const all = await readTableRows(snapshot);
  return all.map((r) => ({ id: Number(r.id), value: r.value, region: r.region })).sort((a, b) => a.id - b.id);
}

describe.each([
  { name: 'deletion vectors', properties: {}, partitionColumns: [] as string[] },
  { name: 'copy-on-write', properties: { 'delta.enableDeletionVectors': 'false' }, partitionColumns: [] },
  { name: 'partitioned', properties: {}, partitionColumns: ['region'] },
])('merge ($name)', ({ properties, partitionColumns }) => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-merge-'));
    path = join(dir, 't');
    const { table } = await createTable(path, { schema, properties, partitionColumns });
    await writeTable(
      table,
      `SELECT i::BIGINT AS id, 'v' || i AS value, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END AS region FROM range(100) t(i)`,
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('updates matched rows, inserts new keys and keeps the rest', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { metrics, table } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (5::BIGINT, 'five', 'us'), (7::BIGINT, 'seven', 'us'), (500::BIGINT, 'new', 'eu')) s(id, value, region)`,
      on: ['id'],
    });
    expect(metrics).toMatchObject({
      numTargetRowsUpdated: 2,
      numTargetRowsInserted: 1,
      numTargetRowsDeleted: 0,
    });
    expect(table.version).toBe(2);
    const after = await rows(path);
    expect(after).toHaveLength(101);
    expect(after.find((r) => r.id === 5)?.value).toBe('five');
    expect(after.find((r) => r.id === 7)?.value).toBe('seven');
    expect(after.find((r) => r.id === 500)).toEqual({ id: 500, value: 'new', region: 'eu' });
    expect(after.find((r) => r.id === 6)?.value).toBe('v6');
    // Time travel still sees the old rows.
    expect((await rows(path, 1)).find((r) => r.id === 5)?.value).toBe('v5');
  });

  it('applies the first matching clause, with source-only flag columns used in conditions', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { metrics } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (1::BIGINT, 'gone', 'us', true), (3::BIGINT, 'three', 'us', false),
                                     (900::BIGINT, 'skip', 'eu', true), (901::BIGINT, 'keep', 'eu', false)) s(id, value, region, drop_it)`,
      on: ['id'],
      whenMatched: [{ action: 'delete', condition: 's.drop_it' }, { action: 'update' }],
      whenNotMatched: [{ action: 'insert', condition: 'NOT s.drop_it' }],
    });
    expect(metrics).toMatchObject({
      numTargetRowsDeleted: 1,
      numTargetRowsUpdated: 1,
      numTargetRowsInserted: 1,
    });
    const after = await rows(path);
    expect(after.find((r) => r.id === 1)).toBeUndefined();
    expect(after.find((r) => r.id === 3)?.value).toBe('three');
    expect(after.find((r) => r.id === 900)).toBeUndefined();
    expect(after.find((r) => r.id === 901)).toEqual({ id: 901, value: 'keep', region: 'eu' });
  });

  it('deletes and updates by clause with source-only columns kept out of the table', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { metrics } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (1::BIGINT, 'gone', 'us'), (3::BIGINT, 'three', 'us'),
                                     (900::BIGINT, 'skip', 'eu'), (901::BIGINT, 'keep', 'eu')) s(id, value, region)`,
      on: ['id'],
      whenMatched: [
        { action: 'delete', condition: "s.value = 'gone'" },
        { action: 'update', set: { value: "s.value || '!'" } },
      ],
      whenNotMatched: [{ action: 'insert', condition: "s.value <> 'skip'" }],
    });
    expect(metrics).toMatchObject({
      numTargetRowsDeleted: 1,
      numTargetRowsUpdated: 1,
      numTargetRowsInserted: 1,
    });
    const after = await rows(path);
    expect(after.find((r) => r.id === 1)).toBeUndefined();
    expect(after.find((r) => r.id === 3)?.value).toBe('three!');
    expect(after.find((r) => r.id === 900)).toBeUndefined();
    expect(after.find((r) => r.id === 901)?.value).toBe('keep');
    expect(after).toHaveLength(100);
  });

  it('fails with DUPLICATE_KEY when two source rows match one target row, leaving the table as it was', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const error = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (5::BIGINT, 'a', 'us'), (5::BIGINT, 'b', 'us')) s(id, value, region)`,
      on: ['id'],
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'DUPLICATE_KEY')).toBe(true);
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(1);
  });

  it('rejects a source whose column type does not fit, naming the column', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const error = await mergeTable(snapshot, {
      source: `SELECT 5::BIGINT AS id, [1, 2] AS value`,
      on: ['id'],
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'SCHEMA_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain('value');
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(1);
  });

  it('joins on a general condition without keys, inserting the source rows it matches nowhere', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    // Source ids are 1000 + target id: only a computed condition matches them.
    const { metrics } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (1002::BIGINT, 'two', 'eu'), (1004::BIGINT, 'four', 'eu'), (5000::BIGINT, 'new', 'eu')) s(id, value, region)`,
      on: [],
      onCondition: 't.id + 1000 = s.id',
      whenMatched: [{ action: 'update', set: { value: 's.value' } }],
    });
    expect(metrics).toMatchObject({
      numTargetRowsUpdated: 2,
      numTargetRowsInserted: 1,
      numTargetRowsDeleted: 0,
    });
    const after = await rows(path);
    expect(after).toHaveLength(101);
    expect(after.find((r) => r.id === 2)?.value).toBe('two');
    expect(after.find((r) => r.id === 4)?.value).toBe('four');
    expect(after.find((r) => r.id === 5000)?.value).toBe('new');
    expect(after.find((r) => r.id === 1002)).toBeUndefined();
  });

  it('combines key columns with an extra condition, and inserts the rows the condition leaves unmatched', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { metrics } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (10::BIGINT, 'ten', 'eu'), (11::BIGINT, 'eleven', 'us')) s(id, value, region)`,
      on: ['id'],
      onCondition: "t.region = 'eu'",
      whenNotMatched: [{ action: 'insert' }],
    });
    // id 10 is in eu and matches; id 11 is in us, so it is not matched and is inserted again.
    expect(metrics).toMatchObject({ numTargetRowsUpdated: 1, numTargetRowsInserted: 1 });
    const after = await rows(path);
    expect(
      after
        .filter((r) => r.id === 11)
        .map((r) => r.value)
        .sort(),
    ).toEqual(['eleven', 'v11']);
    expect(after.find((r) => r.id === 10)?.value).toBe('ten');
  });

  it('commits domain metadata with the merge, and commits it alone when no row changes', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const d = (v: number) => ({ domain: 'larder.pipeline.p', configuration: `{"v":${v}}`, removed: false });
    const { table } = await mergeTable(snapshot, {
      source: `SELECT 5::BIGINT AS id, 'five' AS value, 'us' AS region`,
      on: ['id'],
      domainMetadata: [d(1)],
    });
    expect(table.version).toBe(snapshot.version + 1);
    expect(table.domainMetadata.get('larder.pipeline.p')?.configuration).toBe('{"v":1}');
    expect(table.protocol.writerFeatures).toContain('domainMetadata');
    expect((await rows(path)).find((r) => r.id === 5)?.value).toBe('five');

    const empty = await mergeTable(table, {
      source: `SELECT 1::BIGINT AS id, 'x' AS value, 'us' AS region WHERE false`,
      on: ['id'],
      domainMetadata: [d(2)],
    });
    expect(empty.table.version).toBe(table.version + 1);
    expect(empty.table.domainMetadata.get('larder.pipeline.p')?.configuration).toBe('{"v":2}');
    expect(empty.table.files).toEqual(table.files);
    const none = await mergeTable(empty.table, {
      source: `SELECT 1::BIGINT AS id, 'x' AS value, 'us' AS region WHERE false`,
      on: ['id'],
    });
    expect(none.table.version, 'no rows and no domain: no commit').toBe(empty.table.version);
  });

  it('fails a merge whose domain a concurrent merge changed; the table keeps the winner', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const d = (v: number) => ({ domain: 'larder.pipeline.p', configuration: `{"v":${v}}`, removed: false });
    const source = (v: string) => `SELECT 1000::BIGINT AS id, '${v}' AS value, 'eu' AS region`;
    await mergeTable(snapshot, { source: source('a'), on: ['id'], domainMetadata: [d(1)] });
    const error = await mergeTable(snapshot, {
      source: source('b'),
      on: ['id'],
      domainMetadata: [d(2)],
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
    const latest = await loadSnapshot(new LocalLogStore(path));
    expect(latest.domainMetadata.get('larder.pipeline.p')?.configuration).toBe('{"v":1}');
    expect((await rows(path)).filter((r) => r.id === 1000).map((r) => r.value)).toEqual(['a']);
  });

  it('merges repeatedly into the same file, accumulating deleted positions', async () => {
    for (let round = 0; round < 4; round++) {
      const snapshot = await loadSnapshot(new LocalLogStore(path));
      await mergeTable(snapshot, {
        source: `SELECT (i * 4 + ${round})::BIGINT AS id, 'r${round}' AS value, CASE WHEN (i * 4 + ${round}) % 2 = 0 THEN 'eu' ELSE 'us' END AS region FROM range(10) t(i)`,
        on: ['id'],
      });
    }
    const after = await rows(path);
    expect(after).toHaveLength(100);
    for (let i = 0; i < 40; i++) expect(after[i]?.value).toBe(`r${i % 4}`);
    expect(after[40]?.value).toBe('v40');
  });
});
