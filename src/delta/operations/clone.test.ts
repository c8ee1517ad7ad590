import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { loadSnapshot, readCommit } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { cloneTable } from './clone.js';
import { clusteringColumns, setClusteringColumns } from './clustering.js';
import { createTable } from './create.js';
import { deleteFrom } from './delete.js';
import { mergeTable } from './merge.js';
import { optimizeTable } from './optimize.js';
import { vacuumTable } from './vacuum.js';
import { writeTable } from './write.js';

const DAY = 86_400_000;
let dir: string;
let sourcePath: string;
let clonePath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-clone-'));
  sourcePath = join(dir, 'source table');
  clonePath = join(dir, 'clone');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'v', type: 'string' },
];
const rows = (from: number, n: number) =>
  `SELECT (${from} + i)::BIGINT AS id, 'v' || (${from} + i) AS v FROM range(${n}) t(i)`;
const sorted = (r: Record<string, unknown>[]) => r.map((x) => JSON.stringify(x)).sort();

/** Every file under the source root with its size and mtime. */
async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const s = await stat(p);
        out.push(`${p}:${s.size}:${s.mtimeMs}`);
      }
    }
  };
  await walk(root);
  return out.sort();
}

async function source(): Promise<Snapshot> {
  const { table } = await createTable(sourcePath, { schema, properties: { 'delta.appendOnly': 'false' } });
  const v1 = (await writeTable(table, rows(0, 50))).table;
  const v2 = (await writeTable(v1, rows(50, 50))).table;
  return (await deleteFrom(v2, 'id % 10 = 0')).table; // a deletion vector in the source
}

describe('cloneTable', () => {
  it('creates a table referencing the source files at the cloned version', async () => {
    const latest = await source();
    const atV2 = await loadSnapshot(new LocalLogStore(sourcePath), { version: 2 });
    const { table, metrics } = await cloneTable(atV2, clonePath, { properties: { 'larder.env': 'dev' } });
    expect(table.version).toBe(0);
    expect(metrics).toMatchObject({ sourceNumOfFiles: 2, numCopiedFiles: 0 });
    expect(sorted(await readTableRows(table))).toEqual(sorted(await readTableRows(atV2)));
    expect(table.metadata.id).not.toBe(atV2.metadata.id);
    expect(table.schema).toEqual(atV2.schema);
    expect(table.protocol).toEqual(atV2.protocol);
    expect(table.properties).toEqual({ ...atV2.properties, 'larder.env': 'dev' });
    expect(table.files.every((f) => f.path.startsWith('file:///'))).toBe(true);
    const commit = await readCommit(new LocalLogStore(clonePath), 0);
    expect(commit.commitInfo?.operation).toBe('CLONE');
    expect(commit.commitInfo?.operationParameters).toEqual({
      source: sourcePath,
      sourceVersion: 2,
      isShallow: true,
    });

    // The latest version carries a deletion vector: it becomes an absolute one.
    const { table: ofLatest } = await cloneTable(latest, join(dir, 'clone2'));
    const withDv = ofLatest.files.find((f) => f.deletionVector);
    expect(withDv?.deletionVector?.storageType).toBe('p');
    expect(withDv?.deletionVector?.pathOrInlineDv.startsWith('file:///')).toBe(true);
    expect(sorted(await readTableRows(ofLatest))).toEqual(sorted(await readTableRows(latest)));
    expect(await readTableRows(ofLatest)).toHaveLength(90);
  });

  it('refuses an existing target unless replacing it', async () => {
    const latest = await source();
    const { table: first } = await cloneTable(latest, clonePath);
    const error = await cloneTable(latest, clonePath).catch((e: unknown) => e);
    expect(isLarderError(error, 'TABLE_ALREADY_EXISTS')).toBe(true);
    const written = (await writeTable(first, rows(1000, 5))).table;
    const atV1 = await loadSnapshot(new LocalLogStore(sourcePath), { version: 1 });
    const { table: replaced, metrics } = await cloneTable(atV1, clonePath, { replace: true });
    expect(replaced.version).toBe(written.version + 1);
    expect(replaced.metadata.id).toBe(first.metadata.id);
    expect(metrics.numRemovedFiles).toBe(written.files.length);
    expect(sorted(await readTableRows(replaced))).toEqual(sorted(await readTableRows(atV1)));
    const self = await cloneTable(latest, sourcePath, { replace: true }).catch((e: unknown) => e);
    expect(isLarderError(self, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('keeps the clustering columns of the source', async () => {
    const { table } = await createTable(sourcePath, { schema });
    const { table: clustered } = await setClusteringColumns(table, ['id']);
    const { table: clone } = await cloneTable(clustered, clonePath);
    expect(clusteringColumns(clone)).toEqual(['id']);
  });

  it('never modifies or deletes the source files: writes, merge, delete, optimize, vacuum', async () => {
    const latest = await source();
    const sourceRows = sorted(await readTableRows(latest));
    const before = await listing(sourcePath);
    let clone = (await cloneTable(latest, clonePath)).table;
    clone = (await writeTable(clone, rows(200, 10))).table;
    clone = (
      await mergeTable(clone, {
        source: `SELECT id, 'merged' AS v FROM range(5, 15) t(id)`,
        on: ['id'],
      })
    ).table;
    clone = (await deleteFrom(clone, 'id BETWEEN 40 AND 60')).table;
    clone = (await optimizeTable(clone)).table;
    expect(clone.files.every((f) => !f.path.startsWith('file:'))).toBe(true);
    const cloneRows = await readTableRows(clone);
    // Eight days later every tombstone of the clone (pointing into the source) has expired.
    const { metrics } = await vacuumTable(clone, { now: Date.now() + 8 * DAY });
    expect(metrics.numDeletedFiles).toBeGreaterThan(0);
    expect(metrics.filesDeleted.every((f) => !f.includes('..'))).toBe(true);

    expect(await listing(sourcePath)).toEqual(before);
    expect(sorted(await readTableRows(await loadSnapshot(new LocalLogStore(sourcePath))))).toEqual(
      sourceRows,
    );
    const after = await loadSnapshot(new LocalLogStore(clonePath));
    expect(sorted(await readTableRows(after))).toEqual(sorted(cloneRows));
    // ids 5..14: nine updated, and 10 (deleted in the source) inserted.
    expect(cloneRows.filter((r) => r.v === 'merged')).toHaveLength(10);
  });
});
