/**
 * Paths of data files as the log stores them (`add.path`, `remove.path`,
 * `cdc.path`): relative to the table root and URI-encoded, or absolute URIs
 * (PROTOCOL.md "Add File and Remove File"). A file name on disk may hold
 * `%`, spaces or `=` (partition directories are Hive-escaped by the
 * writer), so the log path is the URI encoding of the on-disk relative path
 * and decoding it gives the on-disk name back.
 *
 * Invariants:
 * - `dataFileLocalPath(root, encodeDataFilePath(rel))` is `join(root, rel)`
 *   for every relative path `rel` without `..` segments.
 * - Only local files are reachable: a `file:` URI or an absolute path is
 *   used as is, any other URI scheme (object stores) is `UNSUPPORTED_FEATURE`,
 *   a path that is not valid URI encoding is `CORRUPT_LOG`.
 * - `canonicalFilePath` gives every way of writing one file's path the same
 *   string: `f.parquet`, `a%20b.parquet`, `/root/f.parquet`,
 *   `file:/root/f.parquet` and `file:///root/f.parquet` name the same files
 *   as `f.parquet` and `a b.parquet` in a table rooted at `/root`.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LarderError } from '../../errors.js';

/**
 * URI-encode a relative on-disk path (segments separated by the platform separator or `/`).
 *
 * @example
 * encodeDataFilePath('p=50%25/part-1.parquet'); // 'p=50%2525/part-1.parquet'
 */
export function encodeDataFilePath(relative: string): string {
  return relative
    .split(path.sep === '/' ? '/' : /[\\/]/)
    .map((segment) => encodeURIComponent(segment).replaceAll('%3D', '='))
    .join('/');
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const DOT_SEGMENT = /(^|\/)\.{0,2}(\/|$)|\\/;

/**
 * The absolute local path of the data file a log path names: a relative
 * URI-encoded path under `root`, a `file:` URI, or an absolute local path.
 *
 * @example
 * dataFileLocalPath('/data/t', 'p=50%2525/part-1.parquet'); // '/data/t/p=50%25/part-1.parquet'
 * dataFileLocalPath('/data/t', 'file:///mnt/x%20y.parquet'); // '/mnt/x y.parquet'
 */
export function dataFileLocalPath(root: string, filePath: string): string {
  if (SCHEME.test(filePath) && !/^[a-zA-Z]:[\\/]/.test(filePath)) {
    if (filePath.startsWith('file:')) return fileURLToPath(filePath);
    throw new LarderError('UNSUPPORTED_FEATURE', `data file ${filePath}: only local files are supported`, {
      table: root,
      file: filePath,
      feature: 'remoteDataFile',
    });
  }
  let decoded = filePath;
  if (filePath.includes('%')) {
    try {
      decoded = decodeURIComponent(filePath);
    } catch (error) {
      throw new LarderError('CORRUPT_LOG', `data file path "${filePath}" is not a valid URI`, {
        table: root,
        file: filePath,
        cause: error,
      });
    }
  }
  if (path.isAbsolute(decoded)) return decoded;
  // path.join normalises; most paths need none, and this runs once per file per scan plan.
  if (!DOT_SEGMENT.test(decoded) && !root.endsWith(path.sep)) return `${root}${path.sep}${decoded}`;
  return path.join(root, decoded);
}

/**
 * The canonical form of a log path, for telling whether two actions name the
 * same file (PROTOCOL.md: paths are URIs, relative ones relative to the table
 * root): the decoded path relative to `root` with `/` separators when the file
 * is under the root, else the decoded absolute path. A path that cannot be
 * resolved (another URI scheme, invalid encoding) is its own canonical form:
 * reading it fails later, naming it.
 *
 * @example
 * canonicalFilePath('/data/t', 'file:///data/t/a%20b.parquet'); // 'a b.parquet'
 * canonicalFilePath('/data/t', 'a%20b.parquet'); // 'a b.parquet'
 */
export function canonicalFilePath(root: string, filePath: string): string {
  // Most paths are plain relative ones, already canonical: this runs once per action in log replay.
  if (isPlainRelativePath(filePath)) return filePath;
  let local: string;
  try {
    local = dataFileLocalPath(root, filePath);
  } catch {
    return filePath;
  }
  const relative = path.relative(root, local);
  const outside = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
  if (relative.length > 0 && !outside) {
    return path.sep === '/' ? relative : relative.split(path.sep).join('/');
  }
  return local;
}

/** A relative path that needs no decoding or normalising (no `%`, scheme, dot or empty segment). */
export function isPlainRelativePath(p: string): boolean {
  return (
    p.length > 0 &&
    p.charCodeAt(0) !== 47 &&
    !p.includes('%') &&
    !p.includes(':') &&
    !p.includes('\\') &&
    !p.includes('./') &&
    !p.includes('//') &&
    !p.endsWith('/') &&
    !p.endsWith('.')
  );
}
