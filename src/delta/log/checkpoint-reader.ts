/**
 * Reading classic and multi-part checkpoints (`n.checkpoint.parquet`,
 * `n.checkpoint.i.n.parquet`). DuckDB is only the Parquet codec here: it turns
 * each action struct into JSON, and the log semantics stay in TypeScript.
 * Stats written as structs (`stats_parsed`, `partitionValues_parsed`) are
 * turned back into the JSON form the rest of Larder reads.
 */

import { queryJson, sharedConnection, sqlStringList } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { LogStore } from '../storage/log-store.js';
import type { Add, CommitActions, DomainMetadata, Metadata, Protocol, Remove, Txn } from './actions.js';

const KINDS = ['add', 'remove', 'metaData', 'protocol', 'txn', 'domainMetadata'] as const;

export async function readCheckpoint(
  store: LogStore,
  names: readonly string[],
  version: number,
): Promise<CommitActions> {
  const connection = await sharedConnection();
  const paths = names.map((n) => store.pathOf(n));
  let columns: Set<string>;
  try {
    const described = await queryJson(
      connection,
      `DESCRIBE SELECT * FROM read_parquet(${sqlStringList(paths)}, union_by_name = true)`,
    );
    columns = new Set(described.map((r) => String(r.column_name)));
  } catch (error) {
    throw new LarderError('CORRUPT_LOG', `checkpoint ${names.join(', ')} cannot be read`, {
      file: names[0],
      version,
      cause: error,
    });
  }
  const present = KINDS.filter((k) => columns.has(k));
  const select = present.map((k) => `to_json("${k}") AS "${k}"`).join(', ');
  const where = present.map((k) => `"${k}" IS NOT NULL`).join(' OR ');
  const rows = await queryJson(
    connection,
    `SELECT ${select} FROM read_parquet(${sqlStringList(paths)}, union_by_name = true) WHERE ${where}`,
    `reading checkpoint ${names[0]}`,
  );
  const add: Add[] = [];
  const remove: Remove[] = [];
  const txn: Txn[] = [];
  const domainMetadata: DomainMetadata[] = [];
  let protocol: Protocol | undefined;
  let metaData: Metadata | undefined;
  for (const row of rows) {
    if (row.add) add.push(normalizeAdd(JSON.parse(row.add as string)));
    else if (row.remove) remove.push(stripNulls(JSON.parse(row.remove as string)) as unknown as Remove);
    else if (row.metaData) metaData = normalizeMetadata(JSON.parse(row.metaData as string));
    else if (row.protocol) protocol = stripNulls(JSON.parse(row.protocol as string)) as unknown as Protocol;
    else if (row.txn) txn.push(JSON.parse(row.txn as string) as Txn);
    else if (row.domainMetadata)
      domainMetadata.push(JSON.parse(row.domainMetadata as string) as DomainMetadata);
  }
  return { version, protocol, metaData, add, remove, cdc: [], txn, domainMetadata };
}

function stripNulls(value: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(value)) if (value[key] === null) delete value[key];
  return value;
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
  if (add.deletionVector) stripNulls(add.deletionVector as Record<string, unknown>);
  return add as unknown as Add;
}

function normalizeMetadata(raw: Record<string, unknown>): Metadata {
  const m = raw as Record<string, unknown>;
  m.configuration ??= {};
  m.partitionColumns ??= [];
  m.format ??= { provider: 'parquet', options: {} };
  return m as unknown as Metadata;
}
