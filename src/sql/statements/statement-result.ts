/**
 * Building `SqlResult`s for Larder's own statements, with values in the
 * form DuckDB's JSON conversion gives them (BIGINT and DECIMAL as digit
 * strings, timestamps as `YYYY-MM-DD HH:MM:SS[.fff]+00`, maps as
 * `[{key, value}]`), so they print exactly like query results.
 */
import { sqlIdent } from '../../duckdb/duckdb.js';
import type { SqlColumn, SqlResult } from '../../engine/sql-result.js';

/** A result column: name and DuckDB type. */
export type ResultColumn = readonly [name: string, type: string];

/**
 * @example
 * result('SHOW', [['namespace', 'VARCHAR']], [['ml.churn_features']]);
 */
export function result(
  kind: string,
  columns: readonly ResultColumn[],
  rows: readonly (readonly unknown[])[],
): SqlResult {
  return {
    kind,
    columns: columns.map(([name, type]): SqlColumn => ({ name, type })),
    rows,
    scans: [],
  };
}

/** A statement that returns nothing. */
export function emptyResult(kind: string): SqlResult {
  return { kind, columns: [], rows: [], scans: [] };
}

/** A value of a BIGINT column (a digit string, as DuckDB gives it). */
export function bigint(value: number | bigint | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'bigint' ? value.toString() : String(Math.trunc(value));
}

/** A value of a TIMESTAMP WITH TIME ZONE column, from ms since the epoch. */
export function timestamptz(ms: number | undefined | null): string | null {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return null;
  const iso = new Date(ms).toISOString(); // 2024-05-01T12:00:00.123Z
  const [date, time] = iso.slice(0, -1).split('T') as [string, string];
  return `${date} ${time.endsWith('.000') ? time.slice(0, -4) : time}+00`;
}

/** A MAP(VARCHAR, VARCHAR) value: entries with values as strings (objects as JSON). */
export function stringMap(
  record: Readonly<Record<string, unknown>> | undefined,
): { key: string; value: string | null }[] {
  return Object.entries(record ?? {}).map(([key, value]) => ({
    key,
    value:
      value === null || value === undefined
        ? null
        : typeof value === 'string'
          ? value
          : JSON.stringify(value),
  }));
}

/**
 * One row of metrics, as Databricks returns for write statements: every
 * value a BIGINT column.
 *
 * @example
 * metricsResult('MERGE', { num_affected_rows: 3, num_updated_rows: 2, num_deleted_rows: 0, num_inserted_rows: 1 });
 */
export function metricsResult(kind: string, metrics: Readonly<Record<string, number>>): SqlResult {
  const entries = Object.entries(metrics);
  return result(
    kind,
    entries.map(([name]) => [name, 'BIGINT'] as const),
    [entries.map(([, value]) => bigint(value))],
  );
}

/**
 * A STRUCT column type and value for an object of metrics: numbers become
 * BIGINT (DOUBLE when fractional), strings and booleans keep their type,
 * anything else becomes JSON text.
 */
export function structOf(record: Readonly<Record<string, unknown>>): {
  type: string;
  value: Record<string, unknown>;
} {
  const fields: string[] = [];
  const value: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(record)) {
    if (typeof v === 'number' && Number.isInteger(v)) {
      fields.push(`${sqlIdent(key)} BIGINT`);
      value[key] = String(v);
    } else if (typeof v === 'number') {
      fields.push(`${sqlIdent(key)} DOUBLE`);
      value[key] = v;
    } else if (typeof v === 'boolean') {
      fields.push(`${sqlIdent(key)} BOOLEAN`);
      value[key] = v;
    } else if (typeof v === 'string') {
      fields.push(`${sqlIdent(key)} VARCHAR`);
      value[key] = v;
    } else {
      fields.push(`${sqlIdent(key)} VARCHAR`);
      value[key] = v === undefined || v === null ? null : JSON.stringify(v);
    }
  }
  return { type: `STRUCT(${fields.join(', ')})`, value };
}
