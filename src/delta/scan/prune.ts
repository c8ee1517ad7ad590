/**
 * File pruning (data skipping): deciding from the log alone, without opening
 * a data file, that no row of a file can satisfy a predicate. A file is
 * judged by its partition values (exact) and its stats (bounds: min, max,
 * null count; PROTOCOL.md "Per-file Statistics").
 *
 * Invariant: pruning never skips a file that holds a matching row. Anything
 * not understood — an unknown column, a type without an order we trust,
 * missing or unreadable stats, a literal that does not convert — answers
 * "may match". Stats are read as loose bounds: string bounds may be
 * truncated prefixes, timestamp bounds are truncated to milliseconds (widened
 * by 1 ms here), and wide bounds (`tightBounds: false`, after deletion
 * vectors) still bound every live row.
 *
 * Also here: turning a SQL boolean expression into the predicate form, with
 * DuckDB's own parser (`json_serialize_sql`).
 */
import { queryJson, sharedConnection, sqlString } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import { type ColumnMappingMode, type DataType, physicalName, type StructType } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { fileStats } from '../log/stats.js';
import { typeChangesOf } from '../log/type-widening.js';
import type { CompareOp, Literal, Predicate } from './predicate.js';

/** A top-level column as pruning sees it. */
export interface PruneColumn {
  /** Logical name. */
  readonly name: string;
  /** Key of the column in partition values and stats. */
  readonly physical: string;
  readonly type: DataType;
  readonly partition: boolean;
  /** Whether stats bounds may be floats printed as shortest decimals (a float column, or one widened from float). */
  readonly floatBounds: boolean;
}

/** The columns of a table, for resolving predicate column names. */
export interface PruneContext {
  /** By logical name, exactly as in the schema. */
  readonly columns: ReadonlyMap<string, PruneColumn>;
  /** By lower-cased logical name (SQL identifiers are case-insensitive). */
  readonly columnsLower: ReadonlyMap<string, PruneColumn>;
}

/** The pruning context of a schema; see `pruneContext` for a snapshot. */
export function pruneContextOf(
  schema: StructType,
  partitionColumns: readonly string[],
  mode: ColumnMappingMode,
): PruneContext {
  const partitions = new Set(partitionColumns);
  const columns = new Map<string, PruneColumn>();
  const columnsLower = new Map<string, PruneColumn>();
  for (const field of schema.fields) {
    const column: PruneColumn = Object.freeze({
      name: field.name,
      physical: physicalName(field, mode),
      type: field.type,
      partition: partitions.has(field.name),
      // Files written before float → double widening keep float stats.
      floatBounds: field.type === 'float' || typeChangesOf(field).some((c) => c.fromType === 'float'),
    });
    columns.set(field.name, column);
    if (!columnsLower.has(field.name.toLowerCase())) columnsLower.set(field.name.toLowerCase(), column);
  }
  return { columns, columnsLower };
}

const contexts = new WeakMap<Snapshot, PruneContext>();

/** The pruning context of a snapshot (cached per snapshot). */
export function pruneContext(snapshot: Snapshot): PruneContext {
  let context = contexts.get(snapshot);
  if (!context) {
    context = pruneContextOf(snapshot.schema, snapshot.partitionColumns, snapshot.columnMappingMode);
    contexts.set(snapshot, context);
  }
  return context;
}

/** Resolve a predicate's column name: exact, then case-insensitive. */
export function resolveColumn(context: PruneContext, name: string): PruneColumn | undefined {
  return context.columns.get(name) ?? context.columnsLower.get(name.toLowerCase());
}

/**
 * Whether some row of `add` may satisfy `predicate`. `false` is a proof that
 * none does; `true` means "read the file".
 * @example
 * const ctx = pruneContext(snapshot);
 * const files = snapshot.files.filter((f) => fileMayMatch(f, { kind: 'compare', op: '=', column: 'day', value: '2024-05-01' }, ctx));
 */
export function fileMayMatch(add: Add, predicate: Predicate, context: PruneContext): boolean {
  return filePruner(predicate, context)(add);
}

/** `fileMayMatch` with the predicate prepared once, for many files. */
export function filePruner(predicate: Predicate, context: PruneContext): (add: Add) => boolean {
  const node = prepare(toNegationNormalForm(predicate, false), context);
  return (add) => mayBeTrue(node, add);
}

// ---------------------------------------------------------------------------
// Negation normal form: NOT pushed down to the leaves, so each leaf only needs
// "may it be true for some row?".

type Leaf =
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly column: string; readonly value: Literal }
  | { readonly kind: 'in'; readonly column: string; readonly values: readonly Literal[] }
  | { readonly kind: 'isNull'; readonly column: string; readonly negated: boolean };

type Nnf =
  | { readonly kind: 'and' | 'or'; readonly children: readonly Nnf[] }
  | { readonly kind: 'const'; readonly value: boolean }
  | Leaf;

const NEGATED_OP: Readonly<Record<CompareOp, CompareOp>> = {
  '=': '!=',
  '!=': '=',
  '<': '>=',
  '>=': '<',
  '>': '<=',
  '<=': '>',
};

function toNegationNormalForm(p: Predicate, negate: boolean): Nnf {
  switch (p.kind) {
    case 'and':
    case 'or': {
      const kind = (p.kind === 'and') !== negate ? 'and' : 'or';
      return { kind, children: p.children.map((c) => toNegationNormalForm(c, negate)) };
    }
    case 'not':
      return toNegationNormalForm(p.child, !negate);
    case 'isNull':
      return { kind: 'isNull', column: p.column, negated: p.negated !== negate };
    case 'compare':
      // A comparison with NULL is never true, negated or not.
      if (p.value === null) return { kind: 'const', value: false };
      return negate ? { ...p, op: NEGATED_OP[p.op] } : p;
    case 'in': {
      if (!negate) return p;
      // x NOT IN (..., NULL, ...) is never true.
      if (p.values.some((v) => v === null)) return { kind: 'const', value: false };
      return {
        kind: 'and',
        children: p.values.map((value) => ({ kind: 'compare', op: '!=', column: p.column, value }) as const),
      };
    }
  }
}

// ---------------------------------------------------------------------------
// Values are compared in a domain per Delta type: numbers (integers, floats,
// decimals, dates as days, timestamps as microseconds, booleans as 0/1) or
// strings (by code point, which is UTF-8 byte order, as Delta and DuckDB
// order strings).

type Domain =
  | 'number'
  | 'exactNumber'
  | 'decimal'
  | 'date'
  | 'timestamp'
  | 'timestampNtz'
  | 'string'
  | 'boolean';
type Value = number | string;

function domainOf(type: DataType): Domain | undefined {
  if (typeof type !== 'string') return undefined;
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long':
      return 'exactNumber';
    case 'float':
    case 'double':
      return 'number';
    case 'date':
      return 'date';
    case 'timestamp':
      return 'timestamp';
    case 'timestamp_ntz':
      return 'timestampNtz';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    default:
      return type.startsWith('decimal') ? 'decimal' : undefined;
  }
}

const DATE_RE = /^(-?\d{4,})-(\d{2})-(\d{2})$/;
const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Date.UTC, without its mapping of years 0–99 to 1900–1999. */
function utcMillis(year: number, month: number, day: number, h = 0, mi = 0, s = 0): number {
  const date = new Date(Date.UTC(2000, 0, 1, h, mi, s));
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

function parseDays(text: string): number | undefined {
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const ms = utcMillis(Number(m[1]), Number(m[2]), Number(m[3]));
  return Number.isNaN(ms) ? undefined : ms / 86_400_000;
}

/** Microseconds since the epoch; no offset = UTC. `undefined` if unparsable. */
function parseMicros(text: string, allowOffset: boolean): number | undefined {
  const m = TIMESTAMP_RE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  if (zone && zone.toUpperCase() !== 'Z' && !allowOffset) return undefined;
  let ms = utcMillis(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    ms -= sign * offsetMinutes * 60_000;
  }
  return ms * 1000 + Number(frac.padEnd(6, '0').slice(0, 6));
}

const NUMERIC_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A literal (from a predicate) or partition value (a string) in the column's domain. */
function toDomain(value: Literal, domain: Domain, fromPartition: boolean): Value | undefined {
  if (value === null) return undefined;
  switch (domain) {
    case 'exactNumber':
    case 'number':
    case 'decimal': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'bigint') {
        n = Number(value);
        if (BigInt(n) !== value) return undefined;
      } else if (typeof value === 'string' && NUMERIC_RE.test(value.trim())) n = Number(value);
      else return undefined;
      if (Number.isNaN(n)) return undefined;
      if (domain === 'exactNumber' && !Number.isSafeInteger(n) && Number.isInteger(n)) return undefined;
      return n;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'string') {
        const v = value.trim().toLowerCase();
        if (v === 'true' || v === 't') return 1;
        if (v === 'false' || v === 'f') return 0;
      }
      return undefined;
    case 'date':
      return typeof value === 'string' ? parseDays(value.trim()) : undefined;
    case 'timestamp':
      return typeof value === 'string' ? parseMicros(value, true) : undefined;
    case 'timestampNtz':
      // A partition value never has an offset; a literal with one means a conversion we do not model.
      return typeof value === 'string' ? parseMicros(value, fromPartition) : undefined;
    case 'string':
      return typeof value === 'string' ? value : undefined;
  }
}

/** Code-point order of two strings (UTF-16 order differs for astral characters). */
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

function compare(a: Value, b: Value): number {
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return (a as number) - (b as number);
}

// ---------------------------------------------------------------------------
// Prepared predicate: leaves resolved to columns and literals converted once.

type Prepared =
  | { readonly kind: 'and' | 'or'; readonly children: readonly Prepared[] }
  | { readonly kind: 'const'; readonly value: boolean }
  | {
      readonly kind: 'compare';
      readonly column: PruneColumn;
      readonly domain: Domain;
      readonly op: CompareOp;
      readonly value: Value;
    }
  | { readonly kind: 'in'; readonly column: PruneColumn; readonly domain: Domain; readonly values: Value[] }
  | { readonly kind: 'isNull'; readonly column: PruneColumn; readonly negated: boolean };

const MAYBE: Prepared = { kind: 'const', value: true };

function prepare(node: Nnf, context: PruneContext): Prepared {
  switch (node.kind) {
    case 'const':
      return node;
    case 'and':
    case 'or': {
      const children = node.children.map((c) => prepare(c, context));
      if (node.kind === 'and') {
        if (children.some((c) => c.kind === 'const' && !c.value)) return { kind: 'const', value: false };
        const rest = children.filter((c) => c.kind !== 'const');
        return rest.length === 0 ? MAYBE : rest.length === 1 ? rest[0]! : { kind: 'and', children: rest };
      }
      if (children.some((c) => c.kind === 'const' && c.value)) return MAYBE;
      const rest = children.filter((c) => c.kind !== 'const');
      return rest.length === 0
        ? { kind: 'const', value: false }
        : rest.length === 1
          ? rest[0]!
          : { kind: 'or', children: rest };
    }
    case 'isNull': {
      const column = resolveColumn(context, node.column);
      return column ? { kind: 'isNull', column, negated: node.negated } : MAYBE;
    }
    case 'compare':
    case 'in': {
      const column = resolveColumn(context, node.column);
      const domain = column && domainOf(column.type);
      if (!column || !domain) return MAYBE;
      if (node.kind === 'compare') {
        const value = toDomain(node.value, domain, false);
        return value === undefined ? MAYBE : { kind: 'compare', column, domain, op: node.op, value };
      }
      const values: Value[] = [];
      for (const literal of node.values) {
        if (literal === null) continue; // x IN (NULL) is never true
        const value = toDomain(literal, domain, false);
        if (value === undefined) return MAYBE;
        values.push(value);
      }
      return values.length === 0 ? { kind: 'const', value: false } : { kind: 'in', column, domain, values };
    }
  }
}

function mayBeTrue(node: Prepared, add: Add): boolean {
  switch (node.kind) {
    case 'const':
      return node.value;
    case 'and':
      for (const child of node.children) if (!mayBeTrue(child, add)) return false;
      return true;
    case 'or':
      for (const child of node.children) if (mayBeTrue(child, add)) return true;
      return false;
    default:
      return node.column.partition ? partitionLeaf(node, add) : statsLeaf(node, add);
  }
}

type PreparedLeaf = Exclude<Prepared, { kind: 'and' | 'or' | 'const' }>;

function partitionLeaf(node: PreparedLeaf, add: Add): boolean {
  const values = add.partitionValues;
  let raw = values[node.column.physical];
  if (raw === undefined) raw = values[node.column.name];
  if (raw === undefined) return true;
  const isNull = raw === null || raw === '';
  if (node.kind === 'isNull') return isNull !== node.negated;
  if (isNull) return false;
  const value = toDomain(raw, node.domain, true);
  if (value === undefined) return true;
  if (node.kind === 'in') {
    for (const v of node.values) if (compare(value, v) === 0) return true;
    return false;
  }
  return holds(compare(value, node.value), node.op);
}

function holds(order: number, op: CompareOp): boolean {
  switch (op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

function statsBound(raw: unknown, domain: Domain): Value | undefined {
  if (raw === null || raw === undefined || typeof raw === 'object') return undefined;
  if (typeof raw === 'number') {
    if (Number.isNaN(raw)) return undefined;
    if (domain === 'exactNumber') return Number.isSafeInteger(raw) ? raw : undefined;
    return domain === 'decimal' || domain === 'number' ? raw : undefined;
  }
  if (typeof raw === 'boolean') return domain === 'boolean' ? (raw ? 1 : 0) : undefined;
  if (typeof raw !== 'string') return undefined;
  if (domain === 'timestampNtz') return parseMicros(raw, false);
  return toDomain(raw, domain, true);
}

/** How much a stats bound may be off, per domain (see the module comment). */
function widen(
  bound: Value | undefined,
  node: PreparedLeaf & { domain: Domain },
  up: boolean,
): Value | undefined {
  if (typeof bound !== 'number') return bound;
  switch (node.domain) {
    case 'timestamp':
    case 'timestampNtz':
      // Truncated to milliseconds.
      return up ? bound + 1000 : bound - 1000;
    case 'decimal':
    case 'number': {
      // A float printed as its shortest decimal is not the float itself; decimals beyond 15
      // digits do not fit a double.
      const slack = Math.abs(bound) * (node.column.floatBounds ? 1e-6 : 1e-12);
      return up ? bound + slack : bound - slack;
    }
    default:
      return bound;
  }
}

function statsLeaf(node: PreparedLeaf, add: Add): boolean {
  const stats = fileStats(add);
  if (!stats) return true;
  const key = node.column.physical;
  const numRecords = typeof stats.numRecords === 'number' ? stats.numRecords : undefined;
  if (numRecords === 0) return false;
  const nullCountRaw = stats.nullCount?.[key];
  const nullCount = typeof nullCountRaw === 'number' ? nullCountRaw : undefined;
  const allNull = nullCount !== undefined && numRecords !== undefined && nullCount === numRecords;
  if (node.kind === 'isNull') {
    if (node.negated) return !allNull;
    return nullCount !== 0;
  }
  if (allNull) return false;
  const min = widen(statsBound(stats.minValues?.[key], node.domain), node, false);
  const max = widen(statsBound(stats.maxValues?.[key], node.domain), node, true);
  // Only integers, dates and booleans have bounds exact enough to prove `x != v` false.
  const exact = node.domain === 'exactNumber' || node.domain === 'date' || node.domain === 'boolean';
  if (node.kind === 'in') {
    for (const v of node.values) if (rangeMayHold(min, max, exact, '=', v)) return true;
    return false;
  }
  return rangeMayHold(min, max, exact, node.op, node.value);
}

/** Whether `lo` may be at or below (`strict`: below) `v`. */
function minAllows(lo: Value | undefined, v: Value, strict: boolean): boolean {
  if (lo === undefined) return true;
  const order = compare(lo, v);
  return strict ? order < 0 : order <= 0;
}

/** Whether `hi` may be at or above (`strict`: above) `v`. A string maximum may be a truncated prefix. */
function maxAllows(hi: Value | undefined, v: Value, strict: boolean): boolean {
  if (hi === undefined) return true;
  const order = compare(hi, v);
  if (strict ? order > 0 : order >= 0) return true;
  // A truncated string maximum stands for every string it prefixes.
  return typeof hi === 'string' && typeof v === 'string' && v.startsWith(hi);
}

/** Whether some value in [lo, hi] may satisfy `x op v`. */
function rangeMayHold(
  lo: Value | undefined,
  hi: Value | undefined,
  exact: boolean,
  op: CompareOp,
  v: Value,
): boolean {
  switch (op) {
    case '=':
      return minAllows(lo, v, false) && maxAllows(hi, v, false);
    case '<':
      return minAllows(lo, v, true);
    case '<=':
      return minAllows(lo, v, false);
    case '>':
      return maxAllows(hi, v, true);
    case '>=':
      return maxAllows(hi, v, false);
    case '!=':
      return !(exact && lo !== undefined && hi !== undefined && compare(lo, v) === 0 && compare(hi, v) === 0);
  }
}

// ---------------------------------------------------------------------------
// SQL → predicate, through DuckDB's parser.

type Ast = Record<string, unknown>;

/** Options for translating a parsed WHERE clause. */
export interface PredicateFromAstOptions {
  /**
   * Table names or aliases that may qualify a column (`t.x`). A column
   * qualified by anything else is not translated. Default: any qualifier,
   * the last part of the name is the column.
   */
  readonly qualifiers?: readonly string[];
}

/**
 * Parse a SQL boolean expression into a predicate for pruning, or
 * `undefined` if no part of it can be used. Parts that do not translate are
 * dropped from a conjunction (still safe) and make a disjunction
 * untranslatable. Throws `INVALID_ARGUMENT` if DuckDB cannot parse it.
 * @example
 * await predicateFromSql("day >= DATE '2024-05-01' AND country IN ('FR', 'DE')");
 */
export async function predicateFromSql(
  whereSql: string,
  options: PredicateFromAstOptions = {},
): Promise<Predicate | undefined> {
  const connection = await sharedConnection();
  const rows = await queryJson(
    connection,
    `SELECT json_serialize_sql(${sqlString(`SELECT * FROM t WHERE ${whereSql}`)}) AS ast`,
    'parsing a filter',
  );
  const parsed = JSON.parse(String(rows[0]?.ast)) as Ast;
  if (parsed.error) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `cannot parse filter "${whereSql}": ${String(parsed.error_message)}`,
    );
  }
  const statements = parsed.statements as Ast[] | undefined;
  if (statements?.length !== 1) return undefined;
  const node = statements[0]!.node as Ast;
  const modifiers = node.modifiers as unknown[] | undefined;
  const groups = node.group_expressions as unknown[] | undefined;
  if (
    node.type !== 'SELECT_NODE' ||
    (modifiers?.length ?? 0) > 0 ||
    (groups?.length ?? 0) > 0 ||
    node.having
  ) {
    return undefined;
  }
  return node.where_clause ? predicateFromAst(node.where_clause, options) : undefined;
}

/**
 * Translate a WHERE clause as `json_serialize_sql` prints it (the
 * `where_clause` of a SELECT node) into a predicate for pruning.
 */
export function predicateFromAst(
  whereClause: unknown,
  options: PredicateFromAstOptions = {},
): Predicate | undefined {
  return translate(whereClause as Ast, true, options);
}

const COMPARE_TYPES: Readonly<Record<string, CompareOp>> = {
  COMPARE_EQUAL: '=',
  COMPARE_NOTEQUAL: '!=',
  COMPARE_LESSTHAN: '<',
  COMPARE_GREATERTHAN: '>',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHANOREQUALTO: '>=',
};

const FLIPPED_OP: Readonly<Record<CompareOp, CompareOp>> = {
  '=': '=',
  '!=': '!=',
  '<': '>',
  '>': '<',
  '<=': '>=',
  '>=': '<=',
};

/**
 * `positive` tracks polarity: under an odd number of NOTs, dropping part of
 * an AND would make the predicate stronger (unsafe), so there it is an OR
 * whose untranslatable parts may be dropped.
 */
function translate(
  node: Ast | undefined,
  positive: boolean,
  options: PredicateFromAstOptions,
): Predicate | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const type = node.type as string;
  const children = (node.children as Ast[] | undefined) ?? [];
  switch (type) {
    case 'CONJUNCTION_AND':
    case 'CONJUNCTION_OR': {
      const parts = children.map((c) => translate(c, positive, options));
      const droppable = (type === 'CONJUNCTION_AND') === positive;
      const kept = parts.filter((p): p is Predicate => p !== undefined);
      if (kept.length < parts.length && !droppable) return undefined;
      if (kept.length === 0) return undefined;
      if (kept.length === 1) return kept[0];
      return { kind: type === 'CONJUNCTION_AND' ? 'and' : 'or', children: kept };
    }
    case 'OPERATOR_NOT': {
      const child = translate(children[0], !positive, options);
      return child && { kind: 'not', child };
    }
    case 'OPERATOR_IS_NULL':
    case 'OPERATOR_IS_NOT_NULL': {
      const column = columnName(children[0], options);
      return column === undefined
        ? undefined
        : { kind: 'isNull', column, negated: type === 'OPERATOR_IS_NOT_NULL' };
    }
    case 'COMPARE_IN':
    case 'COMPARE_NOT_IN': {
      const column = columnName(children[0], options);
      if (column === undefined) return undefined;
      const values: Literal[] = [];
      for (const c of children.slice(1)) {
        const value = literalOf(c);
        if (value === undefined) return undefined;
        values.push(value);
      }
      const predicate: Predicate = { kind: 'in', column, values };
      return type === 'COMPARE_IN' ? predicate : { kind: 'not', child: predicate };
    }
    case 'COMPARE_BETWEEN': {
      const column = columnName(node.input as Ast, options);
      const lower = literalOf(node.lower as Ast);
      const upper = literalOf(node.upper as Ast);
      if (column === undefined || lower === undefined || upper === undefined) return undefined;
      return {
        kind: 'and',
        children: [
          { kind: 'compare', op: '>=', column, value: lower },
          { kind: 'compare', op: '<=', column, value: upper },
        ],
      };
    }
    case 'COMPARE_NOT_DISTINCT_FROM':
    case 'COMPARE_DISTINCT_FROM': {
      const side = comparisonSides(node, options);
      if (!side) return undefined;
      const { column, value } = side;
      if (type === 'COMPARE_NOT_DISTINCT_FROM') {
        return value === null
          ? { kind: 'isNull', column, negated: false }
          : { kind: 'compare', op: '=', column, value };
      }
      if (value === null) return { kind: 'isNull', column, negated: true };
      return {
        kind: 'or',
        children: [
          { kind: 'compare', op: '!=', column, value },
          { kind: 'isNull', column, negated: false },
        ],
      };
    }
    default: {
      const op = COMPARE_TYPES[type];
      if (!op) return undefined;
      const side = comparisonSides(node, options);
      if (!side) return undefined;
      return {
        kind: 'compare',
        op: side.flipped ? FLIPPED_OP[op] : op,
        column: side.column,
        value: side.value,
      };
    }
  }
}

function comparisonSides(
  node: Ast,
  options: PredicateFromAstOptions,
): { column: string; value: Literal; flipped: boolean } | undefined {
  const left = node.left as Ast;
  const right = node.right as Ast;
  let column = columnName(left, options);
  if (column !== undefined) {
    const value = literalOf(right);
    return value === undefined ? undefined : { column, value, flipped: false };
  }
  column = columnName(right, options);
  if (column === undefined) return undefined;
  const value = literalOf(left);
  return value === undefined ? undefined : { column, value, flipped: true };
}

function columnName(node: Ast | undefined, options: PredicateFromAstOptions): string | undefined {
  if (node?.type !== 'COLUMN_REF') return undefined;
  const names = node.column_names as string[];
  if (!Array.isArray(names) || names.length === 0) return undefined;
  if (names.length > 1 && options.qualifiers) {
    const qualifier = names[names.length - 2]!.toLowerCase();
    if (!options.qualifiers.some((q) => q.toLowerCase() === qualifier)) return undefined;
  }
  return names[names.length - 1];
}

const INTEGER_TYPES = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
]);

/** A constant expression as a literal; `undefined` if it is not one we can evaluate exactly. */
function literalOf(node: Ast | undefined): Literal | undefined {
  if (!node) return undefined;
  if (node.type === 'VALUE_CONSTANT') {
    const value = node.value as {
      type: { id: string; type_info?: { scale?: number } };
      is_null: boolean;
      value: unknown;
    };
    if (value.is_null) return null;
    const id = value.type.id;
    const v = value.value;
    if (id === 'BOOLEAN') return typeof v === 'boolean' ? v : undefined;
    if (INTEGER_TYPES.has(id)) return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
    if (id === 'DOUBLE' || id === 'FLOAT') return typeof v === 'number' ? v : undefined;
    if (id === 'DECIMAL') {
      const scale = value.type.type_info?.scale ?? 0;
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return undefined;
      return Number(decimalText(v, scale));
    }
    if (id === 'VARCHAR') return typeof v === 'string' ? v : undefined;
    return undefined;
  }
  if (node.type === 'OPERATOR_CAST' && node.try_cast !== true) {
    const inner = literalOf(node.child as Ast);
    if (inner === undefined) return undefined;
    return castLiteral(inner, (node.cast_type as { id: string }).id);
  }
  if (node.type === 'FUNCTION' && node.function_name === '-' && (node.children as Ast[]).length === 1) {
    const inner = literalOf((node.children as Ast[])[0]);
    return typeof inner === 'number' ? -inner : undefined;
  }
  return undefined;
}

function decimalText(unscaled: number, scale: number): string {
  const digits = Math.abs(unscaled)
    .toString()
    .padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(-scale)}`;
  return unscaled < 0 ? `-${text}` : text;
}

function castLiteral(value: Literal, typeId: string): Literal | undefined {
  if (value === null) return null;
  switch (typeId) {
    case 'BOOLEAN': {
      if (typeof value === 'boolean') return value;
      const text = String(value).trim().toLowerCase();
      if (text === 't' || text === 'true' || text === '1') return true;
      if (text === 'f' || text === 'false' || text === '0') return false;
      return undefined;
    }
    case 'DATE':
      return typeof value === 'string' && DATE_RE.test(value.trim()) ? value.trim() : undefined;
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
      // A timestamp without time zone from text with an offset converts through the session zone.
      return typeof value === 'string' && parseMicros(value, false) !== undefined ? value.trim() : undefined;
    case 'TIMESTAMP WITH TIME ZONE':
      return typeof value === 'string' && parseMicros(value, true) !== undefined ? value.trim() : undefined;
    case 'VARCHAR':
      return typeof value === 'string' ? value : undefined;
    case 'DOUBLE':
    case 'FLOAT':
    case 'DECIMAL': {
      const n = typeof value === 'string' && NUMERIC_RE.test(value.trim()) ? Number(value) : value;
      return typeof n === 'number' ? n : undefined;
    }
    default: {
      if (!INTEGER_TYPES.has(typeId)) return undefined;
      const n = typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
      return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
    }
  }
}
