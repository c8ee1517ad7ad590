import { mkdir, mkdtemp, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, run, sqlString } from '../../duckdb/duckdb.js';
import { isLarderError, type LarderError } from '../../errors.js';
import { DeltaTable } from '../delta-table.js';
import { readTableRows } from '../scan/scan.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { checkpointFileName, commitFileName } from '../storage/log-store.js';
import type { Action, Add, Metadata, Protocol, Remove } from './actions.js';
import { writeCheckpoint } from './checkpoint-writer.js';
import { loadSnapshot, parseCommit } from './replay.js';
import { Snapshot } from './snapshot.js';

const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }],
});

const PROTOCOL: Protocol = { minReaderVersion: 1, minWriterVersion: 2 };

const METADATA: Metadata = {
  id: 'c0ffee00-0000-4000-8000-000000000000',
  format: { provider: 'parquet', options: {} },
  schemaString: SCHEMA,
  partitionColumns: [],
  configuration: {},
  createdTime: 1_700_000_000_000,
};

const file = (path: string, extra: Partial<Add> = {}): Add => ({
  path,
  partitionValues: {},
  size: 10,
  modificationTime: 1,
  dataChange: true,
  ...extra,
});

const tombstone = (path: string, extra: Partial<Remove> = {}): Remove => ({
  path,
  deletionTimestamp: Date.now(),
  dataChange: true,
  ...extra,
});

/** The state of a snapshot that log replay decides, for exact comparisons. */
function state(s: Snapshot) {
  const byPath = <T extends { path: string }>(a: T, b: T) => a.path.localeCompare(b.path);
  return {
    version: s.version,
    protocol: s.protocol,
    metadata: s.metadata,
    files: [...s.files].sort(byPath),
    txns: [...s.txns.values()].sort((a, b) => a.appId.localeCompare(b.appId)),
    domains: [...s.domainMetadata.values()].sort((a, b) => a.domain.localeCompare(b.domain)),
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<LarderError> {
  try {
    await promise;
  } catch (error) {
    if (isLarderError(error)) return error;
    throw error;
  }
  throw new Error('expected the promise to reject with a LarderError');
}

describe('log replay', () => {
  let dir: string;
  let root: string;
  let store: LocalLogStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-replay-'));
    root = join(dir, 't');
    store = new LocalLogStore(root);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Write commit `version` by hand: one JSON line per action. */
  async function commit(version: number, actions: readonly Action[] | string): Promise<void> {
    const text =
      typeof actions === 'string' ? actions : `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`;
    await store.put(commitFileName(version), text);
  }

  /** A table with ids 1..appends, one append per version after the create. */
  async function table(appends: number, properties: Record<string, string> = {}): Promise<DeltaTable> {
    const t = await DeltaTable.create(root, {
      schema: [{ name: 'id', type: 'long' }],
      properties: { 'delta.checkpointInterval': '1000', ...properties },
    });
    for (let i = 1; i <= appends; i++) await t.append(`SELECT ${i}::BIGINT AS id`);
    return t;
  }

  const ids = async (s: Snapshot) => (await readTableRows(s)).map((r) => Number(r.id)).sort((a, b) => a - b);

  describe('corrupt commits', () => {
    it('names the file and line of a commit truncated mid-line', async () => {
      await table(2);
      const name = commitFileName(2);
      const text = await readFile(store.pathOf(name), 'utf8');
      const lines = text.trimEnd().split('\n');
      const cut = text.indexOf(lines[lines.length - 1]!) + 10;
      await writeFile(store.pathOf(name), text.slice(0, cut));
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toContain(name);
      expect(error.message).toContain(`line ${lines.length}`);
      expect(error.context.file).toBe(name);
      // Versions before the damaged one still load.
      expect(await ids(await loadSnapshot(store, { version: 1 }))).toEqual([1]);
    });

    it('names the file and line of a garbage line', async () => {
      await commit(0, [{ protocol: PROTOCOL }, { metaData: METADATA }]);
      await commit(1, `${JSON.stringify({ add: file('a.parquet') })}\nnot json at all\n`);
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toMatch(/00000000000000000001\.json is corrupt at line 2/);
    });

    it('refuses lines that are JSON but not actions', async () => {
      const bad = [
        '[1, 2]',
        'null',
        '42',
        '{"add": 5}',
        '{"add": {"size": 1}}',
        '{"metaData": "x"}',
        '{"protocol": {}}',
      ];
      for (const line of bad) {
        const error = await failure(Promise.resolve().then(() => parseCommit(3, `${line}\n`, 'c.json')));
        expect(error.code, line).toBe('CORRUPT_LOG');
        expect(error.message, line).toContain('c.json is corrupt at line 1');
      }
    });

    it('names the missing version of a gap in the commits', async () => {
      await table(3);
      await unlink(store.pathOf(commitFileName(2)));
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toContain(commitFileName(2));
      expect(error.context.version).toBe(2);
      expect(await ids(await loadSnapshot(store, { version: 1 }))).toEqual([1]);
    });

    it('refuses a log whose first commit is missing without a checkpoint', async () => {
      await table(2);
      await unlink(store.pathOf(commitFileName(0)));
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toContain(commitFileName(0));
    });
  });

  describe('checkpoints', () => {
    it('reads a checkpoint back exactly as the JSON log replays it', async () => {
      const t = await table(2, { 'delta.enableDeletionVectors': 'false' });
      await t.delete('id = 1');
      const base = await loadSnapshot(store);
      await commit(4, [
        { txn: { appId: 'ingest', version: 3, lastUpdated: 5 } },
        { txn: { appId: 'bare', version: 1 } },
        { domainMetadata: { domain: 'delta.clustering', configuration: '{"c":[]}', removed: false } },
        { add: file('x%20y.parquet', { stats: '{"numRecords":0}', tags: { k: 'v' } }) },
        {
          add: file('dv.parquet', {
            deletionVector: {
              storageType: 'i',
              pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L',
              sizeInBytes: 40,
              cardinality: 1,
            },
          }),
        },
      ]);
      const json = await loadSnapshot(store);
      expect(json.metadata).not.toHaveProperty('name');
      await writeCheckpoint(store, json);
      const fromCheckpoint = await loadSnapshot(store);
      expect(fromCheckpoint.checkpointVersion).toBe(4);
      expect(state(fromCheckpoint)).toEqual(state(json));
      expect(fromCheckpoint.metadata).not.toHaveProperty('description');
      expect(fromCheckpoint.txns.get('bare')).not.toHaveProperty('lastUpdated');
      const withoutStats = ({ stats: _stats, ...r }: Remove) => r;
      expect(fromCheckpoint.tombstones.map(withoutStats)).toEqual(json.tombstones.map(withoutStats));
      expect(fromCheckpoint.tombstones).toHaveLength(base.tombstones.length);
    });

    it('ignores a _last_checkpoint naming a checkpoint that does not exist', async () => {
      await table(3);
      await writeCheckpoint(store, await loadSnapshot(store, { version: 2 }));
      await store.put('_last_checkpoint', JSON.stringify({ version: 3, size: 4 }));
      const s = await loadSnapshot(store);
      expect(s.checkpointVersion).toBe(2);
      expect(await ids(s)).toEqual([1, 2, 3]);
      await store.put('_last_checkpoint', JSON.stringify({ version: 99, size: 4 }));
      expect(await ids(await loadSnapshot(store))).toEqual([1, 2, 3]);
    });

    it('prefers a newer listed checkpoint over an older _last_checkpoint', async () => {
      await table(4);
      await writeCheckpoint(store, await loadSnapshot(store, { version: 2 }));
      await writeCheckpoint(store, await loadSnapshot(store, { version: 3 }));
      await store.put('_last_checkpoint', JSON.stringify({ version: 2, size: 4 }));
      // Commits before the newest checkpoint are gone: only that checkpoint can rebuild the table.
      for (const v of [0, 1, 2, 3]) await unlink(store.pathOf(commitFileName(v)));
      const s = await loadSnapshot(store);
      expect(s.checkpointVersion).toBe(3);
      expect(await ids(s)).toEqual([1, 2, 3, 4]);
    });

    it('ignores a _last_checkpoint holding garbage', async () => {
      await table(2);
      await writeCheckpoint(store, await loadSnapshot(store));
      for (const garbage of ['{"version": "two"', '[]', 'null', '\u0000\u0001']) {
        await store.put('_last_checkpoint', garbage);
        const s = await loadSnapshot(store);
        expect(s.checkpointVersion).toBe(2);
        expect(await ids(s)).toEqual([1, 2]);
      }
    });

    it('falls back to the JSON commits when a checkpoint is corrupt', async () => {
      await table(3);
      const expected = state(await loadSnapshot(store));
      await writeCheckpoint(store, await loadSnapshot(store, { version: 2 }));
      await store.put(checkpointFileName(2), 'PAR1 this is not parquet');
      const s = await loadSnapshot(store);
      expect(s.checkpointVersion).toBeUndefined();
      expect(state(s)).toEqual(expected);
      expect(await ids(s)).toEqual([1, 2, 3]);
    });

    it('falls back to an older checkpoint when the newest is corrupt', async () => {
      await table(3);
      const expected = state(await loadSnapshot(store));
      await writeCheckpoint(store, await loadSnapshot(store, { version: 1 }));
      await writeCheckpoint(store, await loadSnapshot(store, { version: 2 }));
      await unlink(store.pathOf(commitFileName(0)));
      await store.put(checkpointFileName(2), 'garbage');
      const s = await loadSnapshot(store);
      expect(s.checkpointVersion).toBe(1);
      expect(state(s)).toEqual(expected);
    });

    it('names a corrupt checkpoint that nothing else can replace', async () => {
      await table(3);
      await writeCheckpoint(store, await loadSnapshot(store, { version: 2 }));
      for (const v of [0, 1, 2]) await unlink(store.pathOf(commitFileName(v)));
      await store.put(checkpointFileName(2), 'garbage');
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toContain(checkpointFileName(2));
    });

    it('treats a checkpoint without protocol or metadata as corrupt', async () => {
      await table(2);
      await writeCheckpoint(store, await loadSnapshot(store));
      const path = store.pathOf(checkpointFileName(2));
      const connection = await connect();
      try {
        await run(
          connection,
          `COPY (SELECT * FROM read_parquet(${sqlString(path)}) WHERE "add" IS NOT NULL) TO ${sqlString(`${path}.tmp`)} (FORMAT parquet)`,
        );
      } finally {
        connection.closeSync();
      }
      await store.put(checkpointFileName(2), await readFile(`${path}.tmp`));
      await unlink(`${path}.tmp`);
      const s = await loadSnapshot(store);
      expect(s.checkpointVersion).toBeUndefined();
      expect(await ids(s)).toEqual([1, 2]);
      await unlink(store.pathOf(commitFileName(0)));
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toContain(checkpointFileName(2));
    });

    describe('a checkpoint lacking the protocol or metaData action', () => {
      /** Rewrite the parquet checkpoint files `names` of version 2 keeping the rows `where` accepts. */
      async function rewrite(sources: readonly string[], targets: readonly string[], select: string) {
        const connection = await connect();
        try {
          for (const [i, target] of targets.entries()) {
            const list = sources.map((n) => sqlString(store.pathOf(n))).join(', ');
            const sql = select.replaceAll('$src', `read_parquet([${list}])`).replaceAll('$part', String(i));
            await run(
              connection,
              `COPY (${sql}) TO ${sqlString(`${store.pathOf(target)}.tmp`)} (FORMAT parquet)`,
            );
          }
        } finally {
          connection.closeSync();
        }
        for (const target of targets) {
          await store.put(target, await readFile(`${store.pathOf(target)}.tmp`));
          await unlink(`${store.pathOf(target)}.tmp`);
        }
      }

      /** The error of loading the table once the commits the checkpoint replaces are gone. */
      async function errorWithoutCommits(): Promise<LarderError> {
        for (const v of [0, 1, 2]) await unlink(store.pathOf(commitFileName(v)));
        return failure(loadSnapshot(store));
      }

      const multiPart = [1, 2].map(
        (i) => `${String(2).padStart(20, '0')}.checkpoint.${String(i).padStart(10, '0')}.0000000002.parquet`,
      );

      for (const missing of ['metaData', 'protocol'] as const) {
        it(`names a classic checkpoint and its missing ${missing} action`, async () => {
          await table(2);
          await writeCheckpoint(store, await loadSnapshot(store));
          await rewrite(
            [checkpointFileName(2)],
            [checkpointFileName(2)],
            `SELECT * FROM $src WHERE "${missing}" IS NULL`,
          );
          const error = await errorWithoutCommits();
          expect(error.code).toBe('CORRUPT_LOG');
          expect(error.message).toContain(checkpointFileName(2));
          expect(error.message).toContain(`has no ${missing} action`);
          expect(error.context.file).toBe(checkpointFileName(2));
        });

        it(`names a multi-part checkpoint and its missing ${missing} action`, async () => {
          await table(2);
          await writeCheckpoint(store, await loadSnapshot(store));
          const classic = checkpointFileName(2);
          await rewrite(
            [classic],
            multiPart,
            `SELECT * EXCLUDE (__n) FROM (SELECT *, row_number() OVER () AS __n FROM $src WHERE "${missing}" IS NULL) WHERE __n % 2 = $part`,
          );
          await unlink(store.pathOf(classic));
          const error = await errorWithoutCommits();
          expect(error.code).toBe('CORRUPT_LOG');
          expect(error.message).toContain(multiPart[0]);
          expect(error.message).toContain(`has no ${missing} action`);
        });

        it(`names a UUID-named JSON checkpoint and its missing ${missing} action`, async () => {
          const t = await table(2);
          const s = t.snapshot;
          const name = `${String(2).padStart(20, '0')}.checkpoint.3f1c2a9e-5b7d-4e0f-9a1b-2c3d4e5f6a7b.json`;
          const lines = [
            { checkpointMetadata: { version: 2 } },
            ...(missing === 'protocol' ? [] : [{ protocol: s.protocol }]),
            ...(missing === 'metaData' ? [] : [{ metaData: s.metadata }]),
            ...s.files.map((add) => ({ add })),
          ];
          await store.put(name, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
          const error = await errorWithoutCommits();
          expect(error.code).toBe('CORRUPT_LOG');
          expect(error.message).toContain(name);
          expect(error.message).toContain(`has no ${missing} action`);
        });
      }

      it('takes an action struct of nulls as no action, not as a schema to parse', async () => {
        await table(2);
        await writeCheckpoint(store, await loadSnapshot(store));
        // The metaData row keeps its struct, with every field null.
        await rewrite(
          [checkpointFileName(2)],
          [checkpointFileName(2)],
          `SELECT * REPLACE (CASE WHEN "metaData" IS NULL THEN NULL ELSE {'id': NULL::VARCHAR, 'schemaString': NULL::VARCHAR} END AS "metaData") FROM $src`,
        );
        const error = await errorWithoutCommits();
        expect(error.code).toBe('CORRUPT_LOG');
        expect(error.message).toContain(checkpointFileName(2));
        expect(error.message).toContain('has no metaData action');
        expect(error.message).not.toContain('not valid JSON');
      });
    });

    describe('multi-part', () => {
      const part = (i: number) =>
        `${String(3).padStart(20, '0')}.checkpoint.${String(i).padStart(10, '0')}.0000000002.parquet`;

      /** Split the classic checkpoint of version 3 into two parts and remove it. */
      async function splitCheckpoint(): Promise<void> {
        await writeCheckpoint(store, await loadSnapshot(store, { version: 3 }));
        const classic = store.pathOf(checkpointFileName(3));
        const connection = await connect();
        try {
          for (const i of [1, 2]) {
            await run(
              connection,
              `COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(classic)}, file_row_number = true) WHERE file_row_number % 2 = ${i - 1}) TO ${sqlString(store.pathOf(part(i)))} (FORMAT parquet)`,
            );
          }
        } finally {
          connection.closeSync();
        }
        await unlink(classic);
        await store.put('_last_checkpoint', JSON.stringify({ version: 3, size: 6, parts: 2 }));
      }

      it('reads a complete multi-part checkpoint', async () => {
        await table(4);
        const expected = state(await loadSnapshot(store));
        await splitCheckpoint();
        for (const v of [0, 1, 2, 3]) await unlink(store.pathOf(commitFileName(v)));
        const s = await loadSnapshot(store);
        expect(s.checkpointVersion).toBe(3);
        expect(state(s)).toEqual(expected);
        expect(await ids(s)).toEqual([1, 2, 3, 4]);
      });

      it('ignores an incomplete multi-part checkpoint in favour of the JSON commits', async () => {
        await table(4);
        const expected = state(await loadSnapshot(store));
        await splitCheckpoint();
        await unlink(store.pathOf(part(2)));
        const s = await loadSnapshot(store);
        expect(s.checkpointVersion).toBeUndefined();
        expect(state(s)).toEqual(expected);
      });
    });
  });

  describe('reader features', () => {
    const future: Protocol = {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['deletionVectors', 'futureFeature'],
      writerFeatures: ['deletionVectors', 'futureFeature'],
    };

    it('refuses an unknown reader feature, naming it', async () => {
      await commit(0, [{ protocol: future }, { metaData: METADATA }]);
      for (const attempt of [() => loadSnapshot(store), () => DeltaTable.open(root)]) {
        const error = await failure(attempt());
        expect(error.code).toBe('UNSUPPORTED_FEATURE');
        expect(error.message).toContain('futureFeature');
        expect(error.context.feature).toBe('futureFeature');
      }
    });

    it('refuses reader version 4', async () => {
      await commit(0, [{ protocol: { minReaderVersion: 4, minWriterVersion: 7 } }, { metaData: METADATA }]);
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('UNSUPPORTED_FEATURE');
      expect(error.message).toContain('reader version 4');
    });

    it('accepts an unknown feature that only writers need', async () => {
      await commit(0, [
        {
          protocol: {
            ...PROTOCOL,
            minReaderVersion: 1,
            minWriterVersion: 7,
            writerFeatures: ['futureFeature'],
          },
        },
        { metaData: METADATA },
      ]);
      expect((await loadSnapshot(store)).version).toBe(0);
    });

    it('refuses a table upgraded to an unknown feature, on open, refresh, checkpoint and scan', async () => {
      const t = await table(1);
      await commit(2, [{ protocol: future }]);
      expect((await failure(DeltaTable.open(root))).code).toBe('UNSUPPORTED_FEATURE');
      expect((await failure(t.refresh())).code).toBe('UNSUPPORTED_FEATURE');
      expect((await failure(t.append('SELECT 9::BIGINT AS id'))).code).toBe('UNSUPPORTED_FEATURE');
      // Time travel to a version before the upgrade still reads.
      const old = await DeltaTable.open(root, { version: 1 });
      expect(await ids(old.snapshot)).toEqual([1]);

      const upgraded = new Snapshot({
        root,
        version: 2,
        timestamp: 0,
        protocol: future,
        metadata: old.snapshot.metadata,
        files: old.snapshot.files,
        tombstones: [],
        txns: new Map(),
        domainMetadata: new Map(),
        checkpointVersion: undefined,
      });
      const error = await failure(readTableRows(upgraded));
      expect(error.code).toBe('UNSUPPORTED_FEATURE');
      expect(error.message).toContain('futureFeature');

      await writeCheckpoint(store, upgraded);
      for (const v of [0, 1, 2]) await unlink(store.pathOf(commitFileName(v)));
      expect((await failure(loadSnapshot(store))).context.feature).toBe('futureFeature');
    });
  });

  describe('time travel', () => {
    const T0 = Date.UTC(2024, 0, 1, 0, 0, 0);

    async function setCommitTimes(times: readonly number[]): Promise<void> {
      for (const [v, ms] of times.entries()) {
        await utimes(store.pathOf(commitFileName(v)), ms / 1000, ms / 1000);
      }
    }

    it('refuses versions that do not exist', async () => {
      await table(2);
      for (const version of [3, 100, -1, 1.5]) {
        const error = await failure(loadSnapshot(store, { version }));
        expect(error.code, String(version)).toBe('VERSION_NOT_FOUND');
        expect(error.message).toContain(String(version));
      }
    });

    it('refuses versions whose commits were cleaned up before the earliest checkpoint', async () => {
      await table(4);
      await writeCheckpoint(store, await loadSnapshot(store, { version: 2 }));
      for (const v of [0, 1]) await unlink(store.pathOf(commitFileName(v)));
      expect((await failure(loadSnapshot(store, { version: 1 }))).code).toBe('VERSION_NOT_FOUND');
      expect(await ids(await loadSnapshot(store, { version: 2 }))).toEqual([1, 2]);
      expect(await ids(await loadSnapshot(store, { version: 3 }))).toEqual([1, 2, 3]);
    });

    it('finds the version current at a timestamp between commits', async () => {
      await table(3);
      await setCommitTimes([T0, T0 + 60_000, T0 + 120_000, T0 + 180_000]);
      const at = async (timestamp: number | string | Date) =>
        (await loadSnapshot(store, { timestamp })).version;
      expect(await at(T0)).toBe(0);
      expect(await at(T0 + 59_999)).toBe(0);
      expect(await at(T0 + 60_000)).toBe(1);
      expect(await at(T0 + 150_000)).toBe(2);
      expect(await at('2024-01-01 00:01:30')).toBe(1);
      expect(await at('2024-01-01T02:01:30+02:00')).toBe(1);
      expect(await at(new Date(T0 + 180_000))).toBe(3);
      const s = await loadSnapshot(store, { timestamp: T0 + 150_000 });
      expect(s.timestamp).toBe(T0 + 120_000);
      expect(await ids(s)).toEqual([1, 2]);
    });

    it('refuses a timestamp before the first commit', async () => {
      await table(1);
      await setCommitTimes([T0, T0 + 60_000]);
      const error = await failure(loadSnapshot(store, { timestamp: T0 - 1 }));
      expect(error.code).toBe('VERSION_NOT_FOUND');
      expect(error.message).toContain('2024-01-01T00:00:00.000Z');
    });

    it('orders commits whose file times go backwards', async () => {
      await table(2);
      await setCommitTimes([T0, T0 + 60_000, T0 + 30_000]);
      // Version 2 counts as 1 ms after version 1.
      expect((await loadSnapshot(store, { timestamp: T0 + 45_000 })).version).toBe(0);
      expect((await loadSnapshot(store, { timestamp: T0 + 60_000 })).version).toBe(1);
      expect((await loadSnapshot(store, { timestamp: T0 + 60_001 })).version).toBe(2);
    });
  });

  describe('action reconciliation', () => {
    beforeEach(async () => {
      await commit(0, [{ protocol: PROTOCOL }, { metaData: METADATA }]);
    });

    it('brings back a removed file that a later commit adds again', async () => {
      await commit(1, [{ add: file('a.parquet') }, { add: file('b.parquet') }]);
      await commit(2, [{ remove: tombstone('a.parquet') }]);
      const s = await loadSnapshot(store);
      expect(s.files.map((f) => f.path)).toEqual(['b.parquet']);
      expect(s.tombstones.map((f) => f.path)).toEqual(['a.parquet']);
      await writeCheckpoint(store, s);
      await commit(3, [{ add: file('a.parquet', { size: 11 }) }]);
      const fromCheckpoint = await loadSnapshot(store);
      await unlink(store.pathOf(checkpointFileName(2)));
      const fromJson = await loadSnapshot(store);
      expect([fromCheckpoint.checkpointVersion, fromJson.checkpointVersion]).toEqual([2, undefined]);
      for (const snapshot of [fromCheckpoint, fromJson]) {
        expect(snapshot.files.map((f) => [f.path, f.size]).sort()).toEqual([
          ['a.parquet', 11],
          ['b.parquet', 10],
        ]);
        expect(snapshot.tombstones).toEqual([]);
      }
    });

    it('replaces a file by the same path with a deletion vector', async () => {
      const dv = (id: string, cardinality: number) => ({
        storageType: 'u' as const,
        pathOrInlineDv: id,
        offset: 1,
        sizeInBytes: 34,
        cardinality,
      });
      const stats = '{"numRecords":10}';
      await commit(1, [{ add: file('a.parquet', { stats }) }]);
      await commit(2, [
        { remove: tombstone('a.parquet') },
        { add: file('a.parquet', { stats, deletionVector: dv('ab^-aqEH.-t@S}K{vb[*k^', 2) }) },
      ]);
      let s = await loadSnapshot(store);
      expect(s.files).toHaveLength(1);
      expect(s.files[0]!.deletionVector?.cardinality).toBe(2);
      expect(s.numRecords).toBe(8);
      await commit(3, [
        { remove: tombstone('a.parquet', { deletionVector: dv('ab^-aqEH.-t@S}K{vb[*k^', 2) }) },
        { add: file('a.parquet', { stats, deletionVector: dv('cd^-aqEH.-t@S}K{vb[*k^', 5) }) },
      ]);
      s = await loadSnapshot(store);
      expect(s.files.map((f) => f.deletionVector?.pathOrInlineDv)).toEqual(['cd^-aqEH.-t@S}K{vb[*k^']);
      expect(s.numRecords).toBe(5);
      // A remove without the deletion vector still removes the file by its path.
      await commit(4, [{ remove: tombstone('a.parquet') }]);
      s = await loadSnapshot(store);
      expect(s.files).toEqual([]);
      expect(s.numRecords).toBe(0);
    });

    it('matches a remove to its add whatever form of the path either is written in', async () => {
      // One data file per id: a file read by mistake shows up as its id.
      const connection = await connect();
      const onDisk = [
        'a.parquet',
        'b c.parquet',
        'd.parquet',
        'e.parquet',
        'sub dir/f%g.parquet',
        'keep.parquet',
      ];
      try {
        await mkdir(join(root, 'sub dir'), { recursive: true });
        for (const [i, name] of onDisk.entries()) {
          await run(
            connection,
            `COPY (SELECT ${i + 1}::BIGINT AS id) TO ${sqlString(join(root, name))} (FORMAT parquet)`,
          );
        }
      } finally {
        connection.closeSync();
      }
      const uri = (name: string) => pathToFileURL(join(root, name)).href; // file:///…
      await commit(1, [
        { add: file('a.parquet') },
        { add: file('b%20c.parquet') },
        { add: file(uri('d.parquet')) },
        { add: file(join(root, 'e.parquet')) },
        { add: file('sub%20dir/f%25g.parquet') },
        { add: file('keep.parquet') },
      ]);
      await commit(2, [
        // file:/… (one slash), file:///…, a plain relative path, a relative path with a dot segment.
        { remove: tombstone(`file:${join(root, 'a.parquet')}`) },
        { remove: tombstone(uri('b c.parquet')) },
        { remove: tombstone('d.parquet') },
        { remove: tombstone('./e.parquet') },
        { remove: tombstone(`file://${join(root, 'sub%20dir', 'f%25g.parquet')}`) },
      ]);
      const json = await loadSnapshot(store);
      expect(json.files.map((f) => f.path)).toEqual(['keep.parquet']);
      expect(await ids(json)).toEqual([6]);
      await writeCheckpoint(store, json);
      const fromCheckpoint = await loadSnapshot(store);
      expect(fromCheckpoint.checkpointVersion).toBe(2);
      expect(await ids(fromCheckpoint)).toEqual([6]);
      // An add in URI form after a relative remove brings the file back once, not twice.
      await commit(3, [{ add: file(uri('a.parquet')) }, { remove: tombstone('keep.parquet') }]);
      const again = await loadSnapshot(store);
      expect(await ids(again)).toEqual([1]);
      expect(again.tombstones.map((t) => t.path)).not.toContain(`file:${join(root, 'a.parquet')}`);
    });

    it('keeps the latest txn per application and drops removed domains', async () => {
      await commit(1, [
        { txn: { appId: 'a', version: 1, lastUpdated: 10 } },
        { txn: { appId: 'b', version: 7 } },
        { domainMetadata: { domain: 'd1', configuration: '{"v":1}', removed: false } },
        { domainMetadata: { domain: 'd2', configuration: '{"v":1}', removed: false } },
      ]);
      await commit(2, [
        { txn: { appId: 'a', version: 2, lastUpdated: 20 } },
        { domainMetadata: { domain: 'd1', configuration: '{"v":2}', removed: false } },
        { domainMetadata: { domain: 'd2', configuration: '{"v":1}', removed: true } },
      ]);
      const expectations = (s: Snapshot) => {
        expect(Object.fromEntries(s.txns)).toEqual({
          a: { appId: 'a', version: 2, lastUpdated: 20 },
          b: { appId: 'b', version: 7 },
        });
        expect(Object.fromEntries(s.domainMetadata)).toEqual({
          d1: { domain: 'd1', configuration: '{"v":2}', removed: false },
        });
      };
      const json = await loadSnapshot(store);
      expectations(json);
      await writeCheckpoint(store, json);
      const fromCheckpoint = await loadSnapshot(store);
      expect(fromCheckpoint.checkpointVersion).toBe(2);
      expectations(fromCheckpoint);
      await commit(3, [{ domainMetadata: { domain: 'd2', configuration: '{"v":3}', removed: false } }]);
      expect((await loadSnapshot(store)).domainMetadata.get('d2')?.configuration).toBe('{"v":3}');
    });

    it('takes the schema from the last metaData, even if an earlier one had none', async () => {
      const { schemaString: _schema, ...withoutSchema } = METADATA;
      await commit(0, [{ protocol: PROTOCOL }, { metaData: withoutSchema as Metadata }]);
      expect((await failure(loadSnapshot(store))).code).toBe('CORRUPT_LOG');
      await commit(1, [{ metaData: METADATA }]);
      expect((await loadSnapshot(store)).schema.fields.map((f) => f.name)).toEqual(['id']);
    });

    it('counts rows from stats, minus deletion vectors, and undefined when a file has none', async () => {
      await commit(1, [
        { add: file('a.parquet', { stats: '{"numRecords":4}' }) },
        { add: file('b.parquet', { stats: '{"numRecords":6,"minValues":{"id":1}}' }) },
      ]);
      expect((await loadSnapshot(store)).numRecords).toBe(10);
      await commit(2, [{ add: file('c.parquet') }]);
      expect((await loadSnapshot(store)).numRecords).toBeUndefined();
    });
  });
});
