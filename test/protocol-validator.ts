/**
 * A test helper that checks a Delta table's log against the protocol rules a
 * writer must follow (PROTOCOL.md "Actions", "Requirements for Writers",
 * "Checkpoints"), reading every commit and the data files it names:
 *
 * - every line is exactly one action; version 0 has `protocol` and
 *   `metaData`; a commit has at most one of each, and a `commitInfo` with a
 *   timestamp and an operation;
 * - `add`: relative, URI-encoded path without `..`; partition values for
 *   exactly the partition columns; size > 0 and equal to the file's size;
 *   modificationTime; dataChange; stats whose numRecords is the file's row
 *   count (read with DuckDB); no (path, deletion vector) added twice;
 * - `remove`: path, dataChange, deletionTimestamp;
 * - the protocol enables what the properties and schema use;
 * - `_last_checkpoint` names a checkpoint whose rows, adds and bytes it states.
 *
 * `validateTableLog` returns the problems found (empty when the log is valid).
 */
import { stat } from 'node:fs/promises';
import { type Add, fileKey, type Metadata, type Protocol } from '../src/delta/log/actions.js';
import { listLog } from '../src/delta/log/replay.js';
import { type DataType, parseSchema, physicalName, toDuckDBType } from '../src/delta/log/schema.js';
import type { Snapshot } from '../src/delta/log/snapshot.js';
import { dataFileLocalPath } from '../src/delta/storage/data-file-path.js';
import { LocalLogStore } from '../src/delta/storage/local-log-store.js';
import { checkpointFileName, commitFileName } from '../src/delta/storage/log-store.js';
import { queryJson, sharedConnection, sqlIdent, sqlString, sqlStringList } from '../src/duckdb/duckdb.js';

const ACTION_KINDS = new Set([
  'protocol',
  'metaData',
  'add',
  'remove',
  'cdc',
  'txn',
  'commitInfo',
  'domainMetadata',
]);

/** Every protocol violation found in the table at `root`, as readable sentences. */
export async function validateTableLog(root: string): Promise<string[]> {
  const store = new LocalLogStore(root);
  const listing = await listLog(store);
  const problems: string[] = [];
  let protocol: Protocol | undefined;
  let metadata: Metadata | undefined;
  const versions = [...listing.commits.keys()].sort((a, b) => a - b);
  const fileChecks: { version: number; add: Add }[] = [];

  for (const version of versions) {
    const at = `version ${version}`;
    const text = (await store.read(commitFileName(version)))?.toString('utf8') ?? '';
    const lines = text.split('\n').filter((l) => l.trim().length > 0);
    let protocols = 0;
    let metadatas = 0;
    let commitInfo: Record<string, unknown> | undefined;
    const added = new Set<string>();
    const adds: Add[] = [];
    for (const [i, line] of lines.entries()) {
      let action: Record<string, unknown>;
      try {
        action = JSON.parse(line) as Record<string, unknown>;
      } catch {
        problems.push(`${at} line ${i + 1}: not JSON`);
        continue;
      }
      const keys = Object.keys(action);
      if (keys.length !== 1 || !ACTION_KINDS.has(keys[0]!)) {
        problems.push(`${at} line ${i + 1}: expected exactly one action, got keys ${keys.join(',')}`);
        continue;
      }
      const kind = keys[0]!;
      const body = action[kind] as Record<string, unknown>;
      if (kind === 'protocol') {
        protocols++;
        protocol = body as unknown as Protocol;
      } else if (kind === 'metaData') {
        metadatas++;
        metadata = body as unknown as Metadata;
      } else if (kind === 'commitInfo') {
        commitInfo = body;
      } else if (kind === 'add') {
        const add = body as unknown as Add;
        adds.push(add);
        const key = fileKey(add);
        if (added.has(key)) problems.push(`${at}: file ${add.path} added twice`);
        added.add(key);
      } else if (kind === 'remove') {
        if (typeof body.path !== 'string') problems.push(`${at}: remove without path`);
        if (typeof body.dataChange !== 'boolean')
          problems.push(`${at}: remove ${body.path} without dataChange`);
        if (typeof body.deletionTimestamp !== 'number') {
          problems.push(`${at}: remove ${body.path} without deletionTimestamp`);
        }
      }
    }
    if (version === 0 && (protocols === 0 || metadatas === 0))
      problems.push(`${at}: lacks protocol or metaData`);
    if (protocols > 1) problems.push(`${at}: ${protocols} protocol actions`);
    if (metadatas > 1) problems.push(`${at}: ${metadatas} metaData actions`);
    if (!commitInfo) problems.push(`${at}: no commitInfo`);
    else {
      if (typeof commitInfo.timestamp !== 'number') problems.push(`${at}: commitInfo without timestamp`);
      if (typeof commitInfo.operation !== 'string') problems.push(`${at}: commitInfo without operation`);
    }
    if (!protocol || !metadata) continue;
    problems.push(...checkProtocol(protocol, metadata, at));
    const schema = parseSchema(metadata.schemaString);
    const mode = metadata.configuration['delta.columnMapping.mode'] ?? 'none';
    const partitionKeys = metadata.partitionColumns
      .map((c) => {
        const field = schema.fields.find((f) => f.name === c);
        return field ? physicalName(field, mode === 'name' || mode === 'id' ? mode : 'none') : c;
      })
      .sort();
    for (const add of adds) {
      problems.push(...checkAdd(add, partitionKeys, at));
      fileChecks.push({ version, add });
    }
  }

  problems.push(...(await checkDataFiles(root, fileChecks)));
  problems.push(...(await checkLastCheckpoint(store)));
  return problems;
}

function checkAdd(add: Add, partitionKeys: readonly string[], at: string): string[] {
  const problems: string[] = [];
  const where = `${at}: add ${add.path}`;
  if (typeof add.path !== 'string' || add.path.length === 0) return [`${at}: add without path`];
  if (/^[a-z][a-z0-9+.-]*:/i.test(add.path) || add.path.startsWith('/'))
    problems.push(`${where}: path is not relative`);
  if (/[\s#?]/.test(add.path)) problems.push(`${where}: path is not URI-encoded`);
  try {
    const segments = add.path.split('/').map((s) => decodeURIComponent(s));
    if (segments.includes('..') || segments.includes('.'))
      problems.push(`${where}: path has . or .. segments`);
  } catch {
    problems.push(`${where}: path is not valid URI encoding`);
  }
  const keys = Object.keys(add.partitionValues ?? {}).sort();
  if (JSON.stringify(keys) !== JSON.stringify(partitionKeys)) {
    problems.push(
      `${where}: partition values ${keys.join(',')} do not match partition columns ${partitionKeys.join(',')}`,
    );
  }
  if (!(typeof add.size === 'number' && add.size > 0)) problems.push(`${where}: size ${add.size}`);
  if (typeof add.modificationTime !== 'number') problems.push(`${where}: no modificationTime`);
  if (typeof add.dataChange !== 'boolean') problems.push(`${where}: no dataChange`);
  if (typeof add.stats !== 'string') problems.push(`${where}: no stats`);
  else {
    try {
      const stats = JSON.parse(add.stats) as { numRecords?: unknown };
      if (typeof stats.numRecords !== 'number') problems.push(`${where}: stats without numRecords`);
    } catch {
      problems.push(`${where}: stats are not JSON`);
    }
  }
  return problems;
}

function usesType(type: DataType, name: string): boolean {
  if (typeof type === 'string') return type === name;
  if (type.type === 'struct') return type.fields.some((f) => usesType(f.type, name));
  if (type.type === 'array') return usesType(type.elementType, name);
  return usesType(type.keyType, name) || usesType(type.valueType, name);
}

function checkProtocol(protocol: Protocol, metadata: Metadata, at: string): string[] {
  const problems: string[] = [];
  const config = metadata.configuration;
  const writer = protocol.minWriterVersion;
  const reader = protocol.minReaderVersion;
  const writerFeatures = protocol.writerFeatures ?? [];
  const readerFeatures = protocol.readerFeatures ?? [];
  const writerHas = (feature: string, legacyVersion: number) =>
    writer >= 7 ? writerFeatures.includes(feature) : writer >= legacyVersion;
  if ((protocol.writerFeatures !== undefined) !== writer >= 7) {
    problems.push(`${at}: writerFeatures present iff minWriterVersion is 7`);
  }
  if ((protocol.readerFeatures !== undefined) !== reader >= 3) {
    problems.push(`${at}: readerFeatures present iff minReaderVersion is 3`);
  }
  for (const f of readerFeatures) {
    if (!writerFeatures.includes(f)) problems.push(`${at}: reader feature ${f} is not also a writer feature`);
  }
  if (config['delta.enableChangeDataFeed'] === 'true' && !writerHas('changeDataFeed', 4)) {
    problems.push(`${at}: change data feed enabled without writer 4 or the changeDataFeed feature`);
  }
  if (config['delta.enableDeletionVectors'] === 'true') {
    if (!(readerFeatures.includes('deletionVectors') && writerFeatures.includes('deletionVectors'))) {
      problems.push(`${at}: deletion vectors enabled without the deletionVectors feature`);
    }
  }
  if (config['delta.appendOnly'] === 'true' && !writerHas('appendOnly', 2)) {
    problems.push(`${at}: appendOnly set without the appendOnly feature`);
  }
  if (
    Object.keys(config).some((k) => k.startsWith('delta.constraints.')) &&
    !writerHas('checkConstraints', 3)
  ) {
    problems.push(`${at}: CHECK constraints without the checkConstraints feature`);
  }
  const mode = config['delta.columnMapping.mode'];
  if (
    (mode === 'name' || mode === 'id') &&
    !(reader >= 3 ? readerFeatures.includes('columnMapping') : reader >= 2)
  ) {
    problems.push(`${at}: column mapping without the columnMapping feature`);
  }
  const schema = parseSchema(metadata.schemaString);
  if (schema.fields.some((f) => usesType(f.type, 'timestamp_ntz'))) {
    if (!(readerFeatures.includes('timestampNtz') && writerFeatures.includes('timestampNtz'))) {
      problems.push(`${at}: timestamp_ntz columns without the timestampNtz feature`);
    }
  }
  // PROTOCOL.md "Type Widening": type changes recorded only with the feature (reader and writer), as
  // a chain ending at the field's current type.
  const typeWidening = (list: readonly string[]) =>
    list.includes('typeWidening') || list.includes('typeWidening-preview');
  const changed = schema.fields.filter((f) => f.metadata['delta.typeChanges'] !== undefined);
  if (
    (changed.length > 0 || config['delta.enableTypeWidening'] === 'true') &&
    !(typeWidening(readerFeatures) && typeWidening(writerFeatures))
  ) {
    problems.push(`${at}: type widening used without the typeWidening reader and writer feature`);
  }
  for (const f of changed) {
    const changes = f.metadata['delta.typeChanges'] as { fromType?: unknown; toType?: unknown }[];
    if (!Array.isArray(changes) || changes.length === 0) {
      problems.push(`${at}: delta.typeChanges of ${f.name} is not a non-empty list`);
      continue;
    }
    for (let i = 1; i < changes.length; i++) {
      if (changes[i]!.fromType !== changes[i - 1]!.toType) {
        problems.push(`${at}: delta.typeChanges of ${f.name} is not a chain`);
      }
    }
    if (typeof f.type === 'string' && changes[changes.length - 1]!.toType !== f.type) {
      problems.push(`${at}: the last type change of ${f.name} does not end at its type ${f.type}`);
    }
  }
  return problems;
}

/** Sizes and row counts of every added file against the file itself. */
async function checkDataFiles(
  root: string,
  checks: readonly { version: number; add: Add }[],
): Promise<string[]> {
  const problems: string[] = [];
  const files = new Map<string, { version: number; add: Add }>();
  for (const check of checks) {
    const local = dataFileLocalPath(root, check.add.path);
    if (!local) {
      problems.push(`version ${check.version}: add ${check.add.path} is not a local file`);
      continue;
    }
    try {
      const size = (await stat(local)).size;
      if (size !== check.add.size) {
        problems.push(
          `version ${check.version}: add ${check.add.path} says ${check.add.size} bytes, the file has ${size}`,
        );
      }
      files.set(local, check);
    } catch {
      problems.push(`version ${check.version}: add ${check.add.path}: file missing`);
    }
  }
  if (files.size === 0) return problems;
  const counts = await queryJson(
    await sharedConnection(),
    `SELECT filename, count(*) AS n FROM read_parquet(${sqlStringList([...files.keys()])}, filename = true, hive_partitioning = false) GROUP BY filename`,
  );
  const byFile = new Map(counts.map((r) => [String(r.filename), Number(r.n)]));
  for (const [local, check] of files) {
    const stats = check.add.stats ? (JSON.parse(check.add.stats) as { numRecords?: number }) : undefined;
    const actual = byFile.get(local) ?? 0;
    if (stats?.numRecords !== undefined && stats.numRecords !== actual) {
      problems.push(
        `version ${check.version}: add ${check.add.path} says ${stats.numRecords} rows, the file has ${actual}`,
      );
    }
  }
  return problems;
}

async function checkLastCheckpoint(store: LocalLogStore): Promise<string[]> {
  const text = await store.read('_last_checkpoint');
  if (!text) return [];
  const hint = JSON.parse(text.toString('utf8')) as {
    version: number;
    size: number;
    sizeInBytes?: number;
    numOfAddFiles?: number;
  };
  const file = store.pathOf(checkpointFileName(hint.version));
  try {
    const bytes = (await stat(file)).size;
    if (hint.sizeInBytes !== undefined && hint.sizeInBytes !== bytes) {
      return [`_last_checkpoint says ${hint.sizeInBytes} bytes, the checkpoint has ${bytes}`];
    }
  } catch {
    return [`_last_checkpoint names version ${hint.version}, which has no checkpoint file`];
  }
  const [row] = await queryJson(
    await sharedConnection(),
    `SELECT count(*) AS n, count(add) AS adds FROM read_parquet(${sqlString(file)})`,
  );
  const problems: string[] = [];
  if (Number(row?.n) !== hint.size)
    problems.push(`_last_checkpoint says ${hint.size} actions, the checkpoint has ${row?.n}`);
  if (hint.numOfAddFiles !== undefined && Number(row?.adds) !== hint.numOfAddFiles) {
    problems.push(`_last_checkpoint says ${hint.numOfAddFiles} add files, the checkpoint has ${row?.adds}`);
  }
  return problems;
}

/**
 * The rows of a snapshot read straight from its data files with DuckDB
 * (partition values added back; for tables without deletion vectors).
 */
export async function readSnapshotRows(snapshot: Snapshot): Promise<Record<string, unknown>[]> {
  if (snapshot.files.length === 0) return [];
  const partitions = new Set(snapshot.partitionColumns);
  const fields = snapshot.schema.fields;
  const selects = snapshot.files.map((add) => {
    const local = dataFileLocalPath(snapshot.root, add.path)!;
    const literals = fields
      .filter((f) => partitions.has(f.name))
      .map((f) => {
        const v = add.partitionValues[f.name];
        return `CAST(${v === null || v === undefined ? 'NULL' : sqlString(v)} AS ${toDuckDBType(f.type)}) AS ${sqlIdent(f.name)}`;
      });
    return `SELECT *${literals.map((l) => `, ${l}`).join('')} FROM read_parquet(${sqlString(local)}, hive_partitioning = false)`;
  });
  const columns = fields.map(
    (f) => `CAST(${sqlIdent(f.name)} AS ${toDuckDBType(f.type)}) AS ${sqlIdent(f.name)}`,
  );
  return queryJson(
    await sharedConnection(),
    `SELECT ${columns.join(', ')} FROM (${selects.join(' UNION ALL BY NAME ')})`,
  );
}
