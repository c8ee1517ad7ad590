import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../duckdb/duckdb.js';
import { isLarderError } from '../../errors.js';
import { loadSnapshot } from '../log/replay.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { planChanges } from './change-data-feed.js';
import { createTable } from './create.js';
import { deleteFrom } from './delete.js';
import { tableHistory } from './history.js';
import { mergeTable } from './merge.js';
import { writeTable } from './write.js';

async function changes(path: string, startVersion: number, endVersion?: number) {
  const { sql } = await planChanges(new LocalLogStore(path), { startVersion, endVersion });
  const connection = await connect();
  try {
    const result = await connection.runAndReadAll(
      `SELECT id, value, _change_type, _commit_version, _commit_timestamp FROM (${sql}) ORDER BY _commit_version, id, list_position(['update_preimage', 'update_postimage', 'delete', 'insert'], _change_type)`,
    );
    return result.getRowObjectsJson().map((r) => ({
      id: Number(r.id),
      value: r.value,
      type: r._change_type,
      version: Number(r._commit_version),
      hasTimestamp: typeof r._commit_timestamp === 'string',
    }));
  } finally {
    connection.closeSync();
  }
}

describe.each([
  { name: 'deletion vectors', properties: {} },
  { name: 'copy-on-write', properties: { 'delta.enableDeletionVectors': 'false' } },
])('change data feed ($name)', ({ properties }) => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-cdf-'));
    path = join(dir, 't');
    const { table } = await createTable(path, {
      schema: [
        { name: 'id', type: 'long', nullable: false },
        { name: 'value', type: 'string' },
      ],
      properties,
    });
    const v1 = await writeTable(table, `SELECT i::BIGINT AS id, 'v' || i AS value FROM range(5) t(i)`);
    const v2 = await mergeTable(v1.table, {
      source: `SELECT * FROM (VALUES (1::BIGINT, 'one'), (9::BIGINT, 'nine')) s(id, value)`,
      on: ['id'],
    });
    await deleteFrom(v2.table, 'id = 3');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns inserts, update pre- and post-images and deletes with their versions', async () => {
    const rows = await changes(path, 1);
    expect(rows.filter((r) => r.version === 1)).toHaveLength(5);
    expect(rows.filter((r) => r.version === 1).every((r) => r.type === 'insert')).toBe(true);
    expect(rows.filter((r) => r.version === 2).map(({ id, value, type }) => ({ id, value, type }))).toEqual([
      { id: 1, value: 'v1', type: 'update_preimage' },
      { id: 1, value: 'one', type: 'update_postimage' },
      { id: 9, value: 'nine', type: 'insert' },
    ]);
    expect(rows.filter((r) => r.version === 3).map(({ id, type }) => ({ id, type }))).toEqual([
      { id: 3, type: 'delete' },
    ]);
    expect(rows.every((r) => r.hasTimestamp)).toBe(true);
  });

  it('stamps each change with the commit timestamp that history and time travel use', async () => {
    const store = new LocalLogStore(path);
    // Version 3's file time goes backwards: it counts as 1 ms after version 2.
    const T0 = Date.UTC(2024, 0, 1);
    for (const [version, ms] of [T0, T0 + 60_000, T0 + 120_000, T0 + 90_000].entries()) {
      await utimes(store.pathOf(commitFileName(version)), ms / 1000, ms / 1000);
    }
    const { sql } = await planChanges(store, { startVersion: 1 });
    const connection = await connect();
    try {
      const result = await connection.runAndReadAll(
        `SELECT DISTINCT _commit_version, epoch_ms(_commit_timestamp) AS ms FROM (${sql}) ORDER BY 1`,
      );
      const stamps = result.getRowObjectsJson().map((r) => [Number(r._commit_version), Number(r.ms)]);
      expect(stamps).toEqual([
        [1, T0 + 60_000],
        [2, T0 + 120_000],
        [3, T0 + 120_001],
      ]);
      const history = await tableHistory(store);
      for (const [version, ms] of stamps) {
        expect(history.find((h) => h.version === version)?.timestamp).toBe(ms);
      }
    } finally {
      connection.closeSync();
    }
  });

  it('limits the range to the versions asked for', async () => {
    const rows = await changes(path, 2, 2);
    expect(new Set(rows.map((r) => r.version))).toEqual(new Set([2]));
  });

  it('refuses versions that did not record the feed', async () => {
    const other = join(dir, 'plain');
    const { table } = await createTable(other, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'value', type: 'string' },
      ],
      properties: { 'delta.enableChangeDataFeed': 'false' },
    });
    await writeTable(table, `SELECT 1::BIGINT AS id, 'x' AS value`);
    const error = await planChanges(new LocalLogStore(other), { startVersion: 0 }).catch((e: unknown) => e);
    expect(isLarderError(error, 'CHANGE_DATA_NOT_RECORDED')).toBe(true);
    expect((await loadSnapshot(new LocalLogStore(other))).version).toBe(1);
  });
});
