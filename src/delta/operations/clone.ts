/**
 * SHALLOW CLONE: a new table whose first version references the data files
 * of a source table (at one of its versions) instead of copying them.
 *
 * Version 0 of the clone holds the source's protocol (upgraded if the given
 * properties need more), its metadata with a new table id and the given
 * properties merged in, its domain metadata (clustering), and an `add` for
 * every live file of the source, pointing at it by absolute `file://` URI;
 * deletion vectors stored beside the source become absolute (`p`) ones.
 *
 * Invariants:
 * - The source is only read. Writes to the clone put new files (and new
 *   deletion vectors) under the clone's root and only ever remove the
 *   source's files from the clone's log, never from disk; VACUUM on the
 *   clone lists only the clone's root, so it never deletes them either.
 *   (VACUUM on the source can, as in Delta: the clone depends on the
 *   source's retention.)
 * - Reading the clone gives the source's rows at the cloned version.
 * - An existing table at the target is an error (`TABLE_ALREADY_EXISTS`)
 *   unless `replace`: then the clone is its next version (its id and
 *   history kept, its files removed, its protocol never downgraded).
 */

import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LarderError } from '../../errors.js';
import type { Action, Add, DeletionVectorDescriptor, Metadata } from '../log/actions.js';
import { loadSnapshot } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { deletionVectorPath } from '../scan/deletion-vector.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { type LogStore, parseLogName } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { protocolFor } from './create.js';
import type { OperationResult } from './operation-result.js';
import { upgradedProtocol } from './protocol-upgrade.js';
import { removeOf } from './write.js';

export interface CloneOptions {
  /** Table properties of the clone, on top of the source's. */
  readonly properties?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Replace a table that exists at the target (CREATE OR REPLACE TABLE … CLONE). */
  readonly replace?: boolean;
  /** The store of the clone (default: a `LocalLogStore` at `targetPath`). */
  readonly store?: LogStore;
}

/** The metrics of a clone, named as Delta names them. */
export interface CloneMetrics {
  readonly sourceTableSize: number;
  readonly sourceNumOfFiles: number;
  readonly numRemovedFiles: number;
  readonly numCopiedFiles: number;
  readonly removedFilesSize: number;
  readonly copiedFilesSize: number;
}

/**
 * Shallow-clone `source` (the version it shows) to `targetPath`.
 *
 * @example
 * const source = await loadSnapshot(new LocalLogStore('/data/prod/features'), { version: 12 });
 * const { table } = await cloneTable(source, '/data/dev/features', { properties: { 'delta.appendOnly': 'false' } });
 */
export async function cloneTable(
  source: Snapshot,
  targetPath: string,
  options: CloneOptions = {},
): Promise<OperationResult<CloneMetrics>> {
  const store = options.store ?? new LocalLogStore(targetPath);
  const target = store.root;
  if (resolve(target) === resolve(source.root)) {
    throw new LarderError('INVALID_ARGUMENT', `cannot clone table ${source.root} onto itself`, {
      table: target,
    });
  }
  const exists = (await store.list()).some((name) => parseLogName(name).kind !== 'other');
  let replacing: Snapshot | undefined;
  if (exists) {
    if (!options.replace) {
      throw new LarderError('TABLE_ALREADY_EXISTS', `a Delta table already exists at ${target}`, {
        table: target,
        hint: 'choose another path, or replace it (CREATE OR REPLACE TABLE … CLONE)',
      });
    }
    replacing = await loadSnapshot(store);
    assertWritable(replacing.protocol, replacing.metadata, target);
  }

  const configuration: Record<string, string> = { ...source.metadata.configuration };
  for (const [k, v] of Object.entries(options.properties ?? {}))
    if (v !== undefined) configuration[k] = String(v);
  const needed =
    upgradedProtocol(source.protocol, protocolFor(source.schema, configuration)) ?? source.protocol;
  const protocol = replacing ? (upgradedProtocol(replacing.protocol, needed) ?? replacing.protocol) : needed;
  assertWritable(protocol, source.metadata, target);
  const { name: _name, ...kept } = source.metadata;
  const metadata: Metadata = {
    ...kept,
    id: replacing?.metadata.id ?? randomUUID(),
    configuration,
    createdTime: replacing?.metadata.createdTime ?? Date.now(),
  };

  const actions: Action[] = [];
  if (!replacing || JSON.stringify(protocol) !== JSON.stringify(replacing.protocol))
    actions.push({ protocol });
  actions.push({ metaData: metadata });
  for (const domain of source.domainMetadata.values()) {
    if (!domain.removed) actions.push({ domainMetadata: domain });
  }
  const now = Date.now();
  if (replacing) {
    for (const domain of replacing.domainMetadata.values()) {
      if (!source.domainMetadata.has(domain.domain)) {
        actions.push({
          domainMetadata: { domain: domain.domain, configuration: domain.configuration, removed: true },
        });
      }
    }
    for (const file of replacing.files) actions.push({ remove: removeOf(file, now) });
  }
  for (const file of source.files) actions.push({ add: referenceTo(source, file) });

  const size = (files: readonly Add[]) => files.reduce((sum, f) => sum + f.size, 0);
  const metrics: CloneMetrics = {
    sourceTableSize: size(source.files),
    sourceNumOfFiles: source.files.length,
    numRemovedFiles: replacing?.files.length ?? 0,
    numCopiedFiles: 0,
    removedFilesSize: size(replacing?.files ?? []),
    copiedFilesSize: 0,
  };
  if (!replacing) await mkdir(target, { recursive: true });
  const result = await new Transaction(store, replacing, {
    operation: 'CLONE',
    operationParameters: { source: source.root, sourceVersion: source.version, isShallow: true },
    operationMetrics: { ...metrics },
    readPredicate: 'all',
    isBlindAppend: false,
    isolationLevel: 'Serializable',
  })
    .addActions(...actions)
    .commit();
  return { table: result.snapshot, metrics };
}

/** A source file as the clone references it: by absolute URI, with an absolute deletion vector. */
function referenceTo(source: Snapshot, file: Add): Add {
  const { baseRowId: _rowId, defaultRowCommitVersion: _rowVersion, ...rest } = file;
  const local = dataFileLocalPath(source.root, file.path);
  // Remote URIs are absolute already.
  const path = local === undefined ? file.path : pathToFileURL(local).href;
  return {
    ...rest,
    path,
    dataChange: true,
    ...(file.deletionVector ? { deletionVector: absoluteVector(source, file.deletionVector) } : {}),
  };
}

function absoluteVector(source: Snapshot, dv: DeletionVectorDescriptor): DeletionVectorDescriptor {
  if (dv.storageType === 'i') return dv;
  if (dv.storageType === 'p' && /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(dv.pathOrInlineDv)) return dv;
  return { ...dv, storageType: 'p', pathOrInlineDv: pathToFileURL(deletionVectorPath(source.root, dv)).href };
}
