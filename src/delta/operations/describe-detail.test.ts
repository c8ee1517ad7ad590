import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setClusteringColumns } from './clustering.js';
import { createTable } from './create.js';
import { describeDetail } from './describe-detail.js';
import { writeTable } from './write.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-detail-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('describeDetail', () => {
  it('reports the fields of Delta’s DESCRIBE DETAIL', async () => {
    const path = join(dir, 't');
    const { table } = await createTable(path, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'day', type: 'date' },
      ],
      partitionColumns: ['day'],
      name: 'customer_features',
      description: 'features per customer',
    });
    const { table: written } = await writeTable(
      table,
      `SELECT i::BIGINT AS id, DATE '2024-01-01' + (i % 2)::INTEGER AS day FROM range(10) t(i)`,
    );
    const detail = describeDetail(written);
    expect(detail).toMatchObject({
      format: 'delta',
      id: table.metadata.id,
      name: 'customer_features',
      description: 'features per customer',
      location: path,
      partitionColumns: ['day'],
      clusteringColumns: [],
      numFiles: 2,
      sizeInBytes: written.files[0]!.size + written.files[1]!.size,
      minReaderVersion: 3,
      minWriterVersion: 7,
    });
    expect(detail.properties['delta.enableDeletionVectors']).toBe('true');
    expect(detail.tableFeatures).toEqual([...detail.tableFeatures].sort());
    expect(detail.tableFeatures).toContain('deletionVectors');
    expect(detail.createdAt?.getTime()).toBe(table.metadata.createdTime);
    expect(detail.lastModified.getTime()).toBe(written.timestamp);
  });

  it('lists the clustering columns and the features a legacy protocol implies', async () => {
    const { table } = await createTable(join(dir, 't'), {
      schema: [{ name: 'id', type: 'long' }],
      properties: { 'delta.enableDeletionVectors': 'false', 'delta.enableChangeDataFeed': 'false' },
    });
    expect(describeDetail(table).tableFeatures).toEqual(['appendOnly', 'invariants']);
    const { table: clustered } = await setClusteringColumns(table, ['id']);
    const detail = describeDetail(clustered);
    expect(detail.clusteringColumns).toEqual(['id']);
    expect(detail.tableFeatures).toEqual(['appendOnly', 'clustering', 'domainMetadata', 'invariants']);
  });
});
