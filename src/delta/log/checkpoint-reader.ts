/**
 * Reading checkpoints: classic (`n.checkpoint.parquet`), multi-part
 * (`n.checkpoint.i.n.parquet`) and V2 (UUID-named `n.checkpoint.<uuid>.json`
 * or `.parquet`, or a classic file holding `checkpointMetadata`), whose
 * `add`/`remove` actions may sit in sidecar Parquet files under
 * `_delta_log/_sidecars/`. DuckDB is only the Parquet codec here: it turns
 * each action struct into JSON, and the log semantics stay in TypeScript.
 * Stats written as structs (`stats_parsed`, `partitionValues_parsed`) are
 * turned back into the JSON form the rest of Larder reads.
 *
 * Invariants:
 * - A checkpoint reads back as exactly the actions the JSON log replays
 *   to: struct fields a checkpoint stores as `null` because the action did
 *   not have them are dropped, not kept as `null`. A JSON checkpoint (one
 *   action per line) goes through the same normalisation.
 * - Sidecars are read exactly as checkpoint parts are, for their `add` and
 *   `remove` actions only.
 * - A checkpoint that cannot be used whole (unreadable file, missing or
 *   unreadable sidecar, no protocol or metadata, a `checkpointMetadata` of
 *   another version) is a `CORRUPT_LOG` error naming the file at fault.
 */

import { queryJson, sharedConnection, sqlIdent, sqlStringList } from '../../duckdb/duckdb.js';
import { isLarderError, LarderError } from '../../errors.js';
import { type LogStore, parseLogName } from '../storage/log-store.js';
import type { Add, CommitActions, DomainMetadata, Metadata, Protocol, Remove, Txn } from './actions.js';
import { v2CheckpointActions } from './v2-checkpoint.js';

/** The action columns of a checkpoint file (PROTOCOL.md "Checkpoint Schema"). */
const KINDS = [
  'add',
  'remove',
  'metaData',
  'protocol',
  'txn',
  'domainMetadata',
  'checkpointMetadata',
  'sidecar',
] as const;

/** The actions a sidecar file holds (PROTOCOL.md "Sidecar Files"). */
const SIDECAR_KINDS = ['add', 'remove'] as const;

/** One action per row: `{ kind: body }`, the body an object or its JSON text. */
type ActionRow = Record<string, unknown>;

/**
 * The actions of the checkpoint of `version` (its files `names`: one file,
 * or the parts of a multi-part checkpoint), as the JSON log holds them:
 * absent optional fields are absent, not `null`. The `add` and `remove`
 * actions of a V2 checkpoint's sidecars are included. Throws `CORRUPT_LOG`
 * naming the checkpoint (or its sidecar) if it cannot be used.
 *
 * @example
 * const base = await readCheckpoint(store, ['00000000000000000010.checkpoint.parquet'], 10);
 */
export async function readCheckpoint(
  store: LogStore,
  names: readonly string[],
  version: number,
): Promise<CommitActions> {
  const corrupt = (what: string, cause?: unknown, file: string = names[0]!) =>
    new LarderError('CORRUPT_LOG', `checkpoint ${names.join(', ')} of ${store.root} ${what}`, {
      table: store.root,
      file,
      version,
      cause,
      hint: 'restore the checkpoint from a backup: the commits it replaces are no longer in the log',
    });
  const uuidNamed = names.length === 1 && parseLogName(names[0]!).kind === 'v2checkpoint';
  let rows: ActionRow[];
  try {
    rows =
      uuidNamed && names[0]!.endsWith('.json')
        ? await readJsonRows(store, names[0]!)
        : await readRows(store, names, KINDS);
  } catch (error) {
    // A storage failure is not a corrupt checkpoint: it would fail any other way of reading too.
    if (isLarderError(error, 'IO_ERROR')) throw error;
    throw corrupt(`cannot be read: ${(error as Error).message}`, error);
  }
  const add: Add[] = [];
  const remove: Remove[] = [];
  const txn: Txn[] = [];
  const domainMetadata: DomainMetadata[] = [];
  const checkpointMetadata: unknown[] = [];
  const sidecar: unknown[] = [];
  let protocol: Protocol | undefined;
  let metaData: Metadata | undefined;
  try {
    for (const row of rows) {
      if (row.add) add.push(normalizeAdd(parse(row.add)));
      else if (row.remove) remove.push(normalizeRemove(parse(row.remove)));
      else if (row.metaData) metaData = normalizeMetadata(parse(row.metaData)) ?? metaData;
      else if (row.protocol)
        protocol = (nonEmpty(stripNulls(parse(row.protocol))) as Protocol | undefined) ?? protocol;
      else if (row.txn) txn.push(stripNulls(parse(row.txn)) as unknown as Txn);
      else if (row.domainMetadata)
        domainMetadata.push(stripNulls(parse(row.domainMetadata)) as unknown as DomainMetadata);
      else if (row.checkpointMetadata) checkpointMetadata.push(stripNulls(parse(row.checkpointMetadata)));
      else if (row.sidecar) sidecar.push(stripNulls(parse(row.sidecar)));
    }
  } catch (error) {
    throw corrupt(`holds an unreadable action: ${(error as Error).message}`, error);
  }
  let v2: ReturnType<typeof v2CheckpointActions>;
  try {
    v2 = v2CheckpointActions(version, uuidNamed, checkpointMetadata, sidecar);
  } catch (error) {
    throw corrupt((error as Error).message, error);
  }
  // A row whose action struct is present but empty (every field null) is no action either.
  if (
    !protocol ||
    typeof protocol.minReaderVersion !== 'number' ||
    typeof protocol.minWriterVersion !== 'number'
  )
    throw corrupt(
      protocol ? 'has a protocol action without reader and writer versions' : 'has no protocol action',
    );
  if (!metaData) throw corrupt('has no metaData action');
  if (typeof metaData.schemaString !== 'string') throw corrupt('has a metaData action without schemaString');
  if (v2.sidecars.length > 0) {
    const files = v2.sidecars.map((s) => s.name);
    const times = await Promise.all(files.map((name) => store.modificationTime(name)));
    const missing = files.find((_, i) => times[i] === undefined);
    if (missing !== undefined)
      throw corrupt(`references sidecar ${missing}, which is missing`, undefined, missing);
    let sidecarRows: ActionRow[];
    try {
      sidecarRows = await readRows(store, files, SIDECAR_KINDS);
      for (const row of sidecarRows) {
        if (row.add) add.push(normalizeAdd(parse(row.add)));
        else if (row.remove) remove.push(normalizeRemove(parse(row.remove)));
      }
    } catch (error) {
      throw corrupt(
        `references sidecar${files.length > 1 ? 's' : ''} ${files.join(', ')} that cannot be read: ${(error as Error).message}`,
        error,
        files[0],
      );
    }
  }
  return { version, protocol, metaData, add, remove, cdc: [], txn, domainMetadata };
}

/** The actions of a JSON checkpoint, one per line. Throws an `Error` naming a line that is not an action. */
async function readJsonRows(store: LogStore, name: string): Promise<ActionRow[]> {
  const bytes = await store.read(name);
  if (!bytes) throw new Error('the file is missing');
  const rows: ActionRow[] = [];
  const lines = bytes.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0) continue;
    let action: unknown;
    try {
      action = JSON.parse(line);
    } catch (error) {
      throw new Error(`line ${i + 1} is not valid JSON`, { cause: error });
    }
    if (typeof action !== 'object' || action === null || Array.isArray(action)) {
      throw new Error(`line ${i + 1} is not an action object`);
    }
    rows.push(action as ActionRow);
  }
  return rows;
}

/** Each action struct of the files' rows, of the given kinds, as JSON text (one kind per row). */
async function readRows(
  store: LogStore,
  names: readonly string[],
  kinds: readonly string[],
): Promise<ActionRow[]> {
  const connection = await sharedConnection();
  const source = `read_parquet(${sqlStringList(names.map((n) => store.pathOf(n)))}, union_by_name = true)`;
  const described = await queryJson(connection, `DESCRIBE SELECT * FROM ${source}`);
  const types = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
  const present = kinds.filter((k) => types.has(k));
  if (present.length === 0) return [];
  const addType = types.get('add');
  // Adds are most of a checkpoint: unless stats come as structs, DuckDB assembles their
  // JSON text directly (much cheaper than to_json of the whole struct and a value per row).
  const fastAdds = addType !== undefined && !/\b(stats_parsed|partitionValues_parsed)\b/.test(addType);
  const others = fastAdds ? present.filter((k) => k !== 'add') : present;
  const rows: ActionRow[] = [];
  if (fastAdds) {
    const fields = addFieldsOf(addType);
    const result = await connection.runAndReadAll(
      `SELECT string_agg(${addJsonExpression(fields)}, ',') FROM ${source} WHERE "add" IS NOT NULL`,
    );
    const text = result.getRows()[0]?.[0];
    if (typeof text === 'string' && text.length > 0) {
      for (const add of JSON.parse(`[${text}]`) as unknown[]) rows.push({ add });
    }
  }
  if (others.length > 0) {
    const select = others.map((k) => `to_json(${sqlIdent(k)}) AS ${sqlIdent(k)}`).join(', ');
    const where = others.map((k) => `${sqlIdent(k)} IS NOT NULL`).join(' OR ');
    rows.push(...(await queryJson(connection, `SELECT ${select} FROM ${source} WHERE ${where}`)));
  }
  return rows;
}

/** The top-level field names of the `add` struct type as DESCRIBE prints it. */
function addFieldsOf(type: string): Set<string> {
  const fields = new Set<string>();
  let depth = 0;
  let token = '';
  let expectName = true;
  for (const c of type.slice(type.indexOf('(') + 1)) {
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (depth === 0 && expectName && c === ' ' && token.length > 0) {
      fields.add(token.replaceAll('"', ''));
      expectName = false;
    } else if (depth === 0 && c === ',') {
      token = '';
      expectName = true;
      continue;
    }
    if (expectName && c !== ' ') token += c;
  }
  return fields;
}

/** SQL building the JSON text of one `add` action, leaving out null fields as the JSON log does. */
function addJsonExpression(fields: ReadonlySet<string>): string {
  const optional = (name: string, json: string) =>
    fields.has(name)
      ? `CASE WHEN "add".${sqlIdent(name)} IS NOT NULL THEN concat(',"${name}":', ${json}) ELSE '' END`
      : `''`;
  const value = (name: string) => `to_json("add".${sqlIdent(name)})`;
  return `concat('{"path":', to_json("add"."path"),
    ',"partitionValues":', CASE WHEN cardinality("add"."partitionValues") > 0 THEN to_json("add"."partitionValues") ELSE '{}' END,
    ${[
      'size',
      'modificationTime',
      'dataChange',
      'stats',
      'tags',
      'deletionVector',
      'baseRowId',
      'defaultRowCommitVersion',
      'clusteringProvider',
    ]
      .map((name) => optional(name, value(name)))
      .join(',\n    ')},
    '}')`;
}

function parse(json: unknown): Record<string, unknown> {
  const value = (typeof json === 'string' ? JSON.parse(json) : json) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${String(json)} is not an object`);
  }
  return value as Record<string, unknown>;
}

/** The object, or `undefined` when it has no field (a struct of nulls). */
function nonEmpty(value: Record<string, unknown>): Record<string, unknown> | undefined {
  return Object.keys(value).length > 0 ? value : undefined;
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

/** The metadata of a `metaData` row; `undefined` for a struct of nulls (no action). */
function normalizeMetadata(raw: Record<string, unknown>): Metadata | undefined {
  const m = stripNulls(raw);
  if (Object.keys(m).length === 0) return undefined;
  m.configuration ??= {};
  m.partitionColumns ??= [];
  const format = (m.format ?? {}) as Record<string, unknown>;
  m.format = { ...format, provider: format.provider ?? 'parquet', options: format.options ?? {} };
  return m as unknown as Metadata;
}
