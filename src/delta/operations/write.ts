/**
 * WRITE: append rows to a table, or overwrite its content.
 *
 * Invariants:
 * - The input schema is checked against the table (`reconcileSchema`)
 *   before any file is written; a mismatch leaves the table and its folder
 *   untouched.
 * - An append is a blind append: it reads nothing, so concurrent commits
 *   never make it fail (unless they change the metadata or protocol) —
 *   unless it declares what its writer read (`readFootprint`, e.g. the check
 *   that its keys are new): then it is not blind (`isBlindAppend: false`),
 *   and a concurrent commit adding or removing files the read may have seen
 *   makes it fail with `CONCURRENT_MODIFICATION` (Serializable), so the
 *   writer re-reads and decides again.
 * - An overwrite removes every file of the version it read and conflicts
 *   with any concurrent data change (Serializable).
 * - Files written by a write that fails before its commit lands are deleted.
 * - `domainMetadata` given with the write lands in the same commit (the
 *   protocol gains the `domainMetadata` writer feature if it lacks it): a
 *   pipeline's watermark advances exactly when its data commits.
 * - An overwrite with `overwriteSchema` replaces the schema in its own
 *   commit (Delta's `overwriteSchema`): the table then has exactly the
 *   input's columns; partition and clustering columns stay and must be in
 *   the input.
 */
import { connect } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Action, DomainMetadata, Metadata, Protocol, Remove } from '../log/actions.js';
import { fromDuckDBType, type StructField, type StructType, serializeSchema } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import type { Predicate } from '../scan/predicate.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { autoCompact, autoCompactEnabled, optimizedWrite, optimizeWriteEnabled } from './auto-optimize.js';
import { clusteringColumns } from './clustering.js';
import { discardUncommitted } from './discard-uncommitted.js';
import type { OperationResult } from './operation-result.js';
import type { OptimizeMetrics } from './optimize.js';
import { upgradedProtocol as unionProtocol } from './protocol-upgrade.js';
import { canWrite, type InputColumn, reconcileSchema, schemaChangeProtocol } from './schema-reconcile.js';
import { writeDataFiles } from './write-files.js';
import { prepareSource, type WriteSource } from './write-source.js';

export interface WriteOptions {
  /** `append` (default) adds rows; `overwrite` replaces the table's rows. */
  readonly mode?: 'append' | 'overwrite';
  /** Add input columns the table lacks to its schema. */
  readonly mergeSchema?: boolean;
  /**
   * Overwrite only (Delta's `overwriteSchema`): the schema becomes the
   * input's, in the same commit as the rows. Table columns the input lacks
   * are dropped; input columns the table lacks are added (nullable); a kept
   * column keeps its definition (nullability, comment, column-mapping id)
   * and its type when the input's converts to it safely, else takes the
   * input's type. Partition columns are kept and, like clustering columns,
   * must be in the input (`SCHEMA_MISMATCH` otherwise).
   */
  readonly overwriteSchema?: boolean;
  /** Free text stored in `commitInfo.userMetadata`. */
  readonly userMetadata?: string;
  /** Unpartitioned writes start a new file past this many bytes. */
  readonly targetFileSize?: number;
  /** Rows per Parquet row group (DuckDB's default when omitted); files split only between row groups. */
  readonly rowGroupSize?: number;
  readonly compression?: 'snappy' | 'zstd';
  /**
   * Idempotent writes: record `txn {appId, version}`; a write whose version
   * is not above the one the table holds for `appId` is skipped.
   */
  readonly appTransaction?: { readonly appId: string; readonly version: number };
  /**
   * Optimized write (default: table property `delta.autoOptimize.optimizeWrite`):
   * the autotuned target file size and, on a table with clustering columns,
   * rows sorted by the clustering key.
   */
  readonly optimizeWrite?: boolean;
  /**
   * Auto compaction (default: table property `delta.autoOptimize.autoCompact`):
   * after the write, bin-pack the partitions it touched that hold more than
   * 50 small files (a separate OPTIMIZE commit).
   */
  readonly autoCompact?: boolean;
  /**
   * Domain metadata to commit with the rows (one per domain; not `delta.*`
   * system domains). A concurrent commit of the same domain is a conflict.
   */
  readonly domainMetadata?: readonly DomainMetadata[];
  /**
   * What the writer read of the table before this append (e.g. that the
   * rows' keys are not in it yet). The append then commits as a non-blind
   * append: a concurrent commit that adds or removes files the read may
   * have seen (by partition values and stats) fails it with
   * `CONCURRENT_MODIFICATION`. An overwrite reads the whole table already.
   */
  readonly readFootprint?: WriteReadFootprint;
  /** The store to commit through (default: a `LocalLogStore` at the snapshot's root). */
  readonly store?: LogStore;
}

/**
 * A read made before a write, as the transaction's conflict check needs it.
 *
 * @example
 * const footprint: WriteReadFootprint = {
 *   version: snapshot.version,
 *   predicate: { kind: 'in', column: 'customer_id', values: ['7'] },
 *   files: candidates.map((f) => f.path),
 * };
 * await writeTable(snapshot, rows, { readFootprint: footprint });
 */
export interface WriteReadFootprint {
  /**
   * The version the read saw. A write starting from a later version fails
   * with `CONCURRENT_MODIFICATION` (the commits in between were not checked
   * against the read): read again and retry.
   */
  readonly version: number;
  /** The rows read: those the predicate may select, or `'all'` (a file may match by partition values or stats). */
  readonly predicate: Predicate | 'all';
  /** Paths (as in the log) of the files read. */
  readonly files?: readonly string[];
}

/** The metrics of a write, named as Spark names them in `commitInfo.operationMetrics`. */
export interface WriteMetrics {
  readonly numFiles: number;
  readonly numOutputRows: number;
  readonly numOutputBytes: number;
  readonly numAddedFiles: number;
  readonly numRemovedFiles: number;
  readonly numRemovedBytes: number;
  readonly executionTimeMs: number;
  /** The auto compaction that followed the write, when one was committed. */
  readonly autoCompaction?: OptimizeMetrics;
  /** Why the auto compaction after the write failed (the write itself succeeded). */
  readonly autoCompactionError?: string;
}

/**
 * Append rows to, or overwrite, the table whose latest snapshot is `snapshot`.
 *
 * @example
 * const { table, metrics } = await writeTable(snapshot, "SELECT * FROM read_parquet('new/*.parquet')");
 * await writeTable(table, [{ id: 1n, country: 'FR' }], { mode: 'overwrite' });
 */
export async function writeTable(
  snapshot: Snapshot,
  source: WriteSource,
  options: WriteOptions = {},
): Promise<OperationResult<WriteMetrics>> {
  const started = performance.now();
  const store = options.store ?? new LocalLogStore(snapshot.root);
  const table = snapshot.root;
  const mode = options.mode ?? 'append';
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  if (mode === 'overwrite' && snapshot.properties['delta.appendOnly'] === 'true') {
    throw new LarderError(
      'CONSTRAINT_VIOLATION',
      `table ${table} is append-only (delta.appendOnly=true); it cannot be overwritten`,
      {
        table,
        feature: 'appendOnly',
      },
    );
  }
  if (options.overwriteSchema && mode !== 'overwrite') {
    throw new LarderError('INVALID_ARGUMENT', `overwriteSchema needs mode "overwrite" (table ${table})`, {
      table,
      hint: 'an append can only add columns: use mergeSchema',
    });
  }
  const domains = checkedDomainMetadata(options.domainMetadata, table);
  const footprint = options.readFootprint;
  if (footprint) checkFootprintVersion(footprint, snapshot, table);
  const app = options.appTransaction;
  if (app && (snapshot.txns.get(app.appId)?.version ?? -1) >= app.version) {
    return { table: snapshot, metrics: emptyMetrics(performance.now() - started) };
  }

  const connection = await connect();
  try {
    const replaceSchema = options.overwriteSchema === true;
    const input = await prepareSource(connection, source, snapshot.schema, {
      table,
      mergeSchema: options.mergeSchema || replaceSchema,
    });
    try {
      const mapping = snapshot.columnMappingMode;
      const reconciled = reconcileSchema(
        replaceSchema ? overwrittenSchema(snapshot, input.columns, table) : snapshot.schema,
        input.columns,
        {
          table,
          mergeSchema: options.mergeSchema || replaceSchema,
          columnMappingMode: mapping,
          maxColumnId: Number(snapshot.properties['delta.columnMapping.maxColumnId'] ?? 0),
        },
      );
      const schemaChanged = replaceSchema
        ? serializeSchema(reconciled.schema) !== serializeSchema(snapshot.schema)
        : reconciled.addedColumns.length > 0;
      let sourceSql = `SELECT ${reconciled.projection} FROM (${input.sql}\n) AS __larder_input`;
      let targetFileSize = options.targetFileSize;
      if (optimizeWriteEnabled(snapshot, options.optimizeWrite)) {
        ({ sourceSql, targetFileSize } = await optimizedWrite(
          snapshot,
          connection,
          sourceSql,
          targetFileSize,
        ));
      }
      const written = await writeDataFiles({
        root: snapshot.root,
        schema: reconciled.schema,
        partitionColumns: snapshot.partitionColumns,
        sourceSql,
        columnMappingMode: mapping,
        targetFileSize,
        rowGroupSize: options.rowGroupSize,
        compression: options.compression,
        properties: snapshot.properties,
        table,
        connection,
      });

      const actions: Action[] = [];
      let protocol = snapshot.protocol;
      if (schemaChanged) {
        const configuration = { ...snapshot.metadata.configuration };
        if (reconciled.maxColumnId !== undefined) {
          configuration['delta.columnMapping.maxColumnId'] = String(reconciled.maxColumnId);
        }
        const metaData: Metadata = {
          ...snapshot.metadata,
          schemaString: serializeSchema(reconciled.schema),
          configuration,
        };
        actions.push({ metaData });
        protocol = schemaChangeProtocol(protocol, reconciled.schema) ?? protocol;
      }
      if (domains.length > 0) {
        protocol = withDomainMetadataFeature(protocol) ?? protocol;
        for (const domainMetadata of domains) actions.push({ domainMetadata });
      }
      if (protocol !== snapshot.protocol) actions.push({ protocol });
      if (app) actions.push({ txn: { appId: app.appId, version: app.version, lastUpdated: Date.now() } });
      const now = Date.now();
      const removes: Remove[] = mode === 'overwrite' ? snapshot.files.map((f) => removeOf(f, now)) : [];
      for (const remove of removes) actions.push({ remove });
      for (const add of written.adds) actions.push({ add });

      const removedBytes = removes.reduce((sum, r) => sum + (r.size ?? 0), 0);
      const metrics: WriteMetrics = {
        numFiles: written.adds.length,
        numOutputRows: written.rows,
        numOutputBytes: written.bytes,
        numAddedFiles: written.adds.length,
        numRemovedFiles: removes.length,
        numRemovedBytes: removedBytes,
        executionTimeMs: Math.round(performance.now() - started),
      };
      const commitMetrics: Record<string, number> = {
        numFiles: metrics.numFiles,
        numOutputRows: metrics.numOutputRows,
        numOutputBytes: metrics.numOutputBytes,
      };
      if (mode === 'overwrite') {
        commitMetrics.numRemovedFiles = metrics.numRemovedFiles;
        commitMetrics.numRemovedBytes = metrics.numRemovedBytes;
      }
      const tx = new Transaction(store, snapshot, {
        operation: 'WRITE',
        operationParameters: {
          mode: mode === 'overwrite' ? 'Overwrite' : 'Append',
          partitionBy: JSON.stringify(snapshot.partitionColumns),
        },
        operationMetrics: commitMetrics,
        isBlindAppend: mode === 'append' && !footprint,
        readPredicate:
          mode === 'overwrite' || footprint?.predicate === 'all'
            ? 'all'
            : footprint
              ? { partitionFilter: footprint.predicate }
              : 'none',
        ...(footprint?.files ? { readFiles: footprint.files } : {}),
        isolationLevel: 'Serializable',
        userMetadata: options.userMetadata,
      }).addActions(...actions);
      try {
        const result = await tx.commit();
        if (!autoCompactEnabled(result.snapshot, options.autoCompact))
          return { table: result.snapshot, metrics };
        const compaction = await autoCompact(result.snapshot, written.adds, store);
        return {
          table: compaction.table,
          metrics: {
            ...metrics,
            ...(compaction.metrics ? { autoCompaction: compaction.metrics } : {}),
            ...(compaction.error ? { autoCompactionError: compaction.error } : {}),
          },
        };
      } catch (error) {
        await discardUncommitted(
          written.adds.map((a) => dataFileLocalPath(snapshot.root, a.path)),
          error,
        );
        throw error;
      }
    } finally {
      await input.cleanup();
    }
  } finally {
    connection.closeSync();
  }
}

/**
 * A footprint describes a read of `snapshot` itself: one of an older version
 * would let the commits in between go unchecked, so it is a conflict.
 */
function checkFootprintVersion(footprint: WriteReadFootprint, snapshot: Snapshot, table: string): void {
  if (footprint.version === snapshot.version) return;
  if (!Number.isInteger(footprint.version) || footprint.version > snapshot.version) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `the read footprint of a write to ${table} names version ${footprint.version}, but the write starts from version ${snapshot.version}`,
      { table, field: 'readFootprint', hint: 'give the version of the snapshot the read was made on' },
    );
  }
  throw new LarderError(
    'CONCURRENT_MODIFICATION',
    `table ${table}: the write read version ${footprint.version}, and versions ${footprint.version + 1} to ${snapshot.version} were committed since`,
    { table, version: snapshot.version, hint: 'read the table again and retry the write' },
  );
}

/**
 * The schema an `overwriteSchema` write starts from: the table's columns the
 * input keeps, in the input's order (each with its definition; the input's
 * type when it does not convert safely to the column's). `reconcileSchema`
 * then appends the input's new columns. Refuses to drop a partition or
 * clustering column.
 */
function overwrittenSchema(snapshot: Snapshot, input: readonly InputColumn[], table: string): StructType {
  const fields: StructField[] = [];
  for (const column of input) {
    const field =
      snapshot.schema.fields.find((f) => f.name === column.name) ??
      snapshot.schema.fields.find((f) => f.name.toLowerCase() === column.name.toLowerCase());
    if (!field || fields.includes(field)) continue;
    const inputType = fromDuckDBType(column.duckType, column.name);
    if (field.type !== 'void' && canWrite(inputType, field.type)) {
      fields.push(field);
      continue;
    }
    if (typeof inputType !== 'string' && snapshot.columnMappingMode !== 'none') {
      throw new LarderError(
        'UNSUPPORTED_FEATURE',
        `column "${field.name}" of ${table} would become nested; Larder changes column-mapped columns only to primitive types`,
        { table, column: field.name, feature: 'columnMapping' },
      );
    }
    fields.push({ ...field, type: inputType });
  }
  const kept = new Set(fields.map((f) => f.name));
  const required: [string, readonly string[]][] = [
    ['partition', snapshot.partitionColumns],
    ['clustering', clusteringColumns(snapshot)],
  ];
  for (const [kind, columns] of required) {
    for (const name of columns) {
      if (!kept.has(name)) {
        throw new LarderError(
          'SCHEMA_MISMATCH',
          `overwriting the schema of ${table} would drop its ${kind} column "${name}"; the input must have it`,
          {
            table,
            column: name,
            hint:
              kind === 'partition'
                ? 'add the column to the input; a table changes its partitioning only when recreated'
                : 'add the column to the input, or change the clustering columns first',
          },
        );
      }
    }
  }
  return { type: 'struct', fields };
}

/**
 * The protocol with the `domainMetadata` writer feature (writer version 7,
 * every feature the protocol had kept), or undefined when it has it already.
 *
 * @example
 * const protocol = withDomainMetadataFeature(snapshot.protocol);
 * if (protocol) actions.push({ protocol });
 */
export function withDomainMetadataFeature(protocol: Protocol): Protocol | undefined {
  return unionProtocol(protocol, {
    minReaderVersion: 1,
    minWriterVersion: 7,
    writerFeatures: ['domainMetadata'],
  });
}

/**
 * The `domainMetadata` option of a write or merge, checked: one action per
 * domain, and no `delta.*` domain (those belong to table features that own
 * their semantics, such as clustering). Throws `INVALID_ARGUMENT`.
 */
export function checkedDomainMetadata(
  domains: readonly DomainMetadata[] | undefined,
  table: string,
): readonly DomainMetadata[] {
  if (!domains || domains.length === 0) return [];
  const seen = new Set<string>();
  for (const d of domains) {
    if (typeof d.domain !== 'string' || d.domain === '' || typeof d.configuration !== 'string') {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `domain metadata for ${table} needs a domain name and a configuration string`,
        {
          table,
        },
      );
    }
    if (d.domain.toLowerCase().startsWith('delta.')) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `domain "${d.domain}" is a system domain; writes may only carry user domains (${table})`,
        { table, hint: 'name the domain after your application, e.g. "myapp.state"' },
      );
    }
    if (seen.has(d.domain)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `domain "${d.domain}" appears twice in one commit (${table})`,
        {
          table,
        },
      );
    }
    seen.add(d.domain);
  }
  return domains.map((d) => ({
    domain: d.domain,
    configuration: d.configuration,
    removed: d.removed === true,
  }));
}

/** The tombstone of a live file, as Spark writes it. */
export function removeOf(file: Snapshot['files'][number], deletionTimestamp: number): Remove {
  return {
    path: file.path,
    deletionTimestamp,
    dataChange: true,
    extendedFileMetadata: true,
    partitionValues: file.partitionValues,
    size: file.size,
    ...(file.deletionVector ? { deletionVector: file.deletionVector } : {}),
    ...(file.baseRowId !== undefined && file.baseRowId !== null ? { baseRowId: file.baseRowId } : {}),
    ...(file.defaultRowCommitVersion !== undefined && file.defaultRowCommitVersion !== null
      ? { defaultRowCommitVersion: file.defaultRowCommitVersion }
      : {}),
  };
}

function emptyMetrics(elapsed: number): WriteMetrics {
  return {
    numFiles: 0,
    numOutputRows: 0,
    numOutputBytes: 0,
    numAddedFiles: 0,
    numRemovedFiles: 0,
    numRemovedBytes: 0,
    executionTimeMs: Math.round(elapsed),
  };
}
