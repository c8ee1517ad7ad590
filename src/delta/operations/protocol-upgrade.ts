/**
 * Protocol upgrades for metadata changes (new table properties, a replaced
 * schema): the protocol a table needs after the change is the union of the
 * protocol it has and the one the new metadata calls for. A protocol is
 * never downgraded (PROTOCOL.md "Protocol Evolution").
 */
import type { Protocol } from '../log/actions.js';
import { writerFeatures } from '../transaction/writer-protocol.js';

const LEGACY_READER_FEATURES: readonly (readonly string[])[] = [[], [], ['columnMapping'], []];

function readerFeatures(protocol: Protocol): readonly string[] {
  if (protocol.minReaderVersion >= 3) return protocol.readerFeatures ?? [];
  return LEGACY_READER_FEATURES.slice(0, protocol.minReaderVersion + 1).flat();
}

/**
 * The smallest protocol that enables everything `current` and `needed`
 * enable, or undefined when `current` already does.
 *
 * @example
 * upgradedProtocol({ minReaderVersion: 1, minWriterVersion: 2 }, protocolFor(schema, properties));
 */
export function upgradedProtocol(current: Protocol, needed: Protocol): Protocol | undefined {
  const haveReader = new Set(readerFeatures(current));
  const haveWriter = new Set(writerFeatures(current));
  // A table with the preview of a feature has the feature: adding its final name would lock out
  // the readers of the preview for nothing.
  const has = (have: ReadonlySet<string>, f: string) => have.has(f) || have.has(`${f}-preview`);
  const missingReader = readerFeatures(needed).filter((f) => !has(haveReader, f));
  const missingWriter = writerFeatures(needed).filter((f) => !has(haveWriter, f));
  const versionsCovered =
    current.minReaderVersion >= needed.minReaderVersion &&
    current.minWriterVersion >= needed.minWriterVersion;
  if (missingReader.length === 0 && missingWriter.length === 0 && versionsCovered) return undefined;
  const featureBased = current.minWriterVersion >= 7 || needed.minWriterVersion >= 7;
  if (!featureBased) {
    return {
      minReaderVersion: Math.max(current.minReaderVersion, needed.minReaderVersion),
      minWriterVersion: Math.max(current.minWriterVersion, needed.minWriterVersion),
    };
  }
  const reader = [...haveReader, ...missingReader];
  const writer = [...haveWriter, ...missingWriter];
  // Reader features only exist at reader version 3; below it, legacy versions imply them.
  const readerVersion =
    reader.length > 0 ? 3 : Math.max(current.minReaderVersion, needed.minReaderVersion, 1);
  return {
    minReaderVersion: readerVersion,
    minWriterVersion: 7,
    ...(readerVersion >= 3 ? { readerFeatures: reader } : {}),
    writerFeatures: writer,
  };
}
