import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { loadSnapshot, readCommit } from '../log/replay.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { Transaction } from '../transaction/transaction.js';
import {
  CLUSTERING_DOMAIN,
  CLUSTERING_PROPERTY,
  clusteringColumns,
  setClusteringColumns,
} from './clustering.js';
import { createTable } from './create.js';
import { CLUSTERING_PROVIDER, optimizeTable, ZORDER_TAG } from './optimize.js';
import { writeTable } from './write.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-clustering-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const schema = [
  { name: 'id', type: 'long', nullable: false },
  { name: 'x', type: 'integer' },
  { name: 'p', type: 'string' },
];
const rows = (from: number, n: number) =>
  `SELECT (${from} + i)::BIGINT AS id, (hash(i + ${from}) % 1000)::INTEGER AS x, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END AS p FROM range(${n}) t(i)`;

describe('setClusteringColumns', () => {
  it('writes the clustering domain and upgrades the protocol, keeping its features', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, { schema });
    const before = table.protocol;
    const { table: clustered } = await setClusteringColumns(table, ['X']);
    expect(clusteringColumns(clustered)).toEqual(['x']);
    expect(JSON.parse(clustered.domainMetadata.get(CLUSTERING_DOMAIN)!.configuration)).toEqual({
      clusteringColumns: [['x']],
    });
    expect(clustered.protocol.minWriterVersion).toBe(7);
    expect(clustered.protocol.minReaderVersion).toBe(before.minReaderVersion);
    expect(clustered.protocol.readerFeatures).toEqual(before.readerFeatures);
    expect(clustered.protocol.writerFeatures).toEqual(
      expect.arrayContaining([...(before.writerFeatures ?? []), 'domainMetadata', 'clustering']),
    );
    const commit = await readCommit(new LocalLogStore(path), clustered.version);
    expect(commit.commitInfo?.operation).toBe('CLUSTER BY');
    expect(commit.commitInfo?.operationParameters).toMatchObject({ newClusteringColumns: 'x' });
    // The table stays writable, and the clustering survives a reload.
    const { table: written } = await writeTable(clustered, rows(0, 10));
    expect(written.version).toBe(clustered.version + 1);
    expect(clusteringColumns(await loadSnapshot(new LocalLogStore(path)))).toEqual(['x']);
  });

  it('moves a legacy protocol to writer 7 with the features its version implied', async () => {
    const { table } = await createTable(join(dir, 't'), {
      schema,
      properties: { 'delta.enableDeletionVectors': 'false' },
    });
    expect(table.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 4 });
    const { table: clustered } = await setClusteringColumns(table, ['x', 'id']);
    expect(clustered.protocol.minReaderVersion).toBe(1);
    expect(clustered.protocol.readerFeatures).toBeUndefined();
    expect(clustered.protocol.writerFeatures).toEqual(
      expect.arrayContaining([
        'appendOnly',
        'invariants',
        'checkConstraints',
        'changeDataFeed',
        'clustering',
      ]),
    );
    expect(clusteringColumns(clustered)).toEqual(['x', 'id']);
    const none = await setClusteringColumns(clustered, []);
    expect(clusteringColumns(none.table)).toEqual([]);
    expect(none.table.protocol).toEqual(clustered.protocol);
  });

  it('uses physical names in the domain and logical names in the API under column mapping', async () => {
    const { table } = await createTable(join(dir, 't'), {
      schema,
      properties: { 'delta.columnMapping.mode': 'name' },
    });
    const { table: clustered } = await setClusteringColumns(table, ['x']);
    const physical = clustered.schema.fields.find((f) => f.name === 'x')!.metadata[
      'delta.columnMapping.physicalName'
    ];
    expect(clustered.domainMetadata.get(CLUSTERING_DOMAIN)!.configuration).toBe(
      JSON.stringify({ clusteringColumns: [[physical]] }),
    );
    expect(clusteringColumns(clustered)).toEqual(['x']);
  });

  it('reads the flat form of the protocol example too', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, { schema });
    const { table: clustered } = await setClusteringColumns(table, ['x']);
    const { snapshot } = await new Transaction(new LocalLogStore(path), clustered, { operation: 'TEST' })
      .addActions({
        domainMetadata: {
          domain: CLUSTERING_DOMAIN,
          configuration: '{"clusteringColumns":["id","x"]}',
          removed: false,
        },
      })
      .commit();
    expect(clusteringColumns(snapshot)).toEqual(['id', 'x']);
  });

  it('keeps a partitioned table valid: the columns go to a Larder property', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, { schema, partitionColumns: ['p'] });
    const { table: clustered } = await setClusteringColumns(table, ['x']);
    expect(clustered.protocol).toEqual(table.protocol);
    expect(clustered.domainMetadata.has(CLUSTERING_DOMAIN)).toBe(false);
    expect(clustered.properties[CLUSTERING_PROPERTY]).toBe('["x"]');
    expect(clusteringColumns(clustered)).toEqual(['x']);
    let current = clustered;
    for (let i = 0; i < 3; i++) ({ table: current } = await writeTable(current, rows(i * 100, 100)));
    const { table: optimized } = await optimizeTable(current);
    expect(optimized.files).toHaveLength(2);
    expect(optimized.files.every((f) => f.tags?.[ZORDER_TAG] === '["x"]' && !f.clusteringProvider)).toBe(
      true,
    );
    const none = await setClusteringColumns(optimized, []);
    expect(none.table.properties[CLUSTERING_PROPERTY]).toBeUndefined();
  });

  it('refuses unknown columns and columns without statistics, committing nothing', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, {
      schema,
      properties: { 'delta.dataSkippingNumIndexedCols': '1' },
    });
    const unknown = await setClusteringColumns(table, ['nope']).catch((e: unknown) => e);
    expect(isLarderError(unknown, 'INVALID_ARGUMENT')).toBe(true);
    expect((unknown as Error).message).toContain('"nope"');
    const noStats = await setClusteringColumns(table, ['x']).catch((e: unknown) => e);
    expect(isLarderError(noStats, 'INVALID_ARGUMENT')).toBe(true);
    expect((noStats as Error).message).toContain('"x"');
    expect((await loadSnapshot(new LocalLogStore(path))).version).toBe(0);
  });
});

describe('createTable with clustering columns', () => {
  it('creates a clustered table in one commit: protocol, metadata and clustering domain', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, { schema, clusterBy: ['X'], managed: true });
    expect(table.version).toBe(0);
    expect(clusteringColumns(table)).toEqual(['x']);
    expect(table.protocol.minWriterVersion).toBe(7);
    expect(table.protocol.writerFeatures).toEqual(expect.arrayContaining(['domainMetadata', 'clustering']));
    const store = new LocalLogStore(path);
    expect((await store.list()).filter((n) => n.endsWith('.json'))).toEqual(['00000000000000000000.json']);
    const commit = await readCommit(store, 0);
    expect(commit.protocol).toEqual(table.protocol);
    expect(commit.metaData).toBeDefined();
    expect(commit.domainMetadata).toEqual([
      { domain: CLUSTERING_DOMAIN, configuration: '{"clusteringColumns":[["x"]]}', removed: false },
    ]);
    expect(commit.commitInfo?.operation).toBe('CREATE TABLE');
    expect(commit.commitInfo?.operationParameters).toMatchObject({ isManaged: 'true', clusterBy: '["x"]' });
    // It reloads clustered and stays writable.
    expect(clusteringColumns(await loadSnapshot(store))).toEqual(['x']);
    expect((await writeTable(table, rows(0, 10))).table.version).toBe(1);
  });

  it('keeps the columns of a partitioned table in the Larder property, and records external tables as unmanaged', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, { schema, partitionColumns: ['p'], clusterBy: ['x'] });
    expect(table.properties[CLUSTERING_PROPERTY]).toBe('["x"]');
    expect(table.domainMetadata.has(CLUSTERING_DOMAIN)).toBe(false);
    expect(clusteringColumns(table)).toEqual(['x']);
    const commit = await readCommit(new LocalLogStore(path), 0);
    expect(commit.commitInfo?.operationParameters).toMatchObject({ isManaged: 'false' });
  });

  it('refuses clustering columns that cannot cluster, creating nothing', async () => {
    const path = join(dir, 't');
    for (const clusterBy of [['nope'], ['p']]) {
      const error = await createTable(path, {
        schema,
        partitionColumns: clusterBy[0] === 'p' ? ['p'] : [],
        clusterBy,
      }).catch((e: unknown) => e);
      expect(isLarderError(error, 'INVALID_ARGUMENT'), clusterBy[0]).toBe(true);
      expect((error as Error).message).toContain(`"${clusterBy[0]}"`);
    }
    expect(await new LocalLogStore(path).list()).toEqual([]);
  });
});

describe('OPTIMIZE on a clustered table', () => {
  it('clusters unclustered files incrementally and marks them liquid', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, { schema });
    let current = (await setClusteringColumns(table, ['x'])).table;
    for (let i = 0; i < 4; i++) ({ table: current } = await writeTable(current, rows(i * 100, 100)));
    const first = await optimizeTable(current);
    expect(first.metrics.numRemovedFiles).toBe(4);
    expect(first.table.files.every((f) => f.clusteringProvider === CLUSTERING_PROVIDER)).toBe(true);
    const commit = await readCommit(new LocalLogStore(path), first.table.version);
    expect(commit.commitInfo?.operationParameters).toMatchObject({ clusterBy: '["x"]', zOrderBy: '[]' });

    // Nothing new: nothing to do.
    expect((await optimizeTable(first.table)).table.version).toBe(first.table.version);

    // New files only are clustered next time.
    const { table: appended } = await writeTable(first.table, rows(1000, 50));
    const second = await optimizeTable(appended);
    expect(second.metrics.numRemovedFiles).toBe(1);
    expect(second.table.files.every((f) => f.clusteringProvider === CLUSTERING_PROVIDER)).toBe(true);
    expect(await readTableRows(second.table)).toHaveLength(450);
  });
});
