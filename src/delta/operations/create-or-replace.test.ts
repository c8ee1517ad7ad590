import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateTableLog } from '../../../test/protocol-validator.js';
import { isLarderError } from '../../errors.js';
import { loadSnapshot } from '../log/replay.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { CLUSTERING_DOMAIN, clusteringColumns } from './clustering.js';
import { createOrReplaceTable } from './create-or-replace.js';
import { tableHistory } from './history.js';

describe('createOrReplaceTable', () => {
  let dir: string;
  let root: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-ctas-'));
    root = join(dir, 't');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a table with its rows in one commit', async () => {
    const { table, metrics } = await createOrReplaceTable(root, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'day', type: 'date' },
      ],
      partitionColumns: ['day'],
      source: "SELECT i AS id, DATE '2024-01-01' + (i % 2)::INT AS day FROM range(10) r(i)",
    });
    expect(table.version).toBe(0);
    expect(metrics.numOutputRows).toBe(10);
    expect(table.files.length).toBe(2);
    expect((await readTableRows(table)).length).toBe(10);
    expect((await tableHistory(new LocalLogStore(root)))[0]?.operation).toBe('CREATE TABLE AS SELECT');
  });

  it('replaces schema and rows in one commit, keeping the table id and the old version readable', async () => {
    const { table: v0 } = await createOrReplaceTable(root, {
      schema: [{ name: 'id', type: 'long' }],
      source: 'SELECT 1 AS id',
    });
    const { table: v1, metrics } = await createOrReplaceTable(root, {
      schema: [
        { name: 'name', type: 'string' },
        { name: 'score', type: 'double' },
      ],
      source: "SELECT 'a' AS name, 0.5 AS score",
      replacing: v0,
    });
    expect(v1.version).toBe(1);
    expect(metrics.numRemovedFiles).toBe(1);
    expect(v1.metadata.id).toBe(v0.metadata.id);
    expect(v1.schema.fields.map((f) => f.name)).toEqual(['name', 'score']);
    expect(await readTableRows(v1)).toEqual([{ name: 'a', score: 0.5 }]);
    const old = await loadSnapshot(new LocalLogStore(root), { version: 0 });
    expect((await readTableRows(old)).map((r) => Number(r.id))).toEqual([1]);
  });

  it('clusters a new table in its creating commit and records whether it is managed', async () => {
    const { table } = await createOrReplaceTable(root, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'score', type: 'double' },
      ],
      source: 'SELECT i AS id, i / 10 AS score FROM range(10) r(i)',
      clusterBy: ['id'],
      managed: true,
    });
    expect(table.version).toBe(0);
    expect(clusteringColumns(table)).toEqual(['id']);
    expect(table.domainMetadata.get(CLUSTERING_DOMAIN)?.configuration).toBe('{"clusteringColumns":[["id"]]}');
    expect(table.protocol.writerFeatures).toEqual(expect.arrayContaining(['domainMetadata', 'clustering']));
    const history = await tableHistory(new LocalLogStore(root));
    expect(history.map((h) => h.operation)).toEqual(['CREATE TABLE AS SELECT']);
    expect(history[0]?.operationParameters).toMatchObject({ isManaged: 'true', clusterBy: '["id"]' });
    expect((await readTableRows(table)).length).toBe(10);
    expect(await validateTableLog(root)).toEqual([]);
  });

  it('replaces a table with new clustering columns in one commit, and without CLUSTER BY unclusters it', async () => {
    const { table: v0 } = await createOrReplaceTable(root, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'day', type: 'date' },
      ],
      source: "SELECT 1 AS id, DATE '2024-01-01' AS day",
      clusterBy: ['id'],
    });
    const schema = [
      { name: 'id', type: 'long' },
      { name: 'day', type: 'date' },
    ];
    const { table: v1 } = await createOrReplaceTable(root, {
      schema,
      source: "SELECT 2 AS id, DATE '2024-01-02' AS day",
      replacing: v0,
      clusterBy: ['day'],
      managed: false,
    });
    expect(v1.version).toBe(1);
    expect(clusteringColumns(v1)).toEqual(['day']);
    const { table: v2 } = await createOrReplaceTable(root, { schema, replacing: v1 });
    expect(clusteringColumns(v2)).toEqual([]);
    // Partitioned now, clustered by the Larder property: the old domain no longer decides.
    const { table: v3 } = await createOrReplaceTable(root, {
      schema: [...schema, { name: 'p', type: 'string' }],
      partitionColumns: ['p'],
      replacing: (await createOrReplaceTable(root, { schema, replacing: v2, clusterBy: ['id'] })).table,
      clusterBy: ['day'],
    });
    expect(clusteringColumns(v3)).toEqual(['day']);
    const history = await tableHistory(new LocalLogStore(root));
    expect(history.map((h) => [h.version, h.operation])).toEqual([
      [4, 'CREATE OR REPLACE TABLE'],
      [3, 'CREATE OR REPLACE TABLE'],
      [2, 'CREATE OR REPLACE TABLE'],
      [1, 'CREATE OR REPLACE TABLE AS SELECT'],
      [0, 'CREATE TABLE AS SELECT'],
    ]);
    expect(history[3]?.operationParameters).toMatchObject({ isManaged: 'false', clusterBy: '["day"]' });
    expect(await validateTableLog(root)).toEqual([]);
  });

  it('refuses a clustering column that is not a column before writing anything', async () => {
    const error = await createOrReplaceTable(root, {
      schema: [{ name: 'id', type: 'long' }],
      source: 'SELECT 1 AS id',
      clusterBy: ['nope'],
    }).catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain('nope');
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves no folder behind when the query of a new table fails', async () => {
    const error = await createOrReplaceTable(root, {
      schema: [{ name: 'id', type: 'integer' }],
      source: "SELECT 'x'::INTEGER AS id",
    }).catch((e: unknown) => e);
    expect(isLarderError(error)).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });
});
