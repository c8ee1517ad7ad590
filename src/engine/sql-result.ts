/**
 * The result of one Larder SQL statement, in a form that is plain data: it
 * can be printed, serialized or sent over HTTP as it is.
 */
import type { ScanInfo } from './scan-info.js';

/** A result column: its name and its DuckDB type as DuckDB spells it (`BIGINT`, `VARCHAR[]`, …). */
export interface SqlColumn {
  readonly name: string;
  readonly type: string;
}

/**
 * @example
 * const result: SqlResult = {
 *   kind: 'SELECT',
 *   columns: [{ name: 'x', type: 'INTEGER' }],
 *   rows: [[42]],
 *   scans: [],
 * };
 */
export interface SqlResult {
  /** DuckDB's statement type: `SELECT`, `CREATE`, `INSERT`, `EXPLAIN`, `SET`, … */
  readonly kind: string;
  /** Empty for statements that return nothing (`CREATE`, `SET`, …). */
  readonly columns: readonly SqlColumn[];
  /**
   * Rows as DuckDB's JSON conversion gives them: numbers for small integers
   * and doubles, strings for BIGINT, DECIMAL, dates and timestamps, arrays for
   * lists, objects for structs, `[{key, value}]` for maps, null for NULL.
   */
  readonly rows: readonly (readonly unknown[])[];
  /** The Delta tables the statement read (registered tables and `read_delta` folders), with their pruning. */
  readonly scans: readonly ScanInfo[];
}
