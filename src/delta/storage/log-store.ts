/**
 * The storage contract of the Delta log (PROTOCOL.md "Requirements for
 * Writers", delta-rs `logstore`). A `LogStore` gives three guarantees:
 *
 * 1. Atomic visibility: a file is seen whole or not at all.
 * 2. Mutual exclusion: of writers racing to create the same log file, exactly
 *    one succeeds; the others get `LogFileExistsError`.
 * 3. Consistent listing: once a file is written, every listing shows it.
 *
 * A LogStore never retries: the transaction layer decides what a lost race
 * means.
 */

export interface LogStore {
  /** Absolute path of the table's root folder. */
  readonly root: string;
  /** Names of the files in `_delta_log/`, sorted; empty if none. Temporary files are left out. */
  list(): Promise<string[]>;
  /** Last-modified time of a log file in ms since the epoch, or `undefined` if it does not exist. */
  modificationTime(name: string): Promise<number | undefined>;
  /** Contents of a log file, or `undefined` if it does not exist. */
  read(name: string): Promise<Buffer | undefined>;
  /** Create `name` with `bytes` unless it exists (then `LogFileExistsError`). */
  putIfAbsent(name: string, bytes: Uint8Array | string): Promise<void>;
  /** Write `name` atomically, replacing any previous content (checkpoints, `_last_checkpoint`). */
  put(name: string, bytes: Uint8Array | string): Promise<void>;
  /** Absolute path of a log file (for DuckDB to read checkpoints). */
  pathOf(name: string): string;
}

/** Thrown by `putIfAbsent` when the file exists: another writer won. */
export class LogFileExistsError extends Error {
  readonly fileName: string;
  constructor(fileName: string) {
    super(`log file ${fileName} already exists`);
    this.name = 'LogFileExistsError';
    this.fileName = fileName;
  }
}

/** `00000000000000000012.json` */
export function commitFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.json`;
}

/** `00000000000000000010.checkpoint.parquet` */
export function checkpointFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.checkpoint.parquet`;
}

const COMMIT = /^(\d{20})\.json$/;
const CHECKPOINT = /^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$/;
const V2_CHECKPOINT = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(?:json|parquet)$/;

/** What a log file name says about itself. */
export type ParsedLogName =
  | { readonly kind: 'commit'; readonly version: number }
  | { readonly kind: 'checkpoint'; readonly version: number; readonly part: number; readonly parts: number }
  | { readonly kind: 'v2checkpoint'; readonly version: number }
  | { readonly kind: 'other' };

export function parseLogName(name: string): ParsedLogName {
  let m = COMMIT.exec(name);
  if (m) return { kind: 'commit', version: Number(m[1]) };
  m = CHECKPOINT.exec(name);
  if (m) {
    return m[2] === undefined
      ? { kind: 'checkpoint', version: Number(m[1]), part: 1, parts: 1 }
      : { kind: 'checkpoint', version: Number(m[1]), part: Number(m[2]), parts: Number(m[3]) };
  }
  m = V2_CHECKPOINT.exec(name);
  if (m) return { kind: 'v2checkpoint', version: Number(m[1]) };
  return { kind: 'other' };
}
