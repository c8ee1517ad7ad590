/**
 * DESCRIBE DETAIL: a table's one-row summary, with the fields Delta's
 * `DESCRIBE DETAIL` returns (format, id, name, location, dates, partition
 * and clustering columns, file count and size, properties, protocol
 * versions and table features). Read from the snapshot alone: no data file
 * is opened.
 */
import type { Protocol } from '../log/actions.js';
import type { Snapshot } from '../log/snapshot.js';
import { writerFeatures } from '../transaction/writer-protocol.js';
import { clusteringColumns } from './clustering.js';

/** Delta's DESCRIBE DETAIL fields. */
export interface TableDetail {
  readonly format: 'delta';
  readonly id: string;
  readonly name: string | null;
  readonly description: string | null;
  /** Absolute path of the table's root folder. */
  readonly location: string;
  readonly createdAt: Date | null;
  /** Commit time of the version described. */
  readonly lastModified: Date;
  readonly partitionColumns: readonly string[];
  readonly clusteringColumns: readonly string[];
  readonly numFiles: number;
  readonly sizeInBytes: number;
  readonly properties: Readonly<Record<string, string>>;
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  /** Reader and writer features the protocol enables (explicit or implied by its versions), sorted. */
  readonly tableFeatures: readonly string[];
}

/**
 * The DESCRIBE DETAIL row of a snapshot.
 *
 * @example
 * const detail = describeDetail(snapshot);
 * console.log(detail.numFiles, detail.sizeInBytes, detail.tableFeatures);
 */
export function describeDetail(snapshot: Snapshot): TableDetail {
  const created = snapshot.metadata.createdTime;
  return {
    format: 'delta',
    id: snapshot.metadata.id,
    name: snapshot.metadata.name ?? null,
    description: snapshot.metadata.description ?? null,
    location: snapshot.root,
    createdAt: created === undefined || created === null ? null : new Date(created),
    lastModified: new Date(snapshot.timestamp),
    partitionColumns: [...snapshot.partitionColumns],
    clusteringColumns: clusteringColumns(snapshot),
    numFiles: snapshot.files.length,
    sizeInBytes: snapshot.files.reduce((sum, f) => sum + f.size, 0),
    properties: { ...snapshot.properties },
    minReaderVersion: snapshot.protocol.minReaderVersion,
    minWriterVersion: snapshot.protocol.minWriterVersion,
    tableFeatures: tableFeatures(snapshot.protocol),
  };
}

function tableFeatures(protocol: Protocol): string[] {
  const features = new Set(writerFeatures(protocol));
  if (protocol.minReaderVersion >= 3) for (const f of protocol.readerFeatures ?? []) features.add(f);
  else if (protocol.minReaderVersion === 2) features.add('columnMapping');
  return [...features].sort();
}
