/**
 * Reading classic and multi-part checkpoints (`n.checkpoint.parquet`,
 * `n.checkpoint.i.n.parquet`). DuckDB is only the Parquet codec here: it turns
 * each action struct into JSON, and the log semantics stay in TypeScript.
 * Stats written as structs (`stats_parsed`, `partitionValues_parsed`) are
 * turned back into the JSON form the rest of Larder reads.
 *
 * Invariant: a checkpoint reads back as exactly the actions the JSON log
 * replays to: struct fields a checkpoint stores as `null` because the
 * action did not have them are dropped, not kept as `null`.
 */

import { queryJson, sharedConnection, sqlIdent, sqlStringList } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { LogStore } from '../storage/log-store.js';
import type { Add, CommitActions, DomainMetadata, Metadata, Protocol, Remove, Txn } from './actions.js';

const KINDS = ['add', 'remove', 'metaData', 'protocol', 'txn', 'domainMetadata'] as const;

/**
 * The actions of the checkpoint of `version` (its part files `names`), as
 * the JSON log holds them: absent optional fields are absent, not `null`.
 * Throws `CORRUPT_LOG` naming the checkpoint if it cannot be read or lacks
 * the protocol or metadata.
 *
 * @example
 * const base = await readCheckpoint(store, ['00000000000000000010.checkpoint.parquet'], 10);
 */
export async function readCheckpoint(
  store: LogStore,
  names: readonly string[],
  version: number,
): Promise<CommitActions> {
  const corrupt = (what: string, cause?: unknown) =>
    new LarderError('CORRUPT_LOG', `checkpoint ${names.join(', ')} of ${store.root} ${what}`, {
      table: store.root,
      file: names[0],
      version,
      cause,
      hint: 'restore the checkpoint from a backup: the commits it replaces are no longer in the log',
    });
  let rows: Record<string, unknown>[];
  try {
    rows = await readRows(store, names);
  } catch (error) {
    throw corrupt(`cannot be read: ${(error as Error).message}`, error);
  }
  const add: Add[] = [];
  const remove: Remove[] = [];
  const txn: Txn[] = [];
  const domainMetadata: DomainMetadata[] = [];
  let protocol: Protocol | undefined;
  let metaData: Metadata | undefined;
  try {
    for (const row of rows) {
      if (row.add) add.push(normalizeAdd(parse(row.add)));
      else if (row.remove) remove.push(normalizeRemove(parse(row.remove)));
      else if (row.metaData) metaData = normalizeMetadata(parse(row.metaData));
      else if (row.protocol) protocol = stripNulls(parse(row.protocol)) as unknown as Protocol;
      else if (row.txn) txn.push(stripNulls(parse(row.txn)) as unknown as Txn);
      else if (row.domainMetadata)
        domainMetadata.push(stripNulls(parse(row.domainMetadata)) as unknown as DomainMetadata);
    }
  } catch (error) {
    throw corrupt(`holds an unreadable action: ${(error as Error).message}`, error);
  }
  if (!protocol) throw corrupt('has no protocol action');
  if (!metaData) throw corrupt('has no metaData action');
  return { version, protocol, metaData, add, remove, cdc: [], txn, domainMetadata };
}

/** Each action struct of the checkpoint's rows as JSON text (one kind per row). */
async function readRows(store: LogStore, names: readonly string[]): Promise<Record<string, unknown>[]> {
  const connection = await sharedConnection();
  const source = `read_parquet(${sqlStringList(names.map((n) => store.pathOf(n)))}, union_by_name = true)`;
  const described = await queryJson(connection, `DESCRIBE SELECT * FROM ${source}`);
  const columns = new Set(described.map((r) => String(r.column_name)));
  const present = KINDS.filter((k) => columns.has(k));
  if (present.length === 0) return [];
  const select = present.map((k) => `to_json(${sqlIdent(k)}) AS ${sqlIdent(k)}`).join(', ');
  const where = present.map((k) => `${sqlIdent(k)} IS NOT NULL`).join(' OR ');
  return queryJson(connection, `SELECT ${select} FROM ${source} WHERE ${where}`);
}

function parse(json: unknown): Record<string, unknown> {
  const value = JSON.parse(String(json)) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${String(json)} is not an object`);
  }
  return value as Record<string, unknown>;
}

/** Delete the `null` fields of an object (the checkpoint's empty struct fields), in place. */
function stripNulls(value: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(value)) if (value[key] === null) delete value[key];
  return value;
}

function normalizeDeletionVector(action: Record<string, unknown>): void {
  const dv = action.deletionVector;
  if (typeof dv === 'object' && dv !== null) stripNulls(dv as Record<string, unknown>);
}

function normalizeAdd(raw: Record<string, unknown>): Add {
  const add = stripNulls(raw);
  if (add.stats === undefined && add.stats_parsed !== undefined) add.stats = JSON.stringify(add.stats_parsed);
  delete add.stats_parsed;
  if (add.partitionValues === undefined && add.partitionValues_parsed !== undefined) {
    const parsed = add.partitionValues_parsed as Record<string, unknown>;
    add.partitionValues = Object.fromEntries(
      Object.entries(parsed).map(([k, v]) => [k, v === null ? null : String(v)]),
    );
  }
  delete add.partitionValues_parsed;
  add.partitionValues ??= {};
  if (typeof add.path !== 'string') throw new Error('an add action has no path');
  normalizeDeletionVector(add);
  return add as unknown as Add;
}

function normalizeRemove(raw: Record<string, unknown>): Remove {
  const remove = stripNulls(raw);
  if (typeof remove.path !== 'string') throw new Error('a remove action has no path');
  normalizeDeletionVector(remove);
  return remove as unknown as Remove;
}

function normalizeMetadata(raw: Record<string, unknown>): Metadata {
  const m = stripNulls(raw);
  m.configuration ??= {};
  m.partitionColumns ??= [];
  const format = (m.format ?? {}) as Record<string, unknown>;
  m.format = { ...format, provider: format.provider ?? 'parquet', options: format.options ?? {} };
  if (typeof m.schemaString !== 'string') throw new Error('the metaData action has no schemaString');
  return m as unknown as Metadata;
}
