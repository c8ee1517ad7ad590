/**
 * Writing classic single-file checkpoints (`n.checkpoint.parquet`) and the
 * `_last_checkpoint` hint (PROTOCOL.md "Checkpoints", "Last Checkpoint
 * File"). DuckDB is only the Parquet codec: the actions of the snapshot go to
 * a temporary NDJSON file, and one `COPY … FROM read_json(…)` with the
 * exact Spark checkpoint schema (structs, maps, int vs long) writes them.
 *
 * Invariants:
 * - One action per row: `protocol`, `metaData`, every `txn`, live
 *   `domainMetadata`, every live `add` (stats as a JSON string) and the
 *   `remove` tombstones younger than `delta.deletedFileRetentionDuration`
 *   (default one week), without stats. No `commitInfo`, no `cdc`.
 * - The checkpoint appears atomically (`LogStore.put` of the finished
 *   file); `_last_checkpoint` is written after it and never moved backwards,
 *   with the `checksum` of its content (PROTOCOL.md "Last Checkpoint File
 *   Schema", "JSON checksum").
 * - A checkpoint holds exactly the state of its version: reading it back
 *   gives the same files, metadata, protocol and transactions.
 * - On a table with the `v2Checkpoint` writer feature the classic file
 *   follows the V2 spec (PROTOCOL.md "Checkpoint Specs"): it also holds
 *   one `checkpointMetadata` action (`{version, tags}`) and keeps its file
 *   actions inline (no sidecars), which is the classic V2 checkpoint that
 *   readers without the feature can still find and refuse by protocol.
 *   Multi-part checkpoints, which the feature forbids, are never written
 *   (on any table), nor sidecars, so `_delta_log/_sidecars/` only ever holds
 *   the files other engines wrote.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, run, sqlString } from '../../duckdb/duckdb.js';
import { checkpointFileName, type LogStore } from '../storage/log-store.js';
import type { Add, DeletionVectorDescriptor, Remove } from './actions.js';
import type { Snapshot } from './snapshot.js';
import { lastCheckpointChecksum } from './v2-checkpoint.js';

const DV =
  'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT, maxRowIndex BIGINT)';
const MAP = 'MAP(VARCHAR, VARCHAR)';

/** Column types of a checkpoint file: the schema Spark writes (`checkpointSchema` in `_last_checkpoint`). */
const CHECKPOINT_COLUMNS: readonly (readonly [string, string])[] = [
  ['txn', 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)'],
  [
    'add',
    `STRUCT(path VARCHAR, partitionValues ${MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, tags ${MAP}, deletionVector ${DV}, baseRowId BIGINT, defaultRowCommitVersion BIGINT, clusteringProvider VARCHAR, stats VARCHAR)`,
  ],
  [
    'remove',
    `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${MAP}, size BIGINT, deletionVector ${DV}, baseRowId BIGINT, defaultRowCommitVersion BIGINT)`,
  ],
  [
    'metaData',
    `STRUCT(id VARCHAR, "name" VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${MAP}, createdTime BIGINT)`,
  ],
  [
    'protocol',
    'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
  ],
  ['domainMetadata', 'STRUCT("domain" VARCHAR, configuration VARCHAR, removed BOOLEAN)'],
];

/** The extra column of a V2-spec checkpoint. */
const CHECKPOINT_METADATA_COLUMN = ['checkpointMetadata', `STRUCT(version BIGINT, tags ${MAP})`] as const;

/** Default `delta.deletedFileRetentionDuration`: one week. */
const DEFAULT_TOMBSTONE_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** What `_last_checkpoint` says about a checkpoint. */
export interface CheckpointInfo {
  readonly version: number;
  /** Number of actions (rows) in the checkpoint. */
  readonly size: number;
  readonly sizeInBytes: number;
  readonly numOfAddFiles: number;
}

/**
 * Write the checkpoint of `snapshot` and point `_last_checkpoint` at it.
 *
 * @example
 * const snapshot = await loadSnapshot(store);
 * await writeCheckpoint(store, snapshot); // 00000000000000000010.checkpoint.parquet
 */
export async function writeCheckpoint(
  store: LogStore,
  snapshot: Snapshot,
  now: number = Date.now(),
): Promise<CheckpointInfo> {
  const retention =
    intervalMillis(snapshot.properties['delta.deletedFileRetentionDuration']) ??
    DEFAULT_TOMBSTONE_RETENTION_MS;
  const v2 =
    snapshot.protocol.minWriterVersion >= 7 &&
    (snapshot.protocol.writerFeatures ?? []).includes('v2Checkpoint');
  const lines: string[] = [];
  if (v2) lines.push(JSON.stringify({ checkpointMetadata: { version: snapshot.version, tags: {} } }));
  lines.push(JSON.stringify({ protocol: snapshot.protocol }));
  lines.push(JSON.stringify({ metaData: snapshot.metadata }));
  for (const txn of snapshot.txns.values()) lines.push(JSON.stringify({ txn }));
  for (const d of snapshot.domainMetadata.values())
    if (!d.removed) lines.push(JSON.stringify({ domainMetadata: d }));
  for (const add of snapshot.files) lines.push(JSON.stringify({ add: checkpointAdd(add) }));
  for (const remove of snapshot.tombstones) {
    if ((remove.deletionTimestamp ?? 0) > now - retention)
      lines.push(JSON.stringify({ remove: checkpointRemove(remove) }));
  }

  const dir = await mkdtemp(join(tmpdir(), 'larder-checkpoint-'));
  const connection = await connect();
  try {
    const json = join(dir, 'actions.json');
    const parquet = join(dir, `${randomUUID()}.parquet`);
    await writeFile(json, `${lines.join('\n')}\n`);
    const schema = v2 ? [...CHECKPOINT_COLUMNS, CHECKPOINT_METADATA_COLUMN] : CHECKPOINT_COLUMNS;
    const columns = schema.map(([name, type]) => `${name}: ${sqlString(type)}`).join(', ');
    const names = schema.map(([name]) => `"${name}"`).join(', ');
    await run(
      connection,
      `COPY (SELECT ${names} FROM read_json(${sqlString(json)}, format = 'newline_delimited', columns = {${columns}}, maximum_object_size = 1073741824)) TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION snappy)`,
      `writing checkpoint ${snapshot.version} of ${snapshot.root}`,
    );
    const bytes = await readFile(parquet);
    await store.put(checkpointFileName(snapshot.version), bytes);
    const info: CheckpointInfo = {
      version: snapshot.version,
      size: lines.length,
      sizeInBytes: bytes.length,
      numOfAddFiles: snapshot.files.length,
    };
    const previous = await store.read('_last_checkpoint').catch(() => undefined);
    let previousVersion = -1;
    try {
      if (previous)
        previousVersion = Number(
          (JSON.parse(previous.toString('utf8')) as { version?: number }).version ?? -1,
        );
    } catch {
      previousVersion = -1;
    }
    if (!(previousVersion > snapshot.version)) {
      const hint: Record<string, unknown> = { ...info };
      await store.put(
        '_last_checkpoint',
        JSON.stringify({ ...hint, checksum: lastCheckpointChecksum(hint) }),
      );
    }
    return info;
  } finally {
    connection.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

function dv(d: DeletionVectorDescriptor | null | undefined): Record<string, unknown> | null {
  if (!d) return null;
  return {
    storageType: d.storageType,
    pathOrInlineDv: d.pathOrInlineDv,
    offset: d.offset ?? null,
    sizeInBytes: d.sizeInBytes,
    cardinality: d.cardinality,
    maxRowIndex: (d as { maxRowIndex?: number }).maxRowIndex ?? null,
  };
}

function checkpointAdd(add: Add): Record<string, unknown> {
  return {
    path: add.path,
    partitionValues: add.partitionValues,
    size: add.size,
    modificationTime: add.modificationTime,
    dataChange: add.dataChange,
    tags: add.tags ?? null,
    deletionVector: dv(add.deletionVector),
    baseRowId: add.baseRowId ?? null,
    defaultRowCommitVersion: add.defaultRowCommitVersion ?? null,
    clusteringProvider: add.clusteringProvider ?? null,
    stats: add.stats ?? null,
  };
}

function checkpointRemove(remove: Remove): Record<string, unknown> {
  return {
    path: remove.path,
    deletionTimestamp: remove.deletionTimestamp ?? null,
    dataChange: remove.dataChange,
    extendedFileMetadata: remove.extendedFileMetadata ?? null,
    partitionValues: remove.partitionValues ?? null,
    size: remove.size ?? null,
    deletionVector: dv(remove.deletionVector),
    baseRowId: remove.baseRowId ?? null,
    defaultRowCommitVersion: remove.defaultRowCommitVersion ?? null,
  };
}

const UNIT_MS: Readonly<Record<string, number>> = {
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

/** A Spark interval string (`interval 1 week`, `7 days`) in ms, or undefined. */
export function intervalMillis(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const m = /^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = UNIT_MS[m[2]!.toLowerCase()];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}
