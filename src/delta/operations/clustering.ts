/**
 * Clustering columns (ALTER TABLE … CLUSTER BY): the columns OPTIMIZE and
 * optimized writes sort rows by, so that files have narrow ranges on them.
 *
 * On an unpartitioned table this is Delta's liquid clustering (PROTOCOL.md
 * "Clustered Table"): the `delta.clustering` domain metadata holds the
 * columns' physical names (`{"clusteringColumns":[["c1"],["c2"]]}`, as Delta
 * Spark writes it), and the protocol moves to writer version 7 with the
 * `domainMetadata` and `clustering` writer features (existing features kept,
 * reader features unchanged).
 *
 * The protocol forbids clustering a partitioned table; Databricks users
 * nevertheless write `PARTITIONED BY (…) CLUSTER BY (…)`. There the columns
 * are kept in the Larder table property `larder.clusteringColumns` (a JSON
 * list of names), which other engines ignore, and OPTIMIZE Z-orders by them
 * within each partition: the table stays a valid partitioned Delta table.
 *
 * A new table is clustered in its first commit (`clusteringChange`, used by
 * CREATE TABLE … CLUSTER BY): its protocol, metadata and the domain metadata
 * together, as Delta Spark writes it.
 *
 * Invariant: every clustering column exists and has min/max statistics
 * (checked before anything is committed); `[]` removes the clustering.
 */
import { LarderError } from '../../errors.js';
import type { Action, DomainMetadata, Protocol } from '../log/actions.js';
import { type ColumnMappingMode, physicalName, type StructType } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable, writerFeatures } from '../transaction/writer-protocol.js';
import type { OperationResult } from './operation-result.js';
import { resolveZOrderColumns } from './z-order.js';

/** The domain of the clustering domain metadata. */
export const CLUSTERING_DOMAIN = 'delta.clustering';

/** Table property holding the clustering columns of a partitioned table (Larder only). */
export const CLUSTERING_PROPERTY = 'larder.clusteringColumns';

export interface ClusteringOptions {
  readonly userMetadata?: string;
  readonly store?: LogStore;
}

export interface ClusteringMetrics {
  readonly clusteringColumns: readonly string[];
}

/** A table definition (a snapshot's, or a new table's) as clustering sees it. */
export interface ClusterableTable {
  /** For messages: the table's name or folder. */
  readonly table: string;
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  readonly columnMappingMode: ColumnMappingMode;
  readonly protocol: Protocol;
  /** Table properties (`metaData.configuration`). */
  readonly configuration: Readonly<Record<string, string>>;
}

/** What clustering a table definition by some columns changes in it. */
export interface ClusteringChange {
  /** The clustering columns, logical names as in the schema. */
  readonly columns: readonly string[];
  /** The new protocol, or undefined when it stays. */
  readonly protocol: Protocol | undefined;
  /** The new table properties (partitioned tables), or undefined when they stay. */
  readonly configuration: Record<string, string> | undefined;
  /** The `delta.clustering` domain metadata (unpartitioned tables), or undefined. */
  readonly domainMetadata: DomainMetadata | undefined;
}

/**
 * How clustering `definition` by `columns` (`[]`: none) changes it. Throws
 * `INVALID_ARGUMENT` naming a column that does not exist, is a partition
 * column, or has no statistics.
 *
 * @example
 * const change = clusteringChange({ table: 'ml.s.t', schema, partitionColumns: [], columnMappingMode: 'none', protocol, configuration }, ['id']);
 * const actions = [{ protocol: change.protocol ?? protocol }, { metaData }, { domainMetadata: change.domainMetadata! }];
 */
export function clusteringChange(definition: ClusterableTable, columns: readonly string[]): ClusteringChange {
  const resolved = resolveZOrderColumns(definition, columns, 'CLUSTER BY');
  const names = resolved.map((c) => c.name);
  assertHaveStats(definition, names);
  if (definition.partitionColumns.length > 0) {
    const configuration = { ...definition.configuration };
    if (names.length > 0) configuration[CLUSTERING_PROPERTY] = JSON.stringify(names);
    else delete configuration[CLUSTERING_PROPERTY];
    return { columns: names, protocol: undefined, configuration, domainMetadata: undefined };
  }
  return {
    columns: names,
    protocol: withClustering(definition.protocol),
    configuration: undefined,
    domainMetadata: {
      domain: CLUSTERING_DOMAIN,
      configuration: JSON.stringify({ clusteringColumns: resolved.map((c) => [c.physical]) }),
      removed: false,
    },
  };
}

/**
 * Whether the table is a Delta clustered table (the `clustering` writer feature).
 *
 * @example
 * if (isClusteredTable(snapshot)) console.log('liquid clustering');
 */
export function isClusteredTable(snapshot: Snapshot): boolean {
  return (
    snapshot.protocol.minWriterVersion >= 7 &&
    (snapshot.protocol.writerFeatures?.includes('clustering') ?? false)
  );
}

/**
 * The clustering columns of a table (logical names), or `[]`.
 *
 * @example
 * clusteringColumns(snapshot); // ['customer_id']
 */
export function clusteringColumns(snapshot: Snapshot): string[] {
  const domain = snapshot.domainMetadata.get(CLUSTERING_DOMAIN);
  if (domain && !domain.removed && isClusteredTable(snapshot)) {
    let parsed: { clusteringColumns?: unknown };
    try {
      parsed = JSON.parse(domain.configuration) as { clusteringColumns?: unknown };
    } catch (error) {
      throw new LarderError(
        'CORRUPT_LOG',
        `the ${CLUSTERING_DOMAIN} domain metadata of ${snapshot.root} is not JSON`,
        {
          table: snapshot.root,
          cause: error,
        },
      );
    }
    const entries = Array.isArray(parsed.clusteringColumns) ? parsed.clusteringColumns : [];
    const mode = snapshot.columnMappingMode;
    return entries.map((entry) => {
      // Spark writes each column as its path ([["a"]]); the protocol's example as a string.
      const path = Array.isArray(entry) ? entry.map(String) : [String(entry)];
      const top = snapshot.schema.fields.find((f) => physicalName(f, mode) === path[0]);
      return [top?.name ?? path[0], ...path.slice(1)].join('.');
    });
  }
  const property = snapshot.properties[CLUSTERING_PROPERTY];
  if (property) {
    try {
      const names = JSON.parse(property) as unknown;
      if (Array.isArray(names)) return names.map(String);
    } catch {
      // Not ours to judge: a malformed property means no clustering.
    }
  }
  return [];
}

/**
 * ALTER TABLE … CLUSTER BY (`columns`; `[]` for CLUSTER BY NONE).
 *
 * @example
 * const { table } = await setClusteringColumns(snapshot, ['customer_id']);
 * await optimizeTable(table); // clusters the files by customer_id
 */
export async function setClusteringColumns(
  snapshot: Snapshot,
  columns: readonly string[],
  options: ClusteringOptions = {},
): Promise<OperationResult<ClusteringMetrics>> {
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  const store = options.store ?? new LocalLogStore(table);
  const change = clusteringChange(
    {
      table,
      schema: snapshot.schema,
      partitionColumns: snapshot.partitionColumns,
      columnMappingMode: snapshot.columnMappingMode,
      protocol: snapshot.protocol,
      configuration: snapshot.metadata.configuration,
    },
    columns,
  );
  const before = clusteringColumns(snapshot);
  const names = [...change.columns];
  const actions: Action[] = [];
  if (change.configuration)
    actions.push({ metaData: { ...snapshot.metadata, configuration: change.configuration } });
  if (change.protocol) actions.push({ protocol: change.protocol });
  if (change.domainMetadata) actions.push({ domainMetadata: change.domainMetadata });
  const result = await new Transaction(store, snapshot, {
    operation: 'CLUSTER BY',
    operationParameters: {
      oldClusteringColumns: before.join(','),
      newClusteringColumns: names.join(','),
    },
    operationMetrics: {},
    readPredicate: 'none',
    isBlindAppend: false,
    isolationLevel: 'Serializable',
    userMetadata: options.userMetadata,
  })
    .addActions(...actions)
    .commit();
  return { table: result.snapshot, metrics: { clusteringColumns: names } };
}

/** The protocol with the clustering features, or undefined when it has them already. */
function withClustering(protocol: Protocol): Protocol | undefined {
  const current = writerFeatures(protocol);
  if (
    protocol.minWriterVersion >= 7 &&
    current.includes('clustering') &&
    current.includes('domainMetadata')
  ) {
    return undefined;
  }
  const features = [...current];
  for (const f of ['domainMetadata', 'clustering']) if (!features.includes(f)) features.push(f);
  return {
    minReaderVersion: protocol.minReaderVersion,
    minWriterVersion: 7,
    ...(protocol.readerFeatures ? { readerFeatures: protocol.readerFeatures } : {}),
    writerFeatures: features,
  };
}

/** Clustering columns must have stats in every file (PROTOCOL.md "Writer Requirements for Clustered Table"). */
function assertHaveStats(definition: ClusterableTable, names: readonly string[]): void {
  const table = definition.table;
  const listed = definition.configuration['delta.dataSkippingStatsColumns'];
  const limit = Number(definition.configuration['delta.dataSkippingNumIndexedCols'] ?? 32);
  for (const name of names) {
    let collected: boolean;
    if (listed !== undefined) {
      collected = listed
        .split(',')
        .map((c) => c.trim().replaceAll('`', '').toLowerCase())
        .includes(name.toLowerCase());
    } else {
      const index = definition.schema.fields
        .filter((f) => !definition.partitionColumns.includes(f.name))
        .findIndex((f) => f.name === name);
      collected = limit < 0 || index < limit;
    }
    if (!collected) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `CLUSTER BY: column "${name}" of ${table} has no statistics (see delta.dataSkippingNumIndexedCols / delta.dataSkippingStatsColumns)`,
        { table, column: name, hint: 'collect statistics for the column, or cluster by another one' },
      );
    }
  }
}
