/**
 * Splicing a statement's text: the statement rewriter decides what replaces
 * which span (a table reference becomes a scan, a `read_delta` call a
 * subquery, a time-travel clause nothing); this module puts the pieces
 * together.
 *
 * Invariants: replacements are applied by position, in text order, and
 * never overlap (overlapping ones are an error, not a guess); the text
 * between them is kept as written; every replacement's scans are reported,
 * in text order.
 */
import { LarderError } from '../errors.js';
import type { ScanInfo } from './scan-info.js';
import { READ_DELTA, TABLE_CHANGES } from './table-functions.js';

/** The text that replaces `[start, end)` of a statement, and the Delta scans it reads. */
export interface Replacement {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly scans: readonly ScanInfo[];
}

/**
 * Several replacements as one spanning them (the text between them kept).
 *
 * @example
 * mergeReplacements('t AT (VERSION => 1) x', [
 *   { start: 0, end: 1, text: '(SELECT 1)', scans: [] },
 *   { start: 2, end: 19, text: '', scans: [] },
 * ]); // { start: 0, end: 19, text: '(SELECT 1) ', scans: [] }
 */
export function mergeReplacements(text: string, replacements: readonly Replacement[]): Replacement {
  const sorted = [...replacements].sort((a, b) => a.start - b.start);
  const parts: string[] = [];
  let at = sorted[0]!.start;
  for (const r of sorted) {
    parts.push(text.slice(at, r.start), r.text);
    at = r.end;
  }
  return { start: sorted[0]!.start, end: at, text: parts.join(''), scans: sorted.flatMap((r) => r.scans) };
}

/**
 * `text` with every replacement applied, and their scans in text order.
 * Throws `INVALID_ARGUMENT` when two replacements overlap (a table
 * reference inside the arguments of a table function).
 *
 * @example
 * applyReplacements('SELECT * FROM t', [{ start: 14, end: 15, text: '(SELECT 1) AS t', scans: [] }]);
 * // { sql: 'SELECT * FROM (SELECT 1) AS t', scans: [] }
 */
export function applyReplacements(
  text: string,
  replacements: readonly Replacement[],
): { sql: string; scans: ScanInfo[] } {
  const sorted = [...replacements].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.start < sorted[i - 1]!.end) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        'a table reference cannot be nested in the arguments of another',
        {
          hint: `${READ_DELTA} and ${TABLE_CHANGES} take literal arguments`,
        },
      );
    }
  }
  const parts: string[] = [];
  let at = 0;
  for (const r of sorted) {
    parts.push(text.slice(at, r.start), r.text);
    at = r.end;
  }
  parts.push(text.slice(at));
  return { sql: parts.join(''), scans: sorted.flatMap((r) => r.scans) };
}
