import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateTableLog } from '../../../test/protocol-validator.js';
import { isLarderError } from '../../errors.js';
import { DeltaTable } from '../delta-table.js';
import { loadSnapshot } from '../log/replay.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { createTable } from './create.js';
import { mergeTable } from './merge.js';
import { setTableProperties } from './set-properties.js';
import { writeTable } from './write.js';

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'value', type: 'string' },
  { name: 'region', type: 'string' },
];

/** The action kinds of commit `version`, in order. */
async function commitActions(path: string, version: number): Promise<string[]> {
  const text = await readFile(join(path, '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => Object.keys(JSON.parse(line) as object)[0]!);
}

/** Every file under the table folder but the log (data, deletion vectors, change data). */
async function dataFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !join(e.parentPath, e.name).includes('_delta_log'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

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

  it('with no WHEN MATCHED clause inserts only new keys and commits only adds, touching no target file', async () => {
    const before = await loadSnapshot(new LocalLogStore(path));
    const filesBefore = await dataFiles(path);
    // Key 5 appears twice: without matched clauses that is no conflict, matched rows stay as they are.
    const { metrics, table } = await (await DeltaTable.open(path)).merge({
      source: `SELECT * FROM (VALUES (5::BIGINT, 'a', 'us'), (5::BIGINT, 'b', 'us'), (500::BIGINT, 'new', 'eu'),
                                     (501::BIGINT, 'skip', 'eu')) s(id, value, region)`,
      on: ['id'],
      whenMatched: [],
      whenNotMatched: [{ action: 'insert', condition: "s.value <> 'skip'" }],
    });
    expect(metrics).toMatchObject({
      numTargetRowsInserted: 1,
      numTargetRowsUpdated: 0,
      numTargetRowsDeleted: 0,
      numTargetFilesRemoved: 0,
      numTargetDeletionVectorsAdded: 0,
    });
    expect(table.version).toBe(2);
    const kinds = await commitActions(path, 2);
    // No remove, no deletion vector, no change file: the added file is the change data.
    expect(kinds.filter((k) => k !== 'commitInfo')).toEqual(['add']);
    // Every file of the table before the merge is still live, with the deletion vector it had.
    const live = new Map(table.files.map((f) => [f.path, f]));
    for (const f of before.files) {
      expect(live.has(f.path)).toBe(true);
      expect(live.get(f.path)?.deletionVector ?? null).toEqual(f.deletionVector ?? null);
    }
    const filesAfter = await dataFiles(path);
    for (const f of filesBefore) expect(filesAfter).toContain(f);
    const after = await rows(path);
    expect(after).toHaveLength(101);
    expect(after.find((r) => r.id === 5)?.value).toBe('v5');
    expect(after.find((r) => r.id === 500)).toEqual({ id: 500, value: 'new', region: 'eu' });
    expect(after.find((r) => r.id === 501)).toBeUndefined();
    const changes = await (await DeltaTable.open(path)).changes({ startVersion: 2 });
    expect(changes.map((c) => [c._change_type, Number(c.id)])).toEqual([['insert', 500]]);
  });

  it('with no WHEN NOT MATCHED clause updates and deletes matched rows and inserts nothing', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { metrics } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (1::BIGINT, 'gone', 'us'), (3::BIGINT, 'three', 'us'), (900::BIGINT, 'new', 'eu')) s(id, value, region)`,
      on: ['id'],
      whenMatched: [{ action: 'delete', condition: "s.value = 'gone'" }, { action: 'update' }],
      whenNotMatched: [],
    });
    expect(metrics).toMatchObject({
      numTargetRowsDeleted: 1,
      numTargetRowsUpdated: 1,
      numTargetRowsInserted: 0,
    });
    const after = await rows(path);
    expect(after).toHaveLength(99);
    expect(after.find((r) => r.id === 3)?.value).toBe('three');
    expect(after.find((r) => r.id === 900)).toBeUndefined();
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

  it('adds the source columns the table lacks with mergeSchema, in the one commit of the merge', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { table, metrics } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (5::BIGINT, 'five', 'us', 0.5::DOUBLE, 'x'), (500::BIGINT, 'new', 'eu', 1.5::DOUBLE, NULL))
                 s(id, value, region, score, note)`,
      on: ['id'],
      mergeSchema: true,
    });
    expect(metrics).toMatchObject({ numTargetRowsUpdated: 1, numTargetRowsInserted: 1 });
    expect(table.version).toBe(2);
    expect(table.schema.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ['id', 'long', false],
      ['value', 'string', true],
      ['region', 'string', true],
      ['score', 'double', true],
      ['note', 'string', true],
    ]);
    const actions = await commitActions(path, 2);
    expect(actions[0]).toBe('commitInfo');
    expect(actions.filter((a) => a === 'metaData')).toHaveLength(1);
    expect(actions).toContain('add');
    const latest = await loadSnapshot(new LocalLogStore(path));
    expect(latest.version).toBe(2);
    const all = (await readTableRows(latest)).sort((a, b) => Number(a.id) - Number(b.id));
    expect(all).toHaveLength(101);
    expect(all.find((r) => Number(r.id) === 5)).toMatchObject({ value: 'five', score: 0.5, note: 'x' });
    expect(all.find((r) => Number(r.id) === 500)).toMatchObject({ value: 'new', score: 1.5, note: null });
    // Rows the merge did not touch (in files written before the columns existed) read NULL.
    const untouched = all.filter((r) => Number(r.id) !== 5 && Number(r.id) !== 500);
    expect(untouched).toHaveLength(99);
    expect(untouched.every((r) => r.score === null && r.note === null)).toBe(true);
    expect(untouched.find((r) => Number(r.id) === 6)?.value).toBe('v6');
    // The version before the merge has neither the columns nor the changes.
    const before = await loadSnapshot(new LocalLogStore(path), { version: 1 });
    expect(before.schema.fields.map((f) => f.name)).toEqual(['id', 'value', 'region']);
    expect((await rows(path, 1)).find((r) => r.id === 5)?.value).toBe('v5');
    expect(await validateTableLog(path)).toEqual([]);
  });

  it('reads NULL for a new column in every untouched file, also filtered on it and on other columns', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { table } = await mergeTable(snapshot, {
      source: `SELECT 1000::BIGINT AS id, 'k' AS value, 'eu' AS region, 7::INTEGER AS n`,
      on: ['id'],
      mergeSchema: true,
    });
    expect(table.files.length).toBeGreaterThan(1);
    const filtered = await readTableRows(table, {
      columns: ['id', 'n'],
      predicate: { kind: 'isNull', column: 'n', negated: false },
    });
    expect(filtered).toHaveLength(100);
    const set = await readTableRows(table, {
      columns: ['n', 'region'],
      predicate: { kind: 'compare', op: '=', column: 'region', value: 'eu' },
    });
    expect(set.filter((r) => r.n !== null)).toEqual([{ n: 7, region: 'eu' }]);
    expect(set).toHaveLength(51);
  });

  it('writes the new columns into the change data feed of the merge', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (5::BIGINT, 'five', 'us', 0.5::DOUBLE), (500::BIGINT, 'new', 'eu', 1.5::DOUBLE)) s(id, value, region, score)`,
      on: ['id'],
      mergeSchema: true,
    });
    const changes = await (await DeltaTable.open(path)).changes({ startVersion: 2 });
    const summary = changes
      .map((c) => [c._change_type, Number(c.id), c.value, c.score])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(summary).toEqual([
      ['insert', 500, 'new', 1.5],
      ['update_postimage', 5, 'five', 0.5],
      ['update_preimage', 5, 'v5', null],
    ]);
    // Earlier versions' change rows read the column as NULL.
    const all = await (await DeltaTable.open(path)).changes({ startVersion: 1 });
    expect(all.filter((c) => Number(c._commit_version) === 1).every((c) => c.score === null)).toBe(true);
  });

  it('leaves the version, the schema and the folder as they were when a merge with mergeSchema fails', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const files = await dataFiles(path);
    const error = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (5::BIGINT, 'a', 'us', 1), (5::BIGINT, 'b', 'us', 2)) s(id, value, region, extra)`,
      on: ['id'],
      mergeSchema: true,
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'DUPLICATE_KEY')).toBe(true);
    const latest = await loadSnapshot(new LocalLogStore(path));
    expect(latest.version).toBe(1);
    expect(latest.schema.fields.map((f) => f.name)).toEqual(['id', 'value', 'region']);
    expect(await dataFiles(path)).toEqual(files);
  });

  it('adds only the columns that explicit set and values assign, keeping other source columns out', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const { table } = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (5::BIGINT, 'us', 0.5::DOUBLE, false), (501::BIGINT, 'eu', 2.5::DOUBLE, false), (502::BIGINT, 'eu', 3.5::DOUBLE, true))
                 s(id, region, score, skip)`,
      on: ['id'],
      whenMatched: [{ action: 'update', set: { score: 's.score * 10' } }],
      whenNotMatched: [
        {
          action: 'insert',
          condition: 'NOT s.skip',
          values: { id: 's.id', region: 's.region', score: 's.score' },
        },
      ],
      mergeSchema: true,
    });
    expect(table.schema.fields.map((f) => f.name)).toEqual(['id', 'value', 'region', 'score']);
    const all = await readTableRows(table);
    expect(all.find((r) => Number(r.id) === 5)).toMatchObject({ value: 'v5', score: 5 });
    expect(all.find((r) => Number(r.id) === 501)).toMatchObject({ value: null, score: 2.5 });
    expect(all.find((r) => Number(r.id) === 502)).toBeUndefined();
  });

  it('refuses, naming the column, a set of a column the table lacks without mergeSchema, and rows with an unknown field', async () => {
    const snapshot = await loadSnapshot(new LocalLogStore(path));
    const assigned = await mergeTable(snapshot, {
      source: `SELECT 5::BIGINT AS id, 0.5::DOUBLE AS score`,
      on: ['id'],
      whenMatched: [{ action: 'update', set: { score: 's.score' } }],
    }).catch((e: unknown) => e);
    expect(isLarderError(assigned, 'SCHEMA_MISMATCH')).toBe(true);
    expect((assigned as Error).message).toContain('"score"');
    const fromRows = await mergeTable(snapshot, {
      source: [{ id: 5n, value: 'x', region: 'us', score: 0.5 }],
      on: ['id'],
    }).catch((e: unknown) => e);
    expect(isLarderError(fromRows, 'SCHEMA_MISMATCH')).toBe(true);
    expect((fromRows as Error).message).toContain('"score"');
    // A source-only column without mergeSchema is a flag: never written, the schema stays.
    const { table } = await mergeTable(snapshot, {
      source: `SELECT 5::BIGINT AS id, 'five' AS value, 'us' AS region, 0.5::DOUBLE AS score`,
      on: ['id'],
    });
    expect(table.schema.fields.map((f) => f.name)).toEqual(['id', 'value', 'region']);
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(2);
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

describe('merge with mergeSchema', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-merge-schema-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function table(properties: Record<string, string> = {}) {
    const path = join(dir, `t${Math.random().toString(36).slice(2, 8)}`);
    const { table: created } = await createTable(path, { schema, properties });
    const { table: written } = await writeTable(
      created,
      `SELECT i::BIGINT AS id, 'v' || i AS value, 'eu' AS region FROM range(10) t(i)`,
    );
    return { path, snapshot: written };
  }

  it('fails when a concurrent commit changed the metadata, and a stale writer fails after it', async () => {
    const { path, snapshot } = await table();
    await setTableProperties(snapshot, { set: { owner: 'someone' } });
    const lost = await mergeTable(snapshot, {
      source: `SELECT 1::BIGINT AS id, 'x' AS value, 'eu' AS region, 1 AS extra`,
      on: ['id'],
      mergeSchema: true,
    }).catch((e: unknown) => e);
    expect(isLarderError(lost, 'CONCURRENT_MODIFICATION')).toBe(true);
    const latest = await loadSnapshot(new LocalLogStore(path));
    expect(latest.version).toBe(2);
    expect(latest.schema.fields.map((f) => f.name)).toEqual(['id', 'value', 'region']);

    // The other way round: the schema-changing merge wins, a writer that read before it loses.
    const { table: merged } = await mergeTable(latest, {
      source: `SELECT 1::BIGINT AS id, 'x' AS value, 'eu' AS region, 1 AS extra`,
      on: ['id'],
      mergeSchema: true,
    });
    expect(merged.version).toBe(3);
    const stale = await writeTable(latest, `SELECT 99::BIGINT AS id, 'y' AS value, 'us' AS region`).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(stale, 'CONCURRENT_MODIFICATION')).toBe(true);
    expect((stale as Error).message).toContain('metadata');
  });

  it('leaves nothing behind when the rows it writes break a constraint', async () => {
    const { path, snapshot } = await table({ 'delta.constraints.small_id': 'id < 1000' });
    const files = await dataFiles(path);
    const error = await mergeTable(snapshot, {
      source: `SELECT * FROM (VALUES (1::BIGINT, 'x', 'eu', 1), (5000::BIGINT, 'y', 'eu', 2)) s(id, value, region, extra)`,
      on: ['id'],
      mergeSchema: true,
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CONSTRAINT_VIOLATION')).toBe(true);
    const latest = await loadSnapshot(new LocalLogStore(path));
    expect(latest.version).toBe(snapshot.version);
    expect(latest.schema.fields.map((f) => f.name)).toEqual(['id', 'value', 'region']);
    expect(await dataFiles(path)).toEqual(files);
  });

  it.each(['name', 'id'])(
    'adds columns to a column-mapped table (%s mode) with ids and physical names',
    async (mode) => {
      const { path, snapshot } = await table({ 'delta.columnMapping.mode': mode });
      const { table: merged } = await mergeTable(snapshot, {
        source: `SELECT * FROM (VALUES (3::BIGINT, 'three', 'eu', 30), (20::BIGINT, 'twenty', 'us', 200)) s(id, value, region, extra)`,
        on: ['id'],
        mergeSchema: true,
      });
      expect(merged.version).toBe(snapshot.version + 1);
      const extra = merged.schema.fields.find((f) => f.name === 'extra');
      expect(extra?.metadata['delta.columnMapping.id']).toBe(4);
      expect(String(extra?.metadata['delta.columnMapping.physicalName'])).toMatch(/^col-/);
      expect(merged.properties['delta.columnMapping.maxColumnId']).toBe('4');
      const all = (await readTableRows(merged)).sort((a, b) => Number(a.id) - Number(b.id));
      expect(all).toHaveLength(11);
      expect(all.find((r) => Number(r.id) === 3)).toMatchObject({ value: 'three', extra: 30 });
      expect(all.find((r) => Number(r.id) === 20)).toMatchObject({ value: 'twenty', extra: 200 });
      expect(all.filter((r) => r.extra === null)).toHaveLength(9);
      expect(await validateTableLog(path)).toEqual([]);
    },
  );

  it('refuses a nested column for a column-mapped table, as appends do', async () => {
    const { path, snapshot } = await table({ 'delta.columnMapping.mode': 'name' });
    const error = await mergeTable(snapshot, {
      source: `SELECT 1::BIGINT AS id, 'x' AS value, 'eu' AS region, {'a': 1} AS nested`,
      on: ['id'],
      mergeSchema: true,
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'UNSUPPORTED_FEATURE')).toBe(true);
    expect((error as Error).message).toContain('nested');
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(snapshot.version);
  });

  it('upgrades the protocol in the same commit for a new timestamp_ntz column', async () => {
    const { path, snapshot } = await table({ 'delta.enableDeletionVectors': 'false' });
    expect(snapshot.protocol.minWriterVersion).toBeLessThan(7);
    const { table: merged } = await mergeTable(snapshot, {
      source: `SELECT 1::BIGINT AS id, 'x' AS value, 'eu' AS region, TIMESTAMP '2024-05-01 10:00:00' AS seen`,
      on: ['id'],
      mergeSchema: true,
    });
    expect(merged.version).toBe(snapshot.version + 1);
    expect(merged.schema.fields.at(-1)).toMatchObject({ name: 'seen', type: 'timestamp_ntz' });
    expect(merged.protocol.writerFeatures).toContain('timestampNtz');
    const actions = await commitActions(path, merged.version);
    expect(actions.filter((a) => a === 'metaData' || a === 'protocol')).toHaveLength(2);
    expect(await validateTableLog(path)).toEqual([]);
  });
});
