/**
 * CREATE TABLE … AS SELECT and CREATE OR REPLACE TABLE: a table whose
 * schema, partitioning and properties are (re)defined and whose rows are
 * the result of a query (or none), in ONE commit:
 * - creating: version 0 holds the protocol, the metadata and the data files;
 * - replacing: the next version holds the new metadata (the table id is
 *   kept, so history and time travel across the replace keep working), a
 *   `remove` for every live file and the new files. The protocol is upgraded
 *   when the new definition needs more, never downgraded.
 *
 * Clustering columns (`clusterBy`) go into the same commit (protocol
 * features, the `delta.clustering` domain or, on a partitioned table, the
 * `larder.clusteringColumns` property: `clustering.ts`). As in Delta, a
 * replace without `clusterBy` leaves the table unclustered: a clustering
 * domain it had is reset to no columns (removed, when the new definition
 * is partitioned, so that the property decides).
 *
 * `managed` (whether a catalog owns the folder) is recorded as the commit's
 * `isManaged` parameter, as CREATE TABLE records it.
 *
 * Invariants: nothing is committed on failure; files written before a
 * failed commit are deleted, and so is the folder of a table being created
 * (a failed replace may leave a partly written file, unreferenced, which
 * VACUUM removes); a reader sees the old table or the new one, never a mix.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { isLarderError, LarderError } from '../../errors.js';
import type { Action, DomainMetadata, Metadata } from '../log/actions.js';
import { type StructType, serializeSchema } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { CLUSTERING_DOMAIN, clusteringChange } from './clustering.js';
import { type ColumnSpec, DEFAULT_TABLE_PROPERTIES, normalizeSchema, protocolFor } from './create.js';
import type { OperationResult } from './operation-result.js';
import { upgradedProtocol } from './protocol-upgrade.js';
import { removeOf } from './write.js';
import { writeDataFiles } from './write-files.js';

export interface CreateOrReplaceOptions {
  readonly schema: StructType | readonly ColumnSpec[];
  readonly partitionColumns?: readonly string[];
  /** Table properties; Larder's defaults apply to those not given. */
  readonly properties?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly name?: string;
  readonly description?: string;
  /** A DuckDB query for the rows (its columns by the schema's names); no rows when omitted. */
  readonly source?: string;
  /** The table being replaced (its latest snapshot); undefined to create a new table at `path`. */
  readonly replacing?: Snapshot;
  /** Clustering columns (CLUSTER BY), set in the same commit (default none: a replaced table loses its clustering). */
  readonly clusterBy?: readonly string[];
  /** Whether a catalog manages the table's folder (recorded as `isManaged` in the commit; default false). */
  readonly managed?: boolean;
  readonly targetFileSize?: number;
  readonly store?: LogStore;
}

/** The metrics of the commit, named as Spark names them. */
export interface CreateOrReplaceMetrics {
  readonly numFiles: number;
  readonly numOutputRows: number;
  readonly numOutputBytes: number;
  readonly numRemovedFiles: number;
}

/**
 * Create (or replace) the table at `path` with the rows of `options.source`.
 *
 * @example
 * const { table, metrics } = await createOrReplaceTable('/data/top', {
 *   schema: [{ name: 'id', type: 'long' }, { name: 'score', type: 'double' }],
 *   source: 'SELECT id, score FROM scores ORDER BY score DESC LIMIT 100',
 * });
 */
export async function createOrReplaceTable(
  path: string,
  options: CreateOrReplaceOptions,
): Promise<OperationResult<CreateOrReplaceMetrics>> {
  const replacing = options.replacing;
  const store = options.store ?? new LocalLogStore(replacing?.root ?? path);
  const table = store.root;
  if (replacing) assertWritable(replacing.protocol, replacing.metadata, table);
  const properties: Record<string, string> = { ...DEFAULT_TABLE_PROPERTIES };
  for (const [k, v] of Object.entries(options.properties ?? {}))
    if (v !== undefined) properties[k] = String(v);
  const mapping = properties['delta.columnMapping.mode'];
  const currentMapping = replacing?.properties['delta.columnMapping.mode'];
  if (
    (mapping !== undefined && mapping !== 'none') ||
    (currentMapping !== undefined && currentMapping !== 'none')
  ) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `table ${table}: CREATE TABLE AS SELECT and REPLACE are not supported with column mapping`,
      { table, feature: 'columnMapping', hint: 'create the table first, then INSERT INTO it' },
    );
  }
  const schema = normalizeSchema(options.schema, table);
  const partitionColumns = [...(options.partitionColumns ?? [])];
  for (const column of partitionColumns) {
    if (!schema.fields.some((f) => f.name === column)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `partition column "${column}" is not a column of table ${table}`,
        {
          table,
          column,
        },
      );
    }
  }
  if (partitionColumns.length >= schema.fields.length) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `table ${table} must keep at least one column that is not a partition column`,
      {
        table,
      },
    );
  }

  const needed = protocolFor(schema, properties);
  let protocol = replacing ? upgradedProtocol(replacing.protocol, needed) : needed;
  const clusterBy = options.clusterBy ?? [];
  const clustering =
    clusterBy.length === 0
      ? undefined
      : clusteringChange(
          {
            table: options.name ?? table,
            schema,
            partitionColumns,
            columnMappingMode: 'none',
            protocol: protocol ?? replacing!.protocol,
            configuration: properties,
          },
          clusterBy,
        );
  if (clustering?.protocol) protocol = clustering.protocol;
  if (clustering?.configuration) Object.assign(properties, clustering.configuration);
  const domains: DomainMetadata[] = [];
  if (clustering?.domainMetadata) domains.push(clustering.domainMetadata);
  const oldDomain = replacing?.domainMetadata.get(CLUSTERING_DOMAIN);
  if (oldDomain && !oldDomain.removed && !clustering?.domainMetadata) {
    // The replaced table was clustered and the new definition has no clustering domain.
    domains.push(
      partitionColumns.length === 0
        ? {
            domain: CLUSTERING_DOMAIN,
            configuration: JSON.stringify({ clusteringColumns: [] }),
            removed: false,
          }
        : { ...oldDomain, removed: true },
    );
  }
  const metadata: Metadata = {
    id: replacing?.metadata.id ?? randomUUID(),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    format: { provider: 'parquet', options: {} },
    schemaString: serializeSchema(schema),
    partitionColumns,
    configuration: properties,
    createdTime: replacing?.metadata.createdTime ?? Date.now(),
  };

  // A new table's folder is removed again when the statement fails before its commit.
  const createdRoot = !replacing && (await mkdir(table, { recursive: true })) !== undefined;
  const removeCreatedRoot = async () => {
    if (createdRoot) await rm(table, { recursive: true, force: true }).catch(() => undefined);
  };
  let written: Awaited<ReturnType<typeof writeDataFiles>>;
  try {
    written =
      options.source === undefined
        ? { adds: [], rows: 0, bytes: 0 }
        : await writeDataFiles({
            root: table,
            schema,
            partitionColumns,
            sourceSql: options.source,
            properties,
            targetFileSize: options.targetFileSize,
            table,
          });
  } catch (error) {
    await removeCreatedRoot();
    throw error;
  }
  const actions: Action[] = [];
  if (protocol) actions.push({ protocol });
  actions.push({ metaData: metadata });
  for (const domainMetadata of domains) actions.push({ domainMetadata });
  const now = Date.now();
  const removes = replacing ? replacing.files.map((f) => removeOf(f, now)) : [];
  for (const remove of removes) actions.push({ remove });
  for (const add of written.adds) actions.push({ add });
  const metrics: CreateOrReplaceMetrics = {
    numFiles: written.adds.length,
    numOutputRows: written.rows,
    numOutputBytes: written.bytes,
    numRemovedFiles: removes.length,
  };
  const withData = options.source !== undefined;
  const operation = replacing
    ? withData
      ? 'CREATE OR REPLACE TABLE AS SELECT'
      : 'CREATE OR REPLACE TABLE'
    : withData
      ? 'CREATE TABLE AS SELECT'
      : 'CREATE TABLE';
  const tx = new Transaction(store, replacing, {
    operation,
    operationParameters: {
      isManaged: String(options.managed ?? false),
      description: options.description ?? null,
      partitionBy: JSON.stringify(partitionColumns),
      ...(clustering ? { clusterBy: JSON.stringify(clustering.columns) } : {}),
      properties: JSON.stringify(properties),
    },
    operationMetrics: metrics as unknown as Record<string, unknown>,
    isBlindAppend: !replacing,
    readPredicate: replacing ? 'all' : 'none',
  }).addActions(...actions);
  try {
    const result = await tx.commit();
    return { table: result.snapshot, metrics };
  } catch (error) {
    // After an I/O error the commit may have landed: its files must stay.
    if (!(error instanceof LarderError) || error.code !== 'IO_ERROR') {
      await Promise.all(
        written.adds.map((a) => {
          const file = dataFileLocalPath(table, a.path);
          return file ? rm(file, { force: true }).catch(() => undefined) : undefined;
        }),
      );
      if (!isLarderError(error, 'TABLE_ALREADY_EXISTS')) await removeCreatedRoot();
    }
    throw error;
  }
}
