import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSnapshotRows } from '../../../test/protocol-validator.js';
import { isLarderError, type LarderError } from '../../errors.js';
import { DeltaTable } from '../delta-table.js';
import { loadSnapshot } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { createTable } from './create.js';
import { writeTable } from './write.js';

async function dataFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.parquet') && !e.parentPath.includes('_delta_log'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function sortedById(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id));
}

describe('writeTable', () => {
  let dir: string;
  let root: string;
  let v0: Snapshot;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-write-'));
    root = join(dir, 't');
    v0 = (
      await createTable(root, {
        schema: [
          { name: 'id', type: 'long', nullable: false },
          { name: 'amount', type: 'double' },
          { name: 'day', type: 'date' },
          { name: 'ts', type: 'timestamp' },
          { name: 'country', type: 'string' },
        ],
        partitionColumns: ['country'],
      })
    ).table;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends a query as a blind append with Spark metrics', async () => {
    const { table, metrics } = await writeTable(
      v0,
      `SELECT i AS id, i * 1.5 AS amount, DATE '2024-01-01' AS day, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS ts,
       CASE WHEN i < 2 THEN 'FR' ELSE 'DE' END AS country FROM range(5) t(i)`,
    );
    expect(table.version).toBe(1);
    expect(metrics).toMatchObject({ numFiles: 2, numOutputRows: 5, numAddedFiles: 2, numRemovedFiles: 0 });
    expect(metrics.numOutputBytes).toBe(table.files.reduce((n, f) => n + f.size, 0));
    const info = JSON.parse(
      (await readFile(join(root, '_delta_log', commitFileName(1)), 'utf8')).split('\n')[0]!,
    ).commitInfo;
    expect(info).toMatchObject({
      operation: 'WRITE',
      operationParameters: { mode: 'Append', partitionBy: '["country"]' },
      operationMetrics: { numFiles: '2', numOutputRows: '5', numOutputBytes: String(metrics.numOutputBytes) },
      isBlindAppend: true,
      readVersion: 0,
    });
    const rows = sortedById(await readSnapshotRows(table));
    expect(rows.map((r) => [r.id, r.amount, r.country])).toEqual([
      ['0', 0, 'FR'],
      ['1', 1.5, 'FR'],
      ['2', 3, 'DE'],
      ['3', 4.5, 'DE'],
      ['4', 6, 'DE'],
    ]);
  });

  it('loads row objects with bigint, Date and ISO strings through the table types', async () => {
    const { table } = await writeTable(v0, [
      {
        id: 9007199254740993n,
        amount: 1,
        day: '2024-02-29',
        ts: new Date('2024-03-01T12:00:00.250Z'),
        country: 'FR',
      },
      {
        id: 2,
        amount: null,
        day: new Date('2024-03-02T00:00:00Z'),
        ts: '2024-03-02T01:02:03Z',
        country: null,
      },
      { id: 3 },
    ]);
    const rows = sortedById(await readSnapshotRows(table));
    expect(rows).toEqual([
      { id: '2', amount: null, day: '2024-03-02', ts: '2024-03-02 01:02:03+00', country: null },
      { id: '3', amount: null, day: null, ts: null, country: null },
      {
        id: '9007199254740993',
        amount: 1,
        day: '2024-02-29',
        ts: '2024-03-01 12:00:00.25+00',
        country: 'FR',
      },
    ]);
  });

  it('overwrites every live file and records the removes', async () => {
    const first = await writeTable(v0, [
      { id: 1, country: 'FR' },
      { id: 2, country: 'DE' },
    ]);
    const { table, metrics } = await writeTable(first.table, "SELECT 10 AS id, 'IT' AS country", {
      mode: 'overwrite',
    });
    expect(metrics).toMatchObject({ numFiles: 1, numOutputRows: 1, numRemovedFiles: 2 });
    expect((await readSnapshotRows(table)).map((r) => r.id)).toEqual(['10']);
    const lines = (await readFile(join(root, '_delta_log', commitFileName(2)), 'utf8')).trim().split('\n');
    const removes = lines.map((l) => JSON.parse(l)).filter((a) => a.remove);
    expect(removes).toHaveLength(2);
    for (const { remove } of removes) {
      expect(remove).toMatchObject({ dataChange: true, extendedFileMetadata: true });
      expect(typeof remove.deletionTimestamp).toBe('number');
      expect(remove.size).toBeGreaterThan(0);
      expect(Object.keys(remove.partitionValues)).toEqual(['country']);
    }
    expect(JSON.parse(lines[0]!).commitInfo).toMatchObject({
      operationParameters: { mode: 'Overwrite' },
      isBlindAppend: false,
      operationMetrics: { numRemovedFiles: '2' },
    });
  });

  it('fails with SCHEMA_MISMATCH before writing anything when a type does not convert', async () => {
    const error = await writeTable(v0, "SELECT 'abc' AS id").catch((e: unknown) => e);
    expect(isLarderError(error, 'SCHEMA_MISMATCH')).toBe(true);
    const message = (error as LarderError).message;
    expect(message).toContain('"id"');
    expect(message).toContain('VARCHAR');
    expect(message).toContain('BIGINT');
    expect((await loadSnapshot(new LocalLogStore(root))).version).toBe(0);
    expect(await dataFiles(root)).toEqual([]);
  });

  it('fails with SCHEMA_MISMATCH for an unknown column, or adds it with mergeSchema', async () => {
    const error = await writeTable(v0, 'SELECT 1 AS id, 2 AS extra').catch((e: unknown) => e);
    expect(isLarderError(error, 'SCHEMA_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain('"extra"');
    expect(await dataFiles(root)).toEqual([]);

    const { table } = await writeTable(v0, 'SELECT 1 AS id, 2 AS extra', { mergeSchema: true });
    expect(table.schema.fields.map((f) => [f.name, f.type])).toContainEqual(['extra', 'integer']);
    expect((await readSnapshotRows(table))[0]).toMatchObject({ id: '1', extra: 2 });
    const lines = (await readFile(join(root, '_delta_log', commitFileName(1)), 'utf8')).trim().split('\n');
    expect(lines.filter((l) => l.startsWith('{"metaData"'))).toHaveLength(1);
  });

  it('widens integers, floats and dates but not strings or narrowing', async () => {
    const { table } = await writeTable(
      v0,
      "SELECT 1::INTEGER AS id, 2.5::FLOAT AS amount, DATE '2024-01-01' AS ts, 'x' AS country",
    );
    expect((await readSnapshotRows(table))[0]).toMatchObject({
      id: '1',
      amount: 2.5,
      ts: '2024-01-01 00:00:00+00',
    });
    for (const sql of [
      'SELECT 1 AS id, 2::BIGINT::VARCHAR AS amount',
      "SELECT 1 AS id, 'x'::BLOB AS country",
    ]) {
      await expect(writeTable(table, sql)).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
    }
  });

  it('accepts any query form, trailing comments, and struct fields in any order', async () => {
    const { table } = await createTable(join(dir, 'nested'), {
      schema: [
        { name: 'id', type: 'long' },
        {
          name: 's',
          type: {
            type: 'struct',
            fields: [
              { name: 'a', type: 'integer', nullable: true, metadata: {} },
              { name: 'b', type: 'string', nullable: true, metadata: {} },
            ],
          },
        },
      ],
    });
    const { table: v1 } = await writeTable(table, "FROM (VALUES (1, {'b': 'x', 'a': 2})) t(id, s); -- load");
    const { table: v2 } = await writeTable(v1, "SELECT 2 AS id, {'a': 3, 'b': 'y'} AS s -- trailing comment");
    expect(sortedById(await readSnapshotRows(v2))).toEqual([
      { id: '1', s: { a: 2, b: 'x' } },
      { id: '2', s: { a: 3, b: 'y' } },
    ]);
    await expect(writeTable(v2, "SELECT 3 AS id, {'a': 1} AS s")).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
    });
  });

  it('fails with CONSTRAINT_VIOLATION on nulls in a NOT NULL column and leaves no file behind', async () => {
    const error = await writeTable(v0, 'SELECT * FROM (VALUES (1::BIGINT), (NULL)) t(id)').catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'CONSTRAINT_VIOLATION')).toBe(true);
    expect((await loadSnapshot(new LocalLogStore(root))).version).toBe(0);
    expect(await dataFiles(root)).toEqual([]);
  });

  it('fails with SCHEMA_MISMATCH when a NOT NULL column is missing', async () => {
    await expect(writeTable(v0, "SELECT 'FR' AS country")).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });

  it('enforces CHECK constraints of the table', async () => {
    const dir2 = join(dir, 'checked');
    const { table } = await createTable(dir2, {
      schema: [{ name: 'qty', type: 'integer' }],
      properties: { 'delta.constraints.qty_positive': 'qty > 0' },
    });
    expect(table.protocol.writerFeatures).toContain('checkConstraints');
    await expect(writeTable(table, 'SELECT 3 AS qty')).resolves.toMatchObject({
      metrics: { numOutputRows: 1 },
    });
    const error = await writeTable(table, 'SELECT -1 AS qty').catch((e: unknown) => e);
    expect(isLarderError(error, 'CONSTRAINT_VIOLATION')).toBe(true);
    expect((error as Error).message).toContain('qty_positive');
    expect((await loadSnapshot(new LocalLogStore(dir2))).version).toBe(1);
  });

  it('refuses to overwrite an append-only table', async () => {
    const dir2 = join(dir, 'append-only');
    const { table } = await createTable(dir2, {
      schema: [{ name: 'x', type: 'integer' }],
      properties: { 'delta.appendOnly': true },
    });
    const { table: v1 } = await writeTable(table, 'SELECT 1 AS x');
    await expect(writeTable(v1, 'SELECT 2 AS x', { mode: 'overwrite' })).rejects.toMatchObject({
      code: 'CONSTRAINT_VIOLATION',
    });
  });

  it('lets concurrent appends from one version both land, and fails an overwrite that raced an append', async () => {
    const [a, b] = await Promise.all([
      writeTable(v0, 'SELECT 1 AS id', {}),
      writeTable(v0, 'SELECT 2 AS id', {}),
    ]);
    expect([a.table.version, b.table.version].sort()).toEqual([1, 2]);
    const v2 = await loadSnapshot(new LocalLogStore(root));
    expect(sortedById(await readSnapshotRows(v2)).map((r) => r.id)).toEqual(['1', '2']);

    await writeTable(v2, 'SELECT 3 AS id');
    const filesBefore = await dataFiles(root);
    const error = await writeTable(v2, 'SELECT 4 AS id', { mode: 'overwrite' }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
    const latest = await loadSnapshot(new LocalLogStore(root));
    expect(latest.version).toBe(3);
    expect(sortedById(await readSnapshotRows(latest)).map((r) => r.id)).toEqual(['1', '2', '3']);
    expect(await dataFiles(root), 'the losing overwrite deletes its files').toEqual(filesBefore);
  });

  it('commits an append with a read footprint as a non-blind append that fails when a concurrent commit added rows its read may match', async () => {
    const keyRead = (id: string) => ({
      version: 0,
      predicate: { kind: 'in', column: 'id', values: [id] } as const,
      files: [],
    });
    await writeTable(v0, "SELECT 7 AS id, 'FR' AS country");
    const filesBefore = await dataFiles(root);
    const error = await writeTable(v0, "SELECT 7 AS id, 'DE' AS country", {
      readFootprint: keyRead('7'),
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
    expect((error as LarderError).message).toContain("this transaction's read would have seen");
    expect(await dataFiles(root), 'the losing append deletes its files').toEqual(filesBefore);

    // A key the concurrent file's stats exclude: the append lands after it.
    const { table } = await writeTable(v0, "SELECT 8 AS id, 'FR' AS country", {
      readFootprint: keyRead('8'),
    });
    expect(table.version).toBe(2);
    const commitInfo = JSON.parse(
      (await readFile(join(root, '_delta_log', commitFileName(2)), 'utf8')).split('\n')[0]!,
    ).commitInfo;
    expect(commitInfo).toMatchObject({
      isBlindAppend: false,
      readVersion: 0,
      isolationLevel: 'Serializable',
    });
    expect(sortedById(await readSnapshotRows(table)).map((r) => r.id)).toEqual(['7', '8']);

    // Reading everything conflicts with any concurrent data change.
    const all = await writeTable(table, 'SELECT 9 AS id');
    const everything = await writeTable(table, 'SELECT 10 AS id', {
      readFootprint: { version: table.version, predicate: 'all' },
    }).catch((e: unknown) => e);
    expect(isLarderError(everything, 'CONCURRENT_MODIFICATION')).toBe(true);
    expect((await loadSnapshot(new LocalLogStore(root))).version).toBe(all.table.version);
  });

  it('fails an append whose read footprint is of an older version, and refuses one of a newer version', async () => {
    const { table: v1 } = await writeTable(v0, 'SELECT 1 AS id');
    const predicate = { kind: 'in', column: 'id', values: ['2'] } as const;
    const stale = await writeTable(v1, 'SELECT 2 AS id', { readFootprint: { version: 0, predicate } }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(stale, 'CONCURRENT_MODIFICATION')).toBe(true);
    expect((stale as LarderError).message).toContain('read version 0');
    const future = await writeTable(v1, 'SELECT 2 AS id', { readFootprint: { version: 5, predicate } }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(future, 'INVALID_ARGUMENT')).toBe(true);
    expect((await loadSnapshot(new LocalLogStore(root))).version).toBe(1);
    expect(await dataFiles(root)).toHaveLength(1);
  });

  it('commits domain metadata with the rows, enabling the domainMetadata writer feature', async () => {
    const domain = { domain: 'larder.pipeline.p', configuration: '{"watermarks":{"s":"5"}}', removed: false };
    const { table } = await writeTable(v0, 'SELECT 1 AS id', { domainMetadata: [domain] });
    expect(table.domainMetadata.get('larder.pipeline.p')).toEqual(domain);
    expect(table.protocol.minWriterVersion).toBe(7);
    expect(table.protocol.writerFeatures).toContain('domainMetadata');
    for (const feature of v0.protocol.writerFeatures ?? [])
      expect(table.protocol.writerFeatures).toContain(feature);
    const commit = await readFile(join(root, '_delta_log', commitFileName(1)), 'utf8');
    const kinds = commit
      .trim()
      .split('\n')
      .map((line) => Object.keys(JSON.parse(line) as object)[0]);
    expect(kinds.filter((k) => k === 'domainMetadata')).toHaveLength(1);
    expect(kinds).toContain('add');
    const reread = await loadSnapshot(new LocalLogStore(root));
    expect(reread.domainMetadata.get('larder.pipeline.p')?.configuration).toBe(domain.configuration);

    const next = { ...domain, configuration: '{"watermarks":{"s":"9"}}' };
    const { table: v2 } = await writeTable(table, 'SELECT 2 AS id', {
      mode: 'overwrite',
      domainMetadata: [next],
    });
    expect(v2.domainMetadata.get('larder.pipeline.p')?.configuration).toBe(next.configuration);
    expect(sortedById(await readSnapshotRows(v2)).map((r) => r.id)).toEqual(['2']);
  });

  it('refuses system domains and a domain given twice, before writing anything', async () => {
    const d = (domain: string) => ({ domain, configuration: '{}', removed: false });
    for (const domainMetadata of [[d('delta.clustering')], [d('app.x'), d('app.x')]]) {
      const error = await writeTable(v0, 'SELECT 1 AS id', { domainMetadata }).catch((e: unknown) => e);
      expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(await dataFiles(root)).toEqual([]);
    expect((await loadSnapshot(new LocalLogStore(root))).version).toBe(0);
  });

  it('fails a write whose domain a concurrent commit changed, and lets other domains through', async () => {
    const d = (domain: string, v: number) => ({ domain, configuration: `{"v":${v}}`, removed: false });
    await writeTable(v0, 'SELECT 1 AS id', { domainMetadata: [d('app.a', 1)] });
    const filesBefore = await dataFiles(root);
    const error = await writeTable(v0, 'SELECT 2 AS id', { domainMetadata: [d('app.a', 2)] }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(error, 'CONCURRENT_MODIFICATION')).toBe(true);
    expect(await dataFiles(root), 'the losing write deletes its files').toEqual(filesBefore);
    const v1 = await loadSnapshot(new LocalLogStore(root));
    expect(v1.domainMetadata.get('app.a')?.configuration).toBe('{"v":1}');
    // Appends of other domains from one version both land.
    const { table } = await writeTable(v1, 'SELECT 3 AS id', { domainMetadata: [d('app.b', 1)] });
    const { table: last } = await writeTable(v1, 'SELECT 4 AS id', { domainMetadata: [d('app.c', 1)] });
    expect(last.version).toBe(table.version + 1);
    expect([...last.domainMetadata.keys()].sort()).toEqual(['app.a', 'app.b', 'app.c']);
  });

  it('skips a write whose application transaction version was already committed', async () => {
    const app = { appId: 'nightly', version: 5 };
    const first = await writeTable(v0, 'SELECT 1 AS id', { appTransaction: app });
    expect(first.table.txns.get('nightly')?.version).toBe(5);
    const again = await writeTable(first.table, 'SELECT 1 AS id', { appTransaction: app });
    expect(again.table.version).toBe(1);
    expect(again.metrics.numOutputRows).toBe(0);
  });

  it("replaces the schema with the input's on an overwrite with overwriteSchema, in the one commit", async () => {
    const first = await writeTable(
      v0,
      `SELECT 1 AS id, 2.5 AS amount, DATE '2024-01-01' AS day, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS ts, 'FR' AS country`,
    );
    // amount goes, label is new, day becomes a string (which does not convert to a date).
    const { table } = await writeTable(
      first.table,
      `SELECT 'x' AS label, 7 AS id, 'FR' AS country, 'soon' AS day`,
      {
        mode: 'overwrite',
        overwriteSchema: true,
      },
    );
    expect(table.version).toBe(2);
    expect(table.schema.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ['id', 'long', false],
      ['country', 'string', true],
      ['day', 'string', true],
      ['label', 'string', true],
    ]);
    expect(table.partitionColumns).toEqual(['country']);
    expect(await readSnapshotRows(table)).toEqual([{ id: '7', country: 'FR', day: 'soon', label: 'x' }]);
    const actions = (await readFile(join(root, '_delta_log', commitFileName(2)), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => Object.keys(JSON.parse(l))[0]);
    expect(actions.filter((a) => a === 'metaData')).toHaveLength(1);
    expect(actions).toContain('remove');
    // The old version still reads with its own schema.
    const v1 = await loadSnapshot(new LocalLogStore(root), { version: 1 });
    expect(v1.schema.fields.map((f) => f.name)).toEqual(['id', 'amount', 'day', 'ts', 'country']);
  });

  it('refuses overwriteSchema without overwrite, and an input without a partition column, writing nothing', async () => {
    const append = (await writeTable(v0, 'SELECT 1 AS id', { overwriteSchema: true }).catch(
      (e: unknown) => e,
    )) as LarderError;
    expect(isLarderError(append, 'INVALID_ARGUMENT')).toBe(true);
    const partition = (await writeTable(v0, 'SELECT 1 AS id', {
      mode: 'overwrite',
      overwriteSchema: true,
    }).catch((e: unknown) => e)) as LarderError;
    expect(isLarderError(partition, 'SCHEMA_MISMATCH')).toBe(true);
    expect(partition.message).toMatch(/would drop its partition column "country"/);
    expect(await dataFiles(root)).toEqual([]);
    expect((await loadSnapshot(new LocalLogStore(root))).version).toBe(0);
  });

  it('keeps column-mapping ids of kept columns and gives new columns new ones under overwriteSchema', async () => {
    const mapped = (
      await createTable(join(dir, 'm'), {
        schema: [
          { name: 'id', type: 'long' },
          { name: 'a', type: 'string' },
          { name: 'b', type: 'string' },
        ],
        properties: { 'delta.columnMapping.mode': 'name' },
      })
    ).table;
    const idOf = (s: Snapshot, name: string) =>
      s.schema.fields.find((f) => f.name === name)?.metadata['delta.columnMapping.id'];
    const { table } = await writeTable(mapped, `SELECT 1 AS id, 'x' AS c`, {
      mode: 'overwrite',
      overwriteSchema: true,
    });
    expect(table.schema.fields.map((f) => f.name)).toEqual(['id', 'c']);
    expect(idOf(table, 'id')).toBe(idOf(mapped, 'id'));
    expect(idOf(table, 'c')).toBe(4);
    expect(table.properties['delta.columnMapping.maxColumnId']).toBe('4');
    expect(await (await DeltaTable.open(join(dir, 'm'))).toRows()).toEqual([{ id: '1', c: 'x' }]);
  });
});
