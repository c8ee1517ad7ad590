/**
 * Naming a scan of data files that are gone. A version's files stay in the
 * table folder only until VACUUM deletes those no retained version needs;
 * reading an older version then fails inside DuckDB with an IO error about a
 * file path. Rather than stat every file of every scan up front, the engine
 * catches that error and, when the path lies in the folder of a Delta table
 * the statement read, turns it into an `IO_ERROR` naming the table, the
 * version and the file.
 *
 * Invariant: an error about a file outside the tables the statement read is
 * left alone (undefined), so DuckDB's own message reaches the user.
 */
import { relative, resolve, sep } from 'node:path';
import { LarderError } from '../errors.js';
import type { ScanInfo } from './scan-info.js';

/** DuckDB's messages for a file it cannot find, with the path quoted. */
const MISSING_FILE = [
  /IO Error: No files found that match the pattern "([^"]+)"/,
  /IO Error: Cannot open file "([^"]+)": No such file or directory/,
];

/**
 * The `IO_ERROR` for `error` (thrown by DuckDB running a statement that
 * read `scans`) when it is about a missing file of one of those tables;
 * undefined otherwise. Relative scan paths resolve against `baseDir`.
 *
 * @example
 * try { await connection.run(sql); }
 * catch (error) { throw missingDataFileError(error, scans, projectDir) ?? error; }
 */
export function missingDataFileError(
  error: unknown,
  scans: readonly ScanInfo[],
  baseDir: string,
): LarderError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const file = MISSING_FILE.map((pattern) => pattern.exec(message)?.[1]).find((f) => f !== undefined);
  if (file === undefined) return undefined;
  const path = resolve(baseDir, file);
  const readers = scans.filter((scan) => {
    const root = resolve(baseDir, scan.path);
    return path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
  });
  if (readers.length === 0) return undefined;
  // Several versions of the table read in one statement: the oldest is the one vacuumed.
  const scan = readers.reduce((a, b) => (b.version < a.version ? b : a));
  const table = scan.table ?? scan.path;
  const inTable = relative(resolve(baseDir, scan.path), path).split(sep).join('/');
  return new LarderError(
    'IO_ERROR',
    `cannot read version ${scan.version} of table ${table}: its data file ${inTable} is missing`,
    {
      table,
      version: scan.version,
      file: path,
      cause: error,
      hint: `VACUUM deleted the files this version needs; read a newer version (this one cannot be read again, nor RESTOREd: RESTORE needs its files too)`,
    },
  );
}
