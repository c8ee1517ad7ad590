/**
 * Conflict detection for optimistic commits (PROTOCOL.md "Requirements for
 * Writers"; the rules Delta Spark and delta-rs apply). When another writer
 * committed the version we tried to write, we look at what it did and
 * decide whether our transaction, computed against an older snapshot, would
 * still be correct one version later.
 *
 * A winning commit conflicts with ours when it
 * - changed the protocol or the metadata (schema, partitioning, properties);
 * - wrote a `txn` for an application id we also write, or metadata of a
 *   domain we also write;
 * - removed a file we read or remove (by path, whatever its deletion vector);
 * - (unless we are a blind append) added data files our read could have
 *   seen: any `dataChange` add when we read the whole table, adds in the
 *   partitions our partition filter may match otherwise. Under
 *   `WriteSerializable`, files of blind-append winners are not conflicts.
 *
 * Invariant: the checker is conservative: when it cannot decide (a filter
 * on a non-partition column, a value it cannot compare) it reports a conflict.
 */
import { LarderError } from '../../errors.js';
import type { Add, CommitActions, Remove } from '../log/actions.js';
import type { DataType, StructType } from '../log/schema.js';
import type { Literal, Predicate } from '../scan/predicate.js';

/** What a transaction read: all files, files matching a partition filter, or nothing (blind append). */
export type ReadPredicate = 'all' | 'none' | { readonly partitionFilter: Predicate };

export type IsolationLevel = 'Serializable' | 'WriteSerializable';

/** What our transaction read and wrote, as the conflict checker needs it. */
export interface TransactionFootprint {
  /** The table, for messages. */
  readonly table: string;
  readonly readVersion: number;
  readonly readPredicate: ReadPredicate;
  /** Paths of files read (URI-encoded, as in the log). */
  readonly readFiles: ReadonlySet<string>;
  /** Paths of files this transaction removes. */
  readonly removedFiles: ReadonlySet<string>;
  /** Application ids of the `txn` actions this transaction writes. */
  readonly appIds: ReadonlySet<string>;
  /** Domains of the `domainMetadata` actions this transaction writes. */
  readonly domains: ReadonlySet<string>;
  readonly isBlindAppend: boolean;
  readonly isolationLevel: IsolationLevel;
  /** Schema and partition columns of the read snapshot (to evaluate partition filters). */
  readonly schema?: StructType;
  readonly partitionColumns: readonly string[];
}

/**
 * Throw `CONCURRENT_MODIFICATION` if `winner` (a commit made after our read
 * version) conflicts with our transaction.
 *
 * @example
 * const winner = await readCommit(store, attemptedVersion);
 * checkConflicts(footprint, winner); // throws or returns
 */
export function checkConflicts(ours: TransactionFootprint, winner: CommitActions): void {
  const fail = (what: string): never => {
    throw new LarderError(
      'CONCURRENT_MODIFICATION',
      `table ${ours.table}: version ${winner.version} was committed concurrently (${winner.commitInfo?.operation ?? 'unknown operation'}) and ${what}; this transaction read version ${ours.readVersion}`,
      {
        table: ours.table,
        version: winner.version,
        hint: 'reload the table and retry the operation',
      },
    );
  };
  if (winner.protocol) fail('changed the protocol');
  if (winner.metaData) fail('changed the table metadata (schema, partitioning or properties)');
  for (const t of winner.txn) {
    if (ours.appIds.has(t.appId))
      fail(`wrote a transaction for application "${t.appId}" that this one also writes`);
  }
  for (const d of winner.domainMetadata) {
    if (ours.domains.has(d.domain))
      fail(`changed domain metadata "${d.domain}" that this transaction also changes`);
  }
  for (const r of winner.remove) {
    if (ours.removedFiles.has(r.path)) fail(`removed file ${r.path} that this transaction also removes`);
    if (ours.readFiles.has(r.path) || readMayMatch(ours, r))
      fail(`removed file ${r.path} that this transaction read`);
  }
  if (ours.isBlindAppend || ours.readPredicate === 'none') return;
  if (ours.isolationLevel === 'WriteSerializable' && winner.commitInfo?.isBlindAppend === true) return;
  for (const a of winner.add) {
    if (a.dataChange && readMayMatch(ours, a))
      fail(`added file ${a.path} that this transaction's read would have seen`);
  }
}

/** Whether a file may hold rows our read predicate selects. */
function readMayMatch(ours: TransactionFootprint, file: Add | Remove): boolean {
  const predicate = ours.readPredicate;
  if (predicate === 'none') return false;
  if (predicate === 'all') return true;
  const values = file.partitionValues;
  if (!values) return true;
  const result = evaluate(predicate.partitionFilter, ours, values);
  return result === true || result === undefined;
}

/** Three-valued result plus `undefined` for "cannot tell". */
type Truth = boolean | null | undefined;

function evaluate(
  p: Predicate,
  ours: TransactionFootprint,
  values: Readonly<Record<string, string | null>>,
): Truth {
  switch (p.kind) {
    case 'and': {
      const results = p.children.map((c) => evaluate(c, ours, values));
      if (results.includes(false)) return false;
      if (results.includes(undefined)) return undefined;
      return results.includes(null) ? null : true;
    }
    case 'or': {
      const results = p.children.map((c) => evaluate(c, ours, values));
      if (results.includes(true)) return true;
      if (results.includes(undefined)) return undefined;
      return results.includes(null) ? null : false;
    }
    case 'not': {
      const r = evaluate(p.child, ours, values);
      return r === undefined || r === null ? r : !r;
    }
    case 'isNull': {
      const v = partitionValue(p.column, ours, values);
      if (v === undefined) return undefined;
      return (v.value === null) !== p.negated;
    }
    case 'compare': {
      const v = partitionValue(p.column, ours, values);
      if (v === undefined) return undefined;
      if (v.value === null || p.value === null) return null;
      const c = compare(v.value, p.value, v.type);
      if (c === undefined) return undefined;
      switch (p.op) {
        case '=':
          return c === 0;
        case '!=':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
      return undefined;
    }
    case 'in': {
      const v = partitionValue(p.column, ours, values);
      if (v === undefined) return undefined;
      if (v.value === null) return null;
      let sawNull = false;
      for (const literal of p.values) {
        if (literal === null) {
          sawNull = true;
          continue;
        }
        const c = compare(v.value, literal, v.type);
        if (c === undefined) return undefined;
        if (c === 0) return true;
      }
      return sawNull ? null : false;
    }
  }
}

function partitionValue(
  column: string,
  ours: TransactionFootprint,
  values: Readonly<Record<string, string | null>>,
): { value: string | null; type: DataType } | undefined {
  const name = ours.partitionColumns.find((c) => c.toLowerCase() === column.toLowerCase());
  if (name === undefined) return undefined;
  const field = ours.schema?.fields.find((f) => f.name === name);
  if (!field) return undefined;
  const physical = field.metadata['delta.columnMapping.physicalName'];
  const key = typeof physical === 'string' && physical in values ? physical : name;
  if (!(key in values)) return undefined;
  const raw = values[key];
  return { value: raw === undefined || raw === '' ? null : raw, type: field.type };
}

/** Compare a partition value (log string form) with a literal, by the column's type. */
function compare(value: string, literal: Literal, type: DataType): number | undefined {
  if (typeof type !== 'string') return undefined;
  const sign = (d: number) => (d < 0 ? -1 : d > 0 ? 1 : 0);
  switch (type) {
    case 'byte':
    case 'short':
    case 'integer':
    case 'long': {
      try {
        const a = BigInt(value);
        const b = typeof literal === 'bigint' ? literal : BigInt(literal as number | string);
        return a < b ? -1 : a > b ? 1 : 0;
      } catch {
        return undefined;
      }
    }
    case 'float':
    case 'double': {
      const a = Number(value);
      const b = Number(literal);
      return Number.isNaN(a) || Number.isNaN(b) ? undefined : sign(a - b);
    }
    case 'boolean':
      return String(literal) === value
        ? 0
        : typeof literal === 'boolean'
          ? value === 'true'
            ? 1
            : -1
          : undefined;
    case 'date':
    case 'timestamp':
    case 'timestamp_ntz': {
      const a = toMillis(value);
      const b = toMillis(String(literal));
      return a === undefined || b === undefined ? undefined : sign(a - b);
    }
    case 'string':
      return typeof literal === 'string' ? (value < literal ? -1 : value > literal ? 1 : 0) : undefined;
    default:
      if (type.startsWith('decimal')) {
        const a = Number(value);
        const b = Number(literal);
        return Number.isNaN(a) || Number.isNaN(b) ? undefined : sign(a - b);
      }
      return undefined;
  }
}

function toMillis(text: string): number | undefined {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text)
    ? `${text}T00:00:00Z`
    : /[zZ]$|[+-]\d{2}:?\d{2}$/.test(text)
      ? text.replace(' ', 'T')
      : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}
