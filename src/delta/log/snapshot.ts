/**
 * A `Snapshot` is the state of a table at one version: protocol, metadata,
 * schema and the set of live data files (with stats and deletion vectors),
 * plus the tombstones, app transactions and domain metadata. Snapshots are
 * immutable and frozen; operations read one and commit against its version.
 */
import { LarderError } from '../../errors.js';
import type { Add, DomainMetadata, Metadata, Protocol, Remove, Txn } from './actions.js';
import { type ColumnMappingMode, parseSchema, type StructType } from './schema.js';
import { fileStats } from './stats.js';
import { assertTypeChangesReadable } from './type-widening.js';

/** Reader features Larder implements. Any other reader feature is refused. */
export const SUPPORTED_READER_FEATURES: ReadonlySet<string> = new Set([
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'typeWidening',
  'typeWidening-preview',
  'vacuumProtocolCheck',
  'v2Checkpoint',
  'variantType',
  'variantType-preview',
]);

/** A commit in the log segment of a snapshot: version and commit timestamp (ms). */
export interface CommitRef {
  readonly version: number;
  readonly timestamp: number;
}

export interface SnapshotInit {
  readonly root: string;
  readonly version: number;
  readonly timestamp: number;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly files: readonly Add[];
  readonly tombstones: readonly Remove[];
  readonly txns: ReadonlyMap<string, Txn>;
  readonly domainMetadata: ReadonlyMap<string, DomainMetadata>;
  readonly checkpointVersion: number | undefined;
}

export class Snapshot {
  /** Absolute path of the table's root folder. */
  readonly root: string;
  readonly version: number;
  /** Commit timestamp of this version, ms since the epoch. */
  readonly timestamp: number;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly schema: StructType;
  /** Live data files (the `add` actions of the current state). */
  readonly files: readonly Add[];
  /** Removed files still within the tombstone retention (for VACUUM). */
  readonly tombstones: readonly Remove[];
  readonly txns: ReadonlyMap<string, Txn>;
  readonly domainMetadata: ReadonlyMap<string, DomainMetadata>;
  /** The newest checkpoint this snapshot was loaded from, if any. */
  readonly checkpointVersion: number | undefined;

  constructor(init: SnapshotInit) {
    this.root = init.root;
    this.version = init.version;
    this.timestamp = init.timestamp;
    this.protocol = Object.freeze({ ...init.protocol });
    this.metadata = Object.freeze({ ...init.metadata });
    this.schema = parseSchema(init.metadata.schemaString);
    assertTypeChangesReadable(this.schema, init.root);
    this.files = Object.freeze([...init.files]);
    this.tombstones = Object.freeze([...init.tombstones]);
    this.txns = init.txns;
    this.domainMetadata = init.domainMetadata;
    this.checkpointVersion = init.checkpointVersion;
    Object.freeze(this);
  }

  get partitionColumns(): readonly string[] {
    return this.metadata.partitionColumns;
  }

  /** Table properties (`metaData.configuration`). */
  get properties(): Readonly<Record<string, string>> {
    return this.metadata.configuration;
  }

  get columnMappingMode(): ColumnMappingMode {
    const mode = this.metadata.configuration['delta.columnMapping.mode'];
    return mode === 'name' || mode === 'id' ? mode : 'none';
  }

  /** Whether the table writes a change data feed. */
  get changeDataFeed(): boolean {
    return this.metadata.configuration['delta.enableChangeDataFeed'] === 'true';
  }

  /** Whether the table's protocol enables a (reader or writer) table feature. */
  hasFeature(feature: string): boolean {
    return (
      (this.protocol.readerFeatures?.includes(feature) ?? false) ||
      (this.protocol.writerFeatures?.includes(feature) ?? false)
    );
  }

  /** Total rows in live files according to stats and deletion vectors (undefined if any file lacks stats). */
  get numRecords(): number | undefined {
    let total = numRecordsCache.get(this);
    if (total === undefined) {
      total = 0;
      for (const add of this.files) {
        const n = fileStats(add)?.numRecords;
        if (typeof n !== 'number') {
          total = null;
          break;
        }
        total += n - (add.deletionVector?.cardinality ?? 0);
      }
      numRecordsCache.set(this, total);
    }
    return total ?? undefined;
  }
}

/** `Snapshot.numRecords` per (frozen) snapshot; `null` when some file has no row count. */
const numRecordsCache = new WeakMap<Snapshot, number | null>();

/** Throw `UNSUPPORTED_FEATURE` unless Larder can read a table with this protocol. */
export function assertReadable(protocol: Protocol, table: string): void {
  if (protocol.minReaderVersion > 3) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `table ${table} needs reader version ${protocol.minReaderVersion}; Larder reads up to 3`,
      { table, feature: `readerVersion${protocol.minReaderVersion}` },
    );
  }
  if (protocol.minReaderVersion === 3) {
    for (const feature of protocol.readerFeatures ?? []) {
      if (!SUPPORTED_READER_FEATURES.has(feature)) {
        throw new LarderError('UNSUPPORTED_FEATURE', `table ${table} uses reader feature "${feature}"`, {
          table,
          feature,
          hint: 'Larder cannot read this table without returning wrong rows',
        });
      }
    }
  }
}
