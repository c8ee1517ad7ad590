/**
 * The actions of the Delta log (PROTOCOL.md "Actions"), as they appear in a
 * commit file: one JSON object per line with exactly one of these keys.
 * Field names follow the protocol exactly, so an action serialises to the
 * line Spark would write. Readers ignore unknown fields and unknown actions.
 */
import { canonicalFilePath } from '../storage/data-file-path.js';

/** `protocol`: the reader and writer versions (and features at 3 / 7). */
export interface Protocol {
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly readerFeatures?: readonly string[];
  readonly writerFeatures?: readonly string[];
}

export interface Format {
  readonly provider: string;
  readonly options: Readonly<Record<string, string>>;
}

/** `metaData`: the table's id, schema, partition columns and properties. */
export interface Metadata {
  readonly id: string;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly format: Format;
  readonly schemaString: string;
  readonly partitionColumns: readonly string[];
  readonly configuration: Readonly<Record<string, string>>;
  readonly createdTime?: number | null;
}

/** A deletion vector descriptor (PROTOCOL.md "Deletion Vector Descriptor Schema"). */
export interface DeletionVectorDescriptor {
  /** `u` (relative path from a UUID, Z85), `i` (inline, Z85) or `p` (absolute path). */
  readonly storageType: 'u' | 'i' | 'p';
  readonly pathOrInlineDv: string;
  readonly offset?: number | null;
  readonly sizeInBytes: number;
  readonly cardinality: number;
}

/** `add`: a data file that is part of the table. */
export interface Add {
  /** Relative (URI-encoded) or absolute URI of the file. */
  readonly path: string;
  /** Every partition column; `null` (or `""`) means null. */
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly size: number;
  readonly modificationTime: number;
  readonly dataChange: boolean;
  /** JSON string: numRecords, minValues, maxValues, nullCount, tightBounds. */
  readonly stats?: string | null;
  readonly tags?: Readonly<Record<string, string>> | null;
  readonly deletionVector?: DeletionVectorDescriptor | null;
  readonly baseRowId?: number | null;
  readonly defaultRowCommitVersion?: number | null;
  readonly clusteringProvider?: string | null;
}

/** `remove`: a file that is no longer part of the table (a tombstone). */
export interface Remove {
  readonly path: string;
  readonly deletionTimestamp?: number | null;
  readonly dataChange: boolean;
  readonly extendedFileMetadata?: boolean | null;
  readonly partitionValues?: Readonly<Record<string, string | null>> | null;
  readonly size?: number | null;
  readonly stats?: string | null;
  readonly tags?: Readonly<Record<string, string>> | null;
  readonly deletionVector?: DeletionVectorDescriptor | null;
  readonly baseRowId?: number | null;
  readonly defaultRowCommitVersion?: number | null;
}

/** `cdc`: a file in `_change_data/` holding this commit's change rows. */
export interface AddCdcFile {
  readonly path: string;
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly size: number;
  readonly dataChange: boolean;
  readonly tags?: Readonly<Record<string, string>> | null;
}

/** `txn`: an application's idempotency marker. */
export interface Txn {
  readonly appId: string;
  readonly version: number;
  readonly lastUpdated?: number | null;
}

/** `commitInfo`: free-form provenance; Larder writes the fields Spark writes. */
export interface CommitInfo {
  readonly timestamp?: number;
  readonly operation?: string;
  readonly operationParameters?: Readonly<Record<string, unknown>>;
  readonly operationMetrics?: Readonly<Record<string, unknown>>;
  readonly readVersion?: number;
  readonly isolationLevel?: string;
  readonly isBlindAppend?: boolean;
  readonly engineInfo?: string;
  readonly txnId?: string;
  readonly inCommitTimestamp?: number;
  readonly [key: string]: unknown;
}

/** `domainMetadata`: named configuration blobs (clustering, row tracking). */
export interface DomainMetadata {
  readonly domain: string;
  readonly configuration: string;
  readonly removed: boolean;
}

/** One line of a commit file. */
export type Action =
  | { readonly protocol: Protocol }
  | { readonly metaData: Metadata }
  | { readonly add: Add }
  | { readonly remove: Remove }
  | { readonly cdc: AddCdcFile }
  | { readonly txn: Txn }
  | { readonly commitInfo: CommitInfo }
  | { readonly domainMetadata: DomainMetadata };

/** The key naming an action's kind. */
export type ActionKind =
  | 'protocol'
  | 'metaData'
  | 'add'
  | 'remove'
  | 'cdc'
  | 'txn'
  | 'commitInfo'
  | 'domainMetadata';

export const ACTION_KINDS: readonly ActionKind[] = Object.freeze([
  'protocol',
  'metaData',
  'add',
  'remove',
  'cdc',
  'txn',
  'commitInfo',
  'domainMetadata',
]);

/** The actions of one commit, grouped by kind (unknown kinds dropped). */
export interface CommitActions {
  readonly version: number;
  readonly protocol?: Protocol;
  readonly metaData?: Metadata;
  readonly commitInfo?: CommitInfo;
  readonly add: readonly Add[];
  readonly remove: readonly Remove[];
  readonly cdc: readonly AddCdcFile[];
  readonly txn: readonly Txn[];
  readonly domainMetadata: readonly DomainMetadata[];
}

/**
 * The key of a file in the table: its path plus its deletion vector's id.
 * With the table's `root`, the path is canonical (`canonicalFilePath`), so a
 * remove written as a URI matches the add written as a relative path.
 */
export function fileKey(
  action: { path: string; deletionVector?: DeletionVectorDescriptor | null },
  root?: string,
): string {
  const p = root === undefined ? action.path : canonicalFilePath(root, action.path);
  const dv = action.deletionVector;
  return dv ? `${p}\u0000${dv.storageType}${dv.pathOrInlineDv}@${dv.offset ?? ''}` : p;
}

/** Serialise actions as the lines of a commit file. */
export function serializeActions(actions: readonly Action[]): string {
  return actions.map((action) => JSON.stringify(action)).join('\n') + '\n';
}
