/**
 * V2 checkpoints (PROTOCOL.md "V2 Checkpoint Table Feature", "Checkpoint
 * Specs", "Sidecar File Information", "Checkpoint Metadata", "Last
 * Checkpoint File Schema"): what the `checkpointMetadata` and `sidecar`
 * actions of a checkpoint say, and which of several checkpoints of one
 * version `_last_checkpoint` points at. Reading the files is
 * `checkpoint-reader.ts`'s job; this module only interprets.
 *
 * Invariants:
 * - A checkpoint is V2 when it is UUID-named (`n.checkpoint.<uuid>.json` or
 *   `.parquet`) or holds a `checkpointMetadata` action; a V2 checkpoint has
 *   exactly one, and its `version` is the checkpoint's version.
 * - A sidecar always lives in the table's own `_delta_log/_sidecars/`: a
 *   relative path is resolved there, and an absolute URI by its file name
 *   there, so a copied or moved table still finds its sidecars. A path that
 *   climbs out of `_sidecars/` is refused.
 * - `_last_checkpoint` only orders the checkpoints of one version: a
 *   missing, garbled or checksum-failing hint orders nothing.
 */
import { createHash } from 'node:crypto';
import type { LogStore } from '../storage/log-store.js';

/** A sidecar file a V2 checkpoint references. */
export interface SidecarFile {
  /** Log-relative name, for `LogStore`: `_sidecars/<file>.parquet`. */
  readonly name: string;
  /** The `path` the sidecar action holds. */
  readonly path: string;
  readonly sizeInBytes?: number;
  readonly modificationTime?: number;
}

/** The V2 actions of one checkpoint. */
export interface V2CheckpointActions {
  /** The `checkpointMetadata` action (undefined for a V1-spec classic checkpoint). */
  readonly checkpointMetadata?: {
    readonly version: number;
    readonly tags?: Readonly<Record<string, string>>;
  };
  readonly sidecars: readonly SidecarFile[];
}

/** The folder of sidecar files, relative to `_delta_log/`. */
export const SIDECAR_FOLDER = '_sidecars';

/**
 * Check the raw `checkpointMetadata` and `sidecar` action bodies of the
 * checkpoint of `version` and resolve the sidecars. `uuidNamed` says the
 * file name makes it V2 (then `checkpointMetadata` is required). Throws a
 * plain `Error` saying what is wrong; the reader turns it into `CORRUPT_LOG`
 * naming the checkpoint.
 *
 * @example
 * const v2 = v2CheckpointActions(10, true, [{ version: 10, tags: {} }], [{ path: 'a.parquet', sizeInBytes: 9, modificationTime: 1 }]);
 * v2.sidecars[0].name; // '_sidecars/a.parquet'
 */
export function v2CheckpointActions(
  version: number,
  uuidNamed: boolean,
  checkpointMetadata: readonly unknown[],
  sidecars: readonly unknown[],
): V2CheckpointActions {
  if (checkpointMetadata.length > 1) {
    throw new Error(`holds ${checkpointMetadata.length} checkpointMetadata actions; a V2 checkpoint has one`);
  }
  const raw = checkpointMetadata[0];
  if (raw === undefined) {
    if (uuidNamed)
      throw new Error('has no checkpointMetadata action, which a UUID-named checkpoint must have');
    if (sidecars.length > 0) throw new Error('references sidecar files but has no checkpointMetadata action');
    return { sidecars: [] };
  }
  if (!isObject(raw)) throw new Error('holds a checkpointMetadata action that is not an object');
  const metaVersion = Number(raw.version);
  if (raw.version === null || raw.version === undefined || !Number.isInteger(metaVersion)) {
    throw new Error('holds a checkpointMetadata action without a version');
  }
  if (metaVersion !== version) {
    throw new Error(
      `says it is the checkpoint of version ${metaVersion} (checkpointMetadata), not ${version}`,
    );
  }
  const tags = isObject(raw.tags) ? (raw.tags as Record<string, string>) : undefined;
  return {
    checkpointMetadata: tags ? { version, tags } : { version },
    sidecars: sidecars.map(sidecarFile),
  };
}

function sidecarFile(raw: unknown): SidecarFile {
  if (!isObject(raw) || typeof raw.path !== 'string' || raw.path.length === 0) {
    throw new Error('holds a sidecar action without a path');
  }
  const path = raw.path;
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new Error(`holds a sidecar path that is not URI-encoded: ${path}`);
    }
  };
  let file: string;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path)) {
    // An absolute URI: sidecars live in this table's _sidecars folder, wherever the table was written.
    const url = URL.canParse(path) ? new URL(path) : undefined;
    const last =
      (url ? url.pathname : path)
        .split('/')
        .filter((s) => s.length > 0)
        .pop() ?? '';
    file = decode(last);
  } else {
    file = decode(path);
  }
  const segments = file.split(/[/\\]/);
  if (file.length === 0 || segments.some((s) => s === '..' || s === '') || file.startsWith('/')) {
    throw new Error(`holds a sidecar path outside ${SIDECAR_FOLDER}/: ${path}`);
  }
  const number = (value: unknown) =>
    typeof value === 'number' || typeof value === 'string' ? Number(value) : undefined;
  return {
    name: `${SIDECAR_FOLDER}/${segments.join('/')}`,
    path,
    sizeInBytes: number(raw.sizeInBytes),
    modificationTime: number(raw.modificationTime),
  };
}

/** What `_last_checkpoint` says about the checkpoint it names. */
export interface LastCheckpointHint {
  readonly version: number;
  /** Number of parts of a multi-part checkpoint. */
  readonly parts?: number;
  /** File name of a UUID-named V2 checkpoint (`v2Checkpoint.path`). */
  readonly v2FileName?: string;
}

/**
 * The parsed `_last_checkpoint`, or undefined if it is missing, not the
 * expected JSON, or its `checksum` does not match its content.
 *
 * @example
 * const hint = await readLastCheckpoint(store); // { version: 10, v2FileName: '…checkpoint.<uuid>.json' }
 */
export async function readLastCheckpoint(store: LogStore): Promise<LastCheckpointHint | undefined> {
  let value: unknown;
  try {
    const bytes = await store.read('_last_checkpoint');
    if (!bytes) return undefined;
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(value) || typeof value.version !== 'number' || !Number.isInteger(value.version))
    return undefined;
  if (typeof value.checksum === 'string') {
    let checksum: string;
    try {
      checksum = lastCheckpointChecksum(value);
    } catch {
      return undefined;
    }
    if (checksum !== value.checksum.toLowerCase()) return undefined;
  }
  const parts = typeof value.parts === 'number' && value.parts > 1 ? value.parts : undefined;
  const v2 = value.v2Checkpoint;
  let v2FileName: string | undefined;
  if (isObject(v2) && typeof v2.path === 'string') {
    try {
      v2FileName = decodeURIComponent(v2.path.split('/').pop() ?? '');
    } catch {
      v2FileName = undefined;
    }
  }
  return { version: value.version, ...(parts ? { parts } : {}), ...(v2FileName ? { v2FileName } : {}) };
}

/**
 * The complete checkpoints of one version (each a list of file names),
 * with the one `hint` names first; the others keep their order.
 *
 * @example
 * preferNamed(hint, 10, [['…checkpoint.parquet'], ['…checkpoint.<uuid>.json']]);
 */
export function preferNamed(
  hint: LastCheckpointHint | undefined,
  version: number,
  candidates: readonly (readonly string[])[],
): readonly (readonly string[])[] {
  if (!hint || hint.version !== version || candidates.length < 2) return candidates;
  const named = candidates.findIndex((files) =>
    hint.v2FileName !== undefined
      ? files.length === 1 && files[0] === hint.v2FileName
      : files.length === (hint.parts ?? 1) && (hint.parts !== undefined || !isUuidNamed(files[0]!)),
  );
  if (named <= 0) return candidates;
  return [candidates[named]!, ...candidates.filter((_, i) => i !== named)];
}

function isUuidNamed(name: string): boolean {
  return !/\.checkpoint(\.\d{10}\.\d{10})?\.parquet$/.test(name);
}

/**
 * The checksum of a `_last_checkpoint` object (PROTOCOL.md "JSON
 * checksum"): the MD5 hex digest of its canonical form, the top-level
 * `checksum` left out.
 *
 * @example
 * lastCheckpointChecksum({ version: 10, size: 12 }); // 32 hex digits
 */
export function lastCheckpointChecksum(value: Record<string, unknown>): string {
  const pairs: [Buffer, string][] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => {
        walk(item, path === '' ? String(i) : `${path}+${i}`);
      });
    } else if (isObject(node)) {
      for (const [key, item] of Object.entries(node)) {
        const segment = `"${canonicalText(key)}"`;
        walk(item, path === '' ? segment : `${path}+${segment}`);
      }
    } else {
      const leaf = typeof node === 'string' ? `"${canonicalText(node)}"` : JSON.stringify(node);
      pairs.push([Buffer.from(path, 'utf8'), `${path}=${leaf}`]);
    }
  };
  const { checksum: _checksum, ...rest } = value;
  walk(rest, '');
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  return createHash('md5')
    .update(pairs.map(([, pair]) => pair).join(','), 'utf8')
    .digest('hex');
}

/** Percent-encode every octet but `A-Z a-z 0-9 - . _ ~`, hex in upper case. */
function canonicalText(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
