import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateTableLog } from '../../../test/protocol-validator.js';
import { connect, queryJson, run, sqlString } from '../../duckdb/duckdb.js';
import { isLarderError, type LarderError } from '../../errors.js';
import { DeltaTable } from '../delta-table.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { checkpointFileName, commitFileName } from '../storage/log-store.js';
import type { Protocol } from './actions.js';
import { writeCheckpoint } from './checkpoint-writer.js';
import { loadSnapshot } from './replay.js';
import type { Snapshot } from './snapshot.js';
import { lastCheckpointChecksum, readLastCheckpoint, v2CheckpointActions } from './v2-checkpoint.js';

// Parquet types of the checkpoint action columns (PROTOCOL.md "Checkpoint Schema").
const MAP = 'MAP(VARCHAR, VARCHAR)';
const DV =
  'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT, maxRowIndex BIGINT)';
const COLUMN_TYPES: Readonly<Record<string, string>> = {
  add: `STRUCT(path VARCHAR, partitionValues ${MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${MAP}, deletionVector ${DV}, baseRowId BIGINT, defaultRowCommitVersion BIGINT, clusteringProvider VARCHAR)`,
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${MAP}, size BIGINT, deletionVector ${DV})`,
  metaData: `STRUCT(id VARCHAR, "name" VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${MAP}, createdTime BIGINT)`,
  protocol:
    'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
  txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
  domainMetadata: 'STRUCT("domain" VARCHAR, configuration VARCHAR, removed BOOLEAN)',
  checkpointMetadata: `STRUCT(version BIGINT, tags ${MAP})`,
  sidecar: `STRUCT(path VARCHAR, sizeInBytes BIGINT, modificationTime BIGINT, tags ${MAP})`,
};

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

/** Rows of a version as sorted `id:name:p` strings. */
async function rowsAt(root: string, version?: number): Promise<string[]> {
  const table = await DeltaTable.open(root, version === undefined ? {} : { version });
  return (await table.toRows()).map((r) => `${r.id}:${r.name}:${r.p}`).sort();
}

/** The replayed state of a snapshot, for exact comparisons. */
function state(s: Snapshot) {
  const withoutNulls = <T>(value: T): T =>
    JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v === null ? undefined : v))) as T;
  return withoutNulls({
    version: s.version,
    protocol: s.protocol,
    metadata: s.metadata,
    files: [...s.files].sort((a, b) => a.path.localeCompare(b.path)),
    domains: [...s.domainMetadata.values()],
  });
}

/** The protocol of `s` with `v2Checkpoint` in both feature lists (reader 3, writer 7). */
function withV2Checkpoint(protocol: Protocol): Protocol {
  const add = (list: readonly string[] | undefined) => [
    ...(list ?? []).filter((f) => f !== 'v2Checkpoint'),
    'v2Checkpoint',
  ];
  return {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: add(protocol.minReaderVersion >= 3 ? protocol.readerFeatures : []),
    writerFeatures: add(protocol.minWriterVersion >= 7 ? protocol.writerFeatures : []),
  };
}

describe('V2 checkpoints', () => {
  let dir: string;
  let root: string;
  let store: LocalLogStore;
  /** Rows of each version, read before any commit was deleted. */
  let expected: Map<number, string[]>;
  /** The snapshot of the checkpoint version, read before any commit was deleted. */
  let atCheckpoint: Snapshot;
  /** The snapshot of the latest version, read before any commit was deleted. */
  let latest: Snapshot;
  const CHECKPOINT = 3;
  const LATEST = 6;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-v2-checkpoint-'));
    root = join(dir, 't');
    store = new LocalLogStore(root);
    const table = await DeltaTable.create(root, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'name', type: 'string' },
        { name: 'p', type: 'string' },
      ],
      partitionColumns: ['p'],
      properties: { 'delta.checkpointInterval': '1000' },
    });
    const rows = (ids: number[], p: string) =>
      `SELECT id::BIGINT AS id, 'n' || id AS name, '${p}' AS p FROM unnest([${ids.join(',')}]) AS u(id)`;
    await table.append(rows([1, 2, 3], 'a')); // 1
    await table.merge({
      source: `SELECT 2::BIGINT AS id, 'two' AS name, 'a' AS p UNION ALL SELECT 4, 'n4', 'b'`,
      on: ['id'],
      domainMetadata: [{ domain: 'larder.test', configuration: '{"w":1}', removed: false }],
    }); // 2
    await table.append(rows([5, 6], 'b')); // 3: the protocol upgrade and the checkpoint
    await table.merge({ source: `SELECT 5::BIGINT AS id, 'five' AS name, 'b' AS p`, on: ['id'] }); // 4
    await table.delete('id = 1'); // 5
    await table.append(rows([7, 8], 'c')); // 6
    // Commit 3 also upgrades the protocol to reader 3 / writer 7 with v2Checkpoint.
    const upgraded = withV2Checkpoint((await loadSnapshot(store, { version: CHECKPOINT })).protocol);
    const commit3 = store.pathOf(commitFileName(CHECKPOINT));
    await writeFile(commit3, `${await readFile(commit3, 'utf8')}${JSON.stringify({ protocol: upgraded })}\n`);
    expected = new Map();
    for (let v = 0; v <= LATEST; v++) expected.set(v, await rowsAt(root, v));
    atCheckpoint = await loadSnapshot(store, { version: CHECKPOINT });
    latest = await loadSnapshot(store);
    expect(latest.protocol.readerFeatures).toContain('v2Checkpoint');
    expect(latest.files.length).toBeGreaterThan(2);
    expect(atCheckpoint.tombstones.length).toBeGreaterThan(0);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Write `lines` (objects, one action each) to a Parquet file with the checkpoint column types. */
  async function writeParquet(path: string, actions: readonly Record<string, unknown>[]): Promise<void> {
    const kinds = [...new Set(actions.flatMap((a) => Object.keys(a)))];
    const json = join(dir, `${randomUUID()}.json`);
    await writeFile(json, `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`);
    const columns = kinds.map((k) => `${k}: ${sqlString(COLUMN_TYPES[k]!)}`).join(', ');
    const connection = await connect();
    try {
      await run(
        connection,
        `COPY (SELECT * FROM read_json(${sqlString(json)}, format = 'newline_delimited', columns = {${columns}})) TO ${sqlString(path)} (FORMAT parquet)`,
      );
    } finally {
      connection.closeSync();
      await unlink(json);
    }
  }

  /** Write sidecar files: the snapshot's adds and tombstones split over `count` files. Returns their actions. */
  async function writeSidecars(s: Snapshot, count: number): Promise<Record<string, unknown>[]> {
    await mkdir(store.pathOf('_sidecars'), { recursive: true });
    const fileActions = [
      ...s.files.map((add) => ({ add })),
      ...s.tombstones.map(({ stats: _stats, tags: _tags, ...remove }) => ({ remove })),
    ];
    const sidecars: Record<string, unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${randomUUID()}.parquet`;
      const path = store.pathOf(`_sidecars/${name}`);
      await writeParquet(
        path,
        fileActions.filter((_, j) => j % count === i),
      );
      const info = await stat(path);
      sidecars.push({
        sidecar: { path: name, sizeInBytes: info.size, modificationTime: Math.floor(info.mtimeMs), tags: {} },
      });
    }
    return sidecars;
  }

  /** The non-file actions of a V2 checkpoint of `s` (checkpointMetadata first). */
  function nonFileActions(s: Snapshot, version = s.version): Record<string, unknown>[] {
    return [
      { checkpointMetadata: { version, tags: {} } },
      { protocol: s.protocol },
      { metaData: s.metadata },
      ...[...s.txns.values()].map((txn) => ({ txn })),
      ...[...s.domainMetadata.values()].map((domainMetadata) => ({ domainMetadata })),
    ];
  }

  const uuidName = (version: number, ext: 'json' | 'parquet') =>
    `${String(version).padStart(20, '0')}.checkpoint.${randomUUID()}.${ext}`;

  /** Write a UUID-named JSON V2 checkpoint of the checkpoint version with `sidecarCount` sidecars. */
  async function jsonCheckpoint(sidecarCount: number): Promise<{ name: string; sidecars: string[] }> {
    const sidecars = await writeSidecars(atCheckpoint, sidecarCount);
    const name = uuidName(CHECKPOINT, 'json');
    const lines = [...nonFileActions(atCheckpoint), ...sidecars].map((a) => JSON.stringify(a));
    await writeFile(store.pathOf(name), `${lines.join('\n')}\n`);
    return { name, sidecars: sidecars.map((s) => (s.sidecar as { path: string }).path) };
  }

  /** Delete the commit files 0..CHECKPOINT: only the checkpoint can rebuild those versions. */
  async function cleanUpCommits(): Promise<void> {
    for (let v = 0; v <= CHECKPOINT; v++) await unlink(store.pathOf(commitFileName(v)));
  }

  /** The table reads as before the clean-up: latest, each later version, and none before the checkpoint. */
  async function expectReadableFromCheckpoint(): Promise<void> {
    const s = await loadSnapshot(store);
    expect(s.checkpointVersion).toBe(CHECKPOINT);
    expect(state(s)).toEqual(state(latest));
    const paths = (x: Snapshot) => x.tombstones.map((r) => r.path).sort();
    expect(paths(s)).toEqual(paths(latest));
    expect(await rowsAt(root)).toEqual(expected.get(LATEST));
    for (let v = CHECKPOINT; v <= LATEST; v++) expect(await rowsAt(root, v)).toEqual(expected.get(v));
    expect(state(await loadSnapshot(store, { version: CHECKPOINT }))).toEqual(state(atCheckpoint));
    for (const v of [0, CHECKPOINT - 1]) {
      const error = await failure(loadSnapshot(store, { version: v }));
      expect(error.code).toBe('VERSION_NOT_FOUND');
    }
  }

  it('reads a table through a UUID-named JSON checkpoint with two sidecars once older commits are gone', async () => {
    await jsonCheckpoint(2);
    await cleanUpCommits();
    await expectReadableFromCheckpoint();
  });

  it('reads a UUID-named Parquet checkpoint with one sidecar', async () => {
    const sidecars = await writeSidecars(atCheckpoint, 1);
    await writeParquet(store.pathOf(uuidName(CHECKPOINT, 'parquet')), [
      ...nonFileActions(atCheckpoint),
      ...sidecars,
    ]);
    await cleanUpCommits();
    await expectReadableFromCheckpoint();
  });

  it('reads a classic-named checkpoint that follows the V2 spec (checkpointMetadata and sidecars)', async () => {
    const sidecars = await writeSidecars(atCheckpoint, 2);
    await writeParquet(store.pathOf(checkpointFileName(CHECKPOINT)), [
      ...nonFileActions(atCheckpoint),
      ...sidecars,
    ]);
    await cleanUpCommits();
    await expectReadableFromCheckpoint();
  });

  it('reads a UUID-named JSON checkpoint that holds its file actions inline', async () => {
    const lines = [
      ...nonFileActions(atCheckpoint),
      ...atCheckpoint.files.map((add) => ({ add })),
      ...atCheckpoint.tombstones.map((remove) => ({ remove })),
    ].map((a) => JSON.stringify(a));
    await writeFile(store.pathOf(uuidName(CHECKPOINT, 'json')), `${lines.join('\n')}\n`);
    await cleanUpCommits();
    await expectReadableFromCheckpoint();
  });

  it('finds a sidecar named by an absolute URI in the table’s own _sidecars folder', async () => {
    const sidecars = await writeSidecars(atCheckpoint, 1);
    const sidecar = sidecars[0]!.sidecar as { path: string };
    // Where the table was written before it was copied here.
    sidecar.path = pathToFileURL(join(dir, 'elsewhere', '_delta_log', '_sidecars', sidecar.path)).href;
    const lines = [...nonFileActions(atCheckpoint), ...sidecars].map((a) => JSON.stringify(a));
    await writeFile(store.pathOf(uuidName(CHECKPOINT, 'json')), `${lines.join('\n')}\n`);
    await cleanUpCommits();
    await expectReadableFromCheckpoint();
  });

  describe('a missing or unreadable sidecar', () => {
    it('is a CORRUPT_LOG error naming the sidecar when nothing else can rebuild the version', async () => {
      const { name, sidecars } = await jsonCheckpoint(2);
      await cleanUpCommits();
      await unlink(store.pathOf(`_sidecars/${sidecars[1]}`));
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toContain(name);
      expect(error.message).toContain(`_sidecars/${sidecars[1]}`);
      expect(error.context.file).toBe(`_sidecars/${sidecars[1]}`);
      expect((await failure(DeltaTable.open(root, { version: LATEST - 1 }))).code).toBe('CORRUPT_LOG');
    });

    it('names a sidecar that is not Parquet', async () => {
      const { sidecars } = await jsonCheckpoint(1);
      await cleanUpCommits();
      await writeFile(store.pathOf(`_sidecars/${sidecars[0]}`), 'PAR1 not parquet at all');
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
      expect(error.message).toContain(`_sidecars/${sidecars[0]}`);
    });

    it('falls back to the JSON commits while they are still there', async () => {
      const { sidecars } = await jsonCheckpoint(2);
      await unlink(store.pathOf(`_sidecars/${sidecars[0]}`));
      const s = await loadSnapshot(store);
      expect(s.checkpointVersion).toBeUndefined();
      expect(state(s)).toEqual(state(latest));
      expect(await rowsAt(root)).toEqual(expected.get(LATEST));
    });

    it('falls back to an older checkpoint', async () => {
      await writeCheckpoint(store, await loadSnapshot(store, { version: 1 }));
      const { sidecars } = await jsonCheckpoint(2);
      await unlink(store.pathOf(commitFileName(0)));
      await unlink(store.pathOf(`_sidecars/${sidecars[1]}`));
      const s = await loadSnapshot(store);
      expect(s.checkpointVersion).toBe(1);
      expect(state(s)).toEqual(state(latest));
      for (let v = 1; v <= LATEST; v++) expect(await rowsAt(root, v)).toEqual(expected.get(v));
    });

    it('falls back to another complete checkpoint of the same version', async () => {
      const { sidecars } = await jsonCheckpoint(2);
      await writeCheckpoint(store, atCheckpoint);
      await rm(store.pathOf('_last_checkpoint'));
      await writeFile(store.pathOf(checkpointFileName(CHECKPOINT)), 'garbage');
      await cleanUpCommits();
      // The classic checkpoint is tried first and is corrupt; the UUID-named one is whole.
      await expectReadableFromCheckpoint();
      await unlink(store.pathOf(`_sidecars/${sidecars[0]}`));
      const error = await failure(loadSnapshot(store));
      expect(error.code).toBe('CORRUPT_LOG');
    });
  });

  it('refuses a V2 checkpoint whose checkpointMetadata names another version', async () => {
    const sidecars = await writeSidecars(atCheckpoint, 1);
    const name = uuidName(CHECKPOINT, 'json');
    const lines = [...nonFileActions(atCheckpoint, CHECKPOINT + 1), ...sidecars].map((a) =>
      JSON.stringify(a),
    );
    await writeFile(store.pathOf(name), `${lines.join('\n')}\n`);
    // The commits are still there: the table reads without the checkpoint.
    expect((await loadSnapshot(store)).checkpointVersion).toBeUndefined();
    await cleanUpCommits();
    const error = await failure(loadSnapshot(store));
    expect(error.code).toBe('CORRUPT_LOG');
    expect(error.message).toContain(name);
    expect(error.message).toMatch(/version 4.*not 3/);
  });

  it('names the line of a JSON checkpoint that is not an action', async () => {
    const { name } = await jsonCheckpoint(1);
    const text = await readFile(store.pathOf(name), 'utf8');
    await writeFile(store.pathOf(name), text.replace('{"protocol"', '{"protocol" oops'));
    await cleanUpCommits();
    const error = await failure(loadSnapshot(store));
    expect(error.code).toBe('CORRUPT_LOG');
    expect(error.message).toContain(name);
    expect(error.message).toContain('line 2 is not valid JSON');
  });

  it('refuses a UUID-named checkpoint without checkpointMetadata', async () => {
    const name = uuidName(CHECKPOINT, 'json');
    const lines = [...nonFileActions(atCheckpoint).slice(1), ...atCheckpoint.files.map((add) => ({ add }))];
    await writeFile(store.pathOf(name), `${lines.map((a) => JSON.stringify(a)).join('\n')}\n`);
    await cleanUpCommits();
    const error = await failure(loadSnapshot(store));
    expect(error.code).toBe('CORRUPT_LOG');
    expect(error.message).toContain('checkpointMetadata');
  });

  it('prefers the checkpoint _last_checkpoint names, unless its checksum fails', async () => {
    // Two checkpoints of one version that differ (they never should): which one was read shows.
    const { name } = await jsonCheckpoint(1);
    const classic = [...nonFileActions(atCheckpoint), ...atCheckpoint.files.slice(1).map((add) => ({ add }))];
    await writeParquet(store.pathOf(checkpointFileName(CHECKPOINT)), classic);
    await cleanUpCommits();
    const filesAt = async () => (await loadSnapshot(store, { version: CHECKPOINT })).files.length;
    expect(await filesAt()).toBe(atCheckpoint.files.length - 1);
    const hint: Record<string, unknown> = {
      version: CHECKPOINT,
      size: 6,
      v2Checkpoint: { path: name, sizeInBytes: 1, modificationTime: 1 },
    };
    await store.put('_last_checkpoint', JSON.stringify(hint));
    expect(await filesAt()).toBe(atCheckpoint.files.length);
    await store.put('_last_checkpoint', JSON.stringify({ ...hint, checksum: lastCheckpointChecksum(hint) }));
    expect(await filesAt()).toBe(atCheckpoint.files.length);
    await store.put('_last_checkpoint', JSON.stringify({ ...hint, checksum: '0'.repeat(32) }));
    expect(await filesAt()).toBe(atCheckpoint.files.length - 1);
  });
});

describe('writing a table with the v2Checkpoint feature', () => {
  let dir: string;
  let root: string;
  let store: LocalLogStore;
  const INTERVAL = 5;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-v2-write-'));
    root = join(dir, 't');
    store = new LocalLogStore(root);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Rows of a version as sorted `id:name` strings. */
  async function idNames(version?: number): Promise<string[]> {
    const table = await DeltaTable.open(root, version === undefined ? {} : { version });
    return (await table.toRows()).map((r) => `${r.id}:${r.name}`).sort();
  }

  it('accepts appends and merges, writes a V2 classic checkpoint at the interval, and reads through it once older commits are gone', async () => {
    const created = await DeltaTable.create(root, {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'name', type: 'string' },
      ],
      properties: { 'delta.checkpointInterval': String(INTERVAL) },
    }); // 0
    await created.append([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ]); // 1
    // 2: another engine enables the feature (as Spark's ALTER TABLE … SET TBLPROPERTIES ('delta.checkpointPolicy' = 'v2')).
    const before = await loadSnapshot(store);
    const upgrade = [
      { commitInfo: { timestamp: Date.now(), operation: 'SET TBLPROPERTIES', operationParameters: {} } },
      { protocol: withV2Checkpoint(before.protocol) },
      {
        metaData: {
          ...before.metadata,
          configuration: { ...before.metadata.configuration, 'delta.checkpointPolicy': 'v2' },
        },
      },
    ];
    await store.putIfAbsent(commitFileName(2), `${upgrade.map((a) => JSON.stringify(a)).join('\n')}\n`);

    const table = await DeltaTable.open(root);
    expect(table.snapshot.protocol.writerFeatures).toContain('v2Checkpoint');
    await table.merge({
      source: [
        { id: 2, name: 'B' },
        { id: 3, name: 'c' },
      ],
      on: ['id'],
    }); // 3
    await table.append([{ id: 4, name: 'd' }]); // 4
    await table.merge({
      source: [
        { id: 4, name: 'ignored' },
        { id: 5, name: 'e' },
      ],
      on: ['id'],
      whenMatched: [],
    }); // 5: the checkpoint
    const atCheckpoint = await idNames(INTERVAL);
    expect(atCheckpoint).toEqual(['1:a', '2:B', '3:c', '4:d', '5:e']);

    // One classic checkpoint, V2 spec: checkpointMetadata names its version; no sidecars, no parts.
    expect((await readdir(store.pathOf(''))).filter((n) => n.includes('.checkpoint.'))).toEqual([
      checkpointFileName(INTERVAL),
    ]);
    const connection = await connect();
    try {
      const rows = await queryJson(
        connection,
        `SELECT to_json(checkpointMetadata) AS m FROM read_parquet(${sqlString(store.pathOf(checkpointFileName(INTERVAL)))}) WHERE checkpointMetadata IS NOT NULL`,
      );
      expect(rows.map((r) => JSON.parse(String(r.m)))).toEqual([{ version: INTERVAL, tags: {} }]);
    } finally {
      connection.closeSync();
    }
    await expect(stat(store.pathOf('_sidecars'))).rejects.toThrow();
    // _last_checkpoint names it, with a checksum that holds.
    const hint = JSON.parse(await readFile(store.pathOf('_last_checkpoint'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(hint).toMatchObject({ version: INTERVAL, checksum: lastCheckpointChecksum(hint) });
    expect(await readLastCheckpoint(store)).toEqual({ version: INTERVAL });
    expect(await validateTableLog(root)).toEqual([]);

    await table.delete('id = 1'); // 6
    const latest = await idNames();
    for (let v = 0; v <= INTERVAL; v++) await unlink(store.pathOf(commitFileName(v)));
    const s = await loadSnapshot(store);
    expect(s.checkpointVersion).toBe(INTERVAL);
    expect(s.protocol.writerFeatures).toContain('v2Checkpoint');
    expect(await idNames()).toEqual(latest);
    expect(await idNames(INTERVAL)).toEqual(atCheckpoint);
    expect((await failure(loadSnapshot(store, { version: INTERVAL - 1 }))).code).toBe('VERSION_NOT_FOUND');
    // And it keeps taking writes.
    await (await DeltaTable.open(root)).merge({ source: [{ id: 6, name: 'f' }], on: ['id'] }); // 7
    expect(await idNames()).toEqual([...latest, '6:f'].sort());
  });
});

describe('lastCheckpointChecksum', () => {
  it('computes the checksum of the PROTOCOL.md example', () => {
    const json = {
      k0: "'v 0'",
      checksum: 'adsaskfljadfkjadfkj',
      k1: { k2: 2, k3: ['v3', [1, 2], { k4: 'v4', k5: ['v5', 'v6', 'v7'] }] },
    };
    expect(lastCheckpointChecksum(json)).toBe('6a92d155a59bf2eecbd4b4ec7fd1f875');
  });
});

describe('v2CheckpointActions', () => {
  const sidecar = (path: string) => ({ path, sizeInBytes: 1, modificationTime: 1 });

  it('resolves relative, URI-encoded and absolute sidecar paths into _sidecars/', () => {
    const v2 = v2CheckpointActions(
      7,
      true,
      [{ version: 7 }],
      [
        sidecar('a.parquet'),
        sidecar('b%20c.parquet'),
        sidecar('s3://bucket/t/_delta_log/_sidecars/d.parquet'),
      ],
    );
    expect(v2.sidecars.map((s) => s.name)).toEqual([
      '_sidecars/a.parquet',
      '_sidecars/b c.parquet',
      '_sidecars/d.parquet',
    ]);
  });

  it('refuses sidecar paths that leave _sidecars/', () => {
    for (const path of ['../00000000000000000001.json', 'x/../../y.parquet', '/etc/passwd']) {
      expect(() => v2CheckpointActions(7, true, [{ version: 7 }], [sidecar(path)])).toThrow(
        /outside _sidecars/,
      );
    }
  });

  it('takes a classic checkpoint without checkpointMetadata as V1, and refuses two checkpointMetadata', () => {
    expect(v2CheckpointActions(7, false, [], [])).toEqual({ sidecars: [] });
    expect(() => v2CheckpointActions(7, false, [], [sidecar('a.parquet')])).toThrow(/checkpointMetadata/);
    expect(() => v2CheckpointActions(7, false, [{ version: 7 }, { version: 7 }], [])).toThrow(
      /2 checkpointMetadata/,
    );
  });
});
