/**
 * MERGE: upsert a source into the table by key columns, with Delta's clauses:
 * `whenMatched` update or delete (first clause whose condition holds wins),
 * `whenNotMatched` insert. Conditions and expressions are DuckDB SQL over
 * `t` (the target row) and `s` (the source row). As in Delta, a merge
 * without WHEN MATCHED clauses (`whenMatched: []`) leaves matched rows
 * untouched: it only adds files; one without WHEN NOT MATCHED clauses
 * (`whenNotMatched: []`) inserts nothing.
 *
 * How the cost follows the change, not the table:
 * - the source is materialised once; files are pruned by the source keys'
 *   values (or range) against partition values and stats;
 * - only the key columns of the remaining files are joined with the source
 *   (DuckDB reads just the columns the join and the clauses need);
 * - matched rows leave their files through deletion vectors (or a rewrite,
 *   on tables without them); new and updated rows go to new files.
 *
 * Invariants: a target row matched by two source rows is an error
 * (`DUPLICATE_KEY`) when a WHEN MATCHED clause applies to it, as in Delta
 * (an insert-only merge leaves matched rows alone, however many); nothing is committed or left referenced on
 * failure; with the change data feed on, the commit carries
 * `update_preimage`/`update_postimage`/`delete`/`insert` rows (a merge that
 * only inserts carries none: its added files are its change data); the
 * `domainMetadata` given lands in the merge's commit (which is made for it
 * even when no row changes), so state such as a pipeline's watermark
 * advances exactly when the merge commits.
 *
 * Schema evolution (`mergeSchema`): source columns the table lacks are added
 * to the schema (nullable, checked and typed by `reconcileSchema`, as
 * append and overwrite add them) by a `metaData` action in the merge's own
 * commit, so a failed merge leaves the schema as it was. Which columns: with
 * a default `update` (no `set`) or `insert` (no `values`) clause, every
 * source column the table lacks; and any column a `set` or `values` names
 * that the table lacks but the source has. Rows of files the merge does not
 * touch read the new columns as NULL. Without `mergeSchema`, a `set` or
 * `values` naming a column the table lacks is `SCHEMA_MISMATCH`, while other
 * source-only columns (flags used in conditions) are never written.
 */
import { randomUUID } from 'node:crypto';
import { connect, queryJson, sqlIdent } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Action, DomainMetadata, Metadata, Protocol } from '../log/actions.js';
import { serializeSchema } from '../log/schema.js';
import { Snapshot } from '../log/snapshot.js';
import type { Literal, Predicate } from '../scan/predicate.js';
import { filePruner, pruneContext } from '../scan/prune.js';
import { planScan } from '../scan/scan.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { writeChangeFiles } from './change-files.js';
import { discardUncommitted } from './discard-uncommitted.js';
import type { OperationResult } from './operation-result.js';
import { applyRowDeletions, FILE_COLUMN, ROW_COLUMN } from './row-deletions.js';
import { type InputColumn, reconcileSchema, schemaChangeProtocol } from './schema-reconcile.js';
import { checkedDomainMetadata, withDomainMetadataFeature } from './write.js';
import { tableFileOptions, writeDataFiles } from './write-files.js';
import { prepareSource, type WriteSource } from './write-source.js';

/** Update the matched target row: `set` maps columns to SQL over `t` and `s` (default: every source column). */
export interface MergeUpdate {
  readonly action: 'update';
  readonly condition?: string;
  readonly set?: Readonly<Record<string, string>>;
}

/** Delete the matched target row. */
export interface MergeDelete {
  readonly action: 'delete';
  readonly condition?: string;
}

/** Insert the unmatched source row: `values` maps columns to SQL over `s` (default: every source column). */
export interface MergeInsert {
  readonly action: 'insert';
  readonly condition?: string;
  readonly values?: Readonly<Record<string, string>>;
}

export interface MergeOptions {
  readonly source: WriteSource;
  /** Key columns, named alike in source and target (may be empty when `onCondition` is given). */
  readonly on: readonly string[];
  /**
   * A general join condition, DuckDB SQL over `t` and `s`, ANDed with the
   * key equalities of `on` (files are still pruned by those keys).
   */
  readonly onCondition?: string;
  /**
   * Omitted: update every column from the source. `[]`: no WHEN MATCHED
   * clause, so matched target rows stay untouched (an insert-only merge,
   * which rewrites no file and adds no deletion vector).
   */
  readonly whenMatched?: readonly (MergeUpdate | MergeDelete)[];
  /** Omitted: insert the source row. `[]`: no WHEN NOT MATCHED clause, so nothing is inserted. */
  readonly whenNotMatched?: readonly MergeInsert[];
  /**
   * Add source columns the table lacks to its schema (nullable), in the
   * merge's commit: those a default `update`/`insert` clause writes (every
   * source column, then), and those a `set` or `values` names.
   */
  readonly mergeSchema?: boolean;
  readonly userMetadata?: string;
  /**
   * Domain metadata to commit with the merge (one per domain; not `delta.*`
   * system domains). A concurrent commit of the same domain is a conflict.
   */
  readonly domainMetadata?: readonly DomainMetadata[];
  readonly store?: LogStore;
}

export interface MergeMetrics {
  readonly numSourceRows: number;
  readonly numTargetRowsInserted: number;
  readonly numTargetRowsUpdated: number;
  readonly numTargetRowsDeleted: number;
  readonly numTargetRowsCopied: number;
  readonly numOutputRows: number;
  readonly numTargetFilesAdded: number;
  readonly numTargetFilesRemoved: number;
  readonly numTargetDeletionVectorsAdded: number;
  readonly numTargetDeletionVectorsRemoved: number;
  readonly numTargetChangeFilesAdded: number;
  readonly numTargetFilesScanned: number;
  readonly numTargetFilesTotal: number;
  readonly executionTimeMs: number;
}

/** The column numbering source rows when the merge joins on a general condition. */
const SOURCE_ROW = '__larder_src_row';

/** The largest distinct-key count pruned by value; above it, by range. */
const IN_LIST_LIMIT = 2000;

/**
 * Merge `options.source` into the table whose latest snapshot is `snapshot`.
 *
 * @example
 * await mergeTable(snapshot, {
 *   source: "SELECT * FROM read_parquet('changes.parquet')",
 *   on: ['customer_id'],
 *   whenMatched: [{ action: 'delete', condition: 's.deleted' }, { action: 'update' }],
 *   whenNotMatched: [{ action: 'insert', condition: 'NOT s.deleted' }],
 * });
 */
export async function mergeTable(
  snapshot: Snapshot,
  options: MergeOptions,
): Promise<OperationResult<MergeMetrics>> {
  const started = performance.now();
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  const store = options.store ?? new LocalLogStore(table);
  const whenMatched = options.whenMatched ?? [{ action: 'update' }];
  const whenNotMatched = options.whenNotMatched ?? [{ action: 'insert' }];
  const onCondition = options.onCondition?.trim() ? options.onCondition.trim() : undefined;
  const domains = checkedDomainMetadata(options.domainMetadata, table);
  if (options.on.length === 0 && onCondition === undefined) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `merge into ${table} needs at least one key column in "on" or an "onCondition"`,
      { table },
    );
  }
  const fieldsByName = new Map(snapshot.schema.fields.map((f) => [f.name.toLowerCase(), f]));
  const keys = options.on.map((key) => {
    const field = fieldsByName.get(key.toLowerCase());
    if (!field) {
      throw new LarderError('SCHEMA_MISMATCH', `merge key "${key}" is not a column of table ${table}`, {
        table,
        column: key,
      });
    }
    return field.name;
  });

  const connection = await connect();
  const id = randomUUID().replaceAll('-', '').slice(0, 12);
  const src = `__larder_src_${id}`;
  const matched = `__larder_matched_${id}`;
  const inserts = `__larder_inserts_${id}`;
  const positions = `__larder_positions_${id}`;
  const written: string[] = [];
  const input = await prepareSource(connection, options.source, snapshot.schema, {
    table,
    mergeSchema: options.mergeSchema === true,
  });
  try {
    const sourceNames = new Set(input.columns.map((c) => c.name.toLowerCase()));
    for (const key of keys) {
      if (!sourceNames.has(key.toLowerCase())) {
        throw new LarderError('SCHEMA_MISMATCH', `merge key "${key}" is not a column of the source`, {
          table,
          column: key,
        });
      }
    }
    // Source columns that are table columns must convert safely; others (flags such as
    // `deleted`) may be used in conditions and expressions, and are never written,
    // unless mergeSchema adds them. `target` is the table as the merge writes it: the
    // snapshot, or the snapshot with the new columns (which its files lack: they read NULL).
    const evolution = evolveSchema(snapshot, input.columns, {
      whenMatched,
      whenNotMatched,
      mergeSchema: options.mergeSchema === true,
    });
    const target = evolution.target;
    const targetSourceNames = new Set(
      target.schema.fields.map((f) => f.name.toLowerCase()).filter((n) => sourceNames.has(n)),
    );
    // With a general condition, unmatched source rows are found by a row id rather than by keys.
    await connection.run(
      `CREATE TEMP TABLE ${src} AS SELECT *${onCondition !== undefined ? `, row_number() OVER () AS ${SOURCE_ROW}` : ''} FROM (${input.sql}) AS s`,
    );

    // Prune target files by the source keys.
    const keyStats = await queryJson(
      connection,
      `SELECT count(*) AS n${keys.length > 0 ? ', ' : ''}${keys
        .map(
          (k, i) =>
            `min(${sqlIdent(k)}) AS min${i}, max(${sqlIdent(k)}) AS max${i}, count(DISTINCT ${sqlIdent(k)}) AS d${i}`,
        )
        .join(
          ', ',
        )}${keys.length === 1 ? `, (SELECT list(DISTINCT ${sqlIdent(keys[0]!)}) FROM ${src} WHERE (SELECT count(DISTINCT ${sqlIdent(keys[0]!)}) FROM ${src}) <= ${IN_LIST_LIMIT}) AS vals` : ''} FROM ${src}`,
    );
    const stats = keyStats[0] ?? {};
    const numSourceRows = Number(stats.n ?? 0);
    const predicate = keyPredicate(keys, stats);
    const prune = predicate ? filePruner(predicate, pruneContext(snapshot)) : () => true;
    const candidates = numSourceRows === 0 ? [] : snapshot.files.filter(prune);

    const allColumns = target.schema.fields.map((f) => f.name);
    const on = [
      ...keys.map((k) => `t.${sqlIdent(k)} = s.${sqlIdent(k)}`),
      ...(onCondition !== undefined ? [`(${onCondition})`] : []),
    ].join(' AND ');
    const cond = (c?: string) => (c && c.trim().length > 0 ? `(${c})` : 'true');

    // Matched pairs: which clause applies (-1: none, the row stays as it is), the pre-image
    // and the post-image. Without WHEN MATCHED clauses no matched row changes.
    const clauseCase =
      whenMatched.length === 0
        ? '-1'
        : `CASE ${whenMatched.map((c, i) => `WHEN ${cond(c.condition)} THEN ${i}`).join(' ')} ELSE -1 END`;
    const post = (column: string) => {
      if (whenMatched.length === 0) return `t.${sqlIdent(column)}`;
      const branches = whenMatched.map((c) => {
        if (c.action === 'delete') return `WHEN ${cond(c.condition)} THEN t.${sqlIdent(column)}`;
        const expression =
          c.set !== undefined
            ? (Object.entries(c.set).find(([k]) => k.toLowerCase() === column.toLowerCase())?.[1] ??
              `t.${sqlIdent(column)}`)
            : targetSourceNames.has(column.toLowerCase())
              ? `s.${sqlIdent(column)}`
              : `t.${sqlIdent(column)}`;
        return `WHEN ${cond(c.condition)} THEN ${expression}`;
      });
      return `CASE ${branches.join(' ')} ELSE t.${sqlIdent(column)} END`;
    };
    const scan = await planScan(target, { files: candidates, withRowIds: true });
    await connection.run(
      `CREATE TEMP TABLE ${matched} AS SELECT t.${FILE_COLUMN}, t.${ROW_COLUMN}, ${clauseCase} AS __clause,
         ${keys.map((k, i) => `s.${sqlIdent(k)} AS __key${i}, `).join('')}${onCondition !== undefined ? `s.${SOURCE_ROW} AS ${SOURCE_ROW},` : ''}
         ${allColumns.map((c) => `t.${sqlIdent(c)} AS ${sqlIdent(`__pre_${c}`)}`).join(', ')},
         ${allColumns.map((c) => `${post(c)} AS ${sqlIdent(`__post_${c}`)}`).join(', ')}
       FROM (${scan.sql}) AS t JOIN ${src} AS s ON ${on}`,
    );
    const duplicate = await queryJson(
      connection,
      `SELECT ${FILE_COLUMN} AS file, ${ROW_COLUMN} AS row FROM ${matched} WHERE __clause >= 0
       GROUP BY ALL HAVING count(*) > 1 LIMIT 1`,
    );
    if (duplicate.length > 0) {
      throw new LarderError(
        'DUPLICATE_KEY',
        `merge into ${table}: several source rows match the same target row (${onCondition !== undefined ? `condition ${onCondition}` : `keys ${keys.join(', ')}`})`,
        {
          table,
          column: keys.join(','),
          hint: 'deduplicate the source so that each target row matches one source row',
        },
      );
    }

    // Unmatched source rows to insert (none without WHEN NOT MATCHED clauses).
    const insertCase =
      whenNotMatched.length === 0
        ? '-1'
        : `CASE ${whenNotMatched.map((c, i) => `WHEN ${cond(c.condition)} THEN ${i}`).join(' ')} ELSE -1 END`;
    const insertValue = (column: string) => {
      const branches = whenNotMatched.map((c) => {
        const expression =
          c.values !== undefined
            ? (Object.entries(c.values).find(([k]) => k.toLowerCase() === column.toLowerCase())?.[1] ??
              'NULL')
            : targetSourceNames.has(column.toLowerCase())
              ? `s.${sqlIdent(column)}`
              : 'NULL';
        return `WHEN ${cond(c.condition)} THEN ${expression}`;
      });
      return branches.length === 0 ? 'NULL' : `CASE ${branches.join(' ')} END`;
    };
    await connection.run(
      `CREATE TEMP TABLE ${inserts} AS SELECT ${allColumns.map((c) => `${insertValue(c)} AS ${sqlIdent(c)}`).join(', ')}
       FROM ${src} AS s
       WHERE ${insertCase} >= 0
         AND NOT EXISTS (SELECT 1 FROM ${matched} m WHERE ${
           onCondition !== undefined
             ? `m.${SOURCE_ROW} = s.${SOURCE_ROW}`
             : keys.map((k, i) => `m.__key${i} = s.${sqlIdent(k)}`).join(' AND ')
         })`,
    );

    const updateClauses = whenMatched.flatMap((c, i) => (c.action === 'update' ? [i] : []));
    const deleteClauses = whenMatched.flatMap((c, i) => (c.action === 'delete' ? [i] : []));
    const inList = (xs: number[]) => (xs.length === 0 ? '(-2)' : `(${xs.join(', ')})`);
    const counts = await queryJson(
      connection,
      `SELECT (SELECT count(*) FROM ${matched} WHERE __clause IN ${inList(updateClauses)}) AS updated,
              (SELECT count(*) FROM ${matched} WHERE __clause IN ${inList(deleteClauses)}) AS deleted,
              (SELECT count(*) FROM ${inserts}) AS inserted`,
    );
    const updated = Number(counts[0]?.updated ?? 0);
    const deleted = Number(counts[0]?.deleted ?? 0);
    const inserted = Number(counts[0]?.inserted ?? 0);

    const actions: Action[] = [];
    let filesAdded = 0;
    let rowDeletions: Awaited<ReturnType<typeof applyRowDeletions>> | undefined;
    if (updated + deleted > 0) {
      await connection.run(
        `CREATE TEMP TABLE ${positions} AS SELECT ${FILE_COLUMN}, ${ROW_COLUMN} FROM ${matched}
         WHERE __clause IN ${inList([...updateClauses, ...deleteClauses])}`,
      );
      rowDeletions = await applyRowDeletions(connection, target, positions);
      written.push(...rowDeletions.writtenFiles);
      actions.push(...rowDeletions.actions);
      filesAdded += rowDeletions.filesAdded;
    }
    const postImages = `SELECT ${allColumns.map((c) => `${sqlIdent(`__post_${c}`)} AS ${sqlIdent(c)}`).join(', ')} FROM ${matched} WHERE __clause IN ${inList(updateClauses)}`;
    const preImages = (clauses: number[]) =>
      `SELECT ${allColumns.map((c) => `${sqlIdent(`__pre_${c}`)} AS ${sqlIdent(c)}`).join(', ')} FROM ${matched} WHERE __clause IN ${inList(clauses)}`;
    const insertRows = `SELECT ${allColumns.map(sqlIdent).join(', ')} FROM ${inserts}`;
    let outputRows = 0;
    if (updated + inserted > 0) {
      const data = await writeDataFiles({
        ...tableFileOptions(target),
        connection,
        sourceSql: `${postImages} UNION ALL ${insertRows}`,
      });
      for (const add of data.adds) {
        actions.push({ add });
        const local = dataFileLocalPath(table, add.path);
        if (local) written.push(local);
      }
      filesAdded += data.adds.length;
      outputRows = data.rows;
    }
    let changeFiles = 0;
    // An insert-only merge needs no change files: its data-changing adds are the inserts.
    if (snapshot.changeDataFeed && updated + deleted > 0) {
      const changes = await writeChangeFiles(
        connection,
        target,
        [
          `SELECT *, 'update_preimage' AS _change_type FROM (${preImages(updateClauses)})`,
          `SELECT *, 'update_postimage' AS _change_type FROM (${postImages})`,
          `SELECT *, 'delete' AS _change_type FROM (${preImages(deleteClauses)})`,
          `SELECT *, 'insert' AS _change_type FROM (${insertRows})`,
        ].join(' UNION ALL '),
      );
      written.push(...changes.writtenFiles);
      for (const cdc of changes.cdc) actions.push({ cdc });
      changeFiles = changes.cdc.length;
    }

    const metrics: MergeMetrics = {
      numSourceRows,
      numTargetRowsInserted: inserted,
      numTargetRowsUpdated: updated,
      numTargetRowsDeleted: deleted,
      numTargetRowsCopied: rowDeletions?.rowsCopied ?? 0,
      numOutputRows: outputRows + (rowDeletions?.rowsCopied ?? 0),
      numTargetFilesAdded: filesAdded,
      numTargetFilesRemoved: rowDeletions?.filesRemoved ?? 0,
      numTargetDeletionVectorsAdded: rowDeletions?.deletionVectorsAdded ?? 0,
      numTargetDeletionVectorsRemoved: rowDeletions?.deletionVectorsRemoved ?? 0,
      numTargetChangeFilesAdded: changeFiles,
      numTargetFilesScanned: candidates.length,
      numTargetFilesTotal: snapshot.files.length,
      executionTimeMs: Math.round(performance.now() - started),
    };
    let protocol = evolution.protocol ?? snapshot.protocol;
    if (evolution.metadata) actions.push({ metaData: evolution.metadata });
    if (domains.length > 0) {
      protocol = withDomainMetadataFeature(protocol) ?? protocol;
      for (const domainMetadata of domains) actions.push({ domainMetadata });
    }
    if (protocol !== snapshot.protocol) actions.push({ protocol });
    if (actions.length === 0) return { table: snapshot, metrics };
    const tx = new Transaction(store, snapshot, {
      operation: 'MERGE',
      operationParameters: {
        predicate: JSON.stringify([
          ...keys.map((k) => `t.${k} = s.${k}`),
          ...(onCondition !== undefined ? [onCondition] : []),
        ]),
        matchedPredicates: JSON.stringify(
          whenMatched.map((c) => ({ actionType: c.action, predicate: c.condition })),
        ),
        notMatchedPredicates: JSON.stringify(
          whenNotMatched.map((c) => ({ actionType: c.action, predicate: c.condition })),
        ),
      },
      operationMetrics: metrics as unknown as Record<string, unknown>,
      readPredicate: 'all',
      readFiles: candidates.map((f) => f.path),
      isBlindAppend: false,
      isolationLevel: 'Serializable',
      userMetadata: options.userMetadata,
    }).addActions(...actions);
    const result = await tx.commit();
    return { table: result.snapshot, metrics };
  } catch (error) {
    await discardUncommitted(written, error);
    throw error;
  } finally {
    await input.cleanup();
    for (const t of [src, matched, inserts, positions]) {
      await connection.run(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
    }
    connection.closeSync();
  }
}

interface SchemaEvolution {
  /** The snapshot to scan and write with: `snapshot`, or a copy with the evolved metadata. */
  readonly target: Snapshot;
  /** The new `metaData` action, when columns were added. */
  readonly metadata?: Metadata;
  /** The new protocol, when the added columns need an upgrade. */
  readonly protocol?: Protocol;
}

/**
 * Check the source columns that are table columns against the table, and,
 * with `mergeSchema`, add the source columns the merge writes that the table
 * lacks. Throws `SCHEMA_MISMATCH` (a type that does not convert, an assigned
 * column the table lacks) or `UNSUPPORTED_FEATURE` (as `reconcileSchema`).
 */
function evolveSchema(
  snapshot: Snapshot,
  columns: readonly InputColumn[],
  options: {
    readonly whenMatched: readonly (MergeUpdate | MergeDelete)[];
    readonly whenNotMatched: readonly MergeInsert[];
    readonly mergeSchema: boolean;
  },
): SchemaEvolution {
  const table = snapshot.root;
  const inTable = new Set(snapshot.schema.fields.map((f) => f.name.toLowerCase()));
  const inSource = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const added = new Set<string>();
  const assigned = [
    ...options.whenMatched.flatMap((c) => (c.action === 'update' && c.set ? Object.keys(c.set) : [])),
    ...options.whenNotMatched.flatMap((c) => (c.values ? Object.keys(c.values) : [])),
  ];
  for (const name of assigned) {
    const key = name.toLowerCase();
    if (inTable.has(key)) continue;
    if (!options.mergeSchema || !inSource.has(key)) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `merge into ${table} assigns column "${name}", which is not a column of the table`,
        {
          table,
          column: name,
          hint: options.mergeSchema
            ? 'a new column takes its type from the source column of its name; add one to the source'
            : 'merge with mergeSchema: true to add it (from the source column of its name)',
        },
      );
    }
    added.add(key);
  }
  const writesAll =
    options.whenMatched.some((c) => c.action === 'update' && c.set === undefined) ||
    options.whenNotMatched.some((c) => c.values === undefined);
  if (options.mergeSchema && writesAll) {
    for (const key of inSource.keys()) if (!inTable.has(key)) added.add(key);
  }
  const reconciled = reconcileSchema(
    snapshot.schema,
    columns.filter((c) => inTable.has(c.name.toLowerCase()) || added.has(c.name.toLowerCase())),
    {
      table,
      mergeSchema: added.size > 0,
      columnMappingMode: snapshot.columnMappingMode,
      maxColumnId: Number(snapshot.properties['delta.columnMapping.maxColumnId'] ?? 0),
    },
  );
  if (reconciled.addedColumns.length === 0) return { target: snapshot };
  const configuration = { ...snapshot.metadata.configuration };
  if (reconciled.maxColumnId !== undefined) {
    configuration['delta.columnMapping.maxColumnId'] = String(reconciled.maxColumnId);
  }
  const metadata: Metadata = {
    ...snapshot.metadata,
    schemaString: serializeSchema(reconciled.schema),
    configuration,
  };
  const protocol = schemaChangeProtocol(snapshot.protocol, reconciled.schema);
  const target = new Snapshot({
    root: snapshot.root,
    version: snapshot.version,
    timestamp: snapshot.timestamp,
    protocol: protocol ?? snapshot.protocol,
    metadata,
    files: snapshot.files,
    tombstones: snapshot.tombstones,
    txns: snapshot.txns,
    domainMetadata: snapshot.domainMetadata,
    checkpointVersion: snapshot.checkpointVersion,
  });
  return { target, metadata, ...(protocol ? { protocol } : {}) };
}

/** A predicate that keeps the files that may hold one of the source keys. */
function keyPredicate(keys: readonly string[], stats: Record<string, unknown>): Predicate | undefined {
  if (Number(stats.n ?? 0) === 0) return undefined;
  const parts: Predicate[] = [];
  keys.forEach((key, i) => {
    const values = keys.length === 1 ? (stats.vals as Literal[] | null | undefined) : undefined;
    if (values && values.length > 0) {
      parts.push({ kind: 'in', column: key, values: values.filter((v) => v !== null) });
    } else if (stats[`min${i}`] !== null && stats[`min${i}`] !== undefined) {
      parts.push({ kind: 'compare', op: '>=', column: key, value: stats[`min${i}`] as Literal });
      parts.push({ kind: 'compare', op: '<=', column: key, value: stats[`max${i}`] as Literal });
    }
  });
  return parts.length === 0 ? undefined : { kind: 'and', children: parts };
}
