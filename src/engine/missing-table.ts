/**
 * Suggestions for a table name that names nothing. DuckDB answers a missing
 * table with the closest name of its own catalog ("Did you mean
 * "pg_enum"?"), which for a Larder user is a system table they never made;
 * the tables they mean are Larder's, under three-level names in the
 * metastore. This module finds the closest of those, and rewrites DuckDB's
 * message to suggest it (or nothing).
 *
 * Invariant: only the error path pays for it (one listing of the catalog's
 * tables and views); a message that is not about a missing table is returned
 * as it was.
 */
import type { Metastore } from '../catalog/metastore.js';
import { didYouMean } from '../config/did-you-mean.js';
import type { NameDefaults } from './table-name.js';

/** DuckDB's "missing table" message: the name as DuckDB prints it (quoted when it has a schema). */
const MISSING_TABLE = /Table with name (?:"([^"]+)"|(.+?)) does not exist/;

/** DuckDB's own suggestion line, which follows the message. */
const DUCKDB_SUGGESTION = /\nDid you mean "[^"\n]*"\?/;

/**
 * The full name (`catalog.schema.table`) of the registered table or view
 * closest to `written` (a 1-, 2- or 3-part name, completed with `defaults`),
 * or undefined when none is close enough to be a typo. A name whose table
 * part is close to a table's elsewhere (another schema) also finds it.
 *
 * @example
 * await suggestTableName(metastore, 'ml.churn_features.custmer_features', defaults);
 * // 'ml.churn_features.customer_features'
 */
export async function suggestTableName(
  metastore: Metastore,
  written: string,
  defaults: NameDefaults,
): Promise<string | undefined> {
  const parts = written.split('.');
  const table = parts.at(-1) ?? written;
  const schema = parts.length >= 2 ? parts.at(-2)! : defaults.schema;
  const catalog = parts.length >= 3 ? parts.at(-3)! : defaults.catalog;
  const [tables, views] = await Promise.all([metastore.listTables(), metastore.listViews()]);
  const names = [...tables, ...views].map((entry) => entry.fullName);
  const full = didYouMean(`${catalog}.${schema}.${table}`, names);
  if (full !== undefined) return full;
  const byTable = new Map<string, string>();
  for (const name of names) {
    const short = name.slice(name.lastIndexOf('.') + 1);
    if (!byTable.has(short)) byTable.set(short, name);
  }
  const short = didYouMean(table, byTable.keys()) ?? (byTable.has(table) ? table : undefined);
  return short === undefined ? undefined : byTable.get(short);
}

/**
 * `message` (DuckDB's) with the suggestion for a missing table replaced by
 * the closest Larder table name, or removed when none is close; any other
 * message unchanged.
 *
 * @example
 * await withLarderSuggestion('Catalog Error: Table with name custmer does not exist!\nDid you mean "pg_enum"?', metastore, defaults);
 * // 'Catalog Error: Table with name custmer does not exist!\nDid you mean "ml.churn_features.customer"?'
 */
export async function withLarderSuggestion(
  message: string,
  metastore: Metastore,
  defaults: NameDefaults,
): Promise<string> {
  const match = MISSING_TABLE.exec(message);
  if (!match) return message;
  const written = match[1] ?? match[2]!;
  const suggestion = await suggestTableName(metastore, written, defaults).catch(() => undefined);
  const line = suggestion === undefined ? '' : `\nDid you mean "${suggestion}"?`;
  if (DUCKDB_SUGGESTION.test(message)) return message.replace(DUCKDB_SUGGESTION, line);
  // DuckDB gave no suggestion: ours goes after the first line.
  const end = message.indexOf('\n');
  return end < 0 ? `${message}${line}` : `${message.slice(0, end)}${line}${message.slice(end)}`;
}
