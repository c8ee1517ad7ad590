/**
 * Paths of data files as the log stores them (`add.path`, `remove.path`):
 * relative to the table root and URI-encoded, or absolute URIs. A file name
 * on disk may hold `%`, spaces or `=` (partition directories are
 * Hive-escaped by the writer), so the log path is the URI encoding of the
 * on-disk relative path and decoding it gives the on-disk name back.
 *
 * Invariant: `dataFileLocalPath(root, encodeDataFilePath(rel))` is
 * `join(root, rel)` for every relative path `rel` without `..` segments.
 */
import { isAbsolute, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * URI-encode a relative on-disk path (segments separated by the platform separator or `/`).
 *
 * @example
 * encodeDataFilePath('p=50%25/part-1.parquet'); // 'p=50%2525/part-1.parquet'
 */
export function encodeDataFilePath(relative: string): string {
  return relative
    .split(sep === '/' ? '/' : /[\\/]/)
    .map((segment) => encodeURIComponent(segment).replaceAll('%3D', '='))
    .join('/');
}

/**
 * The local file a log path names: a relative path under `root`, a
 * `file:` URI, or an absolute local path. `undefined` for other URI schemes
 * (object stores), which a local check cannot reach.
 *
 * @example
 * dataFileLocalPath('/data/t', 'p=50%2525/part-1.parquet'); // '/data/t/p=50%25/part-1.parquet'
 */
export function dataFileLocalPath(root: string, path: string): string | undefined {
  if (path.startsWith('file:')) return fileURLToPath(path);
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(path)) return undefined;
  if (isAbsolute(path)) return path;
  return join(root, ...path.split('/').map((segment) => decodeURIComponent(segment)));
}
