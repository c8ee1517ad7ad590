/**
 * What one Delta table reference of a statement reads: which version, and
 * how many of its files survived pruning. Statements report these so that
 * EXPLAIN (and tests, and benchmarks) can show pruning at work.
 */

/**
 * @example
 * const scan: ScanInfo = { table: 'ml.s.events', path: '/w/ml/s/events', version: 3, filesRead: 2, totalFiles: 6, filter: "day = '2024-05-01'" };
 * describeScan(scan); // "ml.s.events version 3: read 2 of 6 files (pruned by day = '2024-05-01')"
 */
export interface ScanInfo {
  /** The full name of a registered table; absent for `read_delta(path)`. */
  readonly table?: string;
  /** The path as written in a `read_delta` call, or a registered table's location. */
  readonly path: string;
  /** The snapshot version read. */
  readonly version: number;
  /** Data files left after pruning. */
  readonly filesRead: number;
  /** Live data files of the snapshot. */
  readonly totalFiles: number;
  /** The part of the WHERE clause that pruned files, as SQL; absent when none could. */
  readonly filter?: string;
}

/** One line for people: `<table> version N: read F of T files (pruned by …)`. */
export function describeScan(scan: ScanInfo): string {
  const files = scan.totalFiles === 1 ? 'file' : 'files';
  const pruning = scan.filter === undefined ? 'no filter to prune by' : `pruned by ${scan.filter}`;
  return `${scan.table ?? scan.path} version ${scan.version}: read ${scan.filesRead} of ${scan.totalFiles} ${files} (${pruning})`;
}
