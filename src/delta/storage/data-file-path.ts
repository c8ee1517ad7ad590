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
