/**
 * The read path of a Delta table: a `Snapshot` becomes one DuckDB SELECT
 * over its live data files that returns the table's rows under their logical
 * names and types (`toDuckDBType`).
 *
 * How the SQL is built, and why:
 * - Files are pruned first by partition values and stats (`prune.ts`);
 *   planning reads the log only, never a data file (deletion-vector files
 *   excepted), so it stays in milliseconds for tens of thousands of files.
 * - Partition columns are not in the data files: files are grouped by their
 *   partition tuple and each group is one `read_parquet` whose partition
 *   columns are typed constants; the groups are joined by UNION ALL. A table
 *   without partitions or deletion vectors is exactly one `read_parquet`, so
 *   a full scan costs what DuckDB alone costs.
 * - Columns absent from some files (added by schema evolution) read as NULL:
 *   unless every file's stats show every column read, the files are read
 *   with `union_by_name` and unioned by name with an empty relation that has
 *   every column, so a column no file has still binds.
 * - Type widening: a column whose type was widened (`delta.typeChanges`)
 *   is read with `union_by_name`, which types it as the files' common
 *   supertype, then cast to the current type.
 * - Variant columns (struct of `metadata` and `value` binaries) are decoded
 *   to JSON text by `larder_variant_to_json` (`variant-decoder.ts`).
 * - Column mapping: `name` mode reads physical names (nested struct fields
 *   too) and aliases them; `id` mode reads by Parquet field id through
 *   `read_parquet`'s `schema` parameter.
 * - Deletion vectors: a file's deleted positions become a bitmap constant
 *   (`BIT`) tested with `file_row_number`, or, when very sparse in a large
 *   file, a `NOT IN` list; several files share one read joined on
 *   `filename`.
 * - With a predicate, the SQL also filters rows by it, so the plan returns
 *   exactly the rows that satisfy it.
 *
 * - Planning a snapshot again is nearly free: a snapshot's file list and its
 *   partition groups are cached per (frozen) file array.
 *
 * Invariant: the SQL's columns are the requested logical columns, in the
 * requested (or schema) order, with the DuckDB types of the schema; its rows
 * are the live rows of the snapshot (those the predicate accepts).
 */
import * as path from 'node:path';
import { queryJson, sharedConnection, sqlIdent, sqlString } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import {
  type ColumnMappingMode,
  type DataType,
  fieldId,
  physicalName,
  type StructField,
  schemaUsesType,
  toDuckDBType,
} from '../log/schema.js';
import { assertReadable, type Snapshot } from '../log/snapshot.js';
import { hasTypeChanges } from '../log/type-widening.js';
import { dataFileLocalPath, isPlainRelativePath } from '../storage/data-file-path.js';
import { readDeletionVector } from './deletion-vector.js';
import type { Literal, Predicate } from './predicate.js';
import { filePruner, pruneContext, resolveColumn } from './prune.js';
import { registerVariantFunction, VARIANT_TO_JSON } from './variant-decoder.js';

export interface ScanOptions {
  /** Prune files by this predicate and return only the rows that satisfy it. */
  readonly predicate?: Predicate;
  /** Logical columns to return, in this order (default: all, in schema order). */
  readonly columns?: readonly string[];
  /**
   * Read these files (with their deletion vectors) instead of the snapshot's
   * live files: the files of a commit, removed files, change-data files.
   */
  readonly files?: readonly Add[];
  /**
   * Also return each row's file (`__larder_file`, its `add.path` as in the
   * log) and position in it (`__larder_row`, BIGINT), as MERGE, UPDATE and
   * DELETE need to mark rows deleted.
   */
  readonly withRowIds?: boolean;
  /** Also return the `_change_type` column of change-data files. */
  readonly withChangeType?: boolean;
}

/** Column of a scan `withRowIds`: the row's file, as `add.path`. */
export const ROW_FILE_COLUMN = '__larder_file';
/** Column of a scan `withRowIds`: the row's position in its file. */
export const ROW_POSITION_COLUMN = '__larder_row';
const CHANGE_TYPE_COLUMN = '_change_type';
/** Name given to read_parquet's file name column where the SQL needs it. */
const FILENAME = '__larder_filename';

export interface ScanPlan {
  /** A DuckDB SELECT returning the table's (requested) logical columns with their DuckDB types. */
  readonly sql: string;
  /** The data files the SQL reads, after pruning. */
  readonly files: readonly Add[];
  /** The number of files before pruning: the snapshot's live files, or `options.files`. */
  readonly totalFiles: number;
}

interface ColumnPlan {
  readonly field: StructField;
  readonly physical: string;
  readonly duckType: string;
  readonly partition: boolean;
}

/**
 * Plan a scan of `snapshot`.
 * @example
 * const snapshot = await loadSnapshot(new LocalLogStore('/data/tx'));
 * const plan = await planScan(snapshot, {
 *   columns: ['customer_id', 'amount'],
 *   predicate: { kind: 'compare', op: '>=', column: 'day', value: '2024-05-01' },
 * });
 * await connection.run(`SELECT sum(amount) FROM (${plan.sql})`);
 */
export async function planScan(snapshot: Snapshot, options: ScanOptions = {}): Promise<ScanPlan> {
  // Snapshots from the log are checked when loaded; one built any other way is checked here.
  assertReadable(snapshot.protocol, snapshot.root);
  const mode = snapshot.columnMappingMode;
  if (snapshot.schema.fields.some((f) => schemaUsesType(f.type, 'variant'))) await registerVariantFunction();
  const context = pruneContext(snapshot);
  const partitions = new Set(snapshot.partitionColumns);
  const columnOf = (field: StructField): ColumnPlan => ({
    field,
    physical: physicalName(field, mode),
    duckType: toDuckDBType(field.type),
    partition: partitions.has(field.name),
  });
  const byName = new Map(snapshot.schema.fields.map((f) => [f.name, f]));
  const lookup = (name: string, what: string): StructField => {
    const column = resolveColumn(context, name);
    const field = column && byName.get(column.name);
    if (!field) {
      throw new LarderError('INVALID_ARGUMENT', `table ${snapshot.root} has no column "${name}" (${what})`, {
        table: snapshot.root,
        column: name,
        hint: `columns: ${snapshot.schema.fields.map((f) => f.name).join(', ')}`,
      });
    }
    return field;
  };

  const output: ColumnPlan[] = [];
  const seen = new Set<string>();
  for (const name of options.columns ?? snapshot.schema.fields.map((f) => f.name)) {
    const field = lookup(name, 'requested');
    if (seen.has(field.name)) continue;
    seen.add(field.name);
    output.push(columnOf(field));
  }
  if (output.length === 0) {
    throw new LarderError('INVALID_ARGUMENT', `a scan of ${snapshot.root} must return at least one column`, {
      table: snapshot.root,
    });
  }
  const predicate = options.predicate;
  const inner = [...output];
  if (predicate) {
    for (const name of predicateColumns(predicate)) {
      const field = lookup(name, 'used by the filter');
      if (!seen.has(field.name)) {
        seen.add(field.name);
        inner.push(columnOf(field));
      }
    }
  }

  // Extra columns after the requested ones: [name, DuckDB type, expression in a branch].
  const extras: [string, string][] = [];
  if (options.withRowIds) extras.push([ROW_FILE_COLUMN, 'VARCHAR'], [ROW_POSITION_COLUMN, 'BIGINT']);
  if (options.withChangeType) extras.push([CHANGE_TYPE_COLUMN, 'VARCHAR']);

  const candidates = options.files ?? snapshot.files;
  const files = predicate ? candidates.filter(filePruner(predicate, context)) : candidates;
  const totalFiles = candidates.length;
  if (files.length === 0) {
    const columns = [
      ...output.map((c) => `CAST(NULL AS ${c.duckType}) AS ${sqlIdent(c.field.name)}`),
      ...extras.map(([name, type]) => `CAST(NULL AS ${type}) AS ${sqlIdent(name)}`),
    ];
    return { sql: `SELECT ${columns.join(', ')} WHERE false`, files, totalFiles };
  }

  const partitionColumns = inner.filter((c) => c.partition);
  // Without partition columns to add, all files are one group: the file array itself, whose
  // SQL list is cached (see FileReader), so planning a snapshot again is nearly free.
  const groups = partitionColumns.length === 0 ? new Map([['', files]]) : groupFiles(files, partitionColumns);

  const reader = new FileReader(snapshot, mode, inner, options);
  const deletions = await readDeletions(snapshot, files);
  const branches: string[] = [];
  for (const group of groups.values()) {
    const exprs = inner.map((c) => `${columnExpr(c, group[0]!, mode)} AS ${sqlIdent(c.field.name)}`);
    if (options.withChangeType) {
      exprs.push(`CAST(${sqlIdent(CHANGE_TYPE_COLUMN)} AS VARCHAR) AS ${sqlIdent(CHANGE_TYPE_COLUMN)}`);
    }
    for (const source of reader.sources(group, deletions)) {
      branches.push(
        options.withRowIds
          ? reader.withRowIds(exprs, source)
          : `SELECT ${exprs.join(', ')} FROM ${source.from}`,
      );
    }
  }
  let sql = branches.join(' UNION ALL ');
  if (predicate) {
    const columns = [...output.map((c) => c.field.name), ...extras.map(([name]) => name)]
      .map(sqlIdent)
      .join(', ');
    sql = `SELECT ${columns} FROM (${sql}) WHERE ${predicateSql(predicate, (name) => lookup(name, 'filter').name)}`;
  }
  return { sql, files, totalFiles };
}

/**
 * Read the rows of a snapshot as JSON-friendly objects (BIGINT as strings,
 * timestamps as text), for tests, examples and small tables.
 * @example
 * const rows = await readTableRows(snapshot, { predicate: { kind: 'compare', op: '=', column: 'id', value: 1 } });
 */
export async function readTableRows(
  snapshot: Snapshot,
  options: ScanOptions = {},
): Promise<Record<string, unknown>[]> {
  const plan = await planScan(snapshot, options);
  return queryJson(await sharedConnection(), plan.sql, `reading table ${snapshot.root}`);
}

/**
 * `dataFileLocalPath` as a SQL string literal, given `sqlString(root + sep)`
 * without its closing quote. Most paths are plain relative paths that need
 * no decoding, normalising or escaping: those are concatenated directly, as
 * this runs once per file per plan.
 */
function quotedDataFilePath(root: string, quotedRootPrefix: string, filePath: string): string {
  if (isPlainRelative(filePath)) return `${quotedRootPrefix}${filePath}'`;
  return sqlString(dataFileLocalPath(root, filePath));
}

/** Plain (see `isPlainRelativePath`) and free of `'`, so it needs no SQL escaping either. */
function isPlainRelative(p: string): boolean {
  return isPlainRelativePath(p) && !p.includes("'");
}

// ---------------------------------------------------------------------------
// Columns

const groupCache = new WeakMap<readonly Add[], Map<string, ReadonlyMap<string, readonly Add[]>>>();

/**
 * Files grouped by their values of `columns` (frozen groups, so their SQL
 * lists are cached too). Cached per frozen file array: a snapshot's groups
 * are computed once.
 */
function groupFiles(
  files: readonly Add[],
  columns: readonly ColumnPlan[],
): ReadonlyMap<string, readonly Add[]> {
  const columnsKey = columns.map((c) => c.physical).join('\u0000');
  const cached = groupCache.get(files)?.get(columnsKey);
  if (cached) return cached;
  const groups = new Map<string, Add[]>();
  for (const add of files) {
    let key = '';
    for (const c of columns) {
      const value = partitionValue(add, c);
      key += value === null ? '\u0001' : `${value.length}:${value}`;
    }
    let group = groups.get(key);
    if (!group) {
      group = [];
      groups.set(key, group);
    }
    group.push(add);
  }
  for (const group of groups.values()) Object.freeze(group);
  if (Object.isFrozen(files)) {
    let byColumns = groupCache.get(files);
    if (!byColumns) {
      byColumns = new Map();
      groupCache.set(files, byColumns);
    }
    byColumns.set(columnsKey, groups);
  }
  return groups;
}

function partitionValue(add: Add, column: ColumnPlan): string | null {
  const values = add.partitionValues;
  const raw = values[column.physical] ?? values[column.field.name] ?? null;
  return raw === '' ? null : raw;
}

/** The SELECT expression of a column for a group of files sharing their partition values. */
function columnExpr(column: ColumnPlan, representative: Add, mode: ColumnMappingMode): string {
  if (column.partition) return partitionLiteral(partitionValue(representative, column), column);
  if (column.field.type === 'void') return `CAST(NULL AS ${column.duckType})`;
  return readExpr(sqlIdent(column.physical), column.field.type, mode, 0);
}

/** A partition value (PROTOCOL.md "Partition Value Serialization") as a typed SQL constant. */
function partitionLiteral(raw: string | null, column: ColumnPlan): string {
  const type = column.field.type;
  if (raw === null || type === 'void') return `CAST(NULL AS ${column.duckType})`;
  switch (type) {
    case 'string':
      return sqlString(raw);
    case 'binary':
      return `encode(${sqlString(raw)})`;
    case 'timestamp':
      // Partition timestamps carry no zone: they are UTC.
      return `CAST(${sqlString(/(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(raw) ? raw : `${raw}+00`)} AS TIMESTAMPTZ)`;
    default:
      return `CAST(${sqlString(raw)} AS ${column.duckType})`;
  }
}

/** Whether a column must be rebuilt field by field: renamed nested fields, or variants to decode. */
function hasRenamedFields(type: DataType, mode: ColumnMappingMode): boolean {
  if (typeof type === 'string') return type === 'variant';
  if (mode === 'none' && !schemaUsesType(type, 'variant')) return false;
  switch (type.type) {
    case 'struct':
      return true;
    case 'array':
      return hasRenamedFields(type.elementType, mode);
    case 'map':
      return hasRenamedFields(type.keyType, mode) || hasRenamedFields(type.valueType, mode);
  }
}

/**
 * The logical value of a column from its physical value `ref`: a cast to the
 * DuckDB type (INT96 and instants to TIMESTAMPTZ, and so on), rebuilding
 * structs whose fields have physical names under column mapping.
 */
function readExpr(ref: string, type: DataType, mode: ColumnMappingMode, depth: number): string {
  if (type === 'variant') {
    return `${VARIANT_TO_JSON}(struct_extract(${ref}, 'metadata'), struct_extract(${ref}, 'value'))`;
  }
  if (!hasRenamedFields(type, mode) || typeof type === 'string')
    return `CAST(${ref} AS ${toDuckDBType(type)})`;
  switch (type.type) {
    case 'struct': {
      const fields = type.fields.map((f) => {
        const child = `struct_extract(${ref}, ${sqlString(physicalName(f, mode))})`;
        return `${sqlIdent(f.name)} := ${readExpr(child, f.type, mode, depth + 1)}`;
      });
      return `CASE WHEN ${ref} IS NULL THEN NULL ELSE struct_pack(${fields.join(', ')}) END`;
    }
    case 'array': {
      const x = `__larder_x${depth}`;
      return `list_transform(${ref}, lambda ${x}: ${readExpr(x, type.elementType, mode, depth + 1)})`;
    }
    case 'map': {
      const e = `__larder_e${depth}`;
      const key = readExpr(`${e}.key`, type.keyType, mode, depth + 1);
      const value = readExpr(`${e}.value`, type.valueType, mode, depth + 1);
      return `map_from_entries(list_transform(map_entries(${ref}), lambda ${e}: {'key': ${key}, 'value': ${value}}))`;
    }
  }
}

/** The DuckDB type of a column as stored: nested struct fields under their physical names. */
function physicalDuckType(type: DataType, mode: ColumnMappingMode): string {
  if (type === 'variant') return 'STRUCT(metadata BLOB, value BLOB)';
  if (!hasRenamedFields(type, mode) || typeof type === 'string') return toDuckDBType(type);
  switch (type.type) {
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${sqlIdent(physicalName(f, mode))} ${physicalDuckType(f.type, mode)}`).join(', ')})`;
    case 'array':
      return `${physicalDuckType(type.elementType, mode)}[]`;
    case 'map':
      return `MAP(${physicalDuckType(type.keyType, mode)}, ${physicalDuckType(type.valueType, mode)})`;
  }
}

// ---------------------------------------------------------------------------
// Files

/** Deleted positions of each file with a deletion vector, as the SQL will test them. */
type Deletions = ReadonlyMap<Add, DeletedRows>;

type DeletedRows = Bitmap | { readonly kind: 'list'; readonly rows: readonly number[] };

/** A bitmap constant (`BIT`, bit i set = row i deleted) and the index of its last bit, always 0. */
interface Bitmap {
  readonly kind: 'bitmap';
  readonly bits: string;
  readonly limit: number;
}

async function readDeletions(snapshot: Snapshot, files: readonly Add[]): Promise<Deletions> {
  const withDv = files.filter((f) => f.deletionVector);
  const result = new Map<Add, DeletedRows>();
  await Promise.all(
    withDv.map(async (add) => {
      const rows = await readDeletionVector(snapshot.root, add.deletionVector!);
      if (rows.length > 0) result.set(add, deletedRowsSql(rows));
    }),
  );
  return result;
}

/** How to test the (non-empty, sorted) deleted positions of a file in SQL. */
function deletedRowsSql(rows: readonly number[]): DeletedRows {
  const max = rows[rows.length - 1]!;
  // A bitmap literal costs ~max/6 characters; a list ~8 per row. Lists only for a few rows far apart.
  if (rows.length <= 2048 && rows.length * 64 < (max + 1) / 6) return { kind: 'list', rows };
  const bytes = new Uint8Array(Math.floor((max + 1) / 8) + 1);
  for (const row of rows) bytes[row >> 3]! |= 0x80 >> (row & 7);
  // The last bit is always 0: positions past the last deleted one are clamped to it.
  return {
    kind: 'bitmap',
    bits: `from_base64('${Buffer.from(bytes).toString('base64')}')::BIT`,
    limit: bytes.length * 8 - 1,
  };
}

/** Row `rowRef` is not deleted; positions past the bitmap are clamped to its last bit, which is 0. */
function bitmapTest(bits: string, limit: string, rowRef: string): string {
  return `get_bit(${bits}, least(${rowRef}, ${limit})::INTEGER) = 0`;
}

/** A FROM item reading `files`: `read_parquet(...)` with an optional WHERE, or a subquery. */
interface Source {
  readonly from: string;
  readonly files: readonly Add[];
}

class FileReader {
  readonly #snapshot: Snapshot;
  readonly #mode: ColumnMappingMode;
  readonly #rowIds: boolean;
  /** Physical names of the columns read from data files. */
  readonly #physical: readonly string[];
  /** `name":` of each physical column, as its key appears in stats JSON (see `hasKey`). */
  readonly #statsKeys: readonly string[];
  /** `read_parquet` options after the file list. */
  readonly #options: string;
  /** The table root with a trailing separator. */
  readonly #rootPrefix: string;
  /** `#rootPrefix` as an open SQL string literal. */
  readonly #quotedRootPrefix: string;
  /** Whether a column read had its type widened, so files may hold different types of it. */
  readonly #widened: boolean;

  constructor(
    snapshot: Snapshot,
    mode: ColumnMappingMode,
    columns: readonly ColumnPlan[],
    options: ScanOptions,
  ) {
    this.#snapshot = snapshot;
    this.#mode = mode;
    this.#rowIds = options.withRowIds === true;
    this.#rootPrefix = snapshot.root.endsWith(path.sep) ? snapshot.root : snapshot.root + path.sep;
    this.#quotedRootPrefix = sqlString(this.#rootPrefix).slice(0, -1);
    const stored = columns.filter((c) => !c.partition && c.field.type !== 'void');
    this.#widened = stored.some((c) => hasTypeChanges(c.field));
    this.#physical = [
      ...stored.map((c) => c.physical),
      ...(options.withChangeType ? [CHANGE_TYPE_COLUMN] : []),
    ];
    this.#statsKeys = this.#physical.map((p) => `${JSON.stringify(p).slice(1)}:`);
    let readOptions = ', hive_partitioning = false';
    if (mode === 'id' && stored.length > 0) {
      const entries = stored.map((c) => {
        const id = fieldId(c.field);
        if (id === undefined) {
          throw new LarderError('CORRUPT_LOG', `column "${c.field.name}" has no delta.columnMapping.id`, {
            table: snapshot.root,
            column: c.field.name,
          });
        }
        return `${id}: {name: ${sqlString(c.physical)}, type: ${sqlString(physicalDuckType(c.field.type, mode))}, default_value: NULL}`;
      });
      if (options.withChangeType) {
        throw new LarderError(
          'UNSUPPORTED_FEATURE',
          `reading change data of ${snapshot.root} in column mapping id mode`,
          {
            table: snapshot.root,
            feature: 'columnMapping',
          },
        );
      }
      readOptions += `, schema = map {${entries.join(', ')}}`;
    }
    this.#options = readOptions;
    const names = new Set(snapshot.schema.fields.map((f) => physicalName(f, mode).toLowerCase()));
    if (names.has('file_row_number') && (this.#rowIds || snapshot.files.some((f) => f.deletionVector))) {
      throw new LarderError(
        'UNSUPPORTED_FEATURE',
        `table ${snapshot.root} has a column named file_row_number, which hides the row positions that deletion vectors and row-level changes need`,
        { table: snapshot.root, column: 'file_row_number', feature: 'deletionVectors' },
      );
    }
  }

  /** FROM items that read `files` with their deletion vectors applied. */
  sources(files: readonly Add[], deletions: Deletions): Source[] {
    const plain: Add[] = [];
    const bitmaps: [Add, Bitmap][] = [];
    const lists: [Add, readonly number[]][] = [];
    for (const add of files) {
      const deleted = deletions.get(add);
      if (!deleted) plain.push(add);
      else if (deleted.kind === 'list') lists.push([add, deleted.rows]);
      else bitmaps.push([add, deleted]);
    }
    const sources: Source[] = [];
    if (plain.length > 0) {
      const all = plain.length === files.length ? files : plain;
      sources.push({ from: this.#read(all), files: all });
    }
    if (bitmaps.length === 1) {
      const [add, d] = bitmaps[0]!;
      sources.push({
        from: this.#read([add], bitmapTest(d.bits, String(d.limit), 'file_row_number')),
        files: [add],
      });
    } else if (bitmaps.length > 1) {
      const values = bitmaps.map(([add, d]) => `(${this.#path(add)}, ${d.bits}, ${d.limit})`);
      const join =
        `AS __larder_d JOIN (VALUES ${values.join(', ')}) AS __larder_dv(__larder_file, __larder_bits, __larder_limit)` +
        ` ON __larder_d.${FILENAME} = __larder_dv.__larder_file`;
      const where = bitmapTest(
        '__larder_dv.__larder_bits',
        '__larder_dv.__larder_limit',
        '__larder_d.file_row_number',
      );
      const dvFiles = bitmaps.map(([add]) => add);
      sources.push({ from: this.#read(dvFiles, where, join), files: dvFiles });
    }
    for (const [add, rows] of lists) {
      sources.push({ from: this.#read([add], `file_row_number NOT IN (${rows.join(', ')})`), files: [add] });
    }
    return sources;
  }

  /**
   * A branch selecting `exprs` and the row ids from `source` (a subquery with
   * `__larder_filename` and `__larder_row`). The file's `add.path` is cut from
   * the file name when it is the plain relative path, else looked up.
   */
  withRowIds(exprs: readonly string[], source: Source): string {
    const rowColumn = `${sqlIdent(ROW_POSITION_COLUMN)} AS ${sqlIdent(ROW_POSITION_COLUMN)}`;
    if (source.files.every((f) => isPlainRelative(f.path))) {
      const start = [...this.#rootPrefix].length + 1;
      const fileColumn = `substr(${FILENAME}, ${start}) AS ${sqlIdent(ROW_FILE_COLUMN)}`;
      return `SELECT ${[...exprs, fileColumn, rowColumn].join(', ')} FROM ${source.from}`;
    }
    const values = source.files.map((f) => `(${this.#path(f)}, ${sqlString(f.path)})`).join(', ');
    const fileColumn = `__larder_paths.__larder_log AS ${sqlIdent(ROW_FILE_COLUMN)}`;
    return (
      `SELECT ${[...exprs, fileColumn, rowColumn].join(', ')} FROM ${source.from} AS __larder_s` +
      ` JOIN (VALUES ${values}) AS __larder_paths(__larder_abs, __larder_log) ON __larder_s.${FILENAME} = __larder_paths.__larder_abs`
    );
  }

  #path(add: Add): string {
    return quotedDataFilePath(this.#snapshot.root, this.#quotedRootPrefix, add.path);
  }

  /**
   * One `read_parquet` over `files`, filtered by `where` and joined by
   * `join` (which aliases the read `__larder_d`). With row ids it is a
   * subquery exposing `__larder_filename` and `__larder_row`.
   */
  #read(files: readonly Add[], where?: string, join?: string): string {
    const list = this.#list(files);
    // Type widening: older files hold narrower types. read_parquet without union_by_name takes the
    // first file's types and casts the others to them (failing, or truncating a timestamp to a
    // date); with it, each column gets the files' common supertype, which the outer CAST widens.
    // In id mode the `schema` parameter already names the current types.
    const safe = this.#mode === 'id' || (!this.#widened && this.#allFilesHaveColumns(files));
    const named = join !== undefined || this.#rowIds;
    const read = `read_parquet(${list}${this.#options}${named ? `, filename = '${FILENAME}'` : ''}${safe ? '' : ', union_by_name = true'})`;
    if (safe && !named) return where ? `${read} WHERE ${where}` : read;
    const d = join ? '__larder_d.' : '';
    const select = `${d}*${this.#rowIds ? `, ${d}file_row_number AS ${ROW_POSITION_COLUMN}` : ''}`;
    const body = `SELECT ${select} FROM ${read}${join ? ` ${join}` : ''}${where ? ` WHERE ${where}` : ''}`;
    if (safe || this.#physical.length === 0) return `(${body})`;
    // Some file may lack a column: read by name, and union with a relation that has them all.
    const all = this.#physical.map((p) => `NULL AS ${sqlIdent(p)}`).join(', ');
    return `(${body} UNION ALL BY NAME SELECT ${all} WHERE false)`;
  }

  /**
   * Whether every file's stats name every column read, so every file has
   * them. A key is found by text (`"name":` can only be a key in JSON), not by
   * parsing every file's stats: planning must not cost a JSON parse per file.
   * A nested field of the same name could make this wrong; DuckDB then fails
   * on the missing column rather than return wrong rows.
   */
  #allFilesHaveColumns(files: readonly Add[]): boolean {
    if (this.#statsKeys.length === 0) return true;
    const cacheKey = this.#statsKeys.join('\u0000');
    const cached = listCache.get(files);
    if (cached?.columnsKey === cacheKey && cached.haveColumns !== undefined) return cached.haveColumns;
    let result = true;
    for (const add of files) {
      if (!fileHasColumns(add, this.#statsKeys)) {
        result = false;
        break;
      }
    }
    if (cached) {
      cached.columnsKey = cacheKey;
      cached.haveColumns = result;
    }
    return result;
  }

  /** The SQL list of the files' paths, cached per (frozen) file array. */
  #list(files: readonly Add[]): string {
    const root = this.#snapshot.root;
    const cached = listCache.get(files);
    if (cached?.root === root) return cached.sql;
    const sql = `[${files.map((f) => this.#path(f)).join(', ')}]`;
    if (Object.isFrozen(files)) listCache.set(files, { root, sql, columnsKey: '', haveColumns: undefined });
    return sql;
  }
}

/** Per frozen file array (a snapshot's files): its SQL path list and the stats-column verdict. */
const listCache = new WeakMap<
  readonly Add[],
  { readonly root: string; readonly sql: string; columnsKey: string; haveColumns: boolean | undefined }
>();

/** Whether a file's stats have every key of `statsKeys`. */
function fileHasColumns(add: Add, statsKeys: readonly string[]): boolean {
  const stats = add.stats;
  if (typeof stats !== 'string') return false;
  for (const key of statsKeys) if (!hasKey(stats, key)) return false;
  return true;
}

/**
 * Whether JSON text has the key whose quoted form, without its opening
 * quote, is `tail` (`name":`). Searching without the quote is faster: `"` is
 * everywhere in JSON.
 */
function hasKey(json: string, tail: string): boolean {
  let i = json.indexOf(tail, 1);
  while (i > 0 && json.charCodeAt(i - 1) !== 34) i = json.indexOf(tail, i + 1);
  return i > 0;
}

// ---------------------------------------------------------------------------
// Predicate → SQL (over the logical columns)

function predicateColumns(p: Predicate, out = new Set<string>()): Set<string> {
  switch (p.kind) {
    case 'and':
    case 'or':
      for (const c of p.children) predicateColumns(c, out);
      break;
    case 'not':
      predicateColumns(p.child, out);
      break;
    default:
      out.add(p.column);
  }
  return out;
}

function predicateSql(p: Predicate, columnName: (name: string) => string): string {
  switch (p.kind) {
    case 'and':
    case 'or':
      if (p.children.length === 0) return p.kind === 'and' ? 'TRUE' : 'FALSE';
      return `(${p.children.map((c) => predicateSql(c, columnName)).join(p.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${predicateSql(p.child, columnName)})`;
    case 'isNull':
      return `(${sqlIdent(columnName(p.column))} IS ${p.negated ? 'NOT ' : ''}NULL)`;
    case 'compare':
      return `(${sqlIdent(columnName(p.column))} ${p.op === '!=' ? '<>' : p.op} ${literalSql(p.value)})`;
    case 'in':
      if (p.values.length === 0) return 'FALSE';
      return `(${sqlIdent(columnName(p.column))} IN (${p.values.map(literalSql).join(', ')}))`;
  }
}

/** A literal as SQL; strings stay untyped so DuckDB casts them to the column's type, as in a WHERE clause. */
function literalSql(value: Literal): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return String(value);
    return `CAST(${sqlString(Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity')} AS DOUBLE)`;
  }
  return sqlString(value);
}
