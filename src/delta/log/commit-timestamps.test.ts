import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError, type LarderError } from '../../errors.js';
import { tableHistory } from '../operations/history.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import type { Action, Metadata, Protocol } from './actions.js';
import { commitTiming, FILE_TIMES } from './commit-timestamps.js';
import { commitTimestamps, listLog, loadSnapshot } from './replay.js';

const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

const PROTOCOL: Protocol = {
  minReaderVersion: 1,
  minWriterVersion: 7,
  writerFeatures: ['inCommitTimestamp'],
};

function metadata(configuration: Record<string, string>): Metadata {
  return {
    id: 'c0ffee00-0000-4000-8000-000000000001',
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify({
      type: 'struct',
      fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }],
    }),
    partitionColumns: [],
    configuration,
    createdTime: T0,
  };
}

async function failure(promise: Promise<unknown>): Promise<LarderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLarderError(error)) throw new Error(`expected a LarderError, got ${String(error)}`);
  return error;
}

describe('commit timestamps', () => {
  let dir: string;
  let store: LocalLogStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-commit-times-'));
    store = new LocalLogStore(join(dir, 't'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Write commit `version` (commitInfo first, as the protocol requires) and set its file time. */
  async function commit(
    version: number,
    fileTime: number,
    inCommitTimestamp: number | undefined,
    actions: readonly Action[] = [],
  ): Promise<void> {
    const info = {
      commitInfo: {
        timestamp: fileTime,
        operation: 'WRITE',
        ...(inCommitTimestamp === undefined ? {} : { inCommitTimestamp }),
      },
    };
    await store.put(
      commitFileName(version),
      `${[info, ...actions].map((a) => JSON.stringify(a)).join('\n')}\n`,
    );
    await utimes(store.pathOf(commitFileName(version)), new Date(fileTime), new Date(fileTime));
  }

  const versionAt = async (ms: number) => (await loadSnapshot(store, { timestamp: ms })).version;

  it('refuses a timestamp after the latest commit, naming the table, the timestamp and the latest commit', async () => {
    await commit(0, T0, undefined, [{ protocol: PROTOCOL }, { metaData: metadata({}) }]);
    await commit(1, T0 + HOUR, undefined);
    expect(await versionAt(T0 + HOUR)).toBe(1);
    const error = await failure(loadSnapshot(store, { timestamp: T0 + 2 * HOUR }));
    expect(error.code).toBe('VERSION_NOT_FOUND');
    expect(error.message).toContain(store.root);
    expect(error.message).toContain(new Date(T0 + 2 * HOUR).toISOString());
    expect(error.message).toContain(new Date(T0 + HOUR).toISOString());
  });

  it('times travel by the in-commit timestamps, whatever the commit files’ times say', async () => {
    const configuration = { 'delta.enableInCommitTimestamps': 'true' };
    // File times run backwards and years later; the in-commit timestamps are an hour apart.
    await commit(0, T0 + 900 * HOUR, T0, [{ protocol: PROTOCOL }, { metaData: metadata(configuration) }]);
    await commit(1, T0 + 800 * HOUR, T0 + HOUR);
    await commit(2, T0 + 700 * HOUR, T0 + 2 * HOUR);
    await commit(3, T0 + 600 * HOUR, T0 + 3 * HOUR);
    expect(await versionAt(T0)).toBe(0);
    expect(await versionAt(T0 + HOUR - 1)).toBe(0);
    expect(await versionAt(T0 + HOUR + 30_000)).toBe(1);
    expect(await versionAt(T0 + 3 * HOUR)).toBe(3);
    expect((await loadSnapshot(store, { timestamp: T0 + 2.5 * HOUR })).timestamp).toBe(T0 + 2 * HOUR);
    expect((await failure(loadSnapshot(store, { timestamp: T0 - 1 }))).code).toBe('VERSION_NOT_FOUND');
    const late = await failure(loadSnapshot(store, { timestamp: T0 + 650 * HOUR }));
    expect(late.code).toBe('VERSION_NOT_FOUND');
    expect(late.message).toContain(new Date(T0 + 3 * HOUR).toISOString());
    const listing = await listLog(store);
    expect([...(await commitTimestamps(store, listing))]).toEqual([
      [0, T0],
      [1, T0 + HOUR],
      [2, T0 + 2 * HOUR],
      [3, T0 + 3 * HOUR],
    ]);
    // DESCRIBE HISTORY shows the same timestamps time travel uses.
    expect((await tableHistory(store)).map((e) => [e.version, e.timestamp])).toEqual([
      [3, T0 + 3 * HOUR],
      [2, T0 + 2 * HOUR],
      [1, T0 + HOUR],
      [0, T0],
    ]);
  });

  it('uses file times before the enablement version and in-commit timestamps from it', async () => {
    await commit(0, T0, undefined, [{ protocol: PROTOCOL }, { metaData: metadata({}) }]);
    await commit(1, T0 + HOUR, undefined);
    // Enabled at version 2: its in-commit timestamp is after version 1's file time.
    const enabled = {
      'delta.enableInCommitTimestamps': 'true',
      'delta.inCommitTimestampEnablementVersion': '2',
      'delta.inCommitTimestampEnablementTimestamp': String(T0 + 2 * HOUR),
    };
    await commit(2, T0 + 100 * HOUR, T0 + 2 * HOUR, [{ metaData: metadata(enabled) }]);
    await commit(3, T0 + 50 * HOUR, T0 + 3 * HOUR);
    expect(commitTiming(enabled)).toEqual({ inCommitFrom: 2, enablementTimestamp: T0 + 2 * HOUR });
    expect(commitTiming({})).toEqual(FILE_TIMES);
    expect(await versionAt(T0 + 30 * 60_000)).toBe(0);
    expect(await versionAt(T0 + 2 * HOUR - 1)).toBe(1);
    expect(await versionAt(T0 + 2 * HOUR)).toBe(2);
    expect(await versionAt(T0 + 3 * HOUR)).toBe(3);
    // File time of version 3 is 50 h later, but its commit was at 3 h: later than that is after the latest.
    expect((await failure(loadSnapshot(store, { timestamp: T0 + 10 * HOUR }))).code).toBe(
      'VERSION_NOT_FOUND',
    );
    expect([...(await commitTimestamps(store, await listLog(store)))]).toEqual([
      [0, T0],
      [1, T0 + HOUR],
      [2, T0 + 2 * HOUR],
      [3, T0 + 3 * HOUR],
    ]);
  });

  it('names a commit of an in-commit-timestamp table that lacks its timestamp', async () => {
    const configuration = { 'delta.enableInCommitTimestamps': 'true' };
    await commit(0, T0, T0, [{ protocol: PROTOCOL }, { metaData: metadata(configuration) }]);
    await commit(1, T0 + HOUR, undefined);
    await commit(2, T0 + 2 * HOUR, T0 + 2 * HOUR);
    const error = await failure(commitTimestamps(store, await listLog(store)));
    expect(error.code).toBe('CORRUPT_LOG');
    expect(error.message).toContain(commitFileName(1));
  });
});
