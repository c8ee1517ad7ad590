/**
 * Which tables Larder may write (PROTOCOL.md "Table Features" and the
 * legacy writer versions). A writer must honour every feature a table's
 * protocol enables; Larder refuses to write a table with a feature it does
 * not implement, naming the feature, rather than write a commit that breaks
 * the table for other engines.
 *
 * Legacy writer versions imply features: 2 appendOnly + invariants,
 * 3 checkConstraints, 4 changeDataFeed + generatedColumns, 5 columnMapping,
 * 6 identityColumns. Generated and identity columns are accepted only while
 * no column uses them.
 *
 * `typeWidening` (and its preview name) asks writers to keep
 * `delta.typeChanges` and to widen only as Delta allows: the only operation
 * that changes a column's type is `change-column-type.ts`, and schema
 * evolution keeps existing fields' metadata.
 *
 * `v2Checkpoint` asks writers for V2-spec checkpoints and no multi-part
 * ones: Larder's checkpoint writer writes a classic checkpoint with a
 * `checkpointMetadata` action on such tables (`checkpoint-writer.ts`), and
 * VACUUM never touches `_delta_log/` (so neither the `_sidecars/` that
 * other engines' checkpoints reference).
 */
import { LarderError } from '../../errors.js';
import type { Metadata, Protocol } from '../log/actions.js';
import { parseSchema, type StructField } from '../log/schema.js';

/** Writer features Larder implements (for writer version 7 tables). */
export const SUPPORTED_WRITER_FEATURES: ReadonlySet<string> = new Set([
  'appendOnly',
  'invariants',
  'checkConstraints',
  'changeDataFeed',
  'deletionVectors',
  'timestampNtz',
  'typeWidening',
  'typeWidening-preview',
  'columnMapping',
  'domainMetadata',
  'clustering',
  'vacuumProtocolCheck',
  'generatedColumns',
  'identityColumns',
  'v2Checkpoint',
]);

const LEGACY_FEATURES: readonly (readonly string[])[] = [
  [],
  [],
  ['appendOnly', 'invariants'],
  ['checkConstraints'],
  ['changeDataFeed', 'generatedColumns'],
  ['columnMapping'],
  ['identityColumns'],
];

/** The writer features a protocol enables (explicit at writer 7, implied below). */
export function writerFeatures(protocol: Protocol): readonly string[] {
  if (protocol.minWriterVersion >= 7) return protocol.writerFeatures ?? [];
  return LEGACY_FEATURES.slice(0, protocol.minWriterVersion + 1).flat();
}

/**
 * Throw `UNSUPPORTED_FEATURE` unless Larder can write a table with this
 * protocol and metadata.
 *
 * @example
 * assertWritable(snapshot.protocol, snapshot.metadata, snapshot.root);
 */
export function assertWritable(protocol: Protocol, metadata: Metadata, table: string): void {
  if (protocol.minWriterVersion > 7) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `table ${table} needs writer version ${protocol.minWriterVersion}; Larder writes up to 7`,
      { table, feature: `writerVersion${protocol.minWriterVersion}` },
    );
  }
  const features = writerFeatures(protocol);
  for (const feature of features) {
    if (!SUPPORTED_WRITER_FEATURES.has(feature)) {
      throw new LarderError(
        'UNSUPPORTED_FEATURE',
        `table ${table} uses writer feature "${feature}", which Larder does not implement`,
        {
          table,
          feature,
          hint: 'write this table with an engine that supports the feature (e.g. Spark)',
        },
      );
    }
  }
  const topLevel = parseSchema(metadata.schemaString).fields;
  const fields = allFields(topLevel);
  const generated = fields.find((f) => f.metadata['delta.generationExpression'] !== undefined);
  if (generated) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `column "${generated.name}" of ${table} is a generated column; Larder does not compute generated columns`,
      {
        table,
        column: generated.name,
        feature: 'generatedColumns',
      },
    );
  }
  const identity = fields.find((f) => Object.keys(f.metadata).some((k) => k.startsWith('delta.identity.')));
  if (identity) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `column "${identity.name}" of ${table} is an identity column; Larder does not assign identity values`,
      {
        table,
        column: identity.name,
        feature: 'identityColumns',
      },
    );
  }
  const nestedInvariant = fields.find(
    (f) => f.metadata['delta.invariants'] !== undefined && !topLevel.includes(f),
  );
  if (nestedInvariant) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `nested column "${nestedInvariant.name}" of ${table} has an invariant; Larder enforces invariants on top-level columns only`,
      {
        table,
        column: nestedInvariant.name,
        feature: 'invariants',
      },
    );
  }
}

function allFields(fields: readonly StructField[]): StructField[] {
  const result: StructField[] = [];
  const visit = (f: StructField, type = f.type): void => {
    if (typeof type === 'string') return;
    if (type.type === 'struct')
      for (const child of type.fields) {
        result.push(child);
        visit(child);
      }
    else if (type.type === 'array') visit(f, type.elementType);
    else {
      visit(f, type.keyType);
      visit(f, type.valueType);
    }
  };
  for (const f of fields) {
    result.push(f);
    visit(f);
  }
  return result;
}
