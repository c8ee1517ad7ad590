/**
 * Render a `SqlResult` for people and for other programs:
 * - `table`: a box table in the style of DuckDB's shell (column names and
 *   types in the header, numbers right-aligned, NULL shown as `NULL`) with a
 *   row count underneath;
 * - `json`: an array with one object per row, a row per line; integers stay numbers while
 *   they are exact in a double (beyond 2^53 they are strings), DECIMALs of up
 *   to 15 digits are numbers, NaN and infinities are strings;
 * - `csv`: a header row, then one line per row, quoted as RFC 4180 says
 *   (NULL is an empty field, the empty string is `""`).
 *
 * Values are formatted by their DuckDB type, nested types included. Written
 * here rather than taken from a library: the formats are short, and each
 * needs DuckDB's type information that no table or CSV library takes.
 */

import type { SqlResult } from '../engine/sql-result.js';
import { isIntegerTypeName, isNumericType, parseTypeName, type TypeNode } from './duckdb-type-name.js';

export type ResultFormat = 'table' | 'json' | 'csv';

export const RESULT_FORMATS: readonly ResultFormat[] = Object.freeze(['table', 'json', 'csv']);

/**
 * The text of `result` in `format`, ending with a newline; empty for a
 * `table` or `csv` of a statement that returns nothing.
 *
 * @example
 * process.stdout.write(formatResult(await session.execute('select 42 as x'), 'table'));
 */
export function formatResult(result: SqlResult, format: ResultFormat): string {
  switch (format) {
    case 'table':
      return isExplain(result) ? formatExplain(result) : formatTable(result);
    case 'json':
      return formatJson(result);
    case 'csv':
      return formatCsv(result);
  }
}

/** EXPLAIN answers (`explain_key`, `explain_value`) hold drawn plans: print them as drawn. */
function isExplain(result: SqlResult): boolean {
  return (
    result.columns.length === 2 &&
    result.columns[0]?.name === 'explain_key' &&
    result.columns[1]?.name === 'explain_value'
  );
}

function formatExplain(result: SqlResult): string {
  return result.rows.map((row) => `${String(row[0])}:\n${String(row[1]).trimEnd()}\n`).join('\n');
}

function columnTypes(result: SqlResult): TypeNode[] {
  return result.columns.map((c) => parseTypeName(c.type));
}

// ---- json

function formatJson(result: SqlResult): string {
  const types = columnTypes(result);
  const names = uniqueNames(result.columns.map((c) => c.name));
  const objects = result.rows.map((row) =>
    Object.fromEntries(names.map((name, i) => [name, jsonValue(row[i], types[i]!)])),
  );
  // One row per line: compact, yet easy to read and to grep.
  if (objects.length === 0) return '[]\n';
  return `[\n${objects.map((o) => `  ${JSON.stringify(o)}`).join(',\n')}\n]\n`;
}

/** Names made unique the way DuckDB's deduplication does: `a`, `a_1`, `a_2`. */
function uniqueNames(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    let candidate = name;
    for (let n = 1; used.has(candidate); n++) candidate = `${name}_${n}`;
    used.add(candidate);
    return candidate;
  });
}

function jsonValue(value: unknown, type: TypeNode): unknown {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'list':
      return Array.isArray(value) ? value.map((v) => jsonValue(v, type.element)) : value;
    case 'struct':
      return isRecord(value)
        ? Object.fromEntries(type.fields.map((f) => [f.name, jsonValue(value[f.name], f.type)]))
        : value;
    case 'map':
      return Array.isArray(value)
        ? value.map((entry: unknown) =>
            isRecord(entry)
              ? { key: jsonValue(entry.key, type.key), value: jsonValue(entry.value, type.value) }
              : entry,
          )
        : value;
    case 'union':
      return value;
    case 'scalar':
      if (typeof value !== 'string') return value;
      if (isIntegerTypeName(type.name) && /^-?\d+$/.test(value)) {
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : value;
      }
      if (type.name === 'DECIMAL' && Number(type.params[0] ?? 18) <= 15) return Number(value);
      return value;
  }
}

// ---- table

function formatTable(result: SqlResult): string {
  if (result.columns.length === 0) return '';
  const types = columnTypes(result);
  const header = result.columns.map((c) => c.name);
  const typeRow = result.columns.map((c) => c.type.toLowerCase());
  const cells = result.rows.map((row) =>
    result.columns.map((_, i) => escapeControls(displayValue(row[i], types[i]!))),
  );
  const widths = header.map((name, i) =>
    Math.max(displayWidth(name), displayWidth(typeRow[i]!), ...cells.map((r) => displayWidth(r[i]!))),
  );
  const align = types.map((t): 'left' | 'right' => (isNumericType(t) ? 'right' : 'left'));
  const rule = (left: string, mid: string, right: string) =>
    left + widths.map((w) => '─'.repeat(w + 2)).join(mid) + right;
  const line = (values: readonly string[], how: (i: number) => 'left' | 'right' | 'center') =>
    `│${values.map((v, i) => ` ${pad(v, widths[i]!, how(i))} `).join('│')}│`;
  const lines = [
    rule('┌', '┬', '┐'),
    line(header, () => 'center'),
    line(typeRow, () => 'center'),
    rule('├', '┼', '┤'),
    ...cells.map((row) => line(row, (i) => align[i]!)),
    rule('└', '┴', '┘'),
    `${result.rows.length} ${result.rows.length === 1 ? 'row' : 'rows'}`,
  ];
  return `${lines.join('\n')}\n`;
}

function pad(text: string, width: number, how: 'left' | 'right' | 'center'): string {
  const gap = width - displayWidth(text);
  if (gap <= 0) return text;
  if (how === 'right') return ' '.repeat(gap) + text;
  if (how === 'left') return text + ' '.repeat(gap);
  const before = Math.floor(gap / 2);
  return ' '.repeat(before) + text + ' '.repeat(gap - before);
}

function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Terminal columns a string takes: wide East Asian characters and emoji take two, combining marks none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f))
      continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** A value as DuckDB's shell prints it: NULL, nested strings quoted, lists `[…]`, structs `{'k': v}`, maps `{k=v}`. */
function displayValue(value: unknown, type: TypeNode, nested = false): string {
  if (value === null || value === undefined) return 'NULL';
  switch (type.kind) {
    case 'list':
      return Array.isArray(value)
        ? `[${value.map((v) => displayValue(v, type.element, true)).join(', ')}]`
        : String(value);
    case 'struct':
      return isRecord(value)
        ? `{${type.fields.map((f) => `'${f.name}': ${displayValue(value[f.name], f.type, true)}`).join(', ')}}`
        : String(value);
    case 'map':
      return Array.isArray(value)
        ? `{${value
            .map((e: unknown) =>
              isRecord(e)
                ? `${displayValue(e.key, type.key, true)}=${displayValue(e.value, type.value, true)}`
                : '',
            )
            .join(', ')}}`
        : String(value);
    case 'union':
      return JSON.stringify(value);
    case 'scalar':
      if (type.name === 'INTERVAL' && isRecord(value)) return formatInterval(value);
      if (typeof value === 'string') return nested && !isNumericType(type) ? `'${value}'` : value;
      if (typeof value === 'object') return JSON.stringify(value);
      return String(value);
  }
}

/** DuckDB's interval text: `1 year 2 months 3 days 04:05:06.5`. */
function formatInterval(value: Record<string, unknown>): string {
  const months = Number(value.months ?? 0);
  const days = Number(value.days ?? 0);
  const micros = BigInt(String(value.micros ?? 0));
  const parts: string[] = [];
  const unit = (n: number, name: string) => {
    if (n !== 0) parts.push(`${n} ${name}${Math.abs(n) === 1 ? '' : 's'}`);
  };
  unit(Math.trunc(months / 12), 'year');
  unit(months % 12, 'month');
  unit(days, 'day');
  if (micros !== 0n || parts.length === 0) {
    const negative = micros < 0n;
    const abs = negative ? -micros : micros;
    const seconds = abs / 1_000_000n;
    const fraction = abs % 1_000_000n;
    const hh = String(seconds / 3600n).padStart(2, '0');
    const mm = String((seconds / 60n) % 60n).padStart(2, '0');
    const ss = String(seconds % 60n).padStart(2, '0');
    const frac = fraction === 0n ? '' : `.${String(fraction).padStart(6, '0').replace(/0+$/, '')}`;
    parts.push(`${negative ? '-' : ''}${hh}:${mm}:${ss}${frac}`);
  }
  return parts.join(' ');
}

// ---- csv

function formatCsv(result: SqlResult): string {
  if (result.columns.length === 0) return '';
  const types = columnTypes(result);
  const lines = [result.columns.map((c) => csvField(c.name)).join(',')];
  for (const row of result.rows) {
    lines.push(
      result.columns
        .map((_, i) => {
          const value = row[i];
          return value === null || value === undefined ? '' : csvField(displayValue(value, types[i]!));
        })
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

function csvField(text: string): string {
  return text === '' || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
