import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { loadSnapshot } from '../log/replay.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
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

  it('leaves no folder behind when the query of a new table fails', async () => {
    const error = await createOrReplaceTable(root, {
      schema: [{ name: 'id', type: 'integer' }],
      source: "SELECT 'x'::INTEGER AS id",
    }).catch((e: unknown) => e);
    expect(isLarderError(error)).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });
});
