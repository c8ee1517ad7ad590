/**
 * Plain-text tables for the CLI's listings (`larder tables`, `describe`,
 * `history`): rows of cells aligned into columns, the way `ls -l` or
 * `kubectl get` print them, with no borders.
 *
 * Invariants: every column is as wide as its widest cell (counted in UTF-16
 * code units, like `String#padEnd`); columns are two spaces apart; no line
 * ends with a space. Cells are expected to hold one line each. The box
 * tables of `larder sql` (`src/sql/format-result.ts`) are another format:
 * borders, types in the header, numbers right-aligned.
 */

/** Options of `textTable`. */
export interface TextTableOptions {
  /** Put before every line, e.g. two spaces for a table nested under a heading; default none. */
  readonly indent?: string;
}

/**
 * The lines (without line ends) of `rows` aligned into columns: each cell
 * padded to the width of its column, cells joined by two spaces, the
 * trailing spaces of each line removed. Rows may have different lengths.
 *
 * @example
 * textTable([
 *   ['NAME', 'VERSION'],
 *   ['ml.raw.events', '12'],
 * ]).join('\n');
 * // NAME           VERSION
 * // ml.raw.events  12
 */
export function textTable(rows: readonly (readonly string[])[], options: TextTableOptions = {}): string[] {
  const indent = options.indent ?? '';
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    `${indent}${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd(),
  );
}
