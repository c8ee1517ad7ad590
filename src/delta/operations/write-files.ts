/**
 * Writing data files: one DuckDB `COPY … TO … (FORMAT parquet, RETURN_STATS)`
 * turns a query into Parquet files under the table root and answers with
 * per-file row counts, sizes, column statistics and partition values, from
 * which we build the `add` actions. There is no other pass over the data:
 * statistics come from the Parquet writer itself, casts happen inside the
 * same query, and JavaScript only touches one result row per file.
 *
 * Invariants:
 * - Files get fresh UUID names (`APPEND` + `FILENAME_PATTERN 'part-{uuid}'`),
 *   so an existing file is never overwritten.
 * - Partition columns are not written into the files; null partition values
 *   go to `__HIVE_DEFAULT_PARTITION__` directories and are `null` in the log.
 * - Column values are cast to the table's types; with column mapping the
 *   files hold physical names (and Parquet field ids), as do stats and
 *   partition values.
 * - NOT NULL columns, `delta.invariants` and `delta.constraints.*` are
 *   enforced on what was written; on a violation (or any failure after the
 *   copy) the new files are deleted before the error is thrown, so nothing
 *   is left behind for a log that never references them.
 */
import { rm } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { connect, queryJson, sqlIdent, sqlString, sqlStringList } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import {
  type ColumnMappingMode,
  type DataType,
  fieldId,
  physicalName,
  type StructField,
  type StructType,
  toDuckDBType,
} from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { encodeDataFilePath } from '../storage/data-file-path.js';

/** Default upper bound of an unpartitioned data file (DuckDB starts a new file past it). */
export const DEFAULT_TARGET_FILE_SIZE = 256 * 1024 * 1024;

/** Longest string prefix kept in min/max statistics (Spark's default). */
const STRING_STATS_PREFIX = 32;

export interface WriteDataFilesOptions {
  /** Absolute path of the table root (the folder holding `_delta_log`). */
  readonly root: string;
  /** The table schema the files are written with (logical names). */
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  /**
   * A DuckDB query producing the rows. Every column of `schema` must be
   * present under its logical name (extra columns are ignored); values are
   * cast to the table's types.
   */
  readonly sourceSql: string;
  readonly columnMappingMode?: ColumnMappingMode;
  /** Unpartitioned writes start a new file past this many bytes (default 256 MiB). */
  readonly targetFileSize?: number;
  readonly compression?: 'snappy' | 'zstd';
  readonly rowGroupSize?: number;
  /**
   * A column of `sourceSql` (not of the table) whose values split the rows
   * into files, each in a `<name>=<value>/` folder: OPTIMIZE uses it to write
   * key ranges without sorting. It is neither written nor a partition value.
   */
  readonly bucketColumn?: string;
  /** Table properties: `delta.constraints.*`, `delta.dataSkippingNumIndexedCols`, `delta.dataSkippingStatsColumns`. */
  readonly properties?: Readonly<Record<string, string>>;
  /** `add.dataChange` (false for rewrites that change no rows, e.g. compaction). */
  readonly dataChange?: boolean;
  /** Name of the table in error messages (default: the root). */
  readonly table?: string;
  /** Connection to run on; a fresh one (closed afterwards) when omitted. */
  readonly connection?: DuckDBConnection;
}

export interface WrittenFiles {
  readonly adds: readonly Add[];
  /** Rows written. */
  readonly rows: number;
  /** Bytes written. */
  readonly bytes: number;
}

/**
 * The options that write data files of `snapshot`'s table as it stands:
 * its root, schema, partitioning, column mapping and properties.
 *
 * @example
 * await writeDataFiles({ ...tableFileOptions(snapshot), connection, sourceSql });
 */
export function tableFileOptions(snapshot: Snapshot) {
  return {
    root: snapshot.root,
    schema: snapshot.schema,
    partitionColumns: snapshot.partitionColumns,
    columnMappingMode: snapshot.columnMappingMode,
    properties: snapshot.properties,
    table: snapshot.root,
  } as const;
}

/**
 * Write the rows of `sourceSql` as Parquet data files of the table and
 * return their `add` actions (not yet committed).
 *
 * @example
 * const { adds, rows } = await writeDataFiles({
 *   root: snapshot.root, schema: snapshot.schema, partitionColumns: snapshot.partitionColumns,
 *   sourceSql: 'SELECT * FROM read_csv(\'events.csv\')', properties: snapshot.properties,
 * });
 * await new Transaction(store, snapshot, { operation: 'WRITE', isBlindAppend: true }).addActions(
 *   ...adds.map((add) => ({ add })),
 * ).commit();
 */
export async function writeDataFiles(options: WriteDataFilesOptions): Promise<WrittenFiles> {
  const mode = options.columnMappingMode ?? 'none';
  const table = options.table ?? options.root;
  const partitionSet = new Set(options.partitionColumns);
  const fields = options.schema.fields.filter((f) => f.type !== 'void');
  const dataFields = fields.filter((f) => !partitionSet.has(f.name));
  const partitionFields = options.partitionColumns.map((name) => {
    const field = options.schema.fields.find((f) => f.name === name);
    if (!field) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `partition column "${name}" is not in the schema of ${table}`,
        {
          table,
          column: name,
        },
      );
    }
    return field;
  });
  if (dataFields.length === 0) {
    throw new LarderError('INVALID_ARGUMENT', `table ${table} has no data columns to write`, { table });
  }

  const select = [
    ...dataFields.map(
      (f) => `${valueExpr(sqlIdent(f.name), f.type, mode, f.name)} AS ${sqlIdent(physicalName(f, mode))}`,
    ),
    ...partitionFields.map(
      (f) => `${partitionValueExpr(sqlIdent(f.name), f, table)} AS ${sqlIdent(physicalName(f, mode))}`,
    ),
    ...(options.bucketColumn ? [sqlIdent(options.bucketColumn)] : []),
  ];
  const copyOptions = [
    'FORMAT parquet',
    `COMPRESSION ${options.compression ?? 'snappy'}`,
    'APPEND',
    `FILENAME_PATTERN 'part-{uuid}'`,
    'RETURN_STATS',
  ];
  const partitionBy = [
    ...partitionFields.map((f) => sqlIdent(physicalName(f, mode))),
    ...(options.bucketColumn ? [sqlIdent(options.bucketColumn)] : []),
  ];
  if (partitionBy.length > 0) {
    copyOptions.push(`PARTITION_BY (${partitionBy.join(', ')})`);
  } else {
    copyOptions.push(
      `FILE_SIZE_BYTES ${Math.max(1, Math.floor(options.targetFileSize ?? DEFAULT_TARGET_FILE_SIZE))}`,
    );
  }
  if (options.rowGroupSize !== undefined)
    copyOptions.push(`ROW_GROUP_SIZE ${Math.floor(options.rowGroupSize)}`);
  if (mode !== 'none') {
    const ids = fieldIdsLiteral(dataFields, mode);
    if (ids) copyOptions.push(`FIELD_IDS ${ids}`);
  }
  const sql = `COPY (SELECT ${select.join(', ')} FROM (${options.sourceSql}\n) AS __larder_source) TO ${sqlString(options.root)} (${copyOptions.join(', ')})`;

  const connection = options.connection ?? (await connect());
  const written: string[] = [];
  try {
    const rows = await queryJson(connection, sql, `writing data files of ${table}`);
    const modificationTime = Date.now();
    const adds: Add[] = [];
    const addFiles: string[] = [];
    const emptyFiles: string[] = [];
    const nullCounts = new Map<string, number>();
    let totalRows = 0;
    let totalBytes = 0;
    const stats = new StatsBuilder(dataFields, mode, options.properties ?? {});
    for (const row of rows) {
      const filename = String(row.filename);
      written.push(filename);
      const count = Number(row.count);
      if (count === 0) {
        emptyFiles.push(filename);
        continue;
      }
      const rel = relative(options.root, filename);
      if (rel.startsWith('..') || isAbsolute(rel)) {
        throw new LarderError('IO_ERROR', `DuckDB wrote ${filename} outside the table root ${options.root}`, {
          table,
          file: filename,
        });
      }
      const columnStats = parseColumnStatistics(row.column_statistics);
      for (const f of dataFields) {
        const s = columnStats.get(statKey([physicalName(f, mode)]));
        if (s?.null_count !== undefined) {
          nullCounts.set(f.name, (nullCounts.get(f.name) ?? 0) + Number(s.null_count));
        }
      }
      const keys = new Map<string, string | null>();
      for (const entry of (row.partition_keys as { key: string; value: string | null }[] | null) ?? []) {
        keys.set(entry.key, entry.value);
      }
      const partitionValues: Record<string, string | null> = {};
      for (const f of partitionFields) {
        const p = physicalName(f, mode);
        partitionValues[p] = keys.get(p) ?? null;
      }
      const size = Number(row.file_size_bytes);
      adds.push({
        path: encodeDataFilePath(rel),
        partitionValues,
        size,
        modificationTime,
        dataChange: options.dataChange ?? true,
        stats: stats.build(count, columnStats),
      });
      addFiles.push(filename);
      totalRows += count;
      totalBytes += size;
    }
    await removeFiles(emptyFiles);
    const result = { adds, rows: totalRows, bytes: totalBytes };
    await enforceConstraints(connection, options, result, nullCounts, addFiles, mode, table);
    return result;
  } catch (error) {
    await removeFiles(written);
    throw error;
  } finally {
    if (!options.connection) connection.closeSync();
  }
}

/** Delete files this write created (best effort: a leftover is an unreferenced orphan, never wrong data). */
async function removeFiles(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true }).catch(() => undefined)));
}

/** The value written for a column: cast to the table's type, struct fields renamed to physical names. */
function valueExpr(ref: string, type: DataType, mode: ColumnMappingMode, column: string): string {
  const cast = `CAST(${ref} AS ${toDuckDBType(type)})`;
  if (mode === 'none' || !containsStruct(type)) return cast;
  return renameExpr(cast, type, mode, column);
}

function containsStruct(type: DataType): boolean {
  if (typeof type === 'string') return false;
  if (type.type === 'struct') return true;
  if (type.type === 'array') return containsStruct(type.elementType);
  return containsStruct(type.keyType) || containsStruct(type.valueType);
}

function renameExpr(expr: string, type: DataType, mode: ColumnMappingMode, column: string): string {
  if (typeof type === 'string' || !containsStruct(type)) return expr;
  if (type.type !== 'struct') {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `column "${column}" has structs inside an array or map; Larder writes such columns only without column mapping`,
      { column, feature: 'columnMapping' },
    );
  }
  const parts = type.fields.map(
    (f) =>
      `${sqlIdent(physicalName(f, mode))} := ${renameExpr(`(${expr}).${sqlIdent(f.name)}`, f.type, mode, column)}`,
  );
  return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
}

/** A partition value in the log's string form (PROTOCOL.md "Partition Value Serialization"). */
function partitionValueExpr(ref: string, field: StructField, table: string): string {
  const type = field.type;
  if (typeof type !== 'string' || type === 'binary' || type === 'void') {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `partition column "${field.name}" of ${table} has type ${typeof type === 'string' ? type : type.type}; Larder partitions only by primitive non-binary columns`,
      { table, column: field.name },
    );
  }
  switch (type) {
    case 'string':
      return `NULLIF(CAST(${ref} AS VARCHAR), '')`;
    case 'timestamp':
      return `strftime(CAST(${ref} AS TIMESTAMPTZ), '%Y-%m-%dT%H:%M:%S.%fZ')`;
    case 'timestamp_ntz':
      return `strftime(CAST(${ref} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f')`;
    default:
      return `CAST(CAST(${ref} AS ${toDuckDBType(type)}) AS VARCHAR)`;
  }
}

/** `FIELD_IDS {…}` for column-mapped tables: the Parquet field ids Spark reads in `id` mode. */
function fieldIdsLiteral(fields: readonly StructField[], mode: ColumnMappingMode): string | undefined {
  const entries: string[] = [];
  for (const f of fields) {
    const id = fieldId(f);
    if (id === undefined) continue;
    const name = sqlString(physicalName(f, mode));
    if (typeof f.type !== 'string' && f.type.type === 'struct') {
      const nested = fieldIdsLiteral(f.type.fields, mode);
      const inner = nested ? nested.slice(1, -1) : '';
      entries.push(`${name}: {'__duckdb_field_id': ${id}${inner ? `, ${inner}` : ''}}`);
    } else entries.push(`${name}: ${id}`);
  }
  return entries.length > 0 ? `{${entries.join(', ')}}` : undefined;
}

type ColumnStats = Readonly<Record<string, string>>;

/** DuckDB's `column_statistics` map (as JSON: `[{key, value: [{key, value}]}]`) keyed by column path. */
function parseColumnStatistics(raw: unknown): Map<string, ColumnStats> {
  const result = new Map<string, ColumnStats>();
  for (const entry of (raw as { key: string; value: { key: string; value: string }[] }[] | null) ?? []) {
    const stats: Record<string, string> = {};
    for (const s of entry.value ?? []) if (s.value !== null) stats[s.key] = s.value;
    result.set(entry.key, stats);
  }
  return result;
}

/** The key DuckDB uses for a column path: `"a"."b"`. */
function statKey(path: readonly string[]): string {
  return path.map((p) => `"${p.replaceAll('"', '""')}"`).join('.');
}

/** A JSON fragment inserted verbatim (numbers kept exactly as the Parquet writer printed them). */
class RawJson {
  constructor(readonly text: string) {}
}

type JsonTree = Map<string, JsonTree | RawJson>;

function serializeTree(tree: JsonTree): string {
  const parts: string[] = [];
  for (const [key, value] of tree) {
    parts.push(`${JSON.stringify(key)}:${value instanceof RawJson ? value.text : serializeTree(value)}`);
  }
  return `{${parts.join(',')}}`;
}

function setPath(tree: JsonTree, path: readonly string[], value: RawJson): void {
  let node = tree;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    let child = node.get(key);
    if (!(child instanceof Map)) {
      child = new Map();
      node.set(key, child);
    }
    node = child;
  }
  node.set(path[path.length - 1]!, value);
}

interface Leaf {
  readonly path: readonly string[];
  readonly key: string;
  readonly type: DataType;
}

/** Builds `add.stats` JSON the way Spark writes it, from the Parquet writer's column statistics. */
class StatsBuilder {
  readonly #leaves: Leaf[] = [];

  constructor(
    fields: readonly StructField[],
    mode: ColumnMappingMode,
    properties: Readonly<Record<string, string>>,
  ) {
    const limitText = properties['delta.dataSkippingNumIndexedCols'];
    const limit = limitText === undefined ? 32 : Number(limitText);
    const statsColumns = properties['delta.dataSkippingStatsColumns']
      ?.split(',')
      .map((c) => c.trim().replaceAll('`', '').toLowerCase())
      .filter((c) => c.length > 0);
    const collect = (list: readonly StructField[], physical: string[], logical: string[]): void => {
      for (const f of list) {
        const p = [...physical, physicalName(f, mode)];
        const l = [...logical, f.name];
        if (typeof f.type !== 'string') {
          if (f.type.type === 'struct') collect(f.type.fields, p, l);
          continue;
        }
        if (f.type === 'void') continue;
        if (statsColumns) {
          const dotted = l.join('.').toLowerCase();
          if (!statsColumns.some((c) => dotted === c || dotted.startsWith(`${c}.`))) continue;
        } else if (limit >= 0 && this.#leaves.length >= limit) continue;
        this.#leaves.push({ path: p, key: statKey(p), type: f.type });
      }
    };
    collect(fields, [], []);
  }

  build(numRecords: number, columnStats: ReadonlyMap<string, ColumnStats>): string {
    const minValues: JsonTree = new Map();
    const maxValues: JsonTree = new Map();
    const nullCount: JsonTree = new Map();
    for (const leaf of this.#leaves) {
      const s = columnStats.get(leaf.key);
      if (!s) continue;
      if (s.null_count !== undefined && /^\d+$/.test(s.null_count)) {
        setPath(nullCount, leaf.path, new RawJson(s.null_count));
      }
      if (s.has_nan === 'true') continue;
      const type = leaf.type as string;
      if (typeof type !== 'string') continue;
      const min = s.min === undefined ? undefined : statValue(s.min, type, 'min');
      const max = s.max === undefined ? undefined : statValue(s.max, type, 'max');
      if (min !== undefined) setPath(minValues, leaf.path, min);
      if (max !== undefined) setPath(maxValues, leaf.path, max);
    }
    return `{"numRecords":${numRecords},"minValues":${serializeTree(minValues)},"maxValues":${serializeTree(maxValues)},"nullCount":${serializeTree(nullCount)}}`;
  }
}

const INTEGER = /^-?\d+$/;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:([+-])(\d{2})(?::?(\d{2}))?)?$/;

/**
 * A min or max statistic in the stats JSON form of its Delta type, or
 * `undefined` when the type has none (booleans, binary) or the value cannot
 * be stated safely (NaN, infinities, out-of-range dates, truncated max strings).
 */
function statValue(text: string, type: string, bound: 'min' | 'max'): RawJson | undefined {
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return INTEGER.test(text) ? new RawJson(text) : undefined;
    case 'float':
    case 'double': {
      if (JSON_NUMBER.test(text)) return new RawJson(text);
      const n = Number(text);
      return Number.isFinite(n) ? new RawJson(String(n)) : undefined;
    }
    case 'string': {
      const chars = Array.from(text);
      if (chars.length <= STRING_STATS_PREFIX) return new RawJson(JSON.stringify(text));
      // A prefix is a valid lower bound; a truncated upper bound would not be.
      return bound === 'min'
        ? new RawJson(JSON.stringify(chars.slice(0, STRING_STATS_PREFIX).join('')))
        : undefined;
    }
    case 'date':
      return DATE.test(text) ? new RawJson(JSON.stringify(text)) : undefined;
    case 'timestamp':
    case 'timestamp_ntz': {
      const m = TIMESTAMP.exec(text);
      if (!m) return undefined;
      const ms = (m[3] ?? '').padEnd(3, '0').slice(0, 3);
      const local = `${m[1]}T${m[2]}.${ms}`;
      if (type === 'timestamp_ntz') return new RawJson(JSON.stringify(local));
      let millis = Date.parse(`${local}Z`);
      if (Number.isNaN(millis)) return undefined;
      if (m[4]) {
        const offset = (Number(m[5]) * 60 + Number(m[6] ?? 0)) * 60_000;
        millis += m[4] === '+' ? -offset : offset;
      }
      const iso = new Date(millis).toISOString();
      return iso.length === 24 ? new RawJson(JSON.stringify(iso)) : undefined;
    }
    default:
      // decimal(p,s): DuckDB prints the exact value with its scale.
      return type.startsWith('decimal') && JSON_NUMBER.test(text) ? new RawJson(text) : undefined;
  }
}

interface Check {
  readonly name: string;
  readonly expression: string;
}

/**
 * NOT NULL columns, column invariants and CHECK constraints, on the files
 * just written. Top-level primitive and partition columns are checked from
 * the writer's statistics; the rest with one query over the new files.
 */
async function enforceConstraints(
  connection: DuckDBConnection,
  options: WriteDataFilesOptions,
  written: WrittenFiles,
  nullCounts: ReadonlyMap<string, number>,
  /** Absolute paths of `written.adds`, in the same order. */
  files: readonly string[],
  mode: ColumnMappingMode,
  table: string,
): Promise<void> {
  if (written.adds.length === 0) return;
  const partitionSet = new Set(options.partitionColumns);
  const checks: Check[] = [];
  for (const f of options.schema.fields) {
    if (f.type === 'void') continue;
    if (!f.nullable) {
      if (partitionSet.has(f.name)) {
        const p = physicalName(f, mode);
        const bad = written.adds.find((a) => a.partitionValues[p] === null);
        if (bad) throw notNullViolation(f.name, table);
      } else if (nullCounts.has(f.name)) {
        if ((nullCounts.get(f.name) ?? 0) > 0) throw notNullViolation(f.name, table);
      } else {
        checks.push({ name: `NOT NULL ${f.name}`, expression: `${sqlIdent(f.name)} IS NOT NULL` });
      }
    }
    const invariant = f.metadata['delta.invariants'];
    if (typeof invariant === 'string') {
      const expression = (JSON.parse(invariant) as { expression?: { expression?: string } }).expression
        ?.expression;
      if (expression) checks.push({ name: `invariant on ${f.name}`, expression });
    }
  }
  for (const [key, expression] of Object.entries(options.properties ?? {})) {
    if (key.toLowerCase().startsWith('delta.constraints.')) {
      checks.push({ name: key.slice('delta.constraints.'.length), expression });
    }
  }
  if (checks.length === 0) return;

  const partitionFields = options.partitionColumns.map(
    (n) => options.schema.fields.find((f) => f.name === n)!,
  );
  const columns = options.schema.fields
    .filter((f) => f.type !== 'void')
    .map((f) =>
      partitionSet.has(f.name)
        ? `CAST(__pv.${sqlIdent(`p_${f.name}`)} AS ${toDuckDBType(f.type)}) AS ${sqlIdent(f.name)}`
        : `__data.${sqlIdent(physicalName(f, mode))} AS ${sqlIdent(f.name)}`,
    );
  let from = `read_parquet(${sqlStringList(files)}, filename = true, hive_partitioning = false) AS __data`;
  if (partitionFields.length > 0) {
    const values = written.adds.map((add, i) => {
      const cells = partitionFields.map((f) => {
        const v = add.partitionValues[physicalName(f, mode)];
        return v === null || v === undefined ? 'NULL' : sqlString(v);
      });
      return `(${sqlString(files[i]!)}, ${cells.join(', ')})`;
    });
    from += ` JOIN (VALUES ${values.join(', ')}) AS __pv(__file, ${partitionFields.map((f) => sqlIdent(`p_${f.name}`)).join(', ')}) ON __data.filename = __pv.__file`;
  }
  const counts = checks.map(
    (c, i) => `count(*) FILTER (WHERE (${c.expression}) IS NOT TRUE) AS ${sqlIdent(`c${i}`)}`,
  );
  const [row] = await queryJson(
    connection,
    `SELECT ${counts.join(', ')} FROM (SELECT ${columns.join(', ')} FROM ${from})`,
    `checking the constraints of ${table}`,
  );
  checks.forEach((check, i) => {
    const violations = Number(row?.[`c${i}`] ?? 0);
    if (violations > 0) {
      throw new LarderError(
        'CONSTRAINT_VIOLATION',
        `${violations} row(s) violate ${check.name.startsWith('NOT NULL') || check.name.startsWith('invariant') ? check.name : `CHECK constraint ${check.name}`} (${check.expression}) of ${table}`,
        { table, constraint: check.name, hint: 'fix or filter the rows; nothing was written' },
      );
    }
  });
}

function notNullViolation(column: string, table: string): LarderError {
  return new LarderError(
    'CONSTRAINT_VIOLATION',
    `column "${column}" of ${table} is NOT NULL but the rows hold nulls`,
    {
      table,
      column,
      hint: 'fill or filter the null values; nothing was written',
    },
  );
}
